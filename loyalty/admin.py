"""loyalty: admin."""

from django.contrib import admin

from loyalty.models import AwardPrice, AwardZone


class AwardPriceInline(admin.TabularInline):
    model = AwardPrice
    extra = 0


@admin.register(AwardZone)
class AwardZoneAdmin(admin.ModelAdmin):
    """The award chart: each distance zone with the miles a traveller pays per flight in each cabin."""

    list_display = ("name", "max_distance_miles")
    inlines = [AwardPriceInline]
