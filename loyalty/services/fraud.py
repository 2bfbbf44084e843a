"""Signs of fraud, raised as flags for a supervisor to clear or confirm; nothing is blocked automatically.

Two signals: an award ticket for someone else soon after the member's login e-mail or password changed
(the usual shape of an account take-over: change the password, spend the miles on a stranger), and a
member earning more from one partner in a day than that partner's alert level. Each flag has a key
naming what it is about, so a check run twice (by the redemption code and again by the receiver of
``booking_ticketed``) flags once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError
from crm.models import User
from crm.services import timeline_record
from crm.timeline import label
from loyalty.models import EntryKind, FraudFlag, FraudSignal, Member, MilesEntry, Partner, ReviewStatus
from loyalty.services.membership import name_fold
from reservations.models import Booking, Payment, PaymentMethod, PaymentStatus

REVIEW_DECISIONS = (ReviewStatus.CLEARED, ReviewStatus.CONFIRMED)


def _flag(*, member: Member, signal: str, key: str, details: dict[str, Any]) -> FraudFlag | None:
    """Raise the flag unless one with this key exists; None when it did (also under a race)."""
    try:
        with transaction.atomic():
            return FraudFlag.objects.create(member=member, signal=signal, key=key, details=details)
    except IntegrityError:
        return None


def _travels_on(member: Member, booking: Booking) -> bool:
    """Whether the member is one of the booking's travellers: by customer record, or (for a traveller
    typed in without one) by the same given and family name."""
    customer = member.customer
    if customer is None:
        return False
    own_name = (name_fold(customer.given_name), name_fold(customer.family_name))
    for passenger in booking.passengers.all():
        if passenger.customer_id == customer.pk:
            return True
        if passenger.customer_id is None and (name_fold(passenger.given_name), name_fold(passenger.family_name)) == own_name:
            return True
    return False


def fraud_check_redemption(*, member: Member, booking: Booking, at: datetime | None = None) -> FraudFlag | None:
    """Flag an award booking for other people made soon after the member's login changed.

    Call it when miles pay for ``booking`` (``at`` = when, default now); cheap when the login has not
    changed lately (no query beyond the programme's settings). Returns the new flag, or None (nothing
    suspicious, or this booking was flagged already).
    """
    from loyalty.selectors import programme

    changed_at = member.login_changed_at
    if changed_at is None:
        return None
    at = at or timezone.now()
    window = timedelta(hours=programme().fraud_login_change_hours)
    if not (changed_at - timedelta(minutes=1) <= at <= changed_at + window):
        return None
    if _travels_on(member, booking):
        return None
    hours = max((at - changed_at).total_seconds() / 3600, 0)
    return _flag(
        member=member,
        signal=FraudSignal.THIRD_PARTY_AFTER_LOGIN_CHANGE,
        key=f"{FraudSignal.THIRD_PARTY_AFTER_LOGIN_CHANGE}:{member.pk}:{booking.pk}",
        details={
            "booking_id": booking.pk,
            "record_locator": booking.record_locator,
            "login_change": member.login_change,
            "login_changed_at": changed_at.isoformat(),
            "hours_after_change": round(hours, 1),
            "travellers": booking.passengers.count(),
        },
    )


def fraud_check_paid_booking(*, booking_id: int) -> list[FraudFlag]:
    """The redemption check for a booking just ticketed, whoever wrote the redemption: every member
    whose miles paid for it (its redemption and pooling entries; failing those, the booker's membership when a
    miles payment succeeded)."""
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None:
        return []
    spent: dict[int, tuple[Member, datetime]] = {}
    redemptions = (
        MilesEntry.objects.select_related("member__customer")
        .filter(booking_id=booking_id, kind__in=(EntryKind.REDEMPTION, EntryKind.POOLING), award_miles__lt=0)
        .order_by("created_at", "id")
    )
    for entry in redemptions:
        spent.setdefault(entry.member_id, (entry.member, entry.created_at))
    if not spent and booking.customer_id:
        paid = Payment.objects.filter(booking_id=booking_id, method=PaymentMethod.MILES, status=PaymentStatus.SUCCEEDED)
        first = paid.order_by("created_at").first()
        member = Member.objects.select_related("customer").filter(customer_id=booking.customer_id).first()
        if first is not None and member is not None:
            spent[member.pk] = (member, first.created_at)
    flags = []
    for member, at in spent.values():
        flag = fraud_check_redemption(member=member, booking=booking, at=at)
        if flag is not None:
            flags.append(flag)
    return flags


def fraud_check_partner_velocity(*, member: Member, partner: Partner, at: datetime | None = None) -> FraudFlag | None:
    """Flag a member whose miles from this partner in the last 24 hours pass its ``daily_miles_alert``;
    at most once per member, partner and day."""
    at = at or timezone.now()
    earned = MilesEntry.objects.filter(
        member_id=member.pk, partner_id=partner.pk, kind=EntryKind.PARTNER, created_at__gt=at - timedelta(hours=24),
        created_at__lte=at,
    ).aggregate(total=Sum("award_miles"))["total"] or 0  # fmt: skip
    if earned <= partner.daily_miles_alert:
        return None
    day = timezone.localdate(at)
    return _flag(
        member=member,
        signal=FraudSignal.PARTNER_VELOCITY,
        key=f"{FraudSignal.PARTNER_VELOCITY}:{member.pk}:{partner.code}:{day.isoformat()}",
        details={
            "partner": partner.code,
            "partner_name": partner.name,
            "miles_24h": earned,
            "alert": partner.daily_miles_alert,
            "day": day.isoformat(),
        },
    )


@transaction.atomic
def member_login_changed(*, customer_id: int, what: str, at: datetime | None = None) -> int:
    """Remember when the member's login last changed (crm's ``login_changed``); returns rows updated."""
    return Member.objects.filter(customer_id=customer_id).update(login_changed_at=at or timezone.now(), login_change=what[:10])


@transaction.atomic
def fraud_flag_review(*, flag: FraudFlag, decision: str, note: str, by: User) -> FraudFlag:
    """A supervisor's verdict on an open flag, with their reason; recorded on the customer's timeline."""
    if decision not in REVIEW_DECISIONS:
        message = _("Choose whether to clear the flag or confirm the fraud.")
        raise ApplicationError(message, code="invalid", fields={"decision": [message]})
    note = (note or "").strip()
    if not note:
        message = _("Say why, for whoever looks at this member next.")
        raise ApplicationError(message, code="invalid", fields={"note": [message]})
    locked = FraudFlag.objects.select_for_update(of=("self",)).select_related("member__customer").get(pk=flag.pk)
    if locked.status != ReviewStatus.OPEN:
        raise ApplicationError(_("This flag was already reviewed."), code="already_reviewed", status=409)
    locked.status, locked.review_note = decision, note[:300]
    locked.reviewed_by, locked.reviewed_at = by, timezone.now()
    locked.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at"])
    customer = locked.member.customer
    if customer is not None:
        cleared = decision == ReviewStatus.CLEARED
        timeline_record(
            customer=customer,
            kind="loyalty.fraud_reviewed",
            message=gettext_noop("Fraud flag cleared: %(signal)s") if cleared else gettext_noop("Fraud confirmed: %(signal)s"),
            params={"signal": label("loyalty.fraud_signal", locked.signal)},
            data={
                "flag_id": locked.pk,
                "signal": locked.signal,
                "decision": decision,
                "member": locked.member.number,
                "note": locked.review_note,
            },  # fmt: skip
            actor=by,
        )
    return locked
