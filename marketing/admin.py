"""marketing: admin."""

from django.contrib import admin

from marketing.models import Offer, PromoCode

# --- Offers and promo codes -----------------------------------------------------------------------


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "value", "currency", "valid_from", "valid_until", "is_partner_offer"]
    list_filter = ["kind", "is_partner_offer"]
    search_fields = ["name", "partner_name"]


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "offer", "customer", "status", "issued_at", "redeemed_record_locator", "redeemed_at"]
    list_filter = ["status"]
    search_fields = ["code", "redeemed_record_locator"]
    list_select_related = ["offer", "customer"]
    raw_id_fields = ["offer", "customer", "redeemed_booking"]
    readonly_fields = ["status", "redeemed_booking", "redeemed_record_locator", "redeemed_at", "released_at"]
