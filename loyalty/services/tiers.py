"""Tiers: reached as soon as a threshold is, kept or lost at the end of the qualification period.

**Periods.** A member's qualification period runs ``Programme.qualification_months`` from
``Member.qualification_start``: ``[start, start + months)``, in the programme's time zone. The next
period starts where the last one ended (``qualification_start = old end``), so each end is the
previous end plus the period's months, the same in Python (``period_end``) and in SQL
(``date + make_interval(months => n)``, which clamps to a shorter month's last day as Python does).

**Counters.** ``Member.qualifying_miles`` / ``qualifying_segments`` are *per period*: they are always
the sums of the qualifying miles and segments of the member's entries posted (``created_at``) since
``qualification_start``. The ledger keeps them so by adding each entry as it is posted; at period end
requalification does not post anything to reset them (a "reset" entry would be a fake movement in the
statement and in every sum over the ledger): it recomputes them from the ledger for the new period in
one statement, so the ledger stays the only source of truth and any drift is repaired at each period
end. An entry counts in the period its ``created_at`` falls in; a reversal posted in a later period
(a flight refunded after the period it was flown in) counts in the period it is posted in, as the
ledger applies it then.

**Validity.** ``tier_valid_until`` is the last day a tier is guaranteed: a tier reached (or matched)
during a period is kept until the end of the *next* period. The entry tier needs no date (None).

**Requalification** (``tiers_requalify``, daily): for each member whose period ended, the tier earned
by that period's qualifying miles *or* segments is kept (or given, if higher); a member who earned
less keeps the tier while ``tier_valid_until`` reaches into the new period, otherwise drops **one**
tier at most (soft landing: Platinum with nothing becomes Gold, not Blue; never below the entry
tier). Then the new period starts. Set-based (one lock, one read and one update per chunk of
members) and idempotent: a member processed today has a period ending in the future, so a second
run finds no one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from crm.events import send_after_commit
from crm.registry import months_before
from loyalty import events
from loyalty.models import Member, MemberStatus, Programme, Tier

QUALIFIED = "qualified"
REQUALIFICATION = "requalification"
STATUS_MATCH = "status_match"
TIER_WARNING = "tier_warning"

REQUALIFY_CHUNK = 1000
# A run that is days behind catches up one period at a time; this bounds the loop all the same.
_MAX_ROUNDS = 10_000


# --- Periods --------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (the month's last day when it is shorter)."""
    return months_before(day, -months)


def period_end(*, start: date, months: int) -> date:
    """The first day after the period that starts on ``start`` (the next period's start)."""
    return add_months(start, months)


def current_period_start(*, start: date, months: int, today: date) -> date:
    """The start of the period ``today`` falls in, for a member whose periods began on ``start``.

    Normally ``start`` itself; later when requalification has not yet run for a period that ended.
    """
    while period_end(start=start, months=months) <= today:
        start = period_end(start=start, months=months)
    return start


def valid_until_after_next(*, start: date, months: int) -> date:
    """The last day of the period after the one starting on ``start``: how long a tier reached now holds."""
    return period_end(start=period_end(start=start, months=months), months=months) - timedelta(days=1)


def local_midnight(day: date) -> datetime:
    """The first instant of ``day`` in the programme's (the project's) time zone."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def tier_reached(*, tier: Tier, miles: int, segments: int) -> bool:
    """Whether the counters reach ``tier`` by its miles *or* its segments threshold.

    A threshold of 0 means the tier is not reached that way (a flights-only tier has 0 qualifying miles in
    the admin), so a tier with no positive threshold is never reached by the counters.
    """
    by_miles = tier.qualifying_miles > 0 and miles >= tier.qualifying_miles
    by_segments = tier.qualifying_segments > 0 and segments >= tier.qualifying_segments
    return by_miles or by_segments


def tier_for_counters(*, tiers: Iterable[Tier], miles: int, segments: int) -> Tier:
    """The highest tier whose miles *or* segments threshold the counters reach (the entry tier at least)."""
    ordered = sorted(tiers, key=lambda t: t.rank)
    best = ordered[0]
    for tier in ordered[1:]:
        if tier_reached(tier=tier, miles=miles, segments=segments):
            best = tier
    return best


def _programme() -> Programme:
    from loyalty.selectors import programme

    return programme()


# --- Upgrade as soon as a threshold is reached ----------------------------------------------


# Every member a posting moved up, in one statement whatever their number.
_UPGRADE = """
UPDATE loyalty_member m SET tier_id = t.tier_id, tier_since = t.since, tier_valid_until = t.valid_until
FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::date[]) AS t(id, tier_id, since, valid_until)
WHERE m.id = t.id
"""


@transaction.atomic
def tiers_upgrade(*, member_ids: Iterable[int], today: date | None = None) -> list[int]:
    """Move members whose counters now reach a higher tier up to it, at once; returns who moved.

    Called by the ledger after qualifying miles were posted, with the members' rows already locked.
    The new tier holds until the end of the next qualification period. Never moves anyone down: that
    happens only at requalification. A member whose period has ended but who is not requalified yet
    (between midnight and the nightly run) is left for requalification: their counters still add the
    ended period to the new one, and requalification looks at the new period's own counters again.
    The same few statements however many members a flight moves up (read, programme, one update);
    each move is a ``tier_changed`` event after commit.
    """
    all_tiers = list(Tier.objects.order_by("rank"))
    if not all_tiers:
        return []
    today = today or timezone.localdate()
    months = None  # the programme's row is read only when someone moves
    moves: list[tuple[Member, Tier, date]] = []
    for member in Member.objects.select_related("tier").filter(pk__in=list(member_ids)).order_by("pk"):
        reached = tier_for_counters(tiers=all_tiers, miles=member.qualifying_miles, segments=member.qualifying_segments)
        if reached.rank <= member.tier.rank:
            continue
        months = months or _programme().qualification_months
        start = member.qualification_start
        if period_end(start=start, months=months) <= today:
            continue
        valid_until = max(valid_until_after_next(start=start, months=months), member.tier_valid_until or date.min)
        moves.append((member, reached, valid_until))
    if not moves:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _UPGRADE,
            [[m.pk for m, _t, _v in moves], [t.pk for _m, t, _v in moves], [today] * len(moves), [v for _m, _t, v in moves]],
        )
    for member, reached, _valid_until in moves:
        send_after_commit(
            events.tier_changed, sender=Member, member_id=member.pk, customer_id=member.customer_id,
            old_tier=member.tier.code, new_tier=reached.code, reason=QUALIFIED,
        )  # fmt: skip
    return [member.pk for member, _t, _v in moves]


# --- Requalification at period end -----------------------------------------------------------

# The members whose period ended by %(today)s, locked in primary-key order (the ledger's order).
# ``qualification_start <= %(bound)s`` lets the index ``member_qualification_start`` find them; the
# exact rule follows.
_DUE = """
SELECT m.id FROM loyalty_member m
WHERE m.status = %(active)s
  AND m.qualification_start <= %(bound)s
  AND (m.qualification_start + make_interval(months => %(months)s))::date <= %(today)s
ORDER BY m.id
LIMIT %(chunk)s
FOR UPDATE OF m
"""
# Each locked member's ended period and what its entries add up to, in it and since its end.
_PERIOD_SUMS = """
SELECT m.id, m.customer_id, m.tier_id, m.tier_valid_until, p.period_end,
       COALESCE(SUM(e.qualifying_miles) FILTER (WHERE e.created_at < p.end_at), 0),
       COALESCE(SUM(e.qualifying_segments) FILTER (WHERE e.created_at < p.end_at), 0),
       COALESCE(SUM(e.qualifying_miles) FILTER (WHERE e.created_at >= p.end_at), 0),
       COALESCE(SUM(e.qualifying_segments) FILTER (WHERE e.created_at >= p.end_at), 0)
FROM loyalty_member m
CROSS JOIN LATERAL (
    SELECT (m.qualification_start + make_interval(months => %(months)s))::date AS period_end,
           (m.qualification_start + make_interval(months => %(months)s)) AT TIME ZONE %(tz)s AS end_at,
           m.qualification_start::timestamp AT TIME ZONE %(tz)s AS start_at
) p
LEFT JOIN loyalty_milesentry e
       ON e.member_id = m.id AND e.created_at >= p.start_at AND (e.qualifying_miles <> 0 OR e.qualifying_segments <> 0)
WHERE m.id = ANY(%(ids)s)
GROUP BY m.id, p.period_end
ORDER BY m.id
"""
_APPLY = """
UPDATE loyalty_member m SET
    tier_id = t.tier_id, tier_since = COALESCE(t.tier_since, m.tier_since), tier_valid_until = t.valid_until,
    qualification_start = t.start, qualifying_miles = t.miles, qualifying_segments = t.segments
FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::date[], %s::date[], %s::integer[], %s::integer[])
     AS t(id, tier_id, tier_since, valid_until, start, miles, segments)
WHERE m.id = t.id
"""


@dataclass(frozen=True)
class TierChange:
    member_id: int
    customer_id: int | None
    old_tier: str
    new_tier: str


def _landing(*, current: Tier, earned: Tier, valid_until: date | None, ended: date, by_rank: dict[int, Tier]) -> Tier:
    """The tier for the next period: the one earned if it is no lower, the current one while its validity
    reaches past the period's end, otherwise one step down, never lower than what was earned."""
    if earned.rank >= current.rank:
        return earned
    if valid_until is not None and valid_until >= ended:
        return current
    lower = [rank for rank in by_rank if earned.rank <= rank < current.rank]
    return by_rank[max(lower)]


def tiers_requalify(*, today: date | None = None, chunk: int = REQUALIFY_CHUNK) -> list[TierChange]:
    """Close every qualification period that ended by ``today``: keep, give or lower tiers, start the next.

    Each chunk of members is one transaction; a member whose task is days late moves one period per
    round until the period they are in is current. Returns the tier changes (each also a
    ``tier_changed`` event with reason ``requalification``).
    """
    today = today or timezone.localdate()
    months = _programme().qualification_months
    tiers_by_id = {t.pk: t for t in Tier.objects.all()}
    if not tiers_by_id:
        return []
    changes: list[TierChange] = []
    for _round in range(_MAX_ROUNDS):
        done = _requalify_chunk(today=today, months=months, chunk=chunk, tiers_by_id=tiers_by_id)
        if done is None:
            break
        changes.extend(done)
    return changes


@transaction.atomic
def _requalify_chunk(*, today: date, months: int, chunk: int, tiers_by_id: dict[int, Tier]) -> list[TierChange] | None:
    """One chunk: None when no member is due any more."""
    by_rank = {t.rank: t for t in tiers_by_id.values()}
    entry = by_rank[min(by_rank)]
    params = {
        "active": MemberStatus.ACTIVE,
        "bound": months_before(today, months) + timedelta(days=3),  # a shorter month's clamp is at most 3 days
        "months": months,
        "today": today,
        "chunk": chunk,
        "tz": timezone.get_default_timezone_name(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_DUE, params)
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return None
        cursor.execute(_PERIOD_SUMS, {**params, "ids": ids})
        rows = cursor.fetchall()
    columns: list[list] = [[] for _ in range(7)]
    changes = []
    for member_id, customer_id, tier_id, valid_until, ended, miles, segments, next_miles, next_segments in rows:
        current = tiers_by_id[tier_id]
        earned = tier_for_counters(tiers=tiers_by_id.values(), miles=miles, segments=segments)
        landing = _landing(current=current, earned=earned, valid_until=valid_until, ended=ended, by_rank=by_rank)
        next_last_day = period_end(start=ended, months=months) - timedelta(days=1)
        if landing.pk == entry.pk:
            new_valid_until = None
        elif landing.pk != current.pk:
            new_valid_until = next_last_day  # earned higher, or one step down: held for the new period
        elif earned.rank < current.rank:
            new_valid_until = valid_until  # not earned again: kept on its earlier validity only
        else:
            new_valid_until = max(next_last_day, valid_until or date.min)
        since = ended if landing.pk != current.pk else None  # None: tier_since stays
        for column, value in zip(
            columns, (member_id, landing.pk, since, new_valid_until, ended, next_miles, next_segments), strict=True
        ):
            column.append(value)
        if landing.pk != current.pk:
            changes.append(TierChange(member_id, customer_id, current.code, landing.code))
    with connection.cursor() as cursor:
        cursor.execute(_APPLY, columns)
    # The new period's counters may already reach a tier (postings since its first day).
    tiers_upgrade(member_ids=ids, today=today)
    for change in changes:
        send_after_commit(
            events.tier_changed, sender=Member, member_id=change.member_id, customer_id=change.customer_id,
            old_tier=change.old_tier, new_tier=change.new_tier, reason=REQUALIFICATION,
        )  # fmt: skip
    return changes


# --- Warning of a tier about to be lost ----------------------------------------------------


@dataclass(frozen=True)
class TierOutlook:
    """Where a member stands before period end: what the tier needs, what is missing, where they would land."""

    member: Member
    period_end: date
    landing: Tier
    missing_miles: int
    missing_segments: int


def tier_outlook(*, member: Member, today: date, months: int, tiers: list[Tier]) -> TierOutlook | None:
    """The outlook of a member who, at the pace of their period so far, would lose their tier at its end.

    None for the entry tier, for a tier whose validity reaches past the period's end, and for a member
    on pace to earn it again (the counters projected linearly to the period's last day).
    """
    by_rank = {t.rank: t for t in tiers}
    current = member.tier
    if current.rank == min(by_rank):
        return None
    start = member.qualification_start
    ended = period_end(start=start, months=months)
    if member.tier_valid_until is not None and member.tier_valid_until >= ended:
        return None
    length = (ended - start).days
    elapsed = max(min((today - start).days + 1, length), 1)
    projected_miles = member.qualifying_miles * length // elapsed
    projected_segments = member.qualifying_segments * length // elapsed
    if tier_for_counters(tiers=tiers, miles=projected_miles, segments=projected_segments).rank >= current.rank:
        return None
    earned = tier_for_counters(tiers=tiers, miles=member.qualifying_miles, segments=member.qualifying_segments)
    landing = _landing(current=current, earned=earned, valid_until=member.tier_valid_until, ended=ended, by_rank=by_rank)
    return TierOutlook(
        member=member,
        period_end=ended,
        landing=landing,
        missing_miles=max(current.qualifying_miles - member.qualifying_miles, 0),
        missing_segments=max(current.qualifying_segments - member.qualifying_segments, 0) if current.qualifying_segments else 0,
    )


def tiers_warn(*, today: date | None = None) -> list[int]:
    """E-mail, once per member and period, those who would drop at their coming period end.

    Looked at each day from ``Programme.tier_warning_days`` before the end: a member who falls behind
    the pace later in that window is warned then. The ``MemberNotice`` key
    ``tier_warning:<member>:<period end>`` makes it once. Returns the members warned.
    """
    today = today or timezone.localdate()
    settings_row = _programme()
    months, days = settings_row.qualification_months, settings_row.tier_warning_days
    tiers = list(Tier.objects.order_by("rank"))
    if not tiers:
        return []
    # Periods ending in (today, today + days]: their starts lie in this range (clamps aside).
    earliest = months_before(today, months) - timedelta(days=3)
    latest = months_before(today + timedelta(days=days), months) + timedelta(days=3)
    candidates = (
        Member.objects.select_related("tier", "customer")
        .filter(status=MemberStatus.ACTIVE, qualification_start__gte=earliest, qualification_start__lte=latest)
        .exclude(tier__rank=tiers[0].rank)
        .order_by("pk")
    )
    outlooks = []
    for member in candidates.iterator(chunk_size=1000):
        ended = period_end(start=member.qualification_start, months=months)
        if not (today < ended <= today + timedelta(days=days)):
            continue
        outlook = tier_outlook(member=member, today=today, months=months, tiers=tiers)
        if outlook is not None:
            outlooks.append(outlook)
    warned = []
    for part in _chunks(outlooks, 500):
        warned += _warn_chunk(part)
    return warned


@transaction.atomic
def _warn_chunk(outlooks: list[TierOutlook]) -> list[int]:
    from crm.services import email_language, email_queue

    keys = {f"{TIER_WARNING}:{o.member.pk}:{o.period_end.isoformat()}": o for o in outlooks}
    recorded = member_notices_record(keys={key: o.member.pk for key, o in keys.items()}, kind=TIER_WARNING)
    for key in recorded:
        outlook = keys[key]
        customer = outlook.member.customer
        if customer is None or not customer.email:
            continue
        email_queue(
            to=customer.email,
            template="loyalty/tier_warning",
            context={
                "given_name": customer.given_name,
                "member_number": outlook.member.number,
                "tier": outlook.member.tier.name,
                "landing_tier": outlook.landing.name,
                "period_end": outlook.period_end.isoformat(),
                "last_day": (outlook.period_end - timedelta(days=1)).isoformat(),
                "qualifying_miles": outlook.member.qualifying_miles,
                "qualifying_segments": outlook.member.qualifying_segments,
                "missing_miles": outlook.missing_miles,
                "missing_segments": outlook.missing_segments,
            },
            language=email_language(customer=customer),
            customer=customer,
        )
    return [keys[key].member.pk for key in recorded]


def member_notices_record(*, keys: dict[str, int], kind: str) -> list[str]:
    """Record each notice not yet recorded (``MemberNotice.key`` is unique); return the keys that are new."""
    if not keys:
        return []
    names = list(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO loyalty_membernotice (member_id, key, kind, sent_at)
            SELECT t.member_id, t.key, %s, now() FROM unnest(%s::bigint[], %s::text[]) AS t(member_id, key)
            ON CONFLICT (key) DO NOTHING
            RETURNING key
            """,
            [kind, [keys[k] for k in names], names],
        )
        return [row[0] for row in cursor.fetchall()]


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- Granting a tier (status match) --------------------------------------------------------


def tier_grant(*, member: Member, tier: Tier, today: date | None = None) -> bool:
    """Give a locked member ``tier`` until the end of the next period; never lowers. True when it changed.

    For a tier equal to the member's, only the validity may lengthen.
    """
    today = today or timezone.localdate()
    months = _programme().qualification_months
    current = Tier.objects.get(pk=member.tier_id)
    if tier.rank < current.rank:
        return False
    start = current_period_start(start=member.qualification_start, months=months, today=today)
    valid_until = max(valid_until_after_next(start=start, months=months), member.tier_valid_until or date.min)
    changed = tier.rank > current.rank
    member.tier_valid_until = valid_until
    fields = ["tier_valid_until"]
    if changed:
        member.tier, member.tier_since = tier, today
        fields += ["tier", "tier_since"]
    member.save(update_fields=fields)
    if changed:
        send_after_commit(
            events.tier_changed, sender=Member, member_id=member.pk, customer_id=member.customer_id,
            old_tier=current.code, new_tier=tier.code, reason=STATUS_MATCH,
        )  # fmt: skip
    return changed


__all__ = [
    "QUALIFIED",
    "REQUALIFICATION",
    "STATUS_MATCH",
    "TierChange",
    "TierOutlook",
    "add_months",
    "current_period_start",
    "local_midnight",
    "period_end",
    "tier_for_counters",
    "tier_grant",
    "tier_outlook",
    "tier_reached",
    "tiers_requalify",
    "tiers_upgrade",
    "tiers_warn",
    "valid_until_after_next",
]
