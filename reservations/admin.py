"""Django admin for reference data: airports, aircraft and seat maps, routes, fares and taxes.

Flights and bookings are shown read-only: their seats, status and money change only through the
services, which keep inventory, events and the passengers' timelines right.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from reservations.models import (
    AircraftType,
    Airport,
    Booking,
    BookingClass,
    FareFamily,
    Flight,
    FlightCabin,
    Route,
    SeatMapSection,
    TaxRule,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible to administrators, changed only by the services."""

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


def _local(moment, airport: Airport) -> str:  # noqa: ANN001
    """In the airport's own time, as timetables and passengers read it."""
    if moment is None:
        return "-"
    return f"{moment.astimezone(ZoneInfo(airport.time_zone)):%Y-%m-%d %H:%M %Z}"


@admin.register(Airport)
class AirportAdmin(admin.ModelAdmin):
    list_display = ("iata_code", "icao_code", "name", "city", "city_zh", "country", "time_zone")
    list_filter = ("country",)
    search_fields = ("iata_code", "icao_code", "name", "name_zh", "city", "city_zh")


class SeatMapSectionInline(admin.TabularInline):
    model = SeatMapSection
    extra = 0


@admin.register(AircraftType)
class AircraftTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "seats")
    search_fields = ("code", "name")
    inlines = [SeatMapSectionInline]

    def get_queryset(self, request):  # noqa: ANN001, ANN201
        return super().get_queryset(request).prefetch_related("sections")

    @admin.display(description=_("seats"))
    def seats(self, obj: AircraftType) -> int:
        return sum(len(section.seats()) for section in obj.sections.all())


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ("__str__", "origin", "destination", "distance_km", "block_minutes")
    list_select_related = ("origin", "destination")
    search_fields = ("origin__iata_code", "destination__iata_code", "origin__city", "destination__city")
    autocomplete_fields = ("origin", "destination")


class FlightCabinInline(admin.TabularInline):
    model = FlightCabin
    fields = ("cabin", "capacity", "available", "load")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description=_("load factor"))
    def load(self, obj: FlightCabin) -> str:
        return f"{obj.load_factor:.0%}"


@admin.register(Flight)
class FlightAdmin(ReadOnlyAdmin):
    list_display = ("flight_code", "service_date", "origin", "destination", "departs_local", "arrives_local", "aircraft_type", "status")  # fmt: skip
    list_filter = ("status", "service_date", "aircraft_type")
    list_select_related = ("origin", "destination", "aircraft_type")
    search_fields = ("=flight_number", "origin__iata_code", "destination__iata_code")
    date_hierarchy = "service_date"
    inlines = [FlightCabinInline]

    @admin.display(description=_("departs (local time)"), ordering="scheduled_departure")
    def departs_local(self, obj: Flight) -> str:
        return _local(obj.scheduled_departure, obj.origin)

    @admin.display(description=_("arrives (local time)"), ordering="scheduled_arrival")
    def arrives_local(self, obj: Flight) -> str:
        return _local(obj.scheduled_arrival, obj.destination)


class BookingClassInline(admin.TabularInline):
    model = BookingClass
    extra = 0


@admin.register(FareFamily)
class FareFamilyAdmin(admin.ModelAdmin):
    list_display = (
        "code", "name", "cabin", "refundable", "changeable", "change_fee", "cancellation_fee",
        "baggage_pieces", "seat_selection_fee", "miles_earn_percent", "currency",
    )  # fmt: skip
    list_filter = ("cabin", "refundable")
    search_fields = ("code", "name")
    inlines = [BookingClassInline]


@admin.register(BookingClass)
class BookingClassAdmin(admin.ModelAdmin):
    list_display = ("code", "fare_family", "price_per_km", "minimum_fare", "closes_at_load_factor")
    list_select_related = ("fare_family",)
    list_filter = ("fare_family__cabin", "fare_family")
    search_fields = ("code",)


@admin.register(TaxRule)
class TaxRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "amount", "currency", "origin_country", "applies_to_infants")
    list_filter = ("origin_country", "applies_to_infants")
    search_fields = ("code", "name")


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    """Figures only; the passengers' personal data is read in the office, where each view is logged."""

    list_display = ("record_locator", "status", "trip_type", "channel", "seats", "total_amount", "paid_amount", "currency", "created_at")  # fmt: skip
    fields = (
        "record_locator", "status", "trip_type", "channel", "purpose", "adults", "children", "infants",
        "currency", "total_amount", "paid_amount", "refunded_amount", "hold_expires_at", "created_at", "cancelled_at",
    )  # fmt: skip
    list_filter = ("status", "channel", "trip_type")
    search_fields = ("=record_locator",)
    date_hierarchy = "created_at"
