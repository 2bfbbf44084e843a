"""Status match: a tier granted on the strength of a competitor's card, asked by one person, decided by another.

An agent (``loyalty.add_statusmatch``) records the member's current card with another airline and the
tier asked for; a supervisor (``loyalty.approve_loyalty``), never the one who asked, approves or
rejects it. Approval gives the tier until the end of the next qualification period (``tier_grant``:
never lower than the member's) and says so on the customer's timeline and in ``tier_changed``
(reason ``status_match``). One request per member waits at a time.

A membership closed by erasure or a merge leaves no request waiting (``status_matches_member_closed``),
and a pending request of a closed membership is never approved (409 ``member_closed``).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.models import User
from crm.services import timeline_record
from loyalty.models import Decision, Member, MemberStatus, StatusMatch, Tier
from loyalty.services.tiers import tier_grant

REQUEST = "loyalty.add_statusmatch"
DECIDE = "loyalty.approve_loyalty"


def _refuse_without(user: User, permission: str) -> None:
    if not (user.is_authenticated and user.has_perm(permission)):
        raise ApplicationError(_("You may not do this."), code="permission_denied", status=403)


def _invalid(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def _timeline(match: StatusMatch, member: Member, kind: str, message: str, by: User) -> None:
    if member.customer_id is None:
        return
    timeline_record(
        customer=member.customer,
        kind=kind,
        message=message,
        params={"tier": match.tier.name},
        data={
            "status_match_id": match.pk,
            "member_number": member.number,
            "tier": match.tier.code,
            "competitor_airline": match.competitor_airline,
            "competitor_tier": match.competitor_tier,
            "status": match.status,
        },
        actor=by,
    )


@transaction.atomic
def status_match_request(
    *,
    member: Member,
    tier: Tier,
    competitor_airline: str,
    competitor_tier: str,
    competitor_number: str,
    competitor_valid_until: date,
    note: str = "",
    by: User,
    today: date | None = None,
) -> StatusMatch:
    """Record a request for ``tier``; refused for a card no longer valid, a tier the member already has
    (or a higher one), or while another request for the member waits."""
    _refuse_without(by, REQUEST)
    today = today or timezone.localdate()
    member = Member.objects.select_for_update(of=("self",)).select_related("tier", "customer").get(pk=member.pk)
    if member.status != MemberStatus.ACTIVE:
        raise ApplicationError(_("This membership is closed."), code="member_closed", status=409)
    fields = {
        "competitor_airline": competitor_airline.strip(),
        "competitor_tier": competitor_tier.strip(),
        "competitor_number": competitor_number.strip(),
    }
    for name, value in fields.items():
        if not value:
            raise _invalid(name, _("This field is required."), "required")
    if competitor_valid_until < today:
        raise _invalid("competitor_valid_until", _("The card has expired: only a current card can be matched."), "card_expired")
    if tier.rank <= member.tier.rank:
        raise _invalid("tier", _("The member already has this tier or a higher one."), "tier_not_higher")
    if StatusMatch.objects.filter(member=member, status=Decision.PENDING).exists():
        raise Conflict(_("A status match for this member is already waiting for a decision."), code="status_match_pending")
    match = StatusMatch.objects.create(
        member=member, tier=tier, competitor_valid_until=competitor_valid_until, note=note.strip()[:300],
        requested_by=by, **fields,
    )  # fmt: skip
    _timeline(match, member, "loyalty.status_match_requested", gettext_noop("Status match requested: %(tier)s"), by)
    return match


def _locked_pending(match: StatusMatch, by: User, *, approving: bool = False) -> tuple[StatusMatch, Member]:
    """The member then the request, locked in that order (members first, as the ledger does); to approve,
    the membership must still be open."""
    _refuse_without(by, DECIDE)
    member_id = match.member_id or StatusMatch.objects.values_list("member_id", flat=True).get(pk=match.pk)
    for _attempt in range(3):
        member = Member.objects.select_for_update(of=("self",)).select_related("customer").get(pk=member_id)
        locked = StatusMatch.objects.select_for_update(of=("self",)).select_related("tier").get(pk=match.pk)
        if locked.member_id == member_id:
            break
        member_id = locked.member_id  # a merge moved it to the surviving membership meanwhile: lock that one
    else:  # pragma: no cover - moved by three merges while this waited
        raise Conflict(_("This status match changed while it was being decided: try again."), code="changed")
    match = locked
    if approving and member.status != MemberStatus.ACTIVE:
        raise ApplicationError(_("This membership is closed."), code="member_closed", status=409)
    if match.status != Decision.PENDING:
        raise Conflict(_("This status match was already decided."), code="already_decided")
    if match.requested_by_id == by.pk:
        raise ApplicationError(_("Someone else must decide on your own request."), code="own_request", status=403)
    return match, member


@transaction.atomic
def status_match_approve(*, status_match: StatusMatch, by: User, today: date | None = None) -> StatusMatch:
    """Grant the matched tier (never lowering the member's) until the end of the next period."""
    today = today or timezone.localdate()
    match, member = _locked_pending(status_match, by, approving=True)
    if match.competitor_valid_until < today:
        raise ApplicationError(
            _("The competitor's card has expired since the request: reject it or ask for a current card."),
            code="card_expired",
            status=409,
        )
    tier_grant(member=member, tier=match.tier, today=today)
    match.status, match.decided_by, match.decided_at = Decision.APPROVED, by, timezone.now()
    match.save(update_fields=["status", "decided_by", "decided_at"])
    _timeline(match, member, "loyalty.status_match_approved", gettext_noop("Status match approved: %(tier)s"), by)
    return match


@transaction.atomic
def status_match_reject(*, status_match: StatusMatch, by: User) -> StatusMatch:
    """Close the request without changing the member's tier."""
    match, member = _locked_pending(status_match, by)
    match.status, match.decided_by, match.decided_at = Decision.REJECTED, by, timezone.now()
    match.save(update_fields=["status", "decided_by", "decided_at"])
    _timeline(match, member, "loyalty.status_match_rejected", gettext_noop("Status match rejected: %(tier)s"), by)
    return match


def status_matches_member_closed(*, member: Member, survivor: Member | None = None) -> int:
    """A membership closes: its pending status match leaves the approvals queue; returns how many were closed.

    Merged into ``survivor`` (whose tier is already the merged one): the request moves to it when it
    still asks for more than the survivor has and the survivor has no request of its own waiting (one at
    a time): the card seen is the same person's, so no agent asks twice. Otherwise, and after an
    erasure, it is cancelled (``Decision.CANCELLED``, decided by no one). Call it with the members locked.
    """
    pending = StatusMatch.objects.filter(member_id=member.pk, status=Decision.PENDING)
    if survivor is not None and not StatusMatch.objects.filter(member_id=survivor.pk, status=Decision.PENDING).exists():
        movable = pending.filter(tier__rank__gt=survivor.tier.rank).order_by("requested_at", "pk").values_list("pk", flat=True)
        StatusMatch.objects.filter(pk__in=list(movable[:1])).update(member=survivor)
    return pending.update(status=Decision.CANCELLED, decided_at=timezone.now())
