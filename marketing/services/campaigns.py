"""Campaign delivery: a run's recipients materialised in one statement, then sent in batches, each idempotent.

A delivery is sent at most once: its send (single or in a batch) holds a session-level advisory lock (no
transaction open during SMTP, as crm's ``email_send``), and consent, suppression and the frequency cap are
checked again at send time, because they may have changed since the run started.
"""

from __future__ import annotations

import calendar
import functools
import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q
from django.template import Context, Engine, Template, TemplateDoesNotExist, TemplateSyntaxError, VariableDoesNotExist
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import linebreaks
from django.utils.translation import gettext as _

from crm.celery import task_enqueue, task_enqueue_on_commit
from crm.errors import ApplicationError
from crm.models import ConsentEvent, ConsentPurpose, ConsentSource, Customer, TimelineEntry
from crm.services import consent_record
from loyalty.selectors import member_for_customer, members_for_customers
from marketing.channels import OutgoingMessage, RateLimited, message_send, rate_limit_take
from marketing.models import (
    Campaign,
    CampaignKind,
    CampaignRun,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    MarketingChannel,
    SkipReason,
    Suppression,
    SuppressionReason,
)
from marketing.services.offers import promo_codes_issue
from marketing.services.recommendations import next_best_offers
from marketing.services.segments import segment_compile
from marketing.services.tracking import links_track, text_links_track

logger = logging.getLogger(__name__)

# How many deliveries one fan-out task queues.
FAN_OUT_CHUNK = 500
# How many deliveries one send task takes: the fixed statements of a batch are shared by this many messages.
BATCH_SIZE = 100
# The first key of the advisory locks: one send of a delivery at a time; one send per customer at a time.
DELIVERY_SEND_LOCK = 7202
CUSTOMER_SEND_LOCK = 7203
UNSUBSCRIBE_SALT = "marketing.unsubscribe"
CONTENT_FIELDS = (
    "subject_en", "text_en", "html_en", "subject_zh", "text_zh", "html_zh",
    "subject_en_b", "text_en_b", "html_en_b", "subject_zh_b", "text_zh_b", "html_zh_b",
)  # fmt: skip

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


def _birthday_q(occurrence: date) -> Q:
    """Customers whose birthday falls on ``occurrence``; 29 February is kept on 28 February in common years."""
    q = Q(date_of_birth__month=occurrence.month, date_of_birth__day=occurrence.day)
    if occurrence.month == 2 and occurrence.day == 28 and not calendar.isleap(occurrence.year):
        q |= Q(date_of_birth__month=2, date_of_birth__day=29)
    return q


def campaign_recipients(*, campaign: Campaign, occurrence: date, only: Q | None = None) -> Any:
    """The queryset of customers a run of ``campaign`` on ``occurrence`` is for (consent and erasure included).

    ``only`` narrows it further: the customers a trigger fired for, or those whose local send time has come.
    """
    customers = segment_compile(rules=campaign.segment.rules, channel=campaign.channel)
    if campaign.kind == CampaignKind.BIRTHDAY:
        customers = customers.filter(_birthday_q(occurrence))
    if only is not None:
        customers = customers.filter(only)
    return customers


# Which hundredth of the audience a customer falls in, the same for the same run and customer every time,
# so a resumed run keeps the same control group and the same variants.
_BUCKET = "((hashtext(%s || ':' || recipient.customer_id::text) & 2147483647) %% 100)"


def campaign_run_start(*, campaign: Campaign, occurrence: date, only: Q | None = None) -> CampaignRun:
    """Start (or resume) one occurrence: the same occurrence is the same run, and nobody gets a second delivery.

    The deliveries are written by one INSERT … SELECT from the segment's query (ON CONFLICT DO NOTHING);
    the holdout share is written held out (recorded, never sent) and the variant B share marked ``b``.
    The pending ones are then handed to fan-out tasks in ranges of ids once the transaction commits.
    """
    if campaign.status in (
        CampaignStatus.DRAFT,
        CampaignStatus.AWAITING_APPROVAL,
        CampaignStatus.PAUSED,
        CampaignStatus.COMPLETED,
    ):
        raise ApplicationError(
            _("Only a scheduled or running campaign can be sent."),
            code="campaign_not_runnable",
            fields={"status": [campaign.status]},
        )
    with transaction.atomic():
        run, _created = CampaignRun.objects.get_or_create(campaign=campaign, occurrence=occurrence)
        sql, params = (
            campaign_recipients(campaign=campaign, occurrence=occurrence, only=only)
            .order_by()
            .values("pk")
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Delivery._meta.db_table} (
                    run_id, customer_id, status, variant, skip_reason, created_at, message_id, attempts, last_error,
                    recommended_destination, recommendation_reason, open_count, click_count,
                    conversion_record_locator, revenue_currency
                )
                SELECT %s, recipient.customer_id,
                       CASE WHEN {_BUCKET} < %s THEN %s ELSE %s END,
                       CASE WHEN {_BUCKET} < %s THEN 'b' ELSE 'a' END,
                       '', now(), '', 0, '', '', '', 0, 0, '', ''
                FROM ({sql}) AS recipient (customer_id)
                ON CONFLICT (run_id, customer_id) DO NOTHING
                """,  # noqa: S608 - the inner SQL is Django's, its values are parameters
                [
                    run.pk,
                    f"holdout:{run.pk}", campaign.holdout_percent, DeliveryStatus.HOLDOUT, DeliveryStatus.PENDING,
                    f"variant:{run.pk}", campaign.variant_b_percent,
                    *params,
                ],
            )  # fmt: skip
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
    """Queue the pending deliveries of the run in the id range as batch sends; a delivery queued twice sends once."""
    ids = list(
        Delivery.objects.filter(run_id=run_id, pk__gte=first_id, pk__lte=last_id, status=DeliveryStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), BATCH_SIZE):
        task_enqueue("marketing.tasks.deliveries_send_batch", delivery_ids=ids[start : start + BATCH_SIZE])
    return len(ids)


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


# --- Sending ---


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


def _content(campaign: Campaign, language: str, variant: str = "a") -> tuple[str, str, str]:
    """Subject, text and HTML templates for the reader's language and variant (B falls back to A field by field)."""
    suffix = "zh" if _content_language(campaign, language) != "en" else "en"
    fields = [getattr(campaign, f"{name}_{suffix}") for name in ("subject", "text", "html")]
    if variant == "b":
        fields = [
            getattr(campaign, f"{name}_{suffix}_b").strip() or a
            for name, a in zip(("subject", "text", "html"), fields, strict=True)
        ]
    return fields[0], fields[1], fields[2]


def _content_language(campaign: Campaign, language: str) -> str:
    """The language the reader gets: theirs when the campaign is written in it, else English."""
    chinese = (language or "").lower().startswith("zh") and campaign.subject_zh.strip() and campaign.text_zh.strip()
    return "zh-hans" if chinese else "en"


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A campaign's template parsed once per worker process, not once per message (a Template renders any Context)."""
    return _ENGINE.from_string(source)


def _render(source: str, values: dict[str, Any], *, html: bool) -> str:
    return _compiled(source).render(Context(values, autoescape=html))


# "Not given": look it up (``None`` is an answer: no member, no offer).
_LOOK_UP: Any = object()


def message_values(
    *, customer: Customer, code: Any = None, recommendation: Any = None, member: Any = _LOOK_UP, offer: Any = _LOOK_UP
) -> dict[str, Any]:
    """The personal fields a campaign template may use (the same for preview, test send and the real send).

    A batch passes the customer's ``member`` and the code's ``offer`` it loaded for everyone, so this asks nothing.
    """
    if member is _LOOK_UP:
        member = member_for_customer(customer_id=customer.pk)
    if offer is _LOOK_UP:
        offer = code.offer if code is not None else None
    return {
        "name": customer.given_name,
        "family_name": customer.family_name,
        "tier": member.tier.name if member is not None and member.tier_id else "",
        "miles": member.award_balance if member is not None else 0,
        "home_airport": customer.home_airport,
        "destination": recommendation.destination if recommendation is not None else "",
        "offer_code": code.code if code is not None else "",
        "offer_name": offer.name if offer is not None else "",
        "partner_link": offer.partner_url if offer is not None else "",
    }


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def message_render(*, campaign: Campaign, language: str, variant: str, values: dict[str, Any]) -> RenderedMessage:
    """Render a campaign for one reader in the sandbox; a template error raises ApplicationError (``render_error``)."""
    subject_source, text_source, html_source = _content(campaign, language, variant)
    try:
        # Filters such as |date speak the language the message is written in.
        with translation.override(_content_language(campaign, language)):
            subject = " ".join(_render(subject_source, values, html=False).split())
            text = _render(text_source, values, html=False)
            html = _render(html_source, values, html=True) if html_source.strip() else linebreaks(text, autoescape=True)
    except (TemplateSyntaxError, VariableDoesNotExist, TemplateDoesNotExist) as exc:
        raise ApplicationError(
            _("This template has an error: %(error)s") % {"error": str(exc)[:200]}, code="render_error"
        ) from exc
    return RenderedMessage(subject=subject, text=text, html=html)


def _address(channel: str, customer: Customer) -> tuple[str, str]:
    """Where the message goes on ``channel``, or the reason it cannot go."""
    if channel == MarketingChannel.SMS:
        return (str(customer.phone) if customer.phone else ""), SkipReason.NO_PHONE
    if channel == MarketingChannel.PUSH:
        return (str(customer.user_id) if customer.user_id else ""), SkipReason.NO_LOGIN
    return (customer.email or "").strip(), SkipReason.NO_EMAIL


def _email_headers(*, delivery: Delivery, customer: Customer, email: str) -> dict[str, str]:
    """The unsubscribe headers and the Message-ID; a send resumed after a crash keeps the Message-ID it stamped.

    A worker killed after the MTA accepted the message but before the delivery was marked sent leaves it
    pending with its Message-ID stamped; the resend carries the same Message-ID, so the receiving side sees
    one message (mail stores and clients drop a repeated Message-ID) rather than two.
    """
    token = unsubscribe_token(customer_id=customer.pk, email=email)
    link = settings.SITE_URL.rstrip("/") + reverse("marketing_portal:unsubscribe", args=[token])
    mailto = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    domain = mailto.rsplit("@", 1)[-1] if "@" in mailto else None
    return {
        "List-Unsubscribe": f"<{link}>, <mailto:{mailto}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": delivery.message_id or make_msgid(idstring=f"delivery{delivery.pk}", domain=domain),
    }


def _failed(delivery: Delivery, exc: Exception) -> bool:
    """Count a failed attempt; True when it was the last one allowed (the delivery is then marked failed)."""
    limit = getattr(settings, "MARKETING_SEND_ATTEMPTS", 5)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:300]
    )
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING, attempts__gte=limit).update(
        status=DeliveryStatus.FAILED
    )
    return Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).exists()


def delivery_send(*, delivery_id: int) -> Delivery | None:
    """Send one delivery once (a retry, the sweep): a batch of one, so it follows exactly the batch's rules.

    A provider error is raised again for the task to retry (the attempt is counted; at
    ``MARKETING_SEND_ATTEMPTS`` the delivery is marked failed and nothing is raised); over the channel's rate
    limit ``RateLimited`` is raised with the wait. A delivery another send holds, or already done, is left alone.
    """
    errors: list[Exception] = []
    deliveries_send_batch(delivery_ids=[delivery_id], errors=errors)
    if errors:
        raise errors[0]
    return Delivery.objects.filter(pk=delivery_id).first()


class BatchRateLimited(RateLimited):
    """A batch stopped at the channel's rate limit: ``remaining`` (still pending, nothing counted) go after ``wait``."""

    def __init__(self, channel: str, wait: float, remaining: list[int]) -> None:
        super().__init__(channel, wait)
        self.remaining = remaining


_SKIP_SQL = f"""
    UPDATE {Delivery._meta.db_table} AS d
    SET status = %s, skip_reason = v.reason, consent_event_id = v.consent
    FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v (id, reason, consent)
    WHERE d.id = v.id AND d.status = %s
"""  # noqa: S608 - the table name is ours

_STAMP_SQL = f"""
    UPDATE {Delivery._meta.db_table} AS d
    SET consent_event_id = v.consent, promo_code_id = v.code, message_id = v.message_id,
        recommended_destination = v.destination, recommendation_reason = v.reason
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[])
         AS v (id, consent, code, message_id, destination, reason)
    WHERE d.id = v.id AND d.status = %s
"""  # noqa: S608 - the table name is ours

# The mark of one sent delivery and its timeline entry (what ``timeline_record`` writes) in one statement; the
# line is the campaign's name, which is data, so it is stored as the summary with no message.
_MARK_SQL = f"""
    WITH marked AS (
        UPDATE {Delivery._meta.db_table} SET status = %s, sent_at = now()
        WHERE id = ANY(%s::int[]) AND status = %s
        RETURNING id, customer_id, sent_at
    )
    INSERT INTO {TimelineEntry._meta.db_table}
        (customer_id, occurred_at, kind, summary, message, message_params, data, link, actor_id)
    SELECT customer_id, sent_at, %s, %s, '', '{{}}'::jsonb,
           jsonb_build_object('campaign_id', %s::int, 'delivery_id', id, 'channel', %s::text), '', NULL
    FROM marked
"""  # noqa: S608 - the table names are ours

_SUPPRESSED_SQL = f"""
    SELECT e FROM unnest(%s::text[]) AS e
    WHERE EXISTS (SELECT 1 FROM {Suppression._meta.db_table} AS s WHERE upper(s.email::text) = upper(e))
"""  # noqa: S608 - the table name is ours


def _skips_write(skips: list[tuple[Delivery, str, ConsentEvent | None]]) -> None:
    """Every skip of a batch in one statement, each with the consent it found (the proof, as a single send keeps it)."""
    if skips:
        with connection.cursor() as cursor:
            cursor.execute(
                _SKIP_SQL,
                [
                    DeliveryStatus.SKIPPED,
                    [d.pk for d, _r, _c in skips],
                    [reason for _d, reason, _c in skips],
                    [consent.pk if consent is not None else None for _d, _r, consent in skips],
                    DeliveryStatus.PENDING,
                ],
            )


# Messages of one batch on the wire at the same time, from one worker process.
SEND_CONCURRENCY = 4
_senders: ThreadPoolExecutor | None = None


def _sender() -> ThreadPoolExecutor:
    """The process's sending threads, started on first use (after a worker process forks), kept for its life."""
    global _senders  # noqa: PLW0603 - one pool per process
    if _senders is None:
        _senders = ThreadPoolExecutor(max_workers=SEND_CONCURRENCY, thread_name_prefix="campaign-send")
    return _senders


def _batch_campaign_send(
    campaign: Campaign, deliveries: list[Delivery], counts: dict[str, int], errors: list[Exception] | None = None
) -> tuple[list[int], float]:
    """Send one campaign's share of a batch (its customers' send locks held); the ids the rate limit left, the wait.

    The checks of ``delivery_send`` are made for all at once: a constant number of statements, then the provider
    per message, and one mark (with the timeline entries) for every few messages it took.
    """
    channel = campaign.channel
    customer_ids = [d.customer_id for d in deliveries]
    consents = {
        event.customer_id: event
        for event in ConsentEvent.objects.filter(customer_id__in=customer_ids, channel=channel, purpose=ConsentPurpose.MARKETING)
        .order_by("customer_id", "-recorded_at", "-id")
        .distinct("customer_id")
    }
    emails = sorted({(d.customer.email or "").strip() for d in deliveries} - {""})
    suppressed: set[str] = set()
    if emails:
        with connection.cursor() as cursor:
            cursor.execute(_SUPPRESSED_SQL, [emails])
            suppressed = {row[0] for row in cursor.fetchall()}
    cap = getattr(settings, "MARKETING_FREQUENCY_CAP", 3)
    recent = dict(
        Delivery.objects.filter(
            customer_id__in=customer_ids, status=DeliveryStatus.SENT, sent_at__gte=timezone.now() - timedelta(days=7)
        )
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values_list("customer_id", "n")
    )

    skips: list[tuple[Delivery, str, ConsentEvent | None]] = []
    chosen: list[tuple[Delivery, ConsentEvent, str]] = []
    for delivery in deliveries:
        customer = delivery.customer
        consent = consents.get(customer.pk)
        if customer.anonymized_at is not None or consent is None or not consent.granted:
            skips.append((delivery, SkipReason.NO_CONSENT, consent))
            continue
        address, missing = _address(channel, customer)
        if not address:
            skips.append((delivery, missing, consent))
            continue
        email = (customer.email or "").strip()
        if email and email in suppressed:
            skips.append((delivery, SkipReason.SUPPRESSED, consent))
            continue
        if recent.get(customer.pk, 0) >= cap:
            skips.append((delivery, SkipReason.FREQUENCY_CAP, consent))
            continue
        recent[customer.pk] = recent.get(customer.pk, 0) + 1  # the same customer twice in one batch counts both
        chosen.append((delivery, consent, address))

    chosen_customers = [d.customer for d, _c, _a in chosen]
    codes = {}
    if campaign.offer_id is not None and chosen_customers:
        codes = {code.customer_id: code for code in promo_codes_issue(offer=campaign.offer, customers=chosen_customers)}
    recommendations = next_best_offers(customer_ids=[c.pk for c in chosen_customers]) if chosen_customers else {}
    members = members_for_customers(customer_ids=[c.pk for c in chosen_customers]) if chosen_customers else {}

    prepared: list[tuple[Delivery, OutgoingMessage]] = []
    stamps: list[tuple[int, int, int | None, str, str, str]] = []
    for delivery, consent, address in chosen:
        customer = delivery.customer
        code = codes.get(customer.pk)
        recommendation = recommendations.get(customer.pk)
        values = message_values(
            customer=customer,
            code=code,
            recommendation=recommendation,
            member=members.get(customer.pk),
            offer=campaign.offer if code is not None else None,
        )
        try:
            rendered = message_render(
                campaign=campaign, language=customer.preferred_language, variant=delivery.variant, values=values
            )
        except ApplicationError:
            skips.append((delivery, SkipReason.RENDER_ERROR, consent))
            continue
        headers = _email_headers(delivery=delivery, customer=customer, email=address) if channel == "email" else {}
        html = links_track(html=rendered.html, delivery=delivery) if channel == "email" else ""
        text = text_links_track(text=rendered.text, delivery=delivery)
        subject = "" if channel == MarketingChannel.SMS else rendered.subject
        prepared.append(
            (delivery, OutgoingMessage(channel=channel, to=address, subject=subject, text=text, html=html, headers=headers))
        )
        stamps.append(
            (
                delivery.pk,
                consent.pk,
                code.pk if code is not None else None,
                headers.get("Message-ID", "")[:255],
                recommendation.destination if recommendation else "",
                recommendation.reason if recommendation else "",
            )
        )
    _skips_write(skips)
    counts["skipped"] += len(skips)
    if not prepared:
        return [], 0.0
    # Stamped before any is sent, so a send cut short leaves its Message-ID behind (its resend carries it).
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, [*([row[n] for row in stamps] for n in range(6)), DeliveryStatus.PENDING])

    taken: list[int] = []  # accepted by the provider, not marked yet

    def settle(delivery: Delivery, sending: Future) -> None:
        try:
            sending.result()
        except Exception as exc:  # noqa: BLE001 - any provider error: counted, the others still go
            if _failed(delivery, exc):
                logger.warning("delivery %s failed for good: %s", delivery.pk, exc)
                counts["failed"] += 1
            else:
                counts["errors"] += 1
                if errors is not None:
                    errors.append(exc)
            return
        taken.append(delivery.pk)

    def mark() -> None:
        # The messages the provider took, marked sent with their timeline entries by one statement (one round
        # trip, one commit, both or neither). Marked every few messages: a worker killed now resends at most
        # those and the ones on the wire, with their Message-IDs.
        if taken:
            with connection.cursor() as cursor:
                cursor.execute(
                    _MARK_SQL,
                    [DeliveryStatus.SENT, taken, DeliveryStatus.PENDING, "campaign.sent", campaign.name[:300], campaign.pk, channel],
                )  # fmt: skip
                counts["sent"] += cursor.rowcount
            taken.clear()

    # A few messages on the wire at once (each sending thread keeps its own connection): one message's
    # round trips to the provider overlap the next one's building, and the marks stay in this thread.
    # Places under the rate limit are taken for as many messages at a time.
    in_flight: deque[tuple[Delivery, Future]] = deque()
    places = 0
    try:
        for index, (delivery, message) in enumerate(prepared):
            if not places:
                places, wait = rate_limit_take(channel=channel, wanted=min(SEND_CONCURRENCY, len(prepared) - index))
                if not places:
                    # Over the limit: this one and the rest stay pending (no attempt counted) for a later batch.
                    counts["limited"] += len(prepared) - index
                    return [d.pk for d, _m in prepared[index:]], wait
            places -= 1
            in_flight.append((delivery, _sender().submit(message_send, message)))
            if len(in_flight) >= SEND_CONCURRENCY:
                settle(*in_flight.popleft())
                if len(taken) >= SEND_CONCURRENCY:
                    mark()
    finally:
        while in_flight:
            settle(*in_flight.popleft())
        mark()
    return [], 0.0


def deliveries_send_batch(*, delivery_ids: list[int], errors: list[Exception] | None = None) -> dict[str, int]:
    """Send many deliveries with the guarantees of ``delivery_send``: a constant number of statements, plus the marks.

    Claims each delivery with the same try-lock as a single send (one taken elsewhere is left to its holder),
    then takes the send locks of all their customers in ascending order (two batches cannot deadlock; a single
    send holds one customer lock and never waits for a delivery lock). Checks, codes, offers and members are
    loaded for all; the messages the provider took are marked sent every SEND_CONCURRENCY of them (a worker
    killed in between resends those few with their stamped Message-IDs). A provider error counts an
    attempt for that delivery (failed at ``MARKETING_SEND_ATTEMPTS``) and the others go on. Over the rate limit
    it raises ``BatchRateLimited`` naming the deliveries still pending, once the locks are released.
    Returns the counts: sent, skipped, failed, errors (attempt counted, still pending), limited, passed
    (not pending, taken by another send or of a paused campaign: left alone).
    """
    counts = {"sent": 0, "skipped": 0, "failed": 0, "errors": 0, "limited": 0, "passed": 0}
    ids = sorted(set(delivery_ids))
    if not ids:
        return counts
    claimed: list[int] = []
    customer_ids: list[int] = []
    remaining: list[int] = []
    limited_wait = 0.0
    limited_channel = ""
    synchronous_off = False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM unnest(%s::int[]) AS id WHERE pg_try_advisory_lock(%s, id)", [ids, DELIVERY_SEND_LOCK])
            claimed = [row[0] for row in cursor.fetchall()]
        deliveries = (
            list(Delivery.objects.select_related("customer").filter(pk__in=claimed, status=DeliveryStatus.PENDING).order_by("pk"))
            if claimed
            else []
        )
        # The run and its campaign (the templates) once, not once per row.
        runs = CampaignRun.objects.select_related("campaign__offer").in_bulk({d.run_id for d in deliveries})
        for delivery in deliveries:
            delivery.run = runs[delivery.run_id]
        # A paused campaign's deliveries stay pending: resuming it queues them again.
        deliveries = [d for d in deliveries if d.run.campaign.status != CampaignStatus.PAUSED]
        counts["passed"] = len(ids) - len(deliveries)
        customer_ids = sorted({d.customer_id for d in deliveries})
        if not customer_ids:
            return counts
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_lock(%s, id)) FROM (SELECT id FROM unnest(%s::int[]) AS id ORDER BY id) AS ordered",
                [CUSTOMER_SEND_LOCK, customer_ids],
            )
            # Each mark commits on its own; not waiting for the disk, as a single send's mark (see there).
            cursor.execute("SET synchronous_commit TO OFF")
            synchronous_off = True
        campaigns: dict[int, list[Delivery]] = {}
        for delivery in deliveries:
            campaigns.setdefault(delivery.run.campaign_id, []).append(delivery)
        for group in campaigns.values():
            if remaining:
                remaining += [d.pk for d in group]
                continue
            campaign = group[0].run.campaign
            remaining, limited_wait = _batch_campaign_send(campaign, group, counts, errors)
            limited_channel = campaign.channel
    finally:
        with connection.cursor() as cursor:
            if synchronous_off:
                cursor.execute("RESET synchronous_commit")
            if customer_ids:
                cursor.execute(
                    "SELECT count(pg_advisory_unlock(%s, id)) FROM unnest(%s::int[]) AS id", [CUSTOMER_SEND_LOCK, customer_ids]
                )
            if claimed:
                cursor.execute(
                    "SELECT count(pg_advisory_unlock(%s, id)) FROM unnest(%s::int[]) AS id", [DELIVERY_SEND_LOCK, claimed]
                )
    if remaining:
        raise BatchRateLimited(limited_channel, limited_wait, remaining)
    return counts


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
