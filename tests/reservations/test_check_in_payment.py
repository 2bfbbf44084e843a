"""Check-in with fees: quoted before confirming, paid the way bookings are paid, and only then the boarding pass."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.errors import ApplicationError
from reservations import services
from reservations.gateway import CARD_DECLINED
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
from tests.reservations.purity import nothing_changes

BAG_FEE, SEAT_FEE = LIGHT_BAG_FEE, LIGHT_SEAT_FEE


@pytest.fixture
def light(db) -> Booking:
    return light_fare_booking()


def two_bags(booking: Booking) -> dict:
    passenger = booking.passengers.get()
    return {
        "booking": booking,
        "segment": booking.segments.get(),
        "passengers": [passenger],
        "bags": {passenger.pk: [Decimal("20"), Decimal("18")]},
    }


def test_the_quote_shows_the_bag_fees_and_changes_nothing(light):
    # Given a traveller on a Light fare with two bags
    # When the check-in is quoted
    with nothing_changes(hooks_may_read=True):
        quote = services.check_in_quote(channel=Channel.PORTAL, **two_bags(light))
    # Then both bags are priced and due, and nothing was written
    assert quote.bag_fee == 2 * BAG_FEE
    assert quote.total_due == 2 * BAG_FEE
    assert quote.outstanding == 0


def test_a_seat_chosen_at_check_in_is_quoted_with_the_bags(light):
    # Given a traveller choosing a seat at the desk as well as two bags
    args = two_bags(light)
    passenger = args["passengers"][0]
    # When it is quoted
    quote = services.check_in_quote(channel=Channel.AGENT, seats={passenger.pk: "4E"}, **args)
    # Then the seat fee is in the total
    assert quote.seat_fees == {passenger.pk: SEAT_FEE}
    assert quote.total_due == 2 * BAG_FEE + SEAT_FEE


def test_a_seat_chosen_earlier_and_not_paid_is_part_of_what_is_due(light):
    # Given a traveller who picked a paid seat before check-in and has not paid it
    passenger = light.passengers.get()
    services.seat_assign(segment=light.segments.get(), passenger=passenger, seat="4E")
    # When the check-in without bags is quoted
    quote = services.check_in_quote(booking=light, segment=light.segments.get(), passengers=[passenger])
    # Then the unpaid seat is due before the boarding pass
    assert quote.outstanding == SEAT_FEE and quote.total_due == SEAT_FEE


def test_fees_not_paid_issue_no_boarding_pass(light):
    # Given a traveller on a Light fare with two bags
    # When check-in is attempted without paying
    with pytest.raises(ApplicationError) as refused:
        services.check_in(channel=Channel.PORTAL, **two_bags(light))
    # Then it is refused with the amount, and nothing is recorded: no check-in, no charge
    assert refused.value.code == "payment_required" and refused.value.status == 402
    assert "195.00" in refused.value.message
    assert not CheckIn.objects.exists()
    assert Coupon.objects.get().status == CouponStatus.OPEN
    assert not BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).exists()


def test_paid_fees_then_the_boarding_pass(light):
    # Given a traveller on a Light fare with two bags
    # When they check in paying by card
    (row,) = services.check_in_with_payment(
        channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-1", card=paying_card(), **two_bags(light)
    )
    # Then the card paid exactly the bags, and the boarding pass exists
    payment = Payment.objects.get()
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, 2 * BAG_FEE)
    assert row.excess_baggage_fee == 2 * BAG_FEE and row.bags == 2
    assert Coupon.objects.get().status == CouponStatus.CHECKED_IN
    light.refresh_from_db()
    assert light.balance_due == 0


def test_a_declined_card_leaves_the_traveller_not_checked_in_and_owing_nothing(light):
    # Given a traveller on a Light fare with two bags
    total_before = light.total_amount
    # When the card is declined
    with pytest.raises(services.PaymentDeclined):
        services.check_in_with_payment(
            channel=Channel.PORTAL,
            method=PaymentMethod.CARD,
            idempotency_key="bags-1",
            card=paying_card(CARD_DECLINED),
            **two_bags(light),
        )
    # Then nobody is checked in, the bag fees are off the booking, and the declined attempt is on record
    assert not CheckIn.objects.exists()
    assert Coupon.objects.get().status == CouponStatus.OPEN
    assert not BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).exists()
    light.refresh_from_db()
    assert light.total_amount == total_before and light.balance_due == 0
    assert Payment.objects.get().status == PaymentStatus.DECLINED


def test_a_changed_amount_is_not_charged(light):
    # Given a passenger shown a total for one bag who then sends two
    # When the payment is confirmed against the old total
    with pytest.raises(ApplicationError) as refused:
        services.check_in_with_payment(
            channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-1", card=paying_card(),
            expected_total=BAG_FEE, **two_bags(light),
        )  # fmt: skip
    # Then nothing is charged and nobody is checked in
    assert refused.value.code == "quote_changed"
    assert not Payment.objects.exists() and not CheckIn.objects.exists()
    assert not BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).exists()


def test_the_same_payment_sent_twice_checks_in_and_charges_once(light):
    # Given a check-in paid with one key
    args = two_bags(light)
    services.check_in_with_payment(
        channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-1", card=paying_card(), **args
    )
    # When the same request arrives again
    with pytest.raises(ApplicationError) as again:
        services.check_in_with_payment(
            channel=Channel.PORTAL, method=PaymentMethod.CARD, idempotency_key="bags-1", card=paying_card(), **args
        )
    # Then it is refused as already checked in, with one payment and one check-in
    assert again.value.code == "check_in_invalid"
    assert Payment.objects.count() == 1 and CheckIn.objects.count() == 1
    assert BookingCharge.objects.filter(kind=ChargeKind.BAGGAGE).count() == 1


def test_a_check_in_with_nothing_to_pay_is_one_step(light):
    # Given a traveller with no checked bag
    passenger = light.passengers.get()
    # When they check in directly
    (row,) = services.check_in(booking=light, segment=light.segments.get(), passengers=[passenger], channel=Channel.PORTAL)
    # Then they are checked in and no payment was asked for
    assert row.excess_baggage_fee == 0 and not Payment.objects.exists()


def test_an_agent_takes_the_fees_at_the_counter(light, agent):
    # Given an agent checking a Light-fare traveller in with two bags and a chosen seat
    args = two_bags(light)
    passenger = args["passengers"][0]
    # When the agent collects the fees at the counter
    services.check_in_with_payment(
        channel=Channel.AGENT, method=PaymentMethod.COUNTER, idempotency_key="desk-1", seats={passenger.pk: "4E"},
        by=agent, **args,
    )  # fmt: skip
    # Then the counter payment covers bags and seat, and the traveller is checked in in seat 12A
    payment = Payment.objects.get()
    assert (payment.method, payment.amount) == (PaymentMethod.COUNTER, 2 * BAG_FEE + SEAT_FEE)
    assert CheckIn.objects.get().seat == "4E"
    light.refresh_from_db()
    assert light.balance_due == 0


def test_a_supervisor_may_waive_the_fees_with_a_reason_and_an_agent_may_not(light, agent, supervisor):
    args = two_bags(light)
    # Given an agent without the waiver permission, when they try to waive, then it is refused and nothing changes
    with pytest.raises(ApplicationError) as refused:
        services.check_in(channel=Channel.AGENT, by=agent, waive_reason="Goodwill", **args)
    assert refused.value.status == 403 and not CheckIn.objects.exists()
    # When a supervisor waives them with a reason
    services.check_in(channel=Channel.AGENT, by=supervisor, waive_reason="Bags delayed on the inbound flight", **args)
    # Then the traveller is checked in with the bags charged and waived, nothing owed, no payment
    waiver = BookingCharge.objects.get(kind=ChargeKind.WAIVER)
    assert waiver.amount == -2 * BAG_FEE and waiver.reason == "Bags delayed on the inbound flight"
    light.refresh_from_db()
    assert light.balance_due == 0 and not Payment.objects.exists()
    assert CheckIn.objects.get().excess_baggage_fee == 2 * BAG_FEE
