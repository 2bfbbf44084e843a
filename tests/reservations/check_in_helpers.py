"""Ticketed bookings built directly from rows, for the check-in, seat and flight-status tests.

A paid booking is what check-in starts from; building it here keeps these tests independent of the
payment and ticketing flow, which has its own tests.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from reservations import services
from reservations.gateway import CARD_SUCCEEDS
from reservations.models import Booking, BookingStatus, Coupon, Flight, PassengerType, Segment, Ticket
from tests.reservations.factories import (
    BookingClassFactory,
    BookingFactory,
    BookingPassengerFactory,
    FareFamilyFactory,
    FlightFactory,
    SegmentFactory,
)

_serials = itertools.count(1)


def ticket_number() -> str:
    """878 (the airline's prefix) and a 10-digit serial: 13 digits, as the database requires."""
    return f"878{next(_serials) + 4_000_000_000:010d}"


def paying_card(number: str = CARD_SUCCEEDS) -> services.CardDetails:
    """A card of the simulated gateway; its number decides whether the charge succeeds."""
    return services.CardDetails(
        number=number, expiry_month=12, expiry_year=timezone.now().year + 2, cvv="737", holder="Ada Lovelace"
    )


def flight_in(hours: float, **kwargs) -> Flight:
    """A flight departing this many hours from now (check-in is open from 24 h to 1 h before)."""
    departure = (timezone.now() + timedelta(hours=hours)).replace(microsecond=0)
    return FlightFactory(scheduled_departure=departure, **kwargs)


def ticketed_booking(
    *,
    flight: Flight | None = None,
    passengers: list[dict] | None = None,
    booking_class=None,  # noqa: ANN001
    status: str = BookingStatus.TICKETED,
    customer=None,  # noqa: ANN001
    language: str = "en",
    cabin: str = "economy",
) -> Booking:
    """A booking on one flight with one e-ticket and one open coupon per traveller.

    ``passengers`` are factory keyword sets; infants sit on the lap of the adults in order.
    """
    flight = flight or flight_in(5)
    specs = passengers or [{"given_name": "Ada", "family_name": "Lovelace"}]
    types = [spec.get("passenger_type", PassengerType.ADULT) for spec in specs]
    booking = BookingFactory(
        status=status,
        customer=customer,
        language=language,
        adults=types.count(PassengerType.ADULT),
        children=types.count(PassengerType.CHILD),
        infants=types.count(PassengerType.INFANT),
        hold_expires_at=None if status == BookingStatus.TICKETED else timezone.now() + timedelta(minutes=30),
    )
    segment: Segment = SegmentFactory(
        booking=booking, flight=flight, cabin=cabin, booking_class=booking_class or BookingClassFactory()
    )
    adults = []
    for sequence, spec in enumerate(specs, start=1):
        spec = {"passenger_type": PassengerType.ADULT, **spec}
        if spec["passenger_type"] == PassengerType.INFANT and "travelling_with" not in spec:
            spec["travelling_with"] = adults[len([s for s in specs[: sequence - 1] if s.get("passenger_type") == "INF"])]
        passenger = BookingPassengerFactory(booking=booking, sequence=sequence, **spec)
        if passenger.passenger_type == PassengerType.ADULT:
            adults.append(passenger)
        if status == BookingStatus.TICKETED:
            ticket = Ticket.objects.create(number=ticket_number(), booking=booking, passenger=passenger)
            Coupon.objects.create(ticket=ticket, segment=segment, number=1)
    return booking


LIGHT_BAG_FEE = Decimal("97.50")
LIGHT_SEAT_FEE = Decimal("15.00")


def light_fare_booking() -> Booking:
    """A Light fare (no free checked bag, 97.50 a bag, 15.00 a chosen seat), one traveller, check-in open."""
    family = FareFamilyFactory(
        code="ECO_LIGHT", name="Light", baggage_pieces=0, excess_bag_fee=LIGHT_BAG_FEE, seat_selection_fee=LIGHT_SEAT_FEE,
        rank=1,
    )  # fmt: skip
    return ticketed_booking(flight=flight_in(5), booking_class=BookingClassFactory(code="Q", fare_family=family))
