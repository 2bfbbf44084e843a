"""A campaign's life: create and edit as a draft, schedule (with a second marketer's approval above a size),
pause, resume and complete; its beat entry; the one-off run and the per-time-zone tick of birthday and
recurring campaigns; preview and test send.

The schedule lives in django-celery-beat (one ``PeriodicTask`` per campaign, ``marketing-campaign-<id>``),
so the office admin sees and the beat process fires exactly what the campaign says.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from crm.celery import task_enqueue_on_commit
from crm.errors import ApplicationError, NotFound
from crm.models import Customer, User
from crm.services import customer_access_record
from marketing.models import (
    Campaign,
    CampaignKind,
    CampaignRepeat,
    CampaignRun,
    CampaignStatus,
    CampaignTrigger,
    Delivery,
    DeliveryStatus,
    MarketingChannel,
    Offer,
    Segment,
)
from marketing.services.campaigns import (
    FAN_OUT_CHUNK,
    RenderedMessage,
    campaign_content_check,
    campaign_recipients,
    campaign_run_start,
    message_render,
    message_values,
)
from marketing.services.recommendations import next_best_offer
from marketing.services.segments import segment_compile

logger = logging.getLogger(__name__)

SAMPLE_CODE = "SAMPLE-CODE"
DEFAULT_SEND_TIME = time(9, 0)
# Triggers whose ``trigger_days`` is required: days before expiry, or days without a flight.
TRIGGERS_WITH_DAYS = (CampaignTrigger.MILES_EXPIRING, CampaignTrigger.PASSPORT_EXPIRING, CampaignTrigger.INACTIVE)
CONTENT_B_FIELDS = ("subject_en_b", "text_en_b", "html_en_b", "subject_zh_b", "text_zh_b", "html_zh_b")
EDITABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.PAUSED)
# Fields ``campaign_update`` may change (status and approval move only through the lifecycle functions).
UPDATABLE_FIELDS = (
    "name", "segment", "subject_en", "text_en", "html_en", "subject_zh", "text_zh", "html_zh",
    *CONTENT_B_FIELDS, "variant_b_percent", "holdout_percent", "kind", "channel", "offer", "send_at",
    "send_time", "repeat", "trigger", "trigger_days", "starts_on", "ends_on", "cost_per_message",
    "fixed_cost", "cost_currency",
)  # fmt: skip
TICK_TASK = "marketing.tasks.campaign_tick"
RUN_TASK = "marketing.tasks.campaign_run"


def beat_entry_name(campaign_id: int) -> str:
    return f"marketing-campaign-{campaign_id}"


# --- Validation ---


def _refuse(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(first, code="invalid_campaign", fields=errors)


def _percent(value: Any, *, maximum: int) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if isinstance(value, float | Decimal) and number != value:
        return None
    return number if 0 <= number <= maximum else None


def _money(value: Any, *, below: Decimal) -> Decimal | None:
    """Zero or more and below what the column holds (``below``); None when it is not such an amount."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and 0 <= number < below else None


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Every rule about a campaign's fields, all errors at once, each under its field's name."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    out = dict(values)
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 120:
        add("name", _("Enter a name of 1 to 120 characters."))
    out["name"] = name
    if not isinstance(values.get("segment"), Segment):
        add("segment", _("Choose a segment."))
    kind, channel = values.get("kind"), values.get("channel")
    if kind not in CampaignKind.values:
        add("kind", _("Choose one of the campaign kinds."))
    if channel not in MarketingChannel.values:
        add("channel", _("Choose e-mail, SMS or push."))
    for field in ("subject_en", "subject_zh", *[f for f in CONTENT_B_FIELDS if f.startswith("subject")]):
        if len(values.get(field) or "") > 200:
            add(field, _("A subject has at most 200 characters."))
    if not (values.get("text_en") or "").strip():
        add("text_en", _("An English text is required."))
    if channel != MarketingChannel.SMS and not (values.get("subject_en") or "").strip():
        add("subject_en", _("An English subject is required."))
    content = {f: values.get(f) or "" for f in ("subject_en", "text_en", "html_en", "subject_zh", "text_zh", "html_zh")}
    if not content["subject_en"].strip() and channel == MarketingChannel.SMS:
        # An SMS has no subject; the check below still wants one, and the text is what is sent.
        content["subject_en"] = "-"
    if not errors:
        try:
            campaign_content_check(fields={**content, **{f: values.get(f) or "" for f in CONTENT_B_FIELDS}})
        except ApplicationError as exc:
            errors.update(exc.fields or {"text_en": [exc.message]})

    b_percent = _percent(values.get("variant_b_percent", 0), maximum=100)
    if b_percent is None:
        add("variant_b_percent", _("Enter a whole percentage from 0 to 100."))
    out["variant_b_percent"] = b_percent
    holdout = _percent(values.get("holdout_percent", 0), maximum=50)
    if holdout is None:
        add("holdout_percent", _("Enter a whole percentage from 0 to 50."))
    out["holdout_percent"] = holdout
    for field, below in (("cost_per_message", Decimal("1e6")), ("fixed_cost", Decimal("1e10"))):
        amount = _money(values.get(field, 0), below=below)
        if amount is None:
            add(field, _("Enter an amount of zero or more."))
        out[field] = amount
    currency = str(values.get("cost_currency") or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        add("cost_currency", _("Enter a three-letter currency code, e.g. EUR."))
    out["cost_currency"] = currency

    offer = values.get("offer")
    if offer is not None and (not isinstance(offer, Offer) or offer.valid_until <= timezone.now()):
        add("offer", _("This offer has expired; choose one that is still valid."))

    send_at, send_time = values.get("send_at"), values.get("send_time")
    starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
    repeat, trigger, trigger_days = values.get("repeat") or "", values.get("trigger") or "", values.get("trigger_days")
    if send_at is not None and (not isinstance(send_at, datetime) or timezone.is_naive(send_at)):
        add("send_at", _("Enter a date and time with its time zone."))
        send_at = None
    if send_time is not None and not isinstance(send_time, time):
        add("send_time", _("Enter a time of day."))
        send_time = None
    for field, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if day is not None and (not isinstance(day, date) or isinstance(day, datetime)):
            add(field, _("Enter a date."))
    if isinstance(starts_on, date) and isinstance(ends_on, date) and ends_on < starts_on:
        add("ends_on", _("The last day cannot be before the first day."))
    if kind == CampaignKind.ONE_OFF:
        if send_at is None:
            add("send_at", _("A one-off campaign needs a date and time to go out."))
        elif send_at <= timezone.now() and values.get("status", CampaignStatus.DRAFT) == CampaignStatus.DRAFT:
            add("send_at", _("Choose a moment in the future."))
        send_time, repeat, trigger, trigger_days = None, "", "", None
    elif kind in (CampaignKind.BIRTHDAY, CampaignKind.RECURRING):
        send_time = send_time or DEFAULT_SEND_TIME
        if kind == CampaignKind.RECURRING and repeat not in CampaignRepeat.values:
            add("repeat", _("Choose how often it repeats: every day, week or month."))
        if kind == CampaignKind.BIRTHDAY:
            repeat = ""
        send_at, trigger, trigger_days = None, "", None
    elif kind == CampaignKind.TRIGGERED:
        if trigger not in CampaignTrigger.values:
            add("trigger", _("Choose what triggers the message."))
        if trigger in TRIGGERS_WITH_DAYS:
            days = _percent(trigger_days, maximum=3650) if trigger_days is not None else None
            if days is None or days < 1:
                add("trigger_days", _("Enter the number of days, from 1 to 3650."))
            trigger_days = days
        else:
            trigger_days = None
        send_at, send_time, repeat = None, None, ""
    out.update(send_at=send_at, send_time=send_time, repeat=repeat, trigger=trigger, trigger_days=trigger_days)
    _refuse(errors)
    return out


# --- Create, edit, delete ---


def _real(by: User | None) -> User | None:
    return by if by is not None and by.is_authenticated else None


@transaction.atomic
def campaign_create(
    *,
    name: str,
    segment: Segment,
    subject_en: str,
    text_en: str,
    html_en: str = "",
    subject_zh: str = "",
    text_zh: str = "",
    html_zh: str = "",
    subject_en_b: str = "",
    text_en_b: str = "",
    html_en_b: str = "",
    subject_zh_b: str = "",
    text_zh_b: str = "",
    html_zh_b: str = "",
    variant_b_percent: int = 0,
    holdout_percent: int = 0,
    kind: str = CampaignKind.ONE_OFF,
    channel: str = MarketingChannel.EMAIL,
    offer: Offer | None = None,
    send_at: datetime | None = None,
    send_time: time | None = None,
    repeat: str = "",
    trigger: str = "",
    trigger_days: int | None = None,
    starts_on: date | None = None,
    ends_on: date | None = None,
    cost_per_message: Decimal = Decimal(0),
    fixed_cost: Decimal = Decimal(0),
    cost_currency: str = "EUR",
    by: User | None = None,
    status: str = CampaignStatus.DRAFT,
) -> Campaign:
    """A new campaign, a draft; every field checked (templates included) so a send never meets an error it could have.

    ``status`` other than draft is for loading data and tests that start from a campaign already scheduled.
    """
    if status not in CampaignStatus.values:
        _refuse({"status": [_("Unknown campaign status.")]})
    values = _clean({k: v for k, v in locals().items() if k not in ("by",)})
    fields = {f: values[f] for f in UPDATABLE_FIELDS}
    return Campaign.objects.create(**fields, status=status, created_by=_real(by))


@transaction.atomic
def campaign_update(*, campaign: Campaign, by: User | None, **fields: Any) -> Campaign:
    """Edit a draft or paused campaign; a change withdraws an earlier approval (the approver saw something else)."""
    unknown = sorted(set(fields) - set(UPDATABLE_FIELDS))
    if unknown:
        _refuse({name: [_("This field cannot be changed.")] for name in unknown})
    campaign = _locked(campaign)
    if campaign.status not in EDITABLE_STATUSES:
        _refuse({"status": [_("Only a draft or paused campaign can be edited; pause it first.")]})
    current = {f: getattr(campaign, f) for f in UPDATABLE_FIELDS}
    # A new moment must be in the future; a paused one-off that already went keeps its past one.
    moved = "send_at" in fields and fields["send_at"] != current["send_at"]
    checked_as = CampaignStatus.DRAFT if moved or campaign.status == CampaignStatus.DRAFT else campaign.status
    values = _clean({**current, **fields, "status": checked_as})
    changed = [f for f in UPDATABLE_FIELDS if values[f] != current[f]]
    for f in changed:
        setattr(campaign, f, values[f])
    if changed and campaign.approved_at is not None:
        campaign.approved_by, campaign.approved_at = None, None
        changed += ["approved_by", "approved_at"]
    if changed:
        campaign.save(update_fields=changed)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign, by: User | None) -> None:
    """Only a draft goes (anything scheduled or sent has deliveries and results to keep)."""
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.DRAFT:
        _refuse({"status": [_("Only a draft campaign can be deleted; complete it instead.")]})
    _beat_remove([campaign.pk])
    campaign.delete()


def _locked(campaign: Campaign) -> Campaign:
    """Lock the row and bring the caller's object up to date, so the caller sees the change it asked for."""
    if not list(Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk", flat=True)):
        raise NotFound(_("No such campaign."))
    campaign.refresh_from_db()
    return campaign


def _wrong_status(message: str) -> None:
    raise ApplicationError(message, code="invalid_status", fields={"status": [message]})


# --- The beat entry ---


def _beat_write(campaign: Campaign, *, enabled: bool = True) -> PeriodicTask | None:
    """The campaign's one beat entry, written again whatever was there (idempotent); none for triggered ones."""
    name = beat_entry_name(campaign.pk)
    kwargs = json.dumps({"campaign_id": campaign.pk})
    if campaign.kind == CampaignKind.ONE_OFF and campaign.send_at is not None:
        clocked, _created = ClockedSchedule.objects.get_or_create(clocked_time=campaign.send_at)
        defaults = {"clocked": clocked, "crontab": None, "interval": None, "solar": None, "one_off": True, "task": RUN_TASK}
    elif campaign.kind in (CampaignKind.BIRTHDAY, CampaignKind.RECURRING):
        minute = (campaign.send_time or DEFAULT_SEND_TIME).minute
        crontab, _created = CrontabSchedule.objects.get_or_create(
            minute=str(minute), hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        defaults = {"crontab": crontab, "clocked": None, "interval": None, "solar": None, "one_off": False, "task": TICK_TASK}
    else:
        _beat_remove([campaign.pk])
        return None
    entry, _created = PeriodicTask.objects.update_or_create(
        name=name, defaults={**defaults, "kwargs": kwargs, "args": "[]", "enabled": enabled, "queue": "campaigns"}
    )
    ClockedSchedule.objects.filter(periodictask__isnull=True).delete()  # a moment moved while paused
    return entry


def _beat_remove(campaign_ids: list[int]) -> None:
    """The entries go, and the one-off moments no entry uses any more with them."""
    PeriodicTask.objects.filter(name__in=[beat_entry_name(pk) for pk in campaign_ids]).delete()
    ClockedSchedule.objects.filter(periodictask__isnull=True).delete()


def _beat_enable(campaign: Campaign, *, enabled: bool) -> None:
    for entry in PeriodicTask.objects.filter(name=beat_entry_name(campaign.pk)):
        entry.enabled = enabled
        entry.save(update_fields=["enabled", "last_run_at"] if not enabled else ["enabled"])


# --- Schedule, approve, reject ---


def _sample_values(campaign: Campaign) -> dict[str, Any]:
    """What a template shows when no real customer is chosen; no code is issued for it."""
    offer = campaign.offer
    return {
        "name": "Alex",
        "family_name": "Taylor",
        "tier": "Gold",
        "miles": 12500,
        "home_airport": "LHR",
        "destination": "JFK",
        "offer_code": SAMPLE_CODE,
        "offer_name": offer.name if offer is not None else "",
        "partner_link": offer.partner_url if offer is not None else "",
    }


def _render_check(campaign: Campaign) -> None:
    """Render every language and variant for one customer of the segment (or sample values) before it may go."""
    sample = campaign_recipients(campaign=campaign, occurrence=timezone.localdate()).order_by("pk").first()
    if sample is None:
        sample = segment_compile(rules=campaign.segment.rules, channel=campaign.channel).order_by("pk").first()
    values = _sample_values(campaign) if sample is None else _preview_values(campaign, sample)
    for language in ("en", "zh"):
        for variant in ("a", "b"):
            try:
                message_render(campaign=campaign, language=language, variant=variant, values=values)
            except ApplicationError as exc:
                field = "text_zh" if language == "zh" else "text_en"
                raise ApplicationError(exc.message, code="render_error", fields={field: [exc.message]}) from exc


def campaign_schedule(*, campaign: Campaign, by: User | None) -> Campaign:
    """A draft goes on the schedule once it renders; above MARKETING_APPROVAL_AUDIENCE it first awaits approval."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != CampaignStatus.DRAFT:
            _wrong_status(_("Only a draft campaign can be scheduled; a paused one is resumed."))
        values = {f: getattr(campaign, f) for f in UPDATABLE_FIELDS}
        _clean({**values, "status": CampaignStatus.DRAFT})
        _render_check(campaign)
        audience = segment_compile(rules=campaign.segment.rules, channel=campaign.channel).count()
        Segment.objects.filter(pk=campaign.segment_id).update(last_count=audience, counted_at=timezone.now())
        if audience > settings.MARKETING_APPROVAL_AUDIENCE and campaign.approved_at is None:
            campaign.status = CampaignStatus.AWAITING_APPROVAL
        else:
            campaign.status = CampaignStatus.SCHEDULED
            _beat_write(campaign)
        campaign.save(update_fields=["status"])
    campaign.segment.refresh_from_db(fields=["last_count", "counted_at"])
    return campaign


@transaction.atomic
def campaign_approve(*, campaign: Campaign, by: User) -> Campaign:
    """A second marketer (never the one who made it) lets a large campaign go."""
    if by is None or not by.is_authenticated or not by.has_perm("marketing.approve_campaign"):
        raise ApplicationError(_("You may not approve campaigns."), code="permission_denied", status=403)
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.AWAITING_APPROVAL:
        _wrong_status(_("Only a campaign awaiting approval can be approved."))
    if campaign.created_by_id is not None and campaign.created_by_id == by.pk:
        raise ApplicationError(_("Another marketer must approve a campaign you created."), code="four_eyes", status=403)
    campaign.approved_by, campaign.approved_at, campaign.status = by, timezone.now(), CampaignStatus.SCHEDULED
    campaign.save(update_fields=["approved_by", "approved_at", "status"])
    _beat_write(campaign)
    return campaign


@transaction.atomic
def campaign_reject(*, campaign: Campaign, by: User, reason: str) -> Campaign:
    """Back to draft for its author to change; the reason goes to the log (there is no column for it)."""
    if by is None or not by.is_authenticated or not by.has_perm("marketing.approve_campaign"):
        raise ApplicationError(_("You may not approve campaigns."), code="permission_denied", status=403)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        message = _("Say why, in at most 500 characters.")
        raise ApplicationError(message, code="invalid", fields={"reason": [message]})
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.AWAITING_APPROVAL:
        _wrong_status(_("Only a campaign awaiting approval can be rejected."))
    campaign.status = CampaignStatus.DRAFT
    campaign.save(update_fields=["status"])
    logger.info("campaign %s rejected by user %s: %s", campaign.pk, by.pk, reason)
    return campaign


# --- Pause, resume, complete ---


@transaction.atomic
def campaign_pause(*, campaign: Campaign, by: User | None) -> Campaign:
    """Stop sending: the beat entry is disabled and pending deliveries stay pending (delivery_send leaves them)."""
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        _wrong_status(_("Only a scheduled or running campaign can be paused."))
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status"])
    _beat_enable(campaign, enabled=False)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, by: User | None) -> Campaign:
    """Carry on: the beat entry back (as edited while paused), the pending deliveries queued again."""
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PAUSED:
        _wrong_status(_("Only a paused campaign can be resumed."))
    _clean({**{f: getattr(campaign, f) for f in UPDATABLE_FIELDS}, "status": CampaignStatus.PAUSED})
    _render_check(campaign)
    has_runs = campaign.runs.exists()
    campaign.status = CampaignStatus.RUNNING if has_runs else CampaignStatus.SCHEDULED
    campaign.save(update_fields=["status"])
    if campaign.kind == CampaignKind.ONE_OFF and has_runs:
        # Its moment has come and gone: the run exists, only its pending deliveries are left to send.
        _beat_remove([campaign.pk])
    else:
        _beat_write(campaign)
    for run_id in campaign.runs.values_list("pk", flat=True):
        _fan_out_pending(run_id)
    return campaign


def _fan_out_pending(run_id: int) -> None:
    bounds = Delivery.objects.filter(run_id=run_id, status=DeliveryStatus.PENDING).aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        return
    for first in range(bounds["first"], bounds["last"] + 1, FAN_OUT_CHUNK):
        task_enqueue_on_commit(
            "marketing.tasks.campaign_fan_out",
            run_id=run_id,
            first_id=first,
            last_id=min(first + FAN_OUT_CHUNK - 1, bounds["last"]),
        )


@transaction.atomic
def campaign_complete(*, campaign: Campaign, by: User | None) -> Campaign:
    """Finished for good: nothing more is scheduled (pending deliveries of a completed campaign still go)."""
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        _wrong_status(_("Only a scheduled, running or paused campaign can be completed."))
    campaign.status = CampaignStatus.COMPLETED
    campaign.save(update_fields=["status"])
    _beat_remove([campaign.pk])
    return campaign


@transaction.atomic
def campaigns_complete_finished(*, today: date | None = None) -> int:
    """Periodic: one-off campaigns whose deliveries are all done, and recurring ones past their last day."""
    today = today or timezone.localdate()
    pending = Delivery.objects.filter(run__campaign=OuterRef("pk"), status=DeliveryStatus.PENDING)
    done = Campaign.objects.filter(kind=CampaignKind.ONE_OFF, status=CampaignStatus.RUNNING, runs__isnull=False).exclude(
        Exists(pending)
    )
    past = Campaign.objects.filter(
        kind__in=[CampaignKind.BIRTHDAY, CampaignKind.RECURRING],
        status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING],
        ends_on__lt=today,
    )
    ids = sorted(set(done.values_list("pk", flat=True)) | set(past.values_list("pk", flat=True)))
    if not ids:
        return 0
    Campaign.objects.filter(pk__in=ids).update(status=CampaignStatus.COMPLETED)
    _beat_remove(ids)
    return len(ids)


# --- Running: the one-off moment and the hourly tick ---


def campaign_run(*, campaign_id: int) -> CampaignRun | None:
    """The one-off campaign's moment (from its clocked beat entry); a paused or completed one does nothing."""
    campaign = Campaign.objects.select_related("segment").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        return None
    moment = campaign.send_at or timezone.now()
    return campaign_run_start(campaign=campaign, occurrence=timezone.localtime(moment).date())


def _zones() -> list[str]:
    from reservations.models import Airport

    names = set(Airport.objects.order_by().values_list("time_zone", flat=True).distinct())
    names.add(settings.TIME_ZONE)
    return sorted(names)


def _due_dates(campaign: Campaign, now: datetime) -> dict[date, list[str]]:
    """The local dates, each with the time zones whose clock is in [send_time, send_time + 1 hour) now."""
    send_time = campaign.send_time or DEFAULT_SEND_TIME
    due: dict[date, list[str]] = {}
    for name in _zones():
        try:
            local = now.astimezone(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            logger.warning("airport time zone %r is unknown", name)
            continue
        start = datetime.combine(local.date(), send_time, tzinfo=local.tzinfo)
        if start <= local < start + timedelta(hours=1):
            due.setdefault(local.date(), []).append(name)
    return due


def _occurs_on(campaign: Campaign, day: date) -> bool:
    if campaign.starts_on and day < campaign.starts_on:
        return False
    if campaign.ends_on and day > campaign.ends_on:
        return False
    if campaign.kind != CampaignKind.RECURRING:
        return True
    first = campaign.starts_on or timezone.localtime(campaign.created_at).date()
    if campaign.repeat == CampaignRepeat.WEEKLY:
        return day.weekday() == first.weekday()
    if campaign.repeat == CampaignRepeat.MONTHLY:
        # The 31st falls on the month's last day in shorter months.
        return day.day == min(first.day, calendar.monthrange(day.year, day.month)[1])
    return True


def _in_zones(zones: list[str]) -> Q:
    """Customers living in one of ``zones`` (their home airport's), as SQL; no airport means the site's zone."""
    from reservations.models import Airport

    q = Q(home_airport__in=Airport.objects.filter(time_zone__in=zones).values("iata_code"))
    if settings.TIME_ZONE in zones:
        q |= ~Q(home_airport__in=Airport.objects.values("iata_code"))
    return q


def campaign_tick(*, campaign_id: int, now: datetime | None = None) -> CampaignRun | None:
    """Hourly at the send minute: start the occurrence for the customers whose local send time has come.

    Ticking twice in the hour adds nobody (a run has one delivery per customer). Returns the last run started.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("segment").filter(pk=campaign_id).first()
    if (
        campaign is None
        or campaign.kind not in (CampaignKind.BIRTHDAY, CampaignKind.RECURRING)
        or campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)
    ):
        return None
    run = None
    for day, zones in sorted(_due_dates(campaign, now).items()):
        if _occurs_on(campaign, day):
            run = campaign_run_start(campaign=campaign, occurrence=day, only=_in_zones(zones))
    if run is not None and campaign.status == CampaignStatus.SCHEDULED:
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED).update(status=CampaignStatus.RUNNING)
    return run


# --- Preview and test send ---


def _preview_values(campaign: Campaign, customer: Customer) -> dict[str, Any]:
    values = message_values(customer=customer, recommendation=next_best_offer(customer=customer))
    if campaign.offer is not None:
        values.update(offer_code=SAMPLE_CODE, offer_name=campaign.offer.name, partner_link=campaign.offer.partner_url)
    return values


def campaign_preview(
    *,
    campaign: Campaign,
    customer: Customer | None = None,
    language: str = "en",
    variant: str = "a",
    by: User | None = None,
    surface: str = "office",
    path: str = "",
) -> RenderedMessage:
    """The message as ``customer`` (or a sample reader) would get it; no code is issued, none is sent.

    A real customer's preview is a staff look at their data: with ``by`` it is recorded.
    """
    if variant not in ("a", "b"):
        raise ApplicationError(_("Choose variant A or B."), code="invalid", fields={"variant": [_("Choose variant A or B.")]})
    if customer is None:
        values = _sample_values(campaign)
    else:
        if by is not None and by.is_authenticated:
            customer_access_record(customer=customer, user=by, surface=surface, path=path, view_name="campaign preview")
        values = _preview_values(campaign, customer)
    return message_render(campaign=campaign, language=language, variant=variant, values=values)


def campaign_test_send(
    *,
    campaign: Campaign,
    by: User,
    customer: Customer | None = None,
    language: str = "en",
    variant: str = "a",
    surface: str = "office",
    path: str = "",
) -> None:
    """The rendered e-mail to the marketer's own address, marked as a test: no delivery, no effect on the cap."""
    address = (getattr(by, "email", "") or "").strip()
    if not address:
        message = _("Your account has no e-mail address to send the test to.")
        raise ApplicationError(message, code="no_email", fields={"email": [message]})
    rendered = campaign_preview(
        campaign=campaign, customer=customer, language=language, variant=variant, by=by, surface=surface, path=path
    )
    with override("zh-hans" if (language or "").lower().startswith("zh") else "en"):
        prefix = _("[Test]")
    email = EmailMultiAlternatives(subject=f"{prefix} {rendered.subject}", body=rendered.text, to=[address])
    if rendered.html:
        email.attach_alternative(rendered.html, "text/html")
    email.send()
