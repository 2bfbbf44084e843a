"""Check-in fees a dead request left on a booking are taken off again; paid ones and earlier ones stay."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from reservations import services, tasks
from reservations.models import (
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
)
from tests.reservations.check_in_helpers import LIGHT_BAG_FEE, LIGHT_SEAT_FEE, light_fare_booking, paying_card

check_in_module = importlib.import_module("reservations.services.check_in")

BAG_FEE, SEAT_FEE = LIGHT_BAG_FEE, LIGHT_SEAT_FEE


class WorkerKilled(BaseException):
    """What a request sees when its worker is killed mid-way (a timeout's SystemExit): no handler runs."""


@pytest.fixture
def light(db) -> Booking:
    return light_fare_booking()


def check_in_args(booking: Booking, **extra) -> dict:
    passenger = booking.passengers.get()
    return {
        "booking": booking,
        "segment": booking.segments.get(),
        "passengers": [passenger],
        "bags": {passenger.pk: [Decimal("20")]},
        "seats": {passenger.pk: "4E"},
        "channel": Channel.PORTAL,
        "method": PaymentMethod.CARD,
        "card": paying_card(),
        **extra,
    }


def die_after_posting_fees(monkeypatch) -> None:
    """The request dies once the fees are written, before the payment is even recorded."""

    def killed(**kwargs):
        raise WorkerKilled

    monkeypatch.setattr(check_in_module, "payment_take", killed)


def test_fees_left_by_a_dead_request_are_swept_off_the_booking(light, monkeypatch):
    # Given a check-in whose request died after its bag and seat fees were posted
    balance_before = light.balance_due
    die_after_posting_fees(monkeypatch)
    with pytest.raises(WorkerKilled):
        services.check_in_with_payment(idempotency_key="dies-1", **check_in_args(light))
    light.refresh_from_db()
    assert light.balance_due == balance_before + BAG_FEE + SEAT_FEE  # the fees were left behind
    # When the sweep runs while the fees are still recent, then they stay (the passenger may be paying)
    assert services.check_in_fees_sweep() == 0
    # When the sweep runs once they are old enough
    removed = services.check_in_fees_sweep(older_than_seconds=0)
    # Then both fees are gone, the booking owes what it owed before, and nobody was checked in or charged
    assert removed == 2
    assert not BookingCharge.objects.filter(kind__in=[ChargeKind.BAGGAGE, ChargeKind.SEAT]).exists()
    light.refresh_from_db()
    assert light.balance_due == balance_before
    assert not Payment.objects.exists() and not CheckIn.objects.exists()
    assert Coupon.objects.get().status == CouponStatus.OPEN


def test_after_the_sweep_the_check_in_can_be_paid_again(light, monkeypatch):
    # Given fees a dead request left behind, swept off
    die_after_posting_fees(monkeypatch)
    with pytest.raises(WorkerKilled):
        services.check_in_with_payment(idempotency_key="dies-1", **check_in_args(light))
    services.check_in_fees_sweep(older_than_seconds=0)
    monkeypatch.undo()
    # When the passenger checks in again
    services.check_in_with_payment(idempotency_key="again-1", **check_in_args(light))
    # Then they pay the bag and the seat once, and owe nothing
    assert Payment.objects.get().amount == BAG_FEE + SEAT_FEE
    light.refresh_from_db()
    assert light.balance_due == 0 and CheckIn.objects.get().seat == "4E"


def test_fees_that_were_paid_are_not_swept_when_the_check_in_itself_died(light, monkeypatch):
    # Given a request that paid the fees and died before checking the traveller in
    def killed(**kwargs):
        raise WorkerKilled

    monkeypatch.setattr(check_in_module, "check_in", killed)
    with pytest.raises(WorkerKilled):
        services.check_in_with_payment(idempotency_key="paid-1", **check_in_args(light))
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    # When the sweep runs
    removed = services.check_in_fees_sweep(older_than_seconds=0)
    # Then the paid fees stay and the booking is square
    assert removed == 0
    assert BookingCharge.objects.filter(kind__in=[ChargeKind.BAGGAGE, ChargeKind.SEAT]).count() == 2
    light.refresh_from_db()
    assert light.balance_due == 0


def test_a_seat_chosen_before_check_in_and_not_paid_yet_is_not_swept(light):
    # Given a traveller who picked a paid seat while managing the booking, not paid yet
    passenger = light.passengers.get()
    services.seat_assign(segment=light.segments.get(), passenger=passenger, seat="4E")
    # When the sweep runs
    removed = services.check_in_fees_sweep(older_than_seconds=0)
    # Then the seat fee is still owed: it is not a check-in's fee
    assert removed == 0
    light.refresh_from_db()
    assert light.balance_due == SEAT_FEE


def test_fees_of_a_payment_still_at_the_gateway_are_not_swept(light, monkeypatch):
    # Given fees left by a dead request, and a payment for the booking still pending at the gateway
    die_after_posting_fees(monkeypatch)
    with pytest.raises(WorkerKilled):
        services.check_in_with_payment(idempotency_key="dies-1", **check_in_args(light))
    Payment.objects.create(
        booking=light, idempotency_key="pending-1", method=PaymentMethod.CARD, amount=BAG_FEE + SEAT_FEE,
        currency=light.currency, status=PaymentStatus.PENDING,
    )  # fmt: skip
    # When the sweep runs
    removed = services.check_in_fees_sweep(older_than_seconds=0)
    # Then nothing goes: the payment may yet succeed
    assert removed == 0
    assert BookingCharge.objects.filter(kind__in=[ChargeKind.BAGGAGE, ChargeKind.SEAT]).count() == 2


def test_the_sweep_is_a_periodic_task(light, monkeypatch):
    # Given fees a dead request left behind long ago
    die_after_posting_fees(monkeypatch)
    with pytest.raises(WorkerKilled):
        services.check_in_with_payment(idempotency_key="dies-1", **check_in_args(light))
    BookingCharge.objects.filter(kind__in=[ChargeKind.BAGGAGE, ChargeKind.SEAT]).update(
        created_at=light.created_at - timedelta(hours=1)
    )
    # When the beat's task runs
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    removed = tasks.sweep_unpaid_check_in_fees.apply().get()
    # Then it is scheduled, and it took the fees off
    assert "reservations.tasks.sweep_unpaid_check_in_fees" in scheduled
    assert removed == 2
