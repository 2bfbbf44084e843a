"""The ledger: idempotent postings, balances equal to the entries, never below zero, never edited."""

import pytest
from django.db import DatabaseError, transaction
from django.db.models import Sum

from loyalty import numbers, services
from loyalty.models import EntryKind, Member, MilesEntry
from tests.loyalty.factories import credit, member

pytestmark = pytest.mark.django_db


def assert_balance_is_sum(m: Member) -> None:
    m.refresh_from_db()
    sums = MilesEntry.objects.filter(member=m).aggregate(
        a=Sum("award_miles"), q=Sum("qualifying_miles"), s=Sum("qualifying_segments")
    )
    assert (m.award_balance, m.qualifying_miles, m.qualifying_segments) == (sums["a"] or 0, sums["q"] or 0, sums["s"] or 0)


def test_frequent_flyer_numbers_carry_a_luhn_check_digit():
    for _ in range(50):
        number = numbers.new_number()
        assert numbers.is_valid(number)
        wrong_last = number[:-1] + str((int(number[-1]) + 1) % 10)
        swapped = number[0] + number[2] + number[1] + number[3:]
        assert not numbers.is_valid(wrong_last)
        if number[1] != number[2] and {number[1], number[2]} != {"0", "9"}:  # Luhn misses 09 <-> 90
            assert not numbers.is_valid(swapped)
    assert numbers.check_digit("7992739871") == "3"


def test_enrolling_twice_keeps_one_membership_in_the_entry_tier(db):
    first = member()
    again = services.member_enrol(customer=first.customer, channel="portal")
    assert again.pk == first.pk
    assert first.tier.rank == 0
    assert numbers.is_valid(first.number)


def test_the_same_key_credits_once_and_the_balance_is_the_sum_of_entries():
    m = member()
    credit(m, 1000, key="coupon:1")
    assert credit(m, 1000, key="coupon:1") is None
    credit(m, 250, qualifying=250, segments=1, kind=EntryKind.ACCRUAL)
    m.refresh_from_db()
    assert m.award_balance == 1250
    assert MilesEntry.objects.filter(member=m).count() == 2
    assert_balance_is_sum(m)


def test_a_debit_beyond_the_balance_is_refused_and_posts_nothing():
    m = member()
    credit(m, 100)
    with pytest.raises(services.InsufficientMiles):
        services.miles_post(
            posting=services.Posting(member_id=m.pk, kind=EntryKind.REDEMPTION, reason="award_ticket", key="pay:1", award=-101)
        )
    assert MilesEntry.objects.filter(member=m).count() == 1
    assert_balance_is_sum(m)


def test_a_reversal_mirrors_the_entry_once():
    m = member()
    entry = credit(m, 500, qualifying=500, segments=1, kind=EntryKind.ACCRUAL)
    reversal = services.miles_reverse(entry=entry, reason="ticket_refunded")
    assert (reversal.award_miles, reversal.qualifying_miles, reversal.qualifying_segments) == (-500, -500, -1)
    assert services.miles_reverse(entry=entry, reason="ticket_refunded") is None
    assert_balance_is_sum(m)
    assert m.award_balance == 0


def test_ledger_entries_cannot_be_changed_or_deleted():
    m = member()
    entry = credit(m, 100)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        MilesEntry.objects.filter(pk=entry.pk).update(award_miles=1_000_000)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        MilesEntry.objects.filter(pk=entry.pk).delete()


def test_reaching_a_threshold_upgrades_at_once(django_capture_on_commit_callbacks):
    m = member()
    with django_capture_on_commit_callbacks(execute=True):
        credit(m, 25000, qualifying=25000, segments=1, kind=EntryKind.ACCRUAL)
    m.refresh_from_db()
    assert m.tier.code == "silver"
    assert m.tier_valid_until is not None and m.tier_valid_until > m.tier_since
