"""A household's head pays an award from the pooled miles: the head's own first, then the other members'
in primary-key order, each debit its own entry, all or nothing; a refund gives each member back their own."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.errors import ApplicationError
from loyalty import account
from loyalty import services as loyalty_services
from loyalty.hooks import MilesPayments
from loyalty.models import EntryKind, FraudFlag, Household, Member, MilesEntry
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

    # then the head's 2,000, Ann's 3,000 and 2,500 of Bo's are spent, each in its own entry of this payment:
    # the head's own a redemption, the others' a household pooling debit
    assert payment.miles == SHORT_HAUL_ECONOMY
    assert balances(head, ann, bo) == [0, 0, 2500]
    debits = list(MilesEntry.objects.filter(kind__in=[EntryKind.REDEMPTION, EntryKind.POOLING]).order_by("pk"))
    assert [(e.member_id, e.kind, e.award_miles) for e in debits] == [
        (head.pk, EntryKind.REDEMPTION, -2000),
        (ann.pk, EntryKind.POOLING, -3000),
        (bo.pk, EntryKind.POOLING, -2500),
    ]
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
    assert not MilesEntry.objects.filter(kind__in=[EntryKind.REDEMPTION, EntryKind.POOLING]).exists()


def test_cancelling_a_pooled_award_gives_each_member_back_their_own(flight, household):
    head, ann, bo = household
    booking = held_booking(head.customer, flight)
    pay_miles(booking)

    services.booking_cancel(booking=booking, reason="Plans changed")

    assert balances(head, ann, bo) == [2000, 3000, 5000]
    reversals = MilesEntry.objects.filter(kind=EntryKind.REVERSAL).select_related("reverses")
    assert sorted((r.member_id, r.reverses.kind, r.award_miles) for r in reversals) == sorted(
        [(head.pk, EntryKind.REDEMPTION, 2000), (ann.pk, EntryKind.POOLING, 3000), (bo.pk, EntryKind.POOLING, 2500)]
    )


def test_the_payment_page_offer_shows_the_pooled_balance(flight, household):
    head, _ann, _bo = household
    booking = held_booking(head.customer, flight)
    offer = MilesPayments().offer(booking=booking, user=None)
    assert offer is not None and offer.available
    assert "7,500 miles" in offer.summary and "pooled balance: 10,000 miles" in offer.summary


@pytest.fixture
def household_without_the_heads_miles(db):
    """Ann (lowest primary key) 3,000 miles, the head none, Bo 5,000."""
    ann = member(given_name="Ann")
    head = member(given_name="Hal")
    bo = member(given_name="Bo")
    home = Household.objects.create(head=head)
    Member.objects.filter(pk__in=[ann.pk, head.pk, bo.pk]).update(household=home)
    credit(ann, 3000), credit(bo, 5000)
    return head, ann, bo


def test_a_replayed_redemption_of_a_head_without_miles_debits_the_members_once(flight, household_without_the_heads_miles):
    # given a head with no miles of their own, whose 2,000-mile redemption took Ann's miles only
    head, ann, bo = household_without_the_heads_miles
    booking = held_booking(head.customer, flight)

    def spend() -> list[int]:
        return loyalty_services.miles_redeem(
            member=head, miles=2000, reference="pay-replayed", booking=booking, reason="award_ticket", details={}
        )

    first = spend()
    assert balances(head, ann, bo) == [0, 1000, 5000]

    # when the same payment's redemption is asked for again
    again = spend()

    # then it answers the first debits and takes nothing more from anyone (not the rest from Bo)
    assert again == first
    assert balances(head, ann, bo) == [0, 1000, 5000]
    assert MilesEntry.objects.filter(award_miles__lt=0).count() == 1


def test_an_award_paid_from_the_members_miles_alone_is_not_paid_with_miles_again(flight, household_without_the_heads_miles):
    head, ann, bo = household_without_the_heads_miles
    booking = held_booking(head.customer, flight)
    pay_miles(booking)
    assert balances(head, ann, bo) == [0, 0, 500]

    with pytest.raises(ApplicationError) as refused:
        pay_miles(booking)

    assert refused.value.code == "miles_already_used"
    assert balances(head, ann, bo) == [0, 0, 500]


def test_a_members_statement_and_csv_say_the_household_head_spent_their_miles(flight, household):
    head, ann, _bo = household
    booking = held_booking(head.customer, flight)
    pay_miles(booking)

    # Ann's statement filtered on household pooling holds the debit, read as what happened to her miles
    [line] = account.statement_filtered(member=ann, kind=EntryKind.POOLING)
    assert line.award_miles == -3000 and line.counterpart_id == head.pk
    expected = f"Miles spent by the household head (member {head.number}) for booking {booking.record_locator}"
    assert account.entry_description(line) == expected
    assert not account.statement_filtered(member=ann, kind=EntryKind.REDEMPTION).exists()
    # the head's own debit stays a redemption
    [own] = account.statement_filtered(member=head, kind=EntryKind.REDEMPTION)
    assert account.entry_description(own) == f"Miles used to pay for booking {booking.record_locator}"
    # and the CSV names the kind and says the same
    rows = list(csv.reader(io.StringIO("".join(account.statement_csv_rows(account.statement_filtered(member=ann))))))
    pooled = [r for r in rows[1:] if r[3] == "-3000"]
    assert [(r[1], r[2]) for r in pooled] == [("Household pooling", expected)]


def test_a_pooled_member_whose_login_just_changed_is_checked_for_fraud(flight, household):
    # given Ann's password changed an hour ago, and the head books for himself from the pool
    head, ann, _bo = household
    Member.objects.filter(pk=ann.pk).update(login_changed_at=timezone.now() - timedelta(hours=1), login_change="password")
    booking = held_booking(head.customer, flight)
    pay_miles(booking)

    # when the paid booking is checked
    loyalty_services.fraud_check_paid_booking(booking_id=booking.pk)

    # then Ann's miles, spent on a trip she does not fly, are flagged for review
    assert list(FraudFlag.objects.values_list("member_id", flat=True)) == [ann.pk]
