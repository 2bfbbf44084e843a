"""A payment method may declare ``redeposit_on_cancel`` (loyalty's miles do): a voluntary cancellation then
gives such a payment back all it paid for the cancelled flights, whatever the fare's refund rules, and the
fare's cancellation fee is kept from the cash refunded for those flights, never more than that cash.

A stand-in method plays the part loyalty's miles play: it pays the fares, the card pays the taxes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.errors import ApplicationError
from reservations import hooks, services
from reservations.models import Booking, BookingStatus, ChargeKind, Coupon, CouponStatus, Payment, PaymentMethod
from tests.reservations.api_support import BOOKINGS
from tests.reservations.test_payments import TAX, book, fare, pay

pytestmark = pytest.mark.django_db

POINTS = 1000  # what the stand-in says it debits for the fares of a booking


class AwardPoints:
    """Pays the fares of a booking and never the taxes, like an award ticket; redeposits on cancellation."""

    code = PaymentMethod.MILES.value
    label = "Points"
    redeposit_on_cancel = True

    def __init__(self) -> None:
        self.refunds: list[tuple[Decimal, str]] = []

    def payable(self, *, booking, details):  # noqa: ANN001, ANN201
        return sum((c.amount for c in booking.charges.filter(kind=ChargeKind.FARE)), Decimal(0))

    def pay(self, *, booking, amount, currency, reference, details, by):  # noqa: ANN001, ANN201
        return hooks.MethodPayment(reference="points", miles=POINTS)

    def refund(self, *, payment, amount, reference):  # noqa: ANN001, ANN201
        self.refunds.append((amount, reference))
        return hooks.MethodRefund(succeeded=True, reference="points")

    def refund_preview(self, *, payment, amount):  # noqa: ANN001, ANN201
        points = int(POINTS * amount / payment.amount)
        return hooks.MethodRefundPreview(summary=f"{points} points back", miles=points)


class CashLikePoints(AwardPoints):
    """The same method without the flag: its payments follow the fare's cash rules."""

    redeposit_on_cancel = False


@pytest.fixture
def points():
    hook = hooks.payment_methods.register(PaymentMethod.MILES, AwardPoints())
    yield hook
    hooks.payment_methods.unregister(PaymentMethod.MILES)


@pytest.fixture
def cash_like_points():
    hook = hooks.payment_methods.register(PaymentMethod.MILES, CashLikePoints())
    yield hook
    hooks.payment_methods.unregister(PaymentMethod.MILES)


@pytest.fixture
def standard(db) -> str:
    """Non-refundable, cancellation fee 100.00: more than the 25.00 of taxes."""
    return fare()


def award(*, family: str, flights: list | None = None, customer=None) -> tuple[Booking, Payment, Payment]:  # noqa: ANN001
    """A ticketed booking whose fares are paid with the stand-in's points and taxes by card."""
    booking = book(family=family, flights=flights, customer=customer)
    points_payment = services.payment_take(booking=booking, method=PaymentMethod.MILES, idempotency_key="points")
    card_payment = pay(booking, key="card")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and card_payment.amount == TAX * len(flights or [None])
    return booking, points_payment, card_payment


def refunded(booking: Booking) -> dict[int, Decimal]:
    return {r.payment_id: r.amount for r in booking.refunds.all()}


def fees(booking: Booking) -> Decimal:
    return sum((c.amount for c in booking.charges.filter(kind=ChargeKind.CANCELLATION_FEE)), Decimal(0))


def test_a_voluntary_cancellation_gives_a_redepositing_payment_all_its_fares_and_keeps_the_fee_from_the_taxes(standard, points):
    # given a ticketed award on a non-refundable fare whose 100.00 fee is more than its 25.00 of taxes
    booking, points_payment, card_payment = award(family=standard)

    # when the passenger cancels it
    cancelled = services.booking_cancel(booking=booking, reason="Plans changed")

    # then the points payment gets all of its fares back, and the fee takes the taxes and no more
    assert refunded(cancelled) == {points_payment.pk: points_payment.amount}
    assert points.refunds == [(points_payment.amount, cancelled.refunds.get().external_key)]
    assert fees(cancelled) == TAX
    assert cancelled.status == BookingStatus.CANCELLED and cancelled.balance_due == 0


def test_a_refundable_award_refunds_the_taxes_less_a_smaller_fee_to_the_card(points):
    # given a ticketed award on a refundable fare with a 10.00 fee
    flex = fare("ECO_FLEX", refundable=True, cancellation_fee=Decimal("10.00"), booking_class="B")
    booking, points_payment, card_payment = award(family=flex)

    # when the passenger cancels it
    cancelled = services.booking_cancel(booking=booking, reason="Plans changed")

    # then the points come back whole and the card gets its taxes less the fee
    assert refunded(cancelled) == {points_payment.pk: points_payment.amount, card_payment.pk: TAX - Decimal("10.00")}
    assert fees(cancelled) == Decimal("10.00")


def test_an_involuntary_cancellation_gives_everything_back_and_keeps_no_fee(standard, points):
    booking, points_payment, card_payment = award(family=standard)

    cancelled = services.booking_cancel(booking=booking, involuntary=True, reason="Flight withdrawn")

    assert refunded(cancelled) == {points_payment.pk: points_payment.amount, card_payment.pk: card_payment.amount}
    assert fees(cancelled) == 0


def test_a_method_without_the_flag_follows_the_fares_cash_rules(standard, cash_like_points):
    # given the same award paid with a method that does not redeposit
    booking, points_payment, card_payment = award(family=standard)

    # when the passenger cancels it
    cancelled = services.booking_cancel(booking=booking, reason="Plans changed")

    # then, the fare being non-refundable, only the taxes come back and the points stay spent
    assert refunded(cancelled) == {card_payment.pk: TAX}
    assert cash_like_points.refunds == [] and fees(cancelled) == 0


def test_only_the_fares_of_the_flights_not_flown_go_back(standard, points):
    # given a two-flight award whose first flight has been flown
    from tests.reservations.test_changes import empty_flight

    first, second = empty_flight(days=3), empty_flight(days=10)
    booking, points_payment, card_payment = award(family=standard, flights=[first, second])
    Coupon.objects.filter(segment__flight=first).update(status=CouponStatus.FLOWN)
    second_fare = sum((c.amount for c in booking.charges.filter(kind=ChargeKind.FARE, segment__flight=second)), Decimal(0))

    # when the passenger cancels the rest
    cancelled = services.booking_cancel(booking=booking, reason="Plans changed")

    # then the points payment gets back the second flight's fare only, and its fee is that flight's taxes
    assert 0 < second_fare < points_payment.amount
    assert refunded(cancelled) == {points_payment.pk: second_fare}
    assert fees(cancelled) == TAX


def test_the_quote_shows_what_the_method_gives_back_and_the_cancellation_does_it(standard, points):
    # given a ticketed award
    booking, points_payment, _card = award(family=standard)

    # when quoted
    quote = services.booking_cancel_quote(booking=booking)

    # then the points payment's refund carries the method's own words, and nothing was refunded yet
    (line,) = quote.refunds
    assert (line.payment.pk, line.amount, line.miles, line.summary) == (
        points_payment.pk,
        points_payment.amount,
        POINTS,
        f"{POINTS} points back",
    )
    assert quote.redeposit == points_payment.amount and quote.fees == TAX
    assert points.refunds == [] and not booking.refunds.exists()
    # and the cancellation refunds exactly that
    assert refunded(services.booking_cancel(booking=booking, reason="Plans changed")) == {line.payment.pk: line.amount}


def test_the_api_cancel_quote_carries_the_miles_and_the_words(standard, points, passenger, api_as):
    user, customer = passenger
    booking, points_payment, _card = award(family=standard, customer=customer)

    response = api_as(user).get(f"{BOOKINGS}{booking.record_locator}/cancel-quote/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["refunds"] == [
        {
            "payment": points_payment.pk,
            "method": "miles",
            "amount": str(points_payment.amount),
            "currency": booking.currency,
            "miles": POINTS,
            "summary": f"{POINTS} points back",
        }
    ]
    assert Decimal(body["redeposit"]) == points_payment.amount and Decimal(body["fees"]) == TAX


def test_cancelling_twice_is_refused_and_refunds_once(standard, points):
    booking, points_payment, _card = award(family=standard)
    services.booking_cancel(booking=booking, reason="Plans changed")

    with pytest.raises(ApplicationError) as again:
        services.booking_cancel(booking=booking, reason="Plans changed")

    assert again.value.code == "already_cancelled"
    assert len(points.refunds) == 1 and booking.refunds.count() == 1
