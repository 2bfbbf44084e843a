"""A household's head pays an award from the pooled miles: the head's own first, then the other members'
in primary-key order, each debit its own entry, all or nothing; a refund gives each member back their own."""

from __future__ import annotations

import pytest

from crm.errors import ApplicationError
from loyalty.hooks import MilesPayments
from loyalty.models import EntryKind, Household, Member, MilesEntry
from reservations import services
from reservations.models import Payment
from tests.loyalty.factories import credit, member
from tests.loyalty.redemption_support import SHORT_HAUL_ECONOMY, chart_fixture, flight_fixture, held_booking, pay_miles  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(db):
    """Ann (lowest primary key) 3,000 miles, the head 2,000, Bo 5,000: 10,000 pooled."""
    ann = member(given_name="Ann")
    head = member(given_name="Hal")
    bo = member(given_name="Bo")
    home = Household.objects.create(head=head)
    Member.objects.filter(pk__in=[ann.pk, head.pk, bo.pk]).update(household=home)
    for m, miles in ((ann, 3000), (head, 2000), (bo, 5000)):
        credit(m, miles)
    return head, ann, bo


def balances(*members: Member) -> list[int]:
    return [Member.objects.get(pk=m.pk).award_balance for m in members]


def test_the_head_pays_from_the_pool_own_miles_first_then_the_others_by_primary_key(flight, household):
    # given the head's own 2,000 miles are not enough for a 7,500-mile award
    head, ann, bo = household
    booking = held_booking(head.customer, flight)

    # when the head pays with miles
    payment = pay_miles(booking)

    # then the head's 2,000, Ann's 3,000 and 2,500 of Bo's are spent, each in its own entry of this payment
    assert payment.miles == SHORT_HAUL_ECONOMY
    assert balances(head, ann, bo) == [0, 0, 2500]
    debits = list(MilesEntry.objects.filter(kind=EntryKind.REDEMPTION).order_by("pk"))
    assert [(e.member_id, e.award_miles) for e in debits] == [(head.pk, -2000), (ann.pk, -3000), (bo.pk, -2500)]
    assert [e.idempotency_key for e in debits] == [
        f"redemption:{payment.external_key}",
        f"redemption:{payment.external_key}:{ann.pk}",
        f"redemption:{payment.external_key}:{bo.pk}",
    ]
    assert {e.counterpart_id for e in debits[1:]} == {head.pk} and debits[0].counterpart_id is None


def test_a_member_who_is_not_the_head_spends_only_their_own(flight, household):
    _, ann, _bo = household
    booking = held_booking(ann.customer, flight)
    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking)
    assert refused.value.code == "insufficient_miles"
    assert balances(ann) == [3000] and not Payment.objects.exists()


def test_a_pool_that_is_short_spends_nothing_at_all(flight, household):
    # given a two-seat award of 15,000 miles and 10,000 pooled
    head, ann, bo = household
    party = [
        services.PassengerRequest(passenger_type="ADT", given_name="Hal", family_name=head.customer.family_name),
        services.PassengerRequest(passenger_type="ADT", given_name="Ann", family_name=ann.customer.family_name),
    ]
    booking = held_booking(head.customer, flight, passengers=party)

    # when the head pays with miles
    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking)

    # then it is refused and no member lost a mile
    assert refused.value.code == "insufficient_miles" and "15,000" in refused.value.message
    assert balances(head, ann, bo) == [2000, 3000, 5000]
    assert not MilesEntry.objects.filter(kind=EntryKind.REDEMPTION).exists()


def test_cancelling_a_pooled_award_gives_each_member_back_their_own(flight, household):
    head, ann, bo = household
    booking = held_booking(head.customer, flight)
    pay_miles(booking)

    services.booking_cancel(booking=booking, reason="Plans changed")

    assert balances(head, ann, bo) == [2000, 3000, 5000]
    reversals = MilesEntry.objects.filter(kind=EntryKind.REVERSAL)
    assert reversals.count() == 3 and all(r.reverses_id for r in reversals)


def test_the_payment_page_offer_shows_the_pooled_balance(flight, household):
    head, _ann, _bo = household
    booking = held_booking(head.customer, flight)
    offer = MilesPayments().offer(booking=booking, user=None)
    assert offer is not None and offer.available
    assert "7,500 miles" in offer.summary and "pooled balance: 10,000 miles" in offer.summary
