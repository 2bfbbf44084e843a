"""The programme's settings in Django's admin: the one settings row, the tiers and the partners.

The settings row cannot be added or deleted (there is exactly one, pk 1); partners' API keys are issued
by the partner service, so the admin shows only their prefix.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.models import AwardPrice, AwardZone, Partner, Programme, Tier


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("name", "currency_name", "qualification_months", "expiry_months")
    fieldsets = (
        (None, {"fields": (("name", "name_zh"), ("currency_name", "currency_name_zh"))}),
        (
            _("Qualification and expiry"),
            {"fields": ("qualification_months", "tier_warning_days", "expiry_months", "expiry_reminder_days")},
        ),
        (_("Earning"), {"fields": ("minimum_miles_per_segment", "retro_claim_months")}),
        (
            _("Households and transfers"),
            {"fields": ("household_max_members", "transfer_fee_percent", "transfer_minimum_miles", "transfer_yearly_cap")},
        ),
        (_("Control"), {"fields": ("adjustment_approval_threshold", "fraud_login_change_hours")}),
        (_("Finance"), {"fields": ("value_per_mile", "value_currency", "breakage_percent", "breakage_history_minimum_miles")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Programme | None = None) -> bool:
        return False


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "rank", "qualifying_miles", "qualifying_segments", "bonus_percent", "lounge_access")
    ordering = ("rank",)

    def has_delete_permission(self, request: HttpRequest, obj: Tier | None = None) -> bool:
        """A tier with members cannot go (the members would lose their tier); an empty one may."""
        if obj is not None and obj.members.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "price_per_mile", "currency", "daily_miles_alert", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "code")
    readonly_fields = ("api_key_prefix", "created_at")
    exclude = ("api_key_hash",)


class AwardPriceInline(admin.TabularInline):
    model = AwardPrice
    extra = 0


@admin.register(AwardZone)
class AwardZoneAdmin(admin.ModelAdmin):
    """The award chart: each distance zone with the miles a traveller pays per flight in each cabin."""

    list_display = ("name", "max_distance_miles")
    inlines = [AwardPriceInline]
