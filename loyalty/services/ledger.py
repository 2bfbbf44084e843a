"""The miles ledger: the only place entries are written and balances change.

Every posting goes through ``miles_post_many``: members locked in primary-key order, the entries
inserted in one statement that skips any whose idempotency key is already taken (``ON CONFLICT DO
NOTHING``), then the balances of exactly the inserted entries added to their members in one statement.
So a replayed event, a retried task or two workers handling the same flight credit once, and the
member row always equals the sum of its entries. A debit that would take a balance below zero is
refused by the balance's ``CHECK`` constraint, whatever ran at the same time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.models import User
from loyalty.models import EntryKind, Member, MilesEntry

# Kinds that are not the member's own activity: they do not restart the expiry clock.
NOT_ACTIVITY = frozenset({EntryKind.EXPIRY, EntryKind.REVERSAL})


class InsufficientMiles(ApplicationError):
    status = 409

    def __init__(self, message: str | None = None, *, fields: dict | None = None) -> None:
        super().__init__(message or _("Not enough miles."), code="insufficient_miles", fields=fields)


@dataclass(frozen=True)
class Posting:
    """One entry to post. ``key`` names what it is for (``coupon:123``, ``partner:hotelco:T-9``)."""

    member_id: int
    kind: str
    reason: str
    key: str
    award: int = 0
    qualifying: int = 0
    segments: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    coupon_id: int | None = None
    booking_id: int | None = None
    partner_id: int | None = None
    counterpart_id: int | None = None
    reverses_id: int | None = None
    at: datetime | None = None


_COLUMNS = (
    ("member_id", "bigint"),
    ("kind", "text"),
    ("award_miles", "integer"),
    ("qualifying_miles", "integer"),
    ("qualifying_segments", "smallint"),
    ("reason", "text"),
    ("details", "jsonb"),
    ("note", "text"),
    ("idempotency_key", "text"),
    ("coupon_id", "bigint"),
    ("booking_id", "bigint"),
    ("partner_id", "bigint"),
    ("counterpart_id", "bigint"),
    ("reverses_id", "bigint"),
    ("created_by_id", "bigint"),
    ("created_at", "timestamptz"),
)
_INSERT = """
INSERT INTO loyalty_milesentry ({names})
SELECT {names} FROM unnest({arrays}) AS t({names})
ON CONFLICT DO NOTHING
RETURNING id
""".format(
    names=", ".join(name for name, _ in _COLUMNS),
    arrays=", ".join(f"%s::{kind}[]" for _, kind in _COLUMNS),
)
# The balances move by exactly what was inserted; activity restarts the expiry clock.
_APPLY = """
UPDATE loyalty_member m SET
    award_balance = m.award_balance + t.award,
    qualifying_miles = m.qualifying_miles + t.qualifying,
    qualifying_segments = m.qualifying_segments + t.segments,
    lifetime_miles = m.lifetime_miles + t.earned,
    last_activity_at = GREATEST(m.last_activity_at, COALESCE(t.activity, m.last_activity_at))
FROM (
    SELECT member_id, SUM(award_miles) AS award, SUM(qualifying_miles) AS qualifying,
           SUM(qualifying_segments) AS segments,
           COALESCE(SUM(award_miles) FILTER (WHERE award_miles > 0 AND kind NOT IN ('reversal', 'transfer', 'pooling')), 0) AS earned,
           MAX(created_at) FILTER (WHERE kind NOT IN ('expiry', 'reversal')) AS activity
    FROM loyalty_milesentry WHERE id = ANY(%s) GROUP BY member_id
) t
WHERE m.id = t.member_id
"""


def _row(p: Posting, by_id: int | None, now: datetime) -> tuple:
    return (
        p.member_id, p.kind, p.award, p.qualifying, p.segments, p.reason, json.dumps(p.details), p.note[:300],
        p.key, p.coupon_id, p.booking_id, p.partner_id, p.counterpart_id, p.reverses_id, by_id, p.at or now,
    )  # fmt: skip


@transaction.atomic
def miles_post_many(*, postings: Sequence[Posting], by: User | None = None) -> list[int]:
    """Post every entry whose key is new; returns the ids of the entries inserted.

    Four statements whatever the number of postings: lock the members, insert, apply, and look for a
    tier reached. Raises ``InsufficientMiles`` (and posts nothing) when a debit would overdraw.
    """
    if not postings:
        return []
    for p in postings:
        if not (p.award or p.qualifying or p.segments):
            raise ValueError(f"Posting {p.key!r} moves nothing.")
    member_ids = sorted({p.member_id for p in postings})
    list(Member.objects.select_for_update().filter(pk__in=member_ids).order_by("pk").values_list("pk", flat=True))
    by_id = by.pk if by is not None and by.is_authenticated else None
    now = timezone.now()
    columns = list(zip(*(_row(p, by_id, now) for p in postings), strict=True))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_INSERT, [list(c) for c in columns])
            inserted = [row[0] for row in cursor.fetchall()]
            if inserted:
                cursor.execute(_APPLY, [inserted])
    except IntegrityError as error:
        if "member_award_balance_not_negative" in str(error):
            raise InsufficientMiles() from None
        raise
    if inserted and any(p.qualifying > 0 or p.segments > 0 for p in postings):
        from loyalty.services.tiers import tiers_upgrade

        tiers_upgrade(member_ids=member_ids)
    return inserted


def miles_post(*, posting: Posting, by: User | None = None) -> MilesEntry | None:
    """Post one entry; None when its key was already posted (nothing changes the second time)."""
    inserted = miles_post_many(postings=[posting], by=by)
    return MilesEntry.objects.get(pk=inserted[0]) if inserted else None


@transaction.atomic
def miles_reverse(
    *, entry: MilesEntry, reason: str, details: dict[str, Any] | None = None, by: User | None = None
) -> MilesEntry | None:
    """Undo an entry with its mirror image; an entry is reversed at most once (None the second time).

    Reversing a credit that was already spent is refused with ``InsufficientMiles``: the ledger never
    goes below zero, so the caller decides what to do instead.
    """
    if entry.kind == EntryKind.REVERSAL:
        raise ApplicationError(_("A reversal cannot itself be reversed."), code="reversal_of_reversal")
    return miles_post(
        posting=Posting(
            member_id=entry.member_id,
            kind=EntryKind.REVERSAL,
            reason=reason,
            key=f"reversal:{entry.pk}",
            award=-entry.award_miles,
            qualifying=-entry.qualifying_miles,
            segments=-entry.qualifying_segments,
            details={**(details or {}), "reverses": entry.pk, "reverses_reason": entry.reason},
            coupon_id=entry.coupon_id,
            booking_id=entry.booking_id,
            partner_id=entry.partner_id,
            reverses_id=entry.pk,
        ),
        by=by,
    )
