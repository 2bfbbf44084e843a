"""Award miles expire after ``Programme.expiry_months`` without activity; members are reminded first.

A member's miles expire on ``expires_on = date of last activity + expiry_months`` (the month's last
day when it is shorter), where activity is any entry but an expiry or a reversal
(``Member.last_activity_at``, kept by the ledger). On that day the whole remaining balance goes in
one EXPIRY entry whose key, ``expiry:<member>:<date of last activity>:<latest entry>``, says which
stretch of inactivity it closes and which balance it takes: the member's latest ledger entry when the
sweep locked the row (the one that left the balance as it is). Posting it again finds the key taken;
miles credited back after an expiry without new activity (a reversal is no activity) make a new latest
entry, so they expire at the next sweep under a new key instead of being kept for ever; and a member
with activity since has a later date.

Both sweeps are set-based: the members are found through the partial index ``member_expiry_due``
(``last_activity_at`` of balances above zero), locked in primary-key order a chunk at a time, and
posted through ``miles_post_many`` (one insert and one update per chunk). Household miles need no
special case: pooling moves no miles, each member's stay on their own balance and follow their own
activity until the head spends them (a ``pooling`` debit on the member's statement, which is activity
of theirs like any redemption).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from crm.events import send_after_commit
from crm.registry import months_before
from loyalty import events
from loyalty.models import EntryKind, Member, MemberStatus, MilesEntry
from loyalty.services.ledger import Posting, miles_post_many
from loyalty.services.tiers import add_months, local_midnight, member_notices_record

EXPIRY_REASON = "inactivity"
EXPIRY_REMINDER = "expiry_reminder"
EXPIRY_CHUNK = 500
_MAX_ROUNDS = 100_000

# Members with miles whose expiry date has come, locked in primary-key order. The range on
# last_activity_at is what the partial index serves; the date arithmetic is the exact rule.
_DUE = """
SELECT m.id, m.customer_id, m.award_balance, (m.last_activity_at AT TIME ZONE %(tz)s)::date,
       (SELECT e.id FROM loyalty_milesentry e WHERE e.member_id = m.id ORDER BY e.created_at DESC, e.id DESC LIMIT 1)
FROM loyalty_member m
WHERE m.award_balance > 0
  AND m.last_activity_at < %(bound)s
  AND m.id > %(after)s
  AND ((m.last_activity_at AT TIME ZONE %(tz)s)::date + make_interval(months => %(months)s))::date <= %(today)s
ORDER BY m.id
LIMIT %(chunk)s
FOR UPDATE OF m
"""


@dataclass(frozen=True)
class Expired:
    member_id: int
    customer_id: int | None
    miles: int


def expiry_date(*, last_activity_on: date, months: int) -> date:
    """The day miles earned or used last on ``last_activity_on`` expire."""
    return add_months(last_activity_on, months)


def _programme():  # noqa: ANN202
    from loyalty.selectors import programme

    return programme()


def miles_expire(*, today: date | None = None, chunk: int = EXPIRY_CHUNK) -> list[Expired]:
    """Take off the whole balance of every member whose miles expire by ``today``; returns what expired.

    Each chunk is one transaction: lock, post, send ``miles_expired`` after commit. Safe to run twice:
    an expired balance is zero (the index no longer lists it) and the key is already taken.
    """
    today = today or timezone.localdate()
    months = _programme().expiry_months
    params = {
        "tz": timezone.get_default_timezone_name(),
        # Activity after this instant cannot have expired by today (a clamp moves a date by 3 days at most).
        "bound": local_midnight(months_before(today, months) + timedelta(days=4)),
        "months": months,
        "today": today,
        "chunk": chunk,
    }
    expired: list[Expired] = []
    after = 0
    for _round in range(_MAX_ROUNDS):
        done, after = _expire_chunk({**params, "after": after})
        if done is None:
            break
        expired.extend(done)
    return expired


@transaction.atomic
def _expire_chunk(params: dict) -> tuple[list[Expired] | None, int]:
    with connection.cursor() as cursor:
        cursor.execute(_DUE, params)
        rows = cursor.fetchall()
    if not rows:
        return None, 0
    postings = [
        Posting(
            member_id=member_id,
            kind=EntryKind.EXPIRY,
            reason=EXPIRY_REASON,
            key=expiry_key(member_id=member_id, last_activity_on=last_on, latest_entry_id=latest),
            award=-balance,
            details={"last_activity": last_on.isoformat(), "expires_on": add_months(last_on, params["months"]).isoformat()},
        )  # fmt: skip
        for member_id, _customer_id, balance, last_on, latest in rows
    ]
    inserted = miles_post_many(postings=postings)
    posted = set(MilesEntry.objects.filter(pk__in=inserted).values_list("member_id", flat=True)) if inserted else set()
    done = [Expired(row[0], row[1], row[2]) for row in rows if row[0] in posted]
    for item in done:
        send_after_commit(
            events.miles_expired, sender=Member, member_id=item.member_id, customer_id=item.customer_id, miles=item.miles
        )
    # The next chunk starts after the last member looked at, so no one is looked at twice in a run.
    return done, rows[-1][0]


def expiry_key(*, member_id: int, last_activity_on: date, latest_entry_id: int | None) -> str:
    """The key of the expiry of the balance that ``latest_entry_id`` left, after activity on that day."""
    return f"expiry:{member_id}:{last_activity_on.isoformat()}:{latest_entry_id or 0}"


def miles_expiry_remind(*, today: date | None = None) -> list[int]:
    """E-mail members whose miles expire within ``Programme.expiry_reminder_days``, once per expiry date.

    The ``MemberNotice`` key ``expiry_reminder:<member>:<expiry date>`` makes it once: activity moves
    the date, and a new date gets its own reminder. Sends ``miles_expiring``. Returns the members
    reminded.
    """
    today = today or timezone.localdate()
    settings_row = _programme()
    months, days = settings_row.expiry_months, settings_row.expiry_reminder_days
    # Expiry dates in (today, today + days]: last activity on days in this range (clamps aside).
    earliest = local_midnight(months_before(today, months) - timedelta(days=3))
    latest = local_midnight(months_before(today + timedelta(days=days), months) + timedelta(days=4))
    candidates = (
        Member.objects.select_related("customer")
        .filter(award_balance__gt=0, last_activity_at__gte=earliest, last_activity_at__lt=latest)
        .exclude(status=MemberStatus.CLOSED)
        .order_by("pk")
    )
    due = []
    for member in candidates.iterator(chunk_size=1000):
        expires_on = expiry_date(last_activity_on=timezone.localdate(member.last_activity_at), months=months)
        if today < expires_on <= today + timedelta(days=days):
            due.append((member, expires_on))
    reminded = []
    for i in range(0, len(due), 500):
        reminded += _remind_chunk(due[i : i + 500])
    return reminded


@transaction.atomic
def _remind_chunk(due: list[tuple[Member, date]]) -> list[int]:
    from crm.services import email_language, email_queue

    keys = {f"{EXPIRY_REMINDER}:{member.pk}:{expires_on.isoformat()}": (member, expires_on) for member, expires_on in due}
    recorded = member_notices_record(keys={key: member.pk for key, (member, _on) in keys.items()}, kind=EXPIRY_REMINDER)
    for key in recorded:
        member, expires_on = keys[key]
        send_after_commit(
            events.miles_expiring, sender=Member, member_id=member.pk, customer_id=member.customer_id,
            miles=member.award_balance, expires_on=expires_on.isoformat(),
        )  # fmt: skip
        customer = member.customer
        if customer is None or not customer.email:
            continue
        email_queue(
            to=customer.email,
            template="loyalty/miles_expiring",
            context={
                "given_name": customer.given_name,
                "member_number": member.number,
                "miles": member.award_balance,
                "expires_on": expires_on.isoformat(),
                "last_day": (expires_on - timedelta(days=1)).isoformat(),
            },
            language=email_language(customer=customer),
            customer=customer,
        )
    return [keys[key][0].pk for key in recorded]
