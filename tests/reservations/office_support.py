"""What the back-office and customer-record tests share: fares, bookings made through the service,
and the paid, ticketed and checked-in state written row by row so that the tests can set it up exactly."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from crm.models import Customer
from reservations import services
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    CheckIn,
    Coupon,
    CouponStatus,
    Flight,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    SeatAssignment,
    Ticket,
)
from tests.reservations.factories import BookingClassFactory, FlightFactory, TaxRuleFactory

PASSPORT = "X9081726"
_serial = itertools.count(1)


def fares() -> str:
    """Economy Standard with a change and a cancellation fee, and a fuel surcharge; returns the fare code."""
    family = BookingClassFactory().fare_family
    TaxRuleFactory()
    return family.code


def book(
    *,
    customer: Customer | None = None,
    flight: Flight | None = None,
    names: list[tuple[str, str]] = (("Ada", "Lovelace"),),
    travellers: list[Customer | None] | None = None,
    by=None,  # noqa: ANN001
    document: str = PASSPORT,
) -> Booking:
    """A held booking for adults with these names, booked by ``customer``; ``travellers`` links passengers."""
    fare = fares()
    flight = flight or FlightFactory()
    links = list(travellers) if travellers is not None else [None] * len(names)
    passengers = [
        services.PassengerRequest(
            passenger_type="ADT",
            given_name=given,
            family_name=family,
            date_of_birth=timezone.localdate().replace(year=1980),
            nationality="GB",
            document_type="P",
            document_number=f"{document}{i}" if document else "",
            document_country="GB",
            meal="VGML",
            customer=links[i],
        )
        for i, (given, family) in enumerate(names)
    ]
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family=fare)],
        passengers=passengers,
        contact_email="booker@example.com",
        contact_phone="+442079460958",
        channel=Channel.AGENT if by else Channel.PORTAL,
        customer=customer,
        by=by,
    )


def ticket_number() -> str:
    return f"878{next(_serial):010d}"


def pay_and_ticket(booking: Booking, *, check_in: bool = False, refund: bool = False) -> Booking:
    """Written row by row: a card payment (brand and last 4), one e-ticket per passenger with a coupon per
    flight, optionally every passenger checked in with a seat and an 18.5 kg bag, and a refund."""
    payment = Payment.objects.create(
        booking=booking,
        idempotency_key=f"test-{booking.record_locator}-{next(_serial)}",
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        amount=booking.total_amount,
        currency=booking.currency,
        card_token="tok_test",
        card_brand="VISA",
        card_last4="4242",
    )
    booking.paid_amount = booking.total_amount
    booking.status = BookingStatus.TICKETED
    booking.save(update_fields=["paid_amount", "status"])
    for passenger in booking.passengers.order_by("sequence"):
        ticket = Ticket.objects.create(number=ticket_number(), booking=booking, passenger=passenger)
        for segment in booking.segments.order_by("sequence"):
            coupon = Coupon.objects.create(
                ticket=ticket,
                segment=segment,
                number=segment.sequence,
                status=CouponStatus.CHECKED_IN if check_in else CouponStatus.OPEN,
            )
            if not check_in:
                continue
            taken = SeatAssignment.objects.filter(flight=segment.flight).count()
            seat = f"{3 + taken // 6}{'ABCDEF'[taken % 6]}"
            SeatAssignment.objects.create(segment=segment, passenger=passenger, flight=segment.flight, seat=seat)
            CheckIn.objects.create(
                coupon=coupon,
                passenger=passenger,
                segment=segment,
                flight=segment.flight,
                seat=seat,
                sequence_number=next(_serial),
                bags=1,
                bag_weights_kg=[Decimal("18.5")],
                hand_carry=1,
                channel=Channel.PORTAL,
            )
    if refund:
        Refund.objects.create(
            booking=booking, payment=payment, amount=Decimal("10.00"), currency=booking.currency, reason="Goodwill",
            status=RefundStatus.SUCCEEDED,
        )  # fmt: skip
    return booking


def pay_ticket_and_check_in(booking: Booking, *, refund: bool = False) -> Booking:
    return pay_and_ticket(booking, check_in=True, refund=refund)


def logged_in(user) -> Client:  # noqa: ANN001
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client
