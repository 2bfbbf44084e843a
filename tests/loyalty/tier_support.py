"""Members in a given tier and qualification period, with entries posted at given times."""

from __future__ import annotations

import email
import itertools
from datetime import date, datetime, timedelta

from loyalty import services
from loyalty.models import EntryKind, Member, Tier
from loyalty.services.tiers import add_months, local_midnight
from tests.loyalty.factories import member

_keys = itertools.count(1)


def post(m: Member, *, qualifying: int = 0, segments: int = 0, award: int | None = None, at: datetime | None = None):  # noqa: ANN201
    """A flight credit (award = qualifying unless told) posted at ``at`` (now unless told)."""
    award = qualifying if award is None else award
    return services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=EntryKind.ACCRUAL, reason="flight", key=f"tier-test:{next(_keys)}",
            award=award, qualifying=qualifying, segments=segments, at=at,
        )
    )  # fmt: skip


def in_period(start: date, days: int = 10) -> datetime:
    """An instant ``days`` into the period that starts on ``start``."""
    return local_midnight(start) + timedelta(days=days, hours=12)


def given_member(
    *,
    tier: str = "blue",
    start: date,
    valid_until: date | None = None,
    entries: list[tuple[int, int, datetime]] = (),
    **customer_kwargs,
) -> Member:
    """A member whose period began on ``start``, with ``entries`` (qualifying, segments, at) in the ledger,
    holding ``tier`` valid until ``valid_until`` (set after the postings, whatever they reached)."""
    m = member(**customer_kwargs)
    Member.objects.filter(pk=m.pk).update(qualification_start=start)
    for qualifying, segments, at in entries:
        post(m, qualifying=qualifying, segments=segments, at=at)
    Member.objects.filter(pk=m.pk).update(tier=Tier.objects.get(code=tier), tier_valid_until=valid_until)
    m.refresh_from_db()
    return m


def year_ago(today: date, months: int = 12) -> date:
    return add_months(today, -months)


def read_as_a_mail_client(message) -> dict[str, str]:  # noqa: ANN001
    """Subject, recipient and each body part, as a mail program would decode them."""
    parsed = email.message_from_bytes(message.message().as_bytes())
    parts = {"subject": str(email.header.make_header(email.header.decode_header(parsed["Subject"]))), "to": parsed["To"]}
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_type()] = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return parts
