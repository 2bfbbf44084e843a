"""The ledger keeps only the indexes its queries need, and with a few thousand entries every main query
still finds its index: a member's statement, a partner's monthly statement, an award's entries by booking,
the idempotency key, the reversal of an entry. Keys stay unique and an entry is reversed at most once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from loyalty import selectors
from loyalty.models import EntryKind, MilesEntry, Partner, PartnerKind
from loyalty.services import coupons_credited, miles_reverse
from reservations.models import Payment, PaymentMethod, PaymentStatus
from tests.loyalty.factories import credit, member
from tests.reservations.factories import BookingFactory

pytestmark = pytest.mark.django_db

ENTRIES = 6000
MEMBERS = 60


def _bulk_entries(*, members: list[int], partner_id: int, booking_id: int) -> None:
    """``ENTRIES`` rows straight into the table (the ledger's balances are not what these tests look at):
    spread over the members and two years, one in ten from the partner, three on the booking."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO loyalty_milesentry (member_id, kind, award_miles, qualifying_miles, qualifying_segments, reason,
                details, note, idempotency_key, partner_id, booking_id, created_at)
            SELECT (%(members)s::bigint[])[1 + g %% cardinality(%(members)s::bigint[])],
                   CASE WHEN g %% 10 = 0 THEN 'partner' ELSE 'accrual' END, 100 + g %% 900, 0, 0, 'flight',
                   jsonb_build_object('payment', 'pay-' || g), '', 'bulk:' || g,
                   CASE WHEN g %% 10 = 0 THEN %(partner)s END,
                   CASE WHEN g <= 3 THEN %(booking)s END,
                   now() - (g * interval '3 hours')
            FROM generate_series(1, %(n)s) g
            """,
            {"members": members, "partner": partner_id, "booking": booking_id, "n": ENTRIES},
        )
        cursor.execute("ANALYZE loyalty_milesentry")


@pytest.fixture
def ledger():
    members = [member() for _ in range(MEMBERS)]
    partner = Partner.objects.create(code="bank", name="Bank", kind=PartnerKind.choices[0][0])
    booking = BookingFactory()
    _bulk_entries(members=[m.pk for m in members], partner_id=partner.pk, booking_id=booking.pk)
    return members, partner, booking


def plan(queryset: QuerySet) -> str:
    return queryset.explain()


def sql_plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def ledger_indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'loyalty_milesentry'")
        return dict(cursor.fetchall())


def test_the_ledger_has_no_pattern_index_and_partial_indexes_for_its_mostly_empty_columns():
    indexes = ledger_indexes()
    assert not [name for name, sql in indexes.items() if "pattern_ops" in sql or name.endswith("_like")]
    assert "UNIQUE" in indexes["milesentry_idempotency_key_once"] and "WHERE" not in indexes["milesentry_idempotency_key_once"]
    for name in ("milesentry_booking", "milesentry_coupon", "milesentry_counterpart", "milesentry_created_by"):
        assert "IS NOT NULL" in indexes[name], name
    assert "UNIQUE" in indexes["milesentry_reverses_once"] and "IS NOT NULL" in indexes["milesentry_reverses_once"]
    assert len(indexes) == 10, sorted(indexes)


def test_the_breakage_history_reads_only_the_miles_that_left_the_ledger_by_their_index(ledger):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        selectors.breakage_history(now=timezone.now(), minimum=1)
    (query,) = captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a few thousand rows: the planner may scan; the index must serve
        cursor.execute("EXPLAIN " + query["sql"])
        explained = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "milesentry_spent" in explained


def test_a_members_statement_uses_its_index(ledger):
    members, _partner, _booking = ledger
    assert "milesentry_statement" in plan(selectors.statement(member=members[7])[:25])


def test_a_partners_monthly_statement_and_its_totals_use_the_partner_index(ledger):
    _members, partner, _booking = ledger
    statement = selectors.partner_statement(partner=partner, month=timezone.localdate().replace(day=1))
    assert "milesentry_partner" in plan(statement.entries)
    totals = MilesEntry.objects.filter(partner=partner, created_at__gte=timezone.now() - timedelta(days=30))
    assert "milesentry_partner" in plan(totals)


def test_an_awards_entries_are_found_by_booking(ledger):
    _members, _partner, booking = ledger
    payment = Payment(booking=booking, method=PaymentMethod.MILES, status=PaymentStatus.SUCCEEDED, amount=1, currency="EUR")
    assert "milesentry_booking" in plan(
        MilesEntry.objects.filter(booking_id=booking.pk, details__payment=payment.external_key).order_by("pk")
    )
    # an award's redemption entries: by the booking's index, or by the index of the miles spent (which holds
    # only redemptions, expiries and refunds, and may be the smaller of the two)
    redemptions = plan(MilesEntry.objects.filter(booking_id=booking.pk, kind=EntryKind.REDEMPTION))
    assert "Seq Scan" not in redemptions and ("milesentry_booking" in redemptions or "milesentry_spent" in redemptions)
    assert MilesEntry.objects.filter(booking_id=booking.pk).count() == 3


def test_keys_are_looked_up_exactly_through_the_unique_index(ledger):
    assert "milesentry_idempotency_key_once" in plan(MilesEntry.objects.filter(idempotency_key="bulk:42"))
    assert "milesentry_idempotency_key_once" in plan(MilesEntry.objects.filter(idempotency_key__in=["coupon:1", "coupon:2"]))
    assert coupons_credited(coupon_ids=[1, 2]) == set()


def test_the_reversal_of_an_entry_is_found_by_its_unique_index(ledger):
    assert "milesentry_reverses_once" in plan(MilesEntry.objects.filter(reverses_id=17))


def test_a_key_is_still_posted_once_and_an_entry_reversed_once(ledger):
    # given an entry and its reversal
    m = member()
    entry = credit(m, 1000, key="unique-once")
    reversal = miles_reverse(entry=entry, reason="correction")
    assert reversal is not None

    # when the same key, or a second reversal of the entry, is written past the ledger's service
    def insert(key: str, reverses_id: int | None) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO loyalty_milesentry (member_id, kind, award_miles, qualifying_miles, qualifying_segments, reason,"
                " details, note, idempotency_key, reverses_id, created_at) VALUES (%s, 'reversal', -1, 0, 0, 'x', '{}', '',"
                " %s, %s, now())",
                [m.pk, key, reverses_id],
            )

    # then the database refuses both; entries that reverse nothing are many
    with pytest.raises(IntegrityError, match="milesentry_idempotency_key_once"):
        insert("unique-once", None)
    with pytest.raises(IntegrityError, match="milesentry_reverses_once"):
        insert("another-key", entry.pk)
    insert("no-reversal-1", None)
    insert("no-reversal-2", None)
