"""The traveller_benefits hook: a traveller's own extra free bags at check-in, priority and lounge on the pass.

Reservations' tests run without loyalty's hooks (see conftest); a stand-in hook plays the programme here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from reservations import hooks, selectors, services
from reservations.models import Channel, ChargeKind
from tests.reservations.check_in_helpers import paying_card, ticketed_booking
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory

pytestmark = pytest.mark.django_db

STAND_IN = "test_stand_in_benefits"
SECOND = "test_second_benefits"


@pytest.fixture
def light_booking():
    """A booking on a fare with no free checked bag (60.00 a bag), two travellers: Ada is 'Gold', Charles is not."""
    light = FareFamilyFactory(code="ECO_LIGHT", name="Light", baggage_pieces=0, excess_bag_fee=Decimal("60.00"), rank=1)
    return ticketed_booking(
        booking_class=BookingClassFactory(code="Q", fare_family=light),
        passengers=[
            {"given_name": "Ada", "family_name": "Lovelace", "frequent_flyer_number": "GOLD"},
            {"given_name": "Charles", "family_name": "Babbage"},
        ],
    )


def gold_only(*, passenger, booking):  # noqa: ANN001, ANN202
    if passenger.frequent_flyer_number == "GOLD":
        return hooks.TravellerBenefits(extra_bags=1, priority=True, lounge=True, label="Gold")
    return None


@pytest.fixture
def stand_in():
    hooks.traveller_benefits.register(STAND_IN, gold_only)
    yield
    hooks.traveller_benefits.unregister(STAND_IN)


def check_in_both(booking, bags: dict[int, list[Decimal]]):  # noqa: ANN001, ANN201
    return services.check_in_with_payment(
        booking=booking,
        segment=booking.segments.get(),
        passengers=list(booking.passengers.order_by("sequence")),
        bags=bags,
        channel=Channel.PORTAL,
        method="card",
        idempotency_key=f"both-{booking.record_locator}",
        card=paying_card(),
    )


def test_a_hooks_extra_bag_is_free_and_a_traveller_without_benefits_pays_for_theirs(light_booking, stand_in):
    # given Ada, whom the hook grants an extra bag, and Charles, whom it does not, on a fare with no free bag
    ada, charles = light_booking.passengers.order_by("sequence")
    # when both check in one 20 kg bag
    first, second = check_in_both(light_booking, {ada.pk: [Decimal("20")], charles.pk: [Decimal("20")]})
    # then Ada's bag is free and Charles pays the extra-bag fee
    assert (first.passenger_id, first.excess_baggage_fee) == (ada.pk, Decimal("0.00"))
    assert (second.passenger_id, second.excess_baggage_fee) == (charles.pk, Decimal("60.00"))
    assert [c.passenger_id for c in light_booking.charges.filter(kind=ChargeKind.BAGGAGE)] == [charles.pk]


def test_the_quote_adds_the_extra_free_pieces_to_the_fares():
    # given a fare with one free bag
    family = FareFamilyFactory(code="ECO_ONE_BAG", baggage_pieces=1, excess_bag_fee=Decimal("60.00"))
    bags = [Decimal("10"), Decimal("10"), Decimal("10")]
    # when three bags are quoted with and without one extra free piece
    # then one extra free piece leaves one bag to pay for instead of two, and a negative one is no discount
    assert services.baggage_quote(fare_family=family, weights=bags).extra_bags == 2
    assert services.baggage_quote(fare_family=family, weights=bags, extra_free_pieces=1).extra_bags == 1
    assert services.baggage_quote(fare_family=family, weights=bags, extra_free_pieces=-5).extra_bags == 2


def test_the_boarding_pass_shows_priority_and_lounge_with_the_label(light_booking, stand_in):
    # given both travellers checked in
    first, second = check_in_both(light_booking, {})
    # when their boarding passes are read
    ada_pass, charles_pass = selectors.boarding_pass(check_in=first), selectors.boarding_pass(check_in=second)
    # then Ada's carries priority, lounge and the label, Charles's nothing
    assert (ada_pass.priority, ada_pass.lounge, ada_pass.benefits_label) == (True, True, "Gold")
    assert (charles_pass.priority, charles_pass.lounge, charles_pass.benefits_label) == (False, False, "")
    # and the PDF still renders
    from reservations.boarding import boarding_pass_pdf

    assert boarding_pass_pdf(check_in=first).startswith(b"%PDF")


def test_two_hooks_combine_the_most_bags_and_any_flag(light_booking, stand_in):
    # given a second hook granting two bags and nothing else, to everyone
    hooks.traveller_benefits.register(SECOND, lambda *, passenger, booking: hooks.TravellerBenefits(extra_bags=2, label="Club"))
    try:
        ada, charles = light_booking.passengers.order_by("sequence")
        # when each traveller's benefits are asked for
        ada_benefits = hooks.traveller_benefits_for(passenger=ada, booking=light_booking)
        charles_benefits = hooks.traveller_benefits_for(passenger=charles, booking=light_booking)
    finally:
        hooks.traveller_benefits.unregister(SECOND)
    # then the most bags wins, a flag granted by one hook holds, and the labels are both named
    assert ada_benefits == hooks.TravellerBenefits(extra_bags=2, priority=True, lounge=True, label="Gold, Club")
    assert charles_benefits == hooks.TravellerBenefits(extra_bags=2, label="Club")


def test_without_a_hook_nobody_gets_anything(light_booking):
    # given no benefits hook registered (reservations' tests run without loyalty's)
    assert hooks.traveller_benefits.names() == []
    ada, _charles = light_booking.passengers.order_by("sequence")
    # when Ada checks in a bag
    (row,) = services.check_in_with_payment(
        booking=light_booking,
        segment=light_booking.segments.get(),
        passengers=[ada],
        bags={ada.pk: [Decimal("20")]},
        channel="api",
        method="card",
        idempotency_key="ada-bag",
        card=paying_card(),
    )
    # then she pays for it and her pass shows no benefit
    assert hooks.traveller_benefits_for(passenger=ada, booking=light_booking) == hooks.TravellerBenefits()
    assert row.excess_baggage_fee == Decimal("60.00")
    boarding = selectors.boarding_pass(check_in=row)
    assert (boarding.priority, boarding.lounge) == (False, False)


class Batched:
    """A stand-in with ``many``: answers for the whole party in one call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, *, passenger, booking):  # noqa: ANN001, ANN204
        raise AssertionError("the party is asked for at once")

    def many(self, *, passengers, booking):  # noqa: ANN001, ANN201
        self.calls.append(len(passengers))
        return {p.pk: hooks.TravellerBenefits(priority=True, label="Club") for p in passengers}


def test_a_hook_with_many_is_asked_once_for_the_whole_party(light_booking):
    # given a hook that answers for several travellers at once, and both travellers checked in
    batched = Batched()
    hooks.traveller_benefits.register(SECOND, batched)
    try:
        check_in_both(light_booking, {})
        batched.calls.clear()
        # when the booking's boarding passes are built
        passes = selectors.boarding_passes(booking=light_booking)
    finally:
        hooks.traveller_benefits.unregister(SECOND)
    # then the hook was asked once, for both, and both passes show priority
    assert batched.calls == [2]
    assert [(p.priority, p.benefits_label) for p in passes] == [(True, "Club"), (True, "Club")]
