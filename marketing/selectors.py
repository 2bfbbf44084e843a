"""marketing: reads."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from crm.errors import NotFound
from marketing.models import Offer, PromoCode, PromoCodeStatus, Segment, StaticList

# --- Offers and promo codes -----------------------------------------------------------------------


def offers() -> QuerySet[Offer]:
    """Every offer, newest first, with how many codes were issued and redeemed (one query)."""
    return (
        Offer.objects.select_related("created_by")
        .annotate(
            codes_issued=Count("codes"),
            codes_redeemed=Count("codes", filter=Q(codes__status=PromoCodeStatus.REDEEMED)),
        )
        .order_by("-created_at", "-pk")
    )


def offer_get(*, offer_id: int) -> Offer:
    offer = offers().filter(pk=offer_id).first()
    if offer is None:
        raise NotFound()
    return offer


def offer_codes(*, offer: Offer) -> QuerySet[PromoCode]:
    return PromoCode.objects.filter(offer=offer).select_related("customer").order_by("pk")


def segments() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name", "id")


def segment_get(*, segment_id: int) -> Segment:
    try:
        return segments().get(pk=segment_id)
    except Segment.DoesNotExist:
        raise NotFound("No such segment.") from None


def static_lists() -> QuerySet[StaticList]:
    return StaticList.objects.select_related("created_by").order_by("name", "id")


# --- Campaigns at the office ----------------------------------------------------------------------


def campaigns_for_office(*, status: str = "", kind: str = "") -> QuerySet:
    """Campaigns newest first with their segment (its last count is the audience shown), optionally filtered."""
    from marketing.models import Campaign

    rows = Campaign.objects.select_related("segment").order_by("-created_at", "-pk")
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    return rows


def campaign_for_office(*, campaign_id: int):  # noqa: ANN201
    from marketing.models import Campaign

    campaign = Campaign.objects.select_related("segment", "offer", "created_by", "approved_by").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def campaign_runs_with_counts(*, campaign) -> QuerySet:  # noqa: ANN001
    """The campaign's runs, latest first, each with its deliveries counted by status in the same query."""
    from marketing.models import CampaignRun, DeliveryStatus

    def count(status: str) -> Count:
        return Count("deliveries", filter=Q(deliveries__status=status))

    return (
        CampaignRun.objects.filter(campaign=campaign)
        .annotate(
            sent=count(DeliveryStatus.SENT),
            skipped=count(DeliveryStatus.SKIPPED),
            pending=count(DeliveryStatus.PENDING),
            holdout=count(DeliveryStatus.HOLDOUT),
            failed=count(DeliveryStatus.FAILED),
            total=Count("deliveries"),
        )
        .order_by("-occurrence", "-pk")
    )


def campaign_days(*, campaign, first: date, last: date) -> list[date]:  # noqa: ANN001
    """The days from ``first`` to ``last`` on which the campaign sends, by its schedule (triggered: none).

    Weekly and monthly campaigns repeat on the weekday and the day of the month of their first day (or of
    the day they were created); a monthly one on the 31st goes on the last day of shorter months.
    """
    from marketing.models import CampaignKind, CampaignRepeat

    if campaign.kind == CampaignKind.ONE_OFF:
        if campaign.send_at is None:
            return []
        day = timezone.localtime(campaign.send_at).date()
        return [day] if first <= day <= last else []
    if campaign.kind == CampaignKind.TRIGGERED:
        return []
    anchor = campaign.starts_on or timezone.localtime(campaign.created_at).date()
    start, end = max(first, anchor), min(last, campaign.ends_on or last)
    days = []
    day = start
    while day <= end:
        if campaign.repeat == CampaignRepeat.WEEKLY:
            runs = day.weekday() == anchor.weekday()
        elif campaign.repeat == CampaignRepeat.MONTHLY:
            runs = day.day == min(anchor.day, monthrange(day.year, day.month)[1])
        else:  # daily, and birthday campaigns without a repeat: every day has its birthdays
            runs = True
        if runs:
            days.append(day)
        day += timedelta(days=1)
    return days


def campaign_next_send(*, campaign, today: date | None = None) -> date | None:  # noqa: ANN001
    """The next day the campaign sends (today included), or None when it is over, triggered or completed."""
    from marketing.models import CampaignKind, CampaignStatus

    if campaign.status == CampaignStatus.COMPLETED or campaign.kind == CampaignKind.TRIGGERED:
        return None
    today = today or timezone.localdate()
    if campaign.kind == CampaignKind.ONE_OFF:
        return timezone.localtime(campaign.send_at).date() if campaign.send_at and campaign.send_at > timezone.now() else None
    days = campaign_days(campaign=campaign, first=today, last=today + timedelta(days=62))
    return days[0] if days else None


def campaigns_for_calendar(*, first: date, last: date) -> tuple[list, list]:
    """The campaigns that send between ``first`` and ``last`` with their days, and the triggered ones (two queries)."""
    from marketing.models import Campaign, CampaignKind, CampaignStatus

    start = timezone.make_aware(datetime.combine(first, time.min))
    stop = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
    scheduled = Campaign.objects.filter(
        Q(kind=CampaignKind.ONE_OFF, send_at__gte=start, send_at__lt=stop)
        | (
            Q(kind__in=[CampaignKind.BIRTHDAY, CampaignKind.RECURRING])
            & ~Q(status=CampaignStatus.COMPLETED)
            & (Q(starts_on__isnull=True) | Q(starts_on__lte=last))
            & (Q(ends_on__isnull=True) | Q(ends_on__gte=first))
        )
    ).order_by("name", "pk")
    dated = [(campaign, campaign_days(campaign=campaign, first=first, last=last)) for campaign in scheduled]
    triggered = list(
        Campaign.objects.filter(kind=CampaignKind.TRIGGERED).exclude(status=CampaignStatus.COMPLETED).order_by("name", "pk")
    )
    return [(c, days) for c, days in dated if days], triggered


# --- Campaigns for the API --------------------------------------------------------------------------


def campaigns_for_api(*, status: str = "", kind: str = "") -> QuerySet:
    """Campaigns newest first with what their rows show (segment, offer, who made and approved them): one query."""
    from marketing.models import Campaign

    rows = Campaign.objects.select_related("segment", "offer", "created_by", "approved_by").order_by("-created_at", "-pk")
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    return rows


def campaign_for_api(*, campaign_id: int):  # noqa: ANN201 - a Campaign
    campaign = campaigns_for_api().filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


# --- Campaign results -----------------------------------------------------------------------------


def campaign_for_results(*, campaign_id: int):  # noqa: ANN201 - a Campaign
    from marketing.models import Campaign

    campaign = Campaign.objects.select_related("segment").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def campaigns_results_overview() -> QuerySet:
    """Every campaign with its headline figures, one query: sent, converted, and revenue when in one currency."""
    from django.db.models import Max, Sum

    from marketing.models import Campaign, DeliveryStatus

    sent = Q(runs__deliveries__status=DeliveryStatus.SENT)
    converted = sent & Q(runs__deliveries__converted_at__isnull=False)
    return Campaign.objects.annotate(
        sent=Count("runs__deliveries", filter=sent),
        converted=Count("runs__deliveries", filter=converted),
        revenue=Sum("runs__deliveries__revenue", filter=converted),
        revenue_currencies=Count("runs__deliveries__revenue_currency", filter=converted, distinct=True),
        revenue_currency=Max("runs__deliveries__revenue_currency", filter=converted),
    ).order_by("-created_at", "-pk")


# --- A passenger's own marketing messages ---------------------------------------------------------


def messages_sent_to(*, customer, limit: int = 10) -> list:  # noqa: ANN001
    """The last ``limit`` marketing messages sent to the customer, newest first, with their campaign."""
    from marketing.models import Delivery, DeliveryStatus

    return list(
        Delivery.objects.filter(customer=customer, status=DeliveryStatus.SENT)
        .select_related("run__campaign")
        .order_by("-sent_at", "-pk")[:limit]
    )
