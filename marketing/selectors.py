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


# --- A passenger's own marketing messages ---------------------------------------------------------


def messages_sent_to(*, customer, limit: int = 10) -> list:  # noqa: ANN001
    """The last ``limit`` marketing messages sent to the customer, newest first, with their campaign."""
    from marketing.models import Delivery, DeliveryStatus

    return list(
        Delivery.objects.filter(customer=customer, status=DeliveryStatus.SENT)
        .select_related("run__campaign")
        .order_by("-sent_at", "-pk")[:limit]
    )
