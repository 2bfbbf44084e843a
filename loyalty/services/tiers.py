"""Tiers: reached as soon as a threshold is, kept or lost at the end of the qualification period."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from crm.events import send_after_commit
from loyalty import events
from loyalty.models import Member, Tier

QUALIFIED = "qualified"


def tier_for_counters(*, tiers: Iterable[Tier], miles: int, segments: int) -> Tier:
    """The highest tier whose miles *or* segments threshold the counters reach (the entry tier at least)."""
    ordered = sorted(tiers, key=lambda t: t.rank)
    best = ordered[0]
    for tier in ordered[1:]:
        if miles >= tier.qualifying_miles or (tier.qualifying_segments and segments >= tier.qualifying_segments):
            best = tier
    return best


@transaction.atomic
def tiers_upgrade(*, member_ids: Iterable[int]) -> list[int]:
    """Move members whose counters now reach a higher tier up to it, at once; returns who moved.

    Called by the ledger after qualifying miles were posted, with the members' rows already locked.
    The new tier holds until the end of the next qualification period. Never moves anyone down: that
    happens only at requalification.
    """
    all_tiers = list(Tier.objects.order_by("rank"))
    if not all_tiers:
        return []
    moved = []
    today = timezone.localdate()
    for member in Member.objects.select_related("tier").filter(pk__in=list(member_ids)).order_by("pk"):
        reached = tier_for_counters(tiers=all_tiers, miles=member.qualifying_miles, segments=member.qualifying_segments)
        if reached.rank <= member.tier.rank:
            continue
        old = member.tier.code
        member.tier, member.tier_since = reached, today
        member.tier_valid_until = _period_end_after_next(member)
        member.save(update_fields=["tier", "tier_since", "tier_valid_until"])
        moved.append(member.pk)
        send_after_commit(
            events.tier_changed, sender=Member, member_id=member.pk, customer_id=member.customer_id,
            old_tier=old, new_tier=reached.code, reason=QUALIFIED,
        )  # fmt: skip
    return moved


def _period_end_after_next(member: Member):  # noqa: ANN202
    """The last day of the qualification period after the current one: a tier earned now is kept that long."""
    from crm.registry import months_before
    from loyalty.selectors import programme

    months = programme().qualification_months
    # months_before with a negative count moves forward
    return months_before(member.qualification_start, -2 * months)
