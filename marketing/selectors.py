"""marketing: reads."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

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
