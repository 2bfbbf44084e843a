"""Agents' adjustments of a member's miles (goodwill, corrections), with a supervisor above a threshold.

An adjustment of at most ``Programme.adjustment_approval_threshold`` miles (award or qualifying, whichever
is larger) is posted at once; a larger one waits, ``pending``, for a Supervisor other than the requester,
who approves it (the ledger entry is posted then) or rejects it with a note. Each adjustment is decided
once: its row is locked while it is decided, so two supervisors approving at the same moment make one
entry, and the second is told it was already decided (409).

A debit that would overdraw the member is refused with ``InsufficientMiles`` (409): when asked for, nothing
is recorded; when a pending debit is approved after the miles were spent, the approval is refused and
the adjustment **stays pending**, so the supervisor may approve it later (once miles come in) or reject it.

A membership closed by erasure or a merge leaves no adjustment waiting (``adjustments_member_closed``), and
a pending adjustment of a closed membership is never approved (409 ``member_closed``).

Every step lands on the customer's timeline (``miles.adjusted``, ``miles.adjustment_requested``,
``miles.adjustment_rejected``) with the person who did it: that, with the adjustment row itself
(requested by, decided by, when, note), is the audit trail.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.models import User
from crm.services import timeline_record
from crm.timeline import label
from loyalty.models import Adjustment, AdjustmentKind, Decision, EntryKind, Member, MemberStatus
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post

ADJUST = "loyalty.adjust_miles"
APPROVE = "loyalty.approve_loyalty"
MAX_ADJUSTMENT_MILES = Adjustment.MAX_MILES
REASON_MAX = Adjustment._meta.get_field("reason").max_length


def _is_staff_with(user: User | None, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff and user.has_perm(perm))


def _field_error(field: str, message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def adjustment_needs_approval(*, award_miles: int, qualifying_miles: int = 0) -> bool:
    """Whether an adjustment of this size waits for a supervisor (the larger of its two amounts decides)."""
    from loyalty.selectors import programme

    return max(abs(award_miles), abs(qualifying_miles)) > programme().adjustment_approval_threshold


def _validate(*, member: Member, kind: str, award_miles: int, qualifying_miles: int, reason: str) -> str:
    if kind not in AdjustmentKind.values:
        raise _field_error("kind", _("Choose goodwill or correction."), "invalid_kind")
    for field, value in (("award_miles", award_miles), ("qualifying_miles", qualifying_miles)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _field_error(field, _("Enter a whole number of miles."), "invalid_miles")
        if abs(value) > MAX_ADJUSTMENT_MILES:
            message = _("An adjustment is at most %(limit)s miles either way.") % {"limit": f"{MAX_ADJUSTMENT_MILES:,}"}
            raise _field_error(field, message, "adjustment_too_large")
    if award_miles == 0 and qualifying_miles == 0:
        raise _field_error("award_miles", _("An adjustment must change some miles."), "adjustment_empty")
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise _field_error("reason", _("Give the reason for the adjustment."), "reason_required")
    if len(cleaned) > REASON_MAX:
        message = _("Keep the reason under %(limit)s characters.") % {"limit": REASON_MAX}
        raise _field_error("reason", message, "reason_too_long")
    if member.status != MemberStatus.ACTIVE:
        raise Conflict(_("This membership is closed; its miles cannot be adjusted."), code="member_closed")
    if award_miles < 0 and member.award_balance + award_miles < 0:
        raise _insufficient(member=member, award_miles=award_miles)
    return cleaned


def _insufficient(*, member: Member, award_miles: int) -> InsufficientMiles:
    message = _("The member has %(balance)s miles: a debit of %(debit)s would overdraw the account.") % {
        "balance": f"{member.award_balance:,}",
        "debit": f"{-award_miles:,}",
    }
    return InsufficientMiles(message, fields={"award_miles": [message]})


def _params(adjustment: Adjustment) -> dict:
    """The adjustment's line on the timeline: its kind as a code, rendered as a label when read."""
    return {
        "kind": label("loyalty.adjustment_kind", adjustment.kind),
        "award": f"{adjustment.award_miles:+,}",
        "qualifying": f"{adjustment.qualifying_miles:+,}",
        "reason": adjustment.reason,
    }


def _timeline(adjustment: Adjustment, *, kind: str, message: str, actor: User | None) -> None:
    customer = adjustment.member.customer
    if customer is None:
        return
    timeline_record(
        customer=customer,
        kind=kind,
        message=message,
        params=_params(adjustment),
        data={
            "adjustment": adjustment.pk,
            "member": adjustment.member.number,
            "kind": adjustment.kind,
            "award_miles": adjustment.award_miles,
            "qualifying_miles": adjustment.qualifying_miles,
            "reason": adjustment.reason,
            "status": adjustment.status,
            "decision_note": adjustment.decision_note,
        },
        actor=actor,
    )


def _post(adjustment: Adjustment, *, by: User) -> None:
    """Post the adjustment's entry (key ``adjustment:<id>``, note = the agent's reason) and mark it approved."""
    try:
        entry = miles_post(
            posting=Posting(
                member_id=adjustment.member_id,
                kind=EntryKind.ADJUSTMENT,
                reason=f"adjustment_{adjustment.kind}",
                key=f"adjustment:{adjustment.pk}",
                award=adjustment.award_miles,
                qualifying=adjustment.qualifying_miles,
                details={"adjustment": adjustment.pk, "kind": adjustment.kind},
                note=adjustment.reason,
            ),
            by=by,
        )
    except InsufficientMiles:
        adjustment.member.refresh_from_db(fields=["award_balance"])
        raise _insufficient(member=adjustment.member, award_miles=adjustment.award_miles) from None
    if entry is None:  # pragma: no cover - the adjustment's row lock makes a second posting impossible
        raise Conflict(_("This adjustment was already posted."), code="already_decided")
    adjustment.entry = entry
    adjustment.status = Decision.APPROVED
    adjustment.decided_at = timezone.now()
    adjustment.save(update_fields=["entry", "status", "decided_at", "decided_by", "decision_note"])
    _timeline(
        adjustment,
        kind="miles.adjusted",
        message=gettext_noop("%(kind)s adjustment posted: %(award)s miles (%(reason)s)"),
        actor=by,
    )


@transaction.atomic
def adjustment_request(
    *,
    member: Member,
    kind: str,
    award_miles: int,
    qualifying_miles: int = 0,
    reason: str,
    by: User,
) -> Adjustment:
    """Record an agent's adjustment: posted at once up to the threshold, else pending for a supervisor.

    Needs ``loyalty.adjust_miles`` (403 ``forbidden`` otherwise). Returns the adjustment, ``approved``
    with its ``entry`` or ``pending``.
    """
    if not _is_staff_with(by, ADJUST):
        raise ApplicationError(_("You may not adjust miles."), code="forbidden", status=403)
    member.refresh_from_db(fields=["status", "award_balance"])
    cleaned = _validate(member=member, kind=kind, award_miles=award_miles, qualifying_miles=qualifying_miles, reason=reason)
    adjustment = Adjustment.objects.create(
        member=member, kind=kind, award_miles=award_miles, qualifying_miles=qualifying_miles, reason=cleaned, requested_by=by
    )
    if adjustment_needs_approval(award_miles=award_miles, qualifying_miles=qualifying_miles):
        _timeline(
            adjustment,
            kind="miles.adjustment_requested",
            message=gettext_noop("%(kind)s adjustment of %(award)s miles waits for a supervisor (%(reason)s)"),
            actor=by,
        )
    else:
        _post(adjustment, by=by)
    return adjustment


def _lock_pending(*, adjustment: Adjustment, by: User, approving: bool = False) -> Adjustment:
    """The member's row then the adjustment's, locked (members first, as the ledger and a merge lock them);
    refused unless ``by`` may decide it and it is still pending, and, to approve it, its membership is open.
    """
    if not _is_staff_with(by, APPROVE):
        raise ApplicationError(_("Only a supervisor can approve or reject adjustments."), code="forbidden", status=403)
    member_id = adjustment.member_id or Adjustment.objects.values_list("member_id", flat=True).get(pk=adjustment.pk)
    for _attempt in range(3):
        Member.objects.select_for_update(of=("self",)).filter(pk=member_id).values_list("pk", flat=True).first()
        locked = (
            Adjustment.objects.select_for_update(of=("self",))
            .select_related("member__customer", "requested_by")
            .get(pk=adjustment.pk)
        )
        if locked.member_id == member_id:
            break
        member_id = locked.member_id  # a merge moved it to the surviving membership meanwhile: lock that one
    else:  # pragma: no cover - moved by three merges while this waited
        raise Conflict(_("This adjustment changed while it was being decided: try again."), code="changed")
    if approving and locked.member.status != MemberStatus.ACTIVE:
        raise Conflict(_("This membership is closed; its miles cannot be adjusted."), code="member_closed")
    if locked.status != Decision.PENDING:
        raise Conflict(
            _("This adjustment was already decided (%(status)s).") % {"status": Decision(locked.status).label},
            code="already_decided",
        )
    if locked.requested_by_id == by.pk:
        raise ApplicationError(_("Someone else must decide an adjustment you asked for."), code="own_adjustment", status=403)
    return locked


@transaction.atomic
def adjustment_approve(*, adjustment: Adjustment, by: User, note: str = "") -> Adjustment:
    """A supervisor approves a pending adjustment: its entry is posted now, once.

    A debit the member can no longer cover is refused (``InsufficientMiles``) and the adjustment stays
    pending. A membership closed since the request is refused (409 ``member_closed``): no one can spend
    or keep miles posted there any more.
    """
    locked = _lock_pending(adjustment=adjustment, by=by, approving=True)
    locked.decided_by = by
    locked.decision_note = " ".join((note or "").split())[:REASON_MAX]
    _post(locked, by=by)
    return locked


@transaction.atomic
def adjustment_reject(*, adjustment: Adjustment, by: User, note: str) -> Adjustment:
    """A supervisor turns a pending adjustment down, saying why; nothing is posted."""
    cleaned = " ".join((note or "").split())
    if not cleaned:
        raise _field_error("note", _("Say why the adjustment is rejected."), "note_required")
    if len(cleaned) > REASON_MAX:
        raise _field_error("note", _("Keep the note under %(limit)s characters.") % {"limit": REASON_MAX}, "note_too_long")
    locked = _lock_pending(adjustment=adjustment, by=by)
    locked.status = Decision.REJECTED
    locked.decided_by = by
    locked.decided_at = timezone.now()
    locked.decision_note = cleaned
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    _timeline(
        locked,
        kind="miles.adjustment_rejected",
        message=gettext_noop("%(kind)s adjustment of %(award)s miles rejected (%(reason)s)"),
        actor=by,
    )
    return locked


def adjustments_member_closed(*, member: Member, survivor: Member | None = None) -> int:
    """A membership closes: its pending adjustments leave the approvals queue; returns how many.

    Merged into ``survivor``: they move to it. The miles they are about moved there with the merge
    (a correction debits them where they now are) and a goodwill gesture is owed to the same person,
    so the supervisor decides them there as before (the balance is checked again at approval) instead
    of an agent asking twice. Erased: they are cancelled (``Decision.CANCELLED``, decided by no one),
    as nothing can be posted on a closed membership. Call it with the members locked.
    """
    pending = Adjustment.objects.filter(member_id=member.pk, status=Decision.PENDING)
    if survivor is not None:
        return pending.update(member=survivor)
    return pending.update(status=Decision.CANCELLED, decided_at=timezone.now())
