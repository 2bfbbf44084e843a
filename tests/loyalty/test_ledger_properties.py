"""Properties of the ledger over any sequence of postings: the member row is the sum of its entries,
the balance never goes below zero, and a refused posting changes nothing.

Hypothesis draws sequences of accruals (some replayed with a key already used), redemptions (debits,
some larger than the balance), reversals of earlier entries and expiries (a debit of the whole
balance), and checks the properties after every step against a model kept in Python. A second test
has threads posting to the same members at once.
"""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connections
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import services
from loyalty.models import EntryKind, Member, MilesEntry
from tests.loyalty.factories import member

accrual = st.tuples(st.just("accrue"), st.integers(1, 5000), st.booleans())  # miles, replay a used key
redemption = st.tuples(st.just("redeem"), st.integers(1, 8000), st.just(False))
reversal = st.tuples(st.just("reverse"), st.integers(0, 50), st.just(False))  # which earlier entry
expiry = st.tuples(st.just("expire"), st.just(0), st.just(False))
operations = st.lists(st.one_of(accrual, redemption, reversal, expiry), min_size=1, max_size=25)


def ledger_state(m: Member) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
    """(the member row's balances, the sums of its entries, the number of entries)."""
    m.refresh_from_db()
    sums = MilesEntry.objects.filter(member=m).aggregate(
        a=Sum("award_miles"), q=Sum("qualifying_miles"), s=Sum("qualifying_segments")
    )
    row = (m.award_balance, m.qualifying_miles, m.qualifying_segments)
    return row, (sums["a"] or 0, sums["q"] or 0, sums["s"] or 0), MilesEntry.objects.filter(member=m).count()


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=operations)
def test_any_sequence_of_postings_keeps_the_balance_equal_to_the_entries_and_never_negative(steps):
    # Given a new member (each example its own, so examples do not see each other's entries)
    m = member(family_name="Prop")
    balance, qualifying, used_keys, posted = 0, 0, [], []

    for n, (op, amount, replay) in enumerate(steps):
        before = ledger_state(m)
        refused = False
        # When each operation is posted
        if op == "accrue":
            key = used_keys[amount % len(used_keys)] if replay and used_keys else f"prop:{m.pk}:{n}"
            entry = services.miles_post(
                posting=services.Posting(
                    member_id=m.pk, kind=EntryKind.ACCRUAL, reason="flight", key=key, award=amount, qualifying=amount, segments=1
                )
            )
            if key in used_keys:
                assert entry is None  # a replayed key credits nothing
            else:
                used_keys.append(key)
                posted.append(entry)
                balance, qualifying = balance + amount, qualifying + amount
        elif op == "redeem":
            try:
                entry = services.miles_post(
                    posting=services.Posting(
                        member_id=m.pk, kind=EntryKind.REDEMPTION, reason="award_ticket", key=f"prop:{m.pk}:{n}", award=-amount
                    )
                )
            except services.InsufficientMiles:
                refused = True
                assert amount > balance
            else:
                assert amount <= balance
                posted.append(entry)
                balance -= amount
        elif op == "reverse" and posted:
            target = posted[amount % len(posted)]
            try:
                entry = services.miles_reverse(entry=target, reason="correction")
            except services.InsufficientMiles:
                refused = True
                assert balance - target.award_miles < 0
            else:
                if entry is not None:  # None: that entry was already reversed
                    balance -= target.award_miles
                    qualifying -= target.qualifying_miles
        elif op == "expire" and balance > 0:
            services.miles_post(
                posting=services.Posting(
                    member_id=m.pk, kind=EntryKind.EXPIRY, reason="inactivity", key=f"prop:{m.pk}:{n}", award=-balance
                )
            )
            balance = 0

        # Then the row equals the entries and the model, never below zero; a refusal changed nothing
        row, sums, count = ledger_state(m)
        assert row == sums
        assert (row[0], row[1]) == (balance, qualifying)
        assert row[0] >= 0
        if refused:
            assert (row, sums, count) == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_postings_from_threads_keep_every_member_row_equal_to_its_entries():
    # Given two members with 1,000 miles each
    members = [member(family_name=f"Busy{i}") for i in range(2)]
    for m in members:
        services.miles_post(
            posting=services.Posting(member_id=m.pk, kind=EntryKind.BONUS, reason="welcome_bonus", key=f"seed:{m.pk}", award=1000)
        )
    threads_count, per_thread = 6, 15
    barrier, errors, refusals = threading.Barrier(threads_count), [], []

    # When six threads post credits and debits (some beyond the balance) to both at once, in random order
    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for i in range(per_thread):
                picked = rng.sample(members, k=rng.choice([1, 2]))
                award = rng.choice([300, -400, -900, 150])
                postings = [
                    services.Posting(
                        member_id=m.pk, kind=EntryKind.BONUS if award > 0 else EntryKind.REDEMPTION,
                        reason="welcome_bonus" if award > 0 else "award_ticket", key=f"t{seed}:{i}:{m.pk}", award=award,
                    )
                    for m in picked
                ]  # fmt: skip
                try:
                    services.miles_post_many(postings=postings)
                except services.InsufficientMiles:
                    refusals.append(seed)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # Then no error (refused debits aside), and each member row equals the sum of its entries, never below zero
    assert errors == []
    for m in members:
        row, sums, _count = ledger_state(m)
        assert row == sums
        assert row[0] >= 0
    assert MilesEntry.objects.count() > len(members)
