"""Offloading a traveller whose bag fees were paid gives the money back; the books always add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from reservations import services
from reservations.models import (
    ZERO,
    Booking,
    BookingCharge,
    Channel,
    ChargeKind,
    CheckIn,
    Coupon,
    CouponStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from tests.reservations.check_in_helpers import LIGHT_BAG_FEE, LIGHT_SEAT_FEE, light_fare_booking, paying_card

BAG_FEE, SEAT_FEE = LIGHT_BAG_FEE, LIGHT_SEAT_FEE


@pytest.fixture
def light(db) -> Booking:
    return light_fare_booking()


def bags_and_seat(booking: Booking) -> dict:
    passenger = booking.passengers.get()
    return {
        "booking": booking,
        "segment": booking.segments.get(),
        "passengers": [passenger],
        "bags": {passenger.pk: [Decimal("20"), Decimal("18")]},
        "seats": {passenger.pk: "4E"},
    }


def assert_books_add_up(booking: Booking) -> None:
    """The balance is the charges less the payments plus the refunds that did not fail."""
    booking.refresh_from_db()
    charges = BookingCharge.objects.filter(booking=booking).aggregate(s=Sum("amount"))["s"] or ZERO
    paid = Payment.objects.filter(booking=booking, status=PaymentStatus.SUCCEEDED).aggregate(s=Sum("amount"))["s"] or ZERO
    refunded = Refund.objects.filter(booking=booking).exclude(status=RefundStatus.FAILED).aggregate(s=Sum("amount"))["s"] or ZERO
    assert booking.total_amount == charges
    assert booking.balance_due == charges - paid + refunded


def test_offloading_refunds_the_paid_bag_fees_to_the_card_and_keeps_the_seat(light):
    # Given a traveller who paid two bags and a seat by card at check-in
    (row,) = services.check_in_with_payment(
        channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-1", card=paying_card(),
        **bags_and_seat(light),
    )  # fmt: skip
    payment = Payment.objects.get()
    # When the airline offloads them
    services.check_in_cancel(check_in=row)
    # Then the coupon is open again, the bags' fees are refunded to that card, the seat (still held) is kept
    assert Coupon.objects.get().status == CouponStatus.OPEN and not CheckIn.objects.exists()
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.status) == (payment.pk, 2 * BAG_FEE, RefundStatus.PENDING)
    assert not BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).exists()
    assert BookingCharge.objects.get(kind=ChargeKind.SEAT).amount == SEAT_FEE
    # And nothing is owed either way, and the books add up
    light.refresh_from_db()
    assert light.balance_due == 0
    assert_books_add_up(light)
    # When the gateway confirms the refund, then it is done and the books still add up
    services.refund_process(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert_books_add_up(light)


def test_offloading_after_waived_fees_takes_the_waiver_back_and_refunds_nothing(light, supervisor):
    # Given a traveller whose bag fees a supervisor waived at check-in
    args = bags_and_seat(light)
    args.pop("seats")
    (row,) = services.check_in(channel=Channel.AGENT, by=supervisor, waive_reason="Bags delayed inbound", **args)
    # When they are offloaded
    services.check_in_cancel(check_in=row, by=supervisor)
    # Then no money goes anywhere (none was paid): the fees and their waiver are both gone
    assert not Refund.objects.exists() and not Payment.objects.exists()
    assert not BookingCharge.objects.filter(kind__in=[ChargeKind.BAGGAGE, ChargeKind.WAIVER]).exists()
    light.refresh_from_db()
    assert light.balance_due == 0
    assert_books_add_up(light)


def test_a_traveller_offloaded_and_checked_in_again_pays_the_bags_once_more_and_owes_nothing_twice(light):
    # Given a traveller who paid two bags, was offloaded and refunded
    args = bags_and_seat(light)
    (row,) = services.check_in_with_payment(
        channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-1", card=paying_card(), **args
    )
    services.check_in_cancel(check_in=row)
    # When they check in again with one bag
    passenger = args["passengers"][0]
    args["bags"] = {passenger.pk: [Decimal("20")]}
    services.check_in_with_payment(
        channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-2", card=paying_card(), **args
    )
    # Then the second payment is one bag (the seat was paid and kept), and the books add up
    assert Payment.objects.order_by("-pk").first().amount == BAG_FEE
    light.refresh_from_db()
    assert light.balance_due == 0
    assert_books_add_up(light)
