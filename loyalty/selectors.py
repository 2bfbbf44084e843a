"""Reads of the frequent flyer programme shared by views, API and tasks."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.errors import NotFound
from loyalty.models import Adjustment, Decision, HouseholdInvitation, Member, MilesEntry, Programme, StatusMatch, Tier


def programme() -> Programme:
    """The programme's settings row (created with its defaults the first time it is read)."""
    found, _ = Programme.objects.get_or_create(pk=1)
    return found


def tiers() -> list[Tier]:
    """Every tier, entry tier first."""
    return list(Tier.objects.order_by("rank"))


def member_for_customer(*, customer_id: int) -> Member | None:
    return Member.objects.select_related("tier").filter(customer_id=customer_id).first()


def member_get_by_number(*, number: str) -> Member:
    member = Member.objects.select_related("tier", "customer").filter(number=number).first()
    if member is None:
        raise NotFound(_("No member has this frequent flyer number."), code="member_not_found")
    return member


def statement(*, member: Member) -> QuerySet[MilesEntry]:
    """The member's ledger, newest first (the index ``milesentry_statement`` serves this order)."""
    return MilesEntry.objects.filter(member=member).order_by("-created_at", "-id")


# --- Status matches ---------------------------------------------------------------------------


def status_matches(*, status: str | None = None) -> QuerySet[StatusMatch]:
    """Status match requests, oldest first (the queue is worked in order), with what a row shows."""
    found = StatusMatch.objects.select_related("member__customer", "member__tier", "tier", "requested_by", "decided_by")
    if status:
        found = found.filter(status=status)
    return found.order_by("requested_at", "id")


def status_match_get(*, status_match_id: int) -> StatusMatch:
    found = status_matches().filter(pk=status_match_id).first()
    if found is None:
        raise NotFound(_("No such status match."), code="status_match_not_found")
    return found


def status_match_pending_for(*, member: Member) -> StatusMatch | None:
    return status_matches(status=Decision.PENDING).filter(member=member).first()


# --- Households and adjustments ------------------------------------------------------------


def household_pool(*, member: Member) -> tuple[int, list[Member]]:
    """The award miles the member's household pools, and its members (head first, then by pk).

    A member in no household pools alone: ``(their balance, [member])``.
    """
    fresh = Member.objects.select_related("customer", "tier").get(pk=member.pk)
    if fresh.household_id is None:
        return fresh.award_balance, [fresh]
    members = list(Member.objects.select_related("customer", "tier", "household").filter(household_id=fresh.household_id))
    members.sort(key=lambda m: (m.household.head_id != m.pk, m.pk))
    return sum(m.award_balance for m in members), members


def household_invitations_for(*, member: Member) -> QuerySet[HouseholdInvitation]:
    """Invitations waiting for the member's answer, oldest first."""
    return (
        HouseholdInvitation.objects.filter(member=member, accepted_at__isnull=True)
        .select_related("household__head__customer", "member")
        .order_by("created_at", "pk")
    )


def household_invitations_sent(*, household_id: int) -> QuerySet[HouseholdInvitation]:
    """Invitations the household's head sent that are not yet accepted."""
    return (
        HouseholdInvitation.objects.filter(household_id=household_id, accepted_at__isnull=True)
        .select_related("member__customer", "household__head")
        .order_by("created_at", "pk")
    )


def adjustments_pending() -> QuerySet[Adjustment]:
    """The approvals queue: pending adjustments, oldest first (the ``adjustment_pending`` index)."""
    return adjustments_list(status=Decision.PENDING).order_by("requested_at", "pk")


def adjustments_list(*, status: str | None = None) -> QuerySet[Adjustment]:
    queryset = Adjustment.objects.select_related("member__customer", "member__tier", "requested_by", "decided_by", "entry")
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def adjustment_get(*, adjustment_id: int) -> Adjustment:
    found = adjustments_list().filter(pk=adjustment_id).first()
    if found is None:
        raise NotFound(_("No such adjustment."), code="adjustment_not_found")
    return found


@dataclass(frozen=True)
class HouseholdOverview:
    """What the member's household page shows: the pool and its members to the head, invitations to answer."""

    member: Member
    household_id: int | None
    head: Member | None
    members: list[Member]
    pooled_balance: int | None  # the head's to see; None for the other members
    invitations_received: list[HouseholdInvitation]
    invitations_sent: list[HouseholdInvitation]

    @property
    def is_head(self) -> bool:
        return self.head is not None and self.head.pk == self.member.pk


def household_overview(*, member: Member) -> HouseholdOverview:
    """The member's household as the portal and the API show it, in a fixed number of queries."""
    total, members = household_pool(member=member)
    fresh = next(m for m in members if m.pk == member.pk)
    if fresh.household_id is None:
        return HouseholdOverview(fresh, None, None, [], None, list(household_invitations_for(member=fresh)), [])
    head = members[0]
    is_head = head.pk == fresh.pk
    return HouseholdOverview(
        member=fresh,
        household_id=fresh.household_id,
        head=head,
        members=members,
        pooled_balance=total if is_head else None,
        invitations_received=[],
        invitations_sent=list(household_invitations_sent(household_id=fresh.household_id)) if is_head else [],
    )
