"""Campaign delivery: a run's recipients materialised in one statement, then one idempotent send each.

A delivery is sent at most once: its send holds a session-level advisory lock (no transaction open during
SMTP, as crm's ``email_send``), and consent, suppression and the frequency cap are checked again at send
time, because they may have changed since the run started.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError, VariableDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.utils.html import linebreaks
from django.utils.translation import gettext as _

from crm.celery import task_enqueue, task_enqueue_on_commit
from crm.errors import ApplicationError
from crm.models import ConsentEvent, ConsentPurpose, ConsentSource, Customer, User
from crm.services import consent_record
from loyalty.selectors import member_for_customer
from marketing.models import (
    Campaign,
    CampaignKind,
    CampaignRun,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Offer,
    Segment,
    SkipReason,
    Suppression,
    SuppressionReason,
)
from marketing.services.offers import promo_codes_issue
from marketing.services.segments import segment_compile

logger = logging.getLogger(__name__)

# How many deliveries one fan-out task queues.
FAN_OUT_CHUNK = 500
# The first key of the advisory locks: one send of a delivery at a time; one send per customer at a time.
DELIVERY_SEND_LOCK = 7202
CUSTOMER_SEND_LOCK = 7203
UNSUBSCRIBE_SALT = "marketing.unsubscribe"
CONTENT_FIELDS = ("subject_en", "text_en", "html_en", "subject_zh", "text_zh", "html_zh")

# Tags a campaign's text may not use: they read files, other libraries, URLs or the server's state.
_REFUSED_TAGS = {"debug", "load", "url", "csrf_token", "lorem"}


class _SandboxEngine(Engine):
    """Built-in filters only; the built-in tags are added below without the refused ones."""

    default_builtins = ["django.template.defaultfilters"]


def _sandbox() -> Engine:
    """A template engine that knows no files and no tag libraries: variables, filters and the plain
    built-in tags (if, for, with, ...), and nothing else (no {% include %}, {% extends %}, {% load %}, {% debug %})."""
    from django.template import Library, defaulttags

    tags = Library()
    tags.tags.update({name: tag for name, tag in defaulttags.register.tags.items() if name not in _REFUSED_TAGS})
    engine = _SandboxEngine(dirs=[], app_dirs=False, loaders=[], libraries={}, string_if_invalid="")
    engine.template_builtins.append(tags)
    return engine


_ENGINE = _sandbox()


def campaign_content_check(*, fields: dict[str, str]) -> None:
    """Refuse a subject or body that is not a valid template, naming the field."""
    if not (fields.get("subject_en") or "").strip() or not (fields.get("text_en") or "").strip():
        message = _("An English subject and text are required.")
        raise ApplicationError(message, code="invalid_campaign", fields={"subject_en": [message]})
    for name in CONTENT_FIELDS:
        source = fields.get(name) or ""
        try:
            _ENGINE.from_string(source)
        except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
            message = _("This template has an error: %(error)s") % {"error": str(exc)[:200]}
            raise ApplicationError(message, code="invalid_template", fields={name: [message]}) from exc


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
    kind: str = CampaignKind.ONE_OFF,
    status: str = CampaignStatus.DRAFT,
    offer: Offer | None = None,
    by: User | None = None,
) -> Campaign:
    """A new e-mail campaign; its templates are checked first so a send never meets a syntax error it could have."""
    content = {
        "subject_en": subject_en, "text_en": text_en, "html_en": html_en,
        "subject_zh": subject_zh, "text_zh": text_zh, "html_zh": html_zh,
    }  # fmt: skip
    campaign_content_check(fields=content)
    if kind not in CampaignKind.values or status not in CampaignStatus.values:
        raise ApplicationError(_("Unknown campaign kind or status."), code="invalid_campaign")
    name = (name or "").strip()
    if not name or len(name) > 120:
        message = _("Enter a name of 1 to 120 characters.")
        raise ApplicationError(message, code="invalid_campaign", fields={"name": [message]})
    return Campaign.objects.create(
        name=name, segment=segment, kind=kind, status=status, offer=offer,
        created_by=by if by is not None and by.is_authenticated else None, **content,
    )  # fmt: skip


def _birthday_q(occurrence: date) -> Q:
    """Customers whose birthday falls on ``occurrence``; 29 February is kept on 28 February in common years."""
    q = Q(date_of_birth__month=occurrence.month, date_of_birth__day=occurrence.day)
    if occurrence.month == 2 and occurrence.day == 28 and not calendar.isleap(occurrence.year):
        q |= Q(date_of_birth__month=2, date_of_birth__day=29)
    return q


def campaign_recipients(*, campaign: Campaign, occurrence: date) -> Any:
    """The queryset of customers a run of ``campaign`` on ``occurrence`` is for (consent and erasure included)."""
    customers = segment_compile(rules=campaign.segment.rules, channel=campaign.channel)
    if campaign.kind == CampaignKind.BIRTHDAY:
        customers = customers.filter(_birthday_q(occurrence))
    return customers


def campaign_run_start(*, campaign: Campaign, occurrence: date) -> CampaignRun:
    """Start (or resume) one occurrence: the same occurrence is the same run, and nobody gets a second delivery.

    The deliveries are written by one INSERT … SELECT from the segment's query (ON CONFLICT DO NOTHING),
    then the pending ones are handed to fan-out tasks in ranges of ids once the transaction commits.
    """
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED, CampaignStatus.COMPLETED):
        raise ApplicationError(
            _("Only a scheduled or running campaign can be sent."),
            code="campaign_not_runnable",
            fields={"status": [campaign.status]},
        )
    with transaction.atomic():
        run, _created = CampaignRun.objects.get_or_create(campaign=campaign, occurrence=occurrence)
        sql, params = (
            campaign_recipients(campaign=campaign, occurrence=occurrence).order_by().values("pk").query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Delivery._meta.db_table} (run_id, customer_id, status, skip_reason, created_at, message_id)
                SELECT %s, recipient.customer_id, %s, '', now(), '' FROM ({sql}) AS recipient (customer_id)
                ON CONFLICT (run_id, customer_id) DO NOTHING
                """,  # noqa: S608 - the inner SQL is Django's, its values are parameters
                [run.pk, DeliveryStatus.PENDING, *params],
            )
        bounds = Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING).aggregate(first=Min("pk"), last=Max("pk"))
        if bounds["first"] is not None:
            for first in range(bounds["first"], bounds["last"] + 1, FAN_OUT_CHUNK):
                task_enqueue_on_commit(
                    "marketing.tasks.campaign_fan_out",
                    run_id=run.pk,
                    first_id=first,
                    last_id=min(first + FAN_OUT_CHUNK - 1, bounds["last"]),
                )
        if campaign.kind == CampaignKind.ONE_OFF and campaign.status == CampaignStatus.SCHEDULED:
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    return run


def campaign_fan_out(*, run_id: int, first_id: int, last_id: int) -> int:
    """Queue one send per pending delivery of the run in the id range; a send queued twice sends once."""
    ids = list(
        Delivery.objects.filter(run_id=run_id, pk__gte=first_id, pk__lte=last_id, status=DeliveryStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        task_enqueue("marketing.tasks.delivery_send", delivery_id=pk)
    return len(ids)


def birthday_campaigns_run(*, today: date | None = None) -> list[CampaignRun]:
    """Today's occurrence of every scheduled or running birthday campaign (safe to run twice a day)."""
    today = today or timezone.localdate()
    campaigns = Campaign.objects.select_related("segment").filter(
        kind=CampaignKind.BIRTHDAY, status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING]
    )
    runs = []
    for campaign in campaigns:
        try:
            runs.append(campaign_run_start(campaign=campaign, occurrence=today))
        except ApplicationError:
            # One campaign whose segment no longer compiles (its static list deleted) must not stop the others.
            logger.exception("birthday campaign %s could not start", campaign.pk)
    return runs


def deliveries_sweep(*, older_than_minutes: int = 15) -> int:
    """Queue again the pending deliveries whose task the broker lost (a send already done is not repeated)."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    for pk in ids:
        task_enqueue("marketing.tasks.delivery_send", delivery_id=pk)
    return len(ids)


# --- Sending one delivery ---


@contextlib.contextmanager
def _advisory(key: int, pk: int, *, wait: bool) -> Iterator[bool]:
    """A session-level advisory lock, so no transaction (and no row lock) stays open during SMTP."""
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s, %s), true", [key, pk])
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [key, pk])
        claimed = bool(cursor.fetchone()[-1])
    try:
        yield claimed
    finally:
        if claimed:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [key, pk])


def unsubscribe_token(*, customer_id: int, email: str) -> str:
    return signing.dumps({"c": customer_id, "e": email.lower()}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(*, token: str) -> tuple[int, str] | None:
    """The customer and address a token was made for; None if it was tampered with."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return int(data["c"]), str(data["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


@transaction.atomic
def unsubscribe(*, token: str) -> Customer | None:
    """Withdraw marketing e-mail consent and suppress the address; a second click changes nothing more."""
    found = unsubscribe_token_read(token=token)
    if found is None:
        return None
    customer_id, email = found
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is not None and customer.anonymized_at is None:
        latest = _consent_latest(customer_id=customer.pk, channel="email")
        if latest is None or latest.granted:
            consent_record(
                customer=customer, channel="email", purpose=ConsentPurpose.MARKETING, granted=False,
                source=ConsentSource.PORTAL, method="unsubscribe link",
            )  # fmt: skip
    if email:
        Suppression.objects.get_or_create(email=email, defaults={"reason": SuppressionReason.UNSUBSCRIBED})
    return customer


def _consent_latest(*, customer_id: int, channel: str) -> ConsentEvent | None:
    return (
        ConsentEvent.objects.filter(customer_id=customer_id, channel=channel, purpose=ConsentPurpose.MARKETING)
        .order_by("-recorded_at", "-id")
        .first()
    )


def _skip(delivery: Delivery, reason: str, consent: ConsentEvent | None = None) -> Delivery:
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SKIPPED, skip_reason=reason, consent_event=consent
    )
    delivery.refresh_from_db()
    return delivery


def _content(campaign: Campaign, language: str) -> tuple[str, str, str]:
    if (language or "").lower().startswith("zh") and campaign.subject_zh.strip() and campaign.text_zh.strip():
        return campaign.subject_zh, campaign.text_zh, campaign.html_zh
    return campaign.subject_en, campaign.text_en, campaign.html_en


def _render(source: str, values: dict[str, Any], *, html: bool) -> str:
    return _ENGINE.from_string(source).render(Context(values, autoescape=html))


def delivery_send(*, delivery_id: int) -> Delivery | None:
    """Send one delivery once: re-check consent, suppression and the cap, issue the code, render, send, mark.

    Run twice (a redelivered task, the sweep), the second run finds the delivery sent or skipped and stops;
    run at the same time, the second finds the advisory lock taken and stops.
    """
    from django.core.mail import EmailMultiAlternatives

    with _advisory(DELIVERY_SEND_LOCK, delivery_id, wait=False) as claimed:
        delivery = Delivery.objects.select_related("run__campaign__offer", "customer").filter(pk=delivery_id).first()
        if not claimed or delivery is None or delivery.status != DeliveryStatus.PENDING:
            return delivery
        campaign, customer = delivery.run.campaign, delivery.customer
        # One send per customer at a time, so two campaigns cannot both slip under the frequency cap.
        with _advisory(CUSTOMER_SEND_LOCK, customer.pk, wait=True):
            consent = _consent_latest(customer_id=customer.pk, channel=campaign.channel)
            if customer.anonymized_at is not None or consent is None or not consent.granted:
                return _skip(delivery, SkipReason.NO_CONSENT, consent)
            email = (customer.email or "").strip()
            if not email:
                return _skip(delivery, SkipReason.NO_EMAIL, consent)
            if Suppression.objects.filter(email__iexact=email).exists():
                return _skip(delivery, SkipReason.SUPPRESSED, consent)
            cap = getattr(settings, "MARKETING_FREQUENCY_CAP", 3)
            recent = Delivery.objects.filter(
                customer_id=customer.pk, status=DeliveryStatus.SENT, sent_at__gte=timezone.now() - timedelta(days=7)
            ).count()
            if recent >= cap:
                return _skip(delivery, SkipReason.FREQUENCY_CAP, consent)
            code = None
            if campaign.offer_id is not None:
                code = promo_codes_issue(offer=campaign.offer, customers=[customer])[0]
            member = member_for_customer(customer_id=customer.pk)
            values = {
                "name": customer.given_name,
                "tier": member.tier.name if member is not None and member.tier_id else "",
                "miles": member.award_balance if member is not None else 0,
                "offer_code": code.code if code is not None else "",
            }
            subject_source, text_source, html_source = _content(campaign, customer.preferred_language)
            try:
                subject = " ".join(_render(subject_source, values, html=False).split())
                text = _render(text_source, values, html=False)
                html = _render(html_source, values, html=True) if html_source.strip() else linebreaks(text, autoescape=True)
            except (TemplateSyntaxError, VariableDoesNotExist, TemplateDoesNotExist):
                return _skip(delivery, SkipReason.RENDER_ERROR, consent)
            token = unsubscribe_token(customer_id=customer.pk, email=email)
            link = settings.SITE_URL.rstrip("/") + reverse("marketing_portal:unsubscribe", args=[token])
            mailto = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
            domain = mailto.rsplit("@", 1)[-1] if "@" in mailto else None
            message_id = make_msgid(idstring=f"delivery{delivery.pk}", domain=domain)
            headers = {
                "List-Unsubscribe": f"<{link}>, <mailto:{mailto}?subject=unsubscribe>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Message-ID": message_id,
            }
            message = EmailMultiAlternatives(subject=subject, body=text, to=[email], headers=headers)
            message.attach_alternative(html, "text/html")
            # Stamped before SMTP, so a send cut short leaves its message id behind for the record.
            Delivery.objects.filter(pk=delivery.pk).update(consent_event=consent, promo_code=code, message_id=message_id[:255])
            message.send()
            Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.SENT, sent_at=timezone.now()
            )
        delivery.refresh_from_db()
    return delivery


# --- The customer record: a merge moves the deliveries, an export lists them ---


def deliveries_merge(*, survivor: Customer, loser: Customer) -> dict[str, int]:
    """The duplicate's deliveries move to the survivor (their proof of consent and the frequency cap go with them).

    Where both were in the same run, one row stays: the sent one if either was sent, else the survivor's.
    """
    shared = Delivery.objects.filter(customer=loser, run_id__in=Delivery.objects.filter(customer=survivor).values("run_id"))
    sent_by_loser = shared.filter(status=DeliveryStatus.SENT).values("run_id")
    Delivery.objects.filter(customer=survivor, run_id__in=sent_by_loser).exclude(status=DeliveryStatus.SENT).delete()
    Delivery.objects.filter(customer=loser, run_id__in=Delivery.objects.filter(customer=survivor).values("run_id")).delete()
    return {"deliveries": Delivery.objects.filter(customer=loser).update(customer=survivor)}


def deliveries_export(*, customer: Customer) -> list[dict[str, Any]]:
    rows = Delivery.objects.filter(customer=customer).select_related("run__campaign").order_by("run__occurrence", "pk")
    return [
        {
            "campaign": d.run.campaign.name,
            "occurrence": d.run.occurrence.isoformat(),
            "status": d.status,
            "skip_reason": d.skip_reason,
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
        }
        for d in rows
    ]
