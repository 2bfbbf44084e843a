"""marketing: selectors."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm.errors import NotFound
from marketing.models import Offer, PromoCode, PromoCodeStatus

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
