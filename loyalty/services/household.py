"""Households: members who pool their award miles for the head to redeem.

A member creates a household and becomes its head (``Household.head``; the head's own
``Member.household`` points at it too, so every member, head included, is ``household.members``). The
head invites a member by frequent flyer number and family name; the invited member accepts or declines
from their own account. A member leaves; the head removes a member; the head leaves last, which
dissolves the household. A member belongs to at most one household, and a household holds at most
``Programme.household_max_members`` members, head included.

Rows are locked household first, then member, in every function here, so a member accepting two
invitations at once joins one household and two acceptances never fill a household beyond its limit.

Redemption from the pool (by the head only) belongs to the redemption code (``redemption.miles_pool``).

A membership that closes (erasure, or merged into another) never strands its household: see
``household_member_closed``.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict, NotFound
from crm.services import timeline_record
from loyalty.models import Household, HouseholdInvitation, Member, MemberStatus
from loyalty.services.membership import member_number_check


def _record(member: Member, *, kind: str, message: str, data: dict, params: dict | None = None, actor=None) -> None:  # noqa: ANN001
    if member.customer_id is None:
        return
    timeline_record(customer=member.customer, kind=kind, message=message, params=params, data=data, actor=actor)


def _locked_household(household_id: int) -> Household:
    return Household.objects.select_for_update(of=("self",)).select_related("head__customer").get(pk=household_id)


def _locked_member(member_id: int) -> Member:
    return Member.objects.select_for_update(of=("self",)).select_related("customer").get(pk=member_id)


def _head_household(head: Member) -> Household:
    household = Household.objects.filter(head=head).only("pk").first()
    if household is None:
        raise Conflict(_("Only the head of a household can do this."), code="not_household_head")
    return _locked_household(household.pk)


def _full(household: Household) -> bool:
    from loyalty.selectors import programme

    return Member.objects.filter(household=household).count() >= programme().household_max_members


def _full_error() -> Conflict:
    from loyalty.selectors import programme

    return Conflict(
        _("A household has at most %(limit)s members.") % {"limit": programme().household_max_members},
        code="household_full",
    )


@transaction.atomic
def household_create(*, member: Member) -> Household:
    """Start a household with ``member`` as its head."""
    locked = _locked_member(member.pk)
    if locked.status != MemberStatus.ACTIVE:
        raise Conflict(_("This membership is closed."), code="member_closed")
    if locked.household_id is not None:
        raise Conflict(_("You already belong to a household."), code="already_in_household")
    household = Household.objects.create(head=locked)
    locked.household = household
    locked.save(update_fields=["household"])
    HouseholdInvitation.objects.filter(member=locked, accepted_at__isnull=True).delete()
    _record(locked, kind="household.created", message=gettext_noop("Started a household"), data={"household": household.pk})
    return household


@transaction.atomic
def household_invite(*, head: Member, number: str, family_name: str) -> HouseholdInvitation:
    """The head invites a member, named by number and family name (checked as at booking)."""
    household = _head_household(head)
    invited = member_number_check(number=number, family_name=family_name)
    if invited.pk == head.pk:
        raise ApplicationError(
            _("You are already in your household."),
            code="invite_self",
            fields={"frequent_flyer_number": [_("This is your own number.")]},
        )
    if invited.household_id == household.pk:
        raise Conflict(_("This member is already in your household."), code="already_member")
    if invited.household_id is not None:
        raise Conflict(_("This member already belongs to another household."), code="already_in_household")
    if _full(household):
        raise _full_error()
    # An invitation accepted earlier by someone who has since left is spent: a new one replaces it.
    HouseholdInvitation.objects.filter(household=household, member=invited, accepted_at__isnull=False).delete()
    invitation, created = HouseholdInvitation.objects.get_or_create(household=household, member=invited)
    if created:
        _record(
            invited,
            kind="household.invited",
            message=gettext_noop("Invited to join the household of member %(number)s"),
            params={"number": household.head.number},
            data={"household": household.pk, "head": household.head.number},
        )
    return invitation


def _pending_invitation(*, invitation_id: int, member: Member) -> HouseholdInvitation:
    """The member's own pending invitation; anyone else's is not found (404)."""
    invitation = HouseholdInvitation.objects.filter(pk=invitation_id, member_id=member.pk, accepted_at__isnull=True).first()
    if invitation is None:
        raise NotFound(_("No such invitation."), code="invitation_not_found")
    return invitation


@transaction.atomic
def household_invitation_accept(*, invitation_id: int, member: Member) -> Household:
    """The invited member joins; only they can accept, while they belong to no household and it has room."""
    invitation = _pending_invitation(invitation_id=invitation_id, member=member)
    household = _locked_household(invitation.household_id)
    locked = _locked_member(member.pk)
    if locked.household_id is not None:
        raise Conflict(_("You already belong to a household."), code="already_in_household")
    if _full(household):
        raise _full_error()
    locked.household = household
    locked.save(update_fields=["household"])
    HouseholdInvitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now())
    HouseholdInvitation.objects.filter(member=locked, accepted_at__isnull=True).exclude(pk=invitation.pk).delete()
    data = {"household": household.pk, "head": household.head.number, "member": locked.number}
    _record(
        locked,
        kind="household.joined",
        message=gettext_noop("Joined the household of member %(number)s"),
        params={"number": household.head.number},
        data=data,
    )
    _record(
        household.head,
        kind="household.member_joined",
        message=gettext_noop("Member %(number)s joined the household"),
        params={"number": locked.number},
        data=data,
    )
    return household


@transaction.atomic
def household_invitation_decline(*, invitation_id: int, member: Member) -> None:
    """The invited member says no; the head may invite them again later."""
    invitation = _pending_invitation(invitation_id=invitation_id, member=member)
    invitation.delete()
    _record(
        member,
        kind="household.declined",
        message=gettext_noop("Declined an invitation to a household"),
        data={"household": invitation.household_id},
    )


@transaction.atomic
def household_invitation_cancel(*, head: Member, invitation_id: int) -> None:
    """The head withdraws an invitation not yet accepted."""
    household = _head_household(head)
    deleted, _rows = HouseholdInvitation.objects.filter(pk=invitation_id, household=household, accepted_at__isnull=True).delete()
    if not deleted:
        raise NotFound(_("No such invitation."), code="invitation_not_found")


@transaction.atomic
def household_leave(*, member: Member) -> None:
    """A member leaves their household; the head leaves last, which dissolves it."""
    current = Member.objects.filter(pk=member.pk).values_list("household_id", flat=True).first()
    if current is None:
        raise Conflict(_("You do not belong to a household."), code="not_in_household")
    household = _locked_household(current)
    locked = _locked_member(member.pk)
    if locked.household_id != household.pk:  # pragma: no cover - moved between the two reads
        raise Conflict(_("You do not belong to this household."), code="not_in_household")
    if household.head_id == locked.pk:
        if Member.objects.filter(household=household).exclude(pk=locked.pk).exists():
            raise Conflict(_("Remove the other members before you leave the household you head."), code="head_has_members")
        locked.household = None
        locked.save(update_fields=["household"])
        household.delete()
        _record(locked, kind="household.dissolved", message=gettext_noop("Closed the household"), data={"household": current})
        return
    locked.household = None
    locked.save(update_fields=["household"])
    data = {"household": household.pk, "member": locked.number}
    _record(
        locked,
        kind="household.left",
        message=gettext_noop("Left the household of member %(number)s"),
        params={"number": household.head.number},
        data=data,
    )
    _record(
        household.head,
        kind="household.member_left",
        message=gettext_noop("Member %(number)s left the household"),
        params={"number": locked.number},
        data=data,
    )


@transaction.atomic
def household_remove(*, head: Member, member_id: int) -> None:
    """The head removes another member of the household."""
    household = _head_household(head)
    if member_id == head.pk:
        raise Conflict(_("To leave the household you head, remove the others and leave."), code="remove_self")
    target = (
        Member.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=member_id, household=household)
        .first()
    )
    if target is None:
        raise NotFound(_("This member is not in your household."), code="member_not_in_household")
    target.household = None
    target.save(update_fields=["household"])
    data = {"household": household.pk, "member": target.number}
    _record(
        target,
        kind="household.removed",
        message=gettext_noop("Removed from the household of member %(number)s"),
        params={"number": head.number},
        data=data,
    )


def _longest_standing(household: Household, *, leaving: Member) -> Member | None:
    """The household's active member who joined first (their accepted invitation's date), locked; None if none is left.

    A member with no accepted invitation on record comes after those with one; ties go by primary key.
    """
    joined = HouseholdInvitation.objects.filter(
        household_id=household.pk, member_id=OuterRef("pk"), accepted_at__isnull=False
    ).values("accepted_at")[:1]
    return (
        Member.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(household_id=household.pk, status=MemberStatus.ACTIVE)
        .exclude(pk=leaving.pk)
        .annotate(joined_at=Subquery(joined))
        .order_by(F("joined_at").asc(nulls_last=True), "pk")
        .first()
    )


@transaction.atomic
def household_member_closed(*, member: Member, survivor: Member | None = None) -> str:
    """A membership closes (erased, or merged into ``survivor``): it leaves its household, which is not stranded.

    Only the head spends the pool, so a household whose head closed could no longer be spent from:

    - Merged, and the survivor is in no other household: the survivor takes the duplicate's place, as
      head or as member (the same person, so the member keeps the date they joined).
    - Otherwise a head's household passes to its longest-standing active member, or is dissolved when
      no active member is left.

    The closed member's invitations not yet answered go. Call it with ``member`` (and ``survivor``)
    locked; the household is locked here. Returns what happened to the household: ``""`` (none),
    ``"left"``, ``"taken_over"``, ``"passed"`` or ``"dissolved"``.
    """
    HouseholdInvitation.objects.filter(member_id=member.pk, accepted_at__isnull=True).delete()
    if member.household_id is None:
        return ""
    household = _locked_household(member.household_id)
    free = survivor is not None and survivor.household_id in (None, household.pk)
    outcome = "left"
    if household.head_id == member.pk:
        successor = survivor if free else _longest_standing(household, leaving=member)
        if successor is None:
            member.household = None
            member.save(update_fields=["household"])
            household.delete()
            return "dissolved"
        household.head = successor
        household.save(update_fields=["head"])
        outcome = "taken_over" if successor is survivor else "passed"
        _record(
            successor,
            kind="household.head_passed",
            message=gettext_noop("Became head of the household"),
            data={"household": household.pk, "reason": "merge" if survivor is not None else "erasure"},
        )
    elif free and survivor.household_id is None:
        joined = (
            HouseholdInvitation.objects.filter(household=household, member_id=member.pk, accepted_at__isnull=False)
            .values_list("accepted_at", flat=True)
            .first()
        )
        HouseholdInvitation.objects.update_or_create(
            household=household, member=survivor, defaults={"accepted_at": joined or timezone.now()}
        )
        outcome = "taken_over"
    if free and survivor.household_id is None:
        survivor.household = household
        survivor.save(update_fields=["household"])
        HouseholdInvitation.objects.filter(member_id=survivor.pk, accepted_at__isnull=True).delete()
    member.household = None
    member.save(update_fields=["household"])
    return outcome
