"""Public flight search, seat maps and flight status: no personal data, throttled per client address."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.errors import ApplicationError
from crm.models import Cabin
from reservations import selectors
from reservations.api.common import FieldsBuiltOnce, LocalTimeField, error
from reservations.models import (
    Airport,
    FareFamily,
    Flight,
    PassengerType,
)


class AirportSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    country = serializers.CharField(read_only=True)

    class Meta:
        model = Airport
        fields = ("iata_code", "name", "city", "country", "time_zone")
        read_only_fields = fields


class FlightSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    flight_code = serializers.CharField(read_only=True, help_text="Airline designator and number, e.g. `AU123`.")
    origin = AirportSerializer(read_only=True)
    destination = AirportSerializer(read_only=True)
    scheduled_departure = LocalTimeField(time="scheduled_departure", airport="origin")
    scheduled_arrival = LocalTimeField(time="scheduled_arrival", airport="destination")
    estimated_departure = LocalTimeField(time="estimated_departure", airport="origin", allow_null=True)
    estimated_arrival = LocalTimeField(time="estimated_arrival", airport="destination", allow_null=True)
    duration_minutes = serializers.IntegerField(read_only=True)
    aircraft = serializers.CharField(source="aircraft_type.name", read_only=True)

    class Meta:
        model = Flight
        fields = (
            "id", "flight_code", "service_date", "origin", "destination", "scheduled_departure", "scheduled_arrival",
            "estimated_departure", "estimated_arrival", "duration_minutes", "aircraft", "status", "gate",
        )  # fmt: skip
        read_only_fields = fields


class FlightStatusSerializer(FlightSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta(FlightSerializer.Meta):
        fields = (*FlightSerializer.Meta.fields, "status_display", "status_reason")
        read_only_fields = fields


class FareFamilySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """What the fare allows: the rules that changes, refunds, bags and seat selection follow."""

    class Meta:
        model = FareFamily
        fields = (
            "code", "name", "cabin", "currency", "refundable", "changeable", "change_fee", "cancellation_fee",
            "baggage_pieces", "baggage_kg", "seat_selection_fee", "miles_earn_percent",
        )  # fmt: skip
        read_only_fields = fields


class TaxLineSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class PassengerPriceSerializer(serializers.Serializer):
    passenger_type = serializers.ChoiceField(choices=PassengerType.choices)
    count = serializers.IntegerField(help_text="How many passengers of this type the search asked for.")
    fare = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Per passenger.")
    taxes = TaxLineSerializer(many=True, help_text="Per passenger, itemised.")
    total = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Fare and taxes, per passenger.")


class SegmentOfferSerializer(serializers.Serializer):
    """One flight's part of an offer: its booking class, fare and the taxes of its own departure."""

    flight_id = serializers.IntegerField()
    booking_class = serializers.CharField(source="booking_class.code")
    seats_left = serializers.IntegerField(help_text="Seats left in the cabin of this flight right now.")
    fare_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    taxes_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="For the whole party, on this flight.")
    prices = serializers.SerializerMethodField()

    @extend_schema_field(PassengerPriceSerializer(many=True))
    def get_prices(self, offer) -> list[dict[str, Any]]:  # noqa: ANN001
        return _passenger_prices(offer)


def _passenger_prices(offer: Any) -> list[dict[str, Any]]:
    rows = [
        {"passenger_type": t, "count": n, "fare": p.fare, "taxes": p.taxes, "total": p.total}
        for t, p in offer.prices.items()
        if (n := offer.counts.get(t, 0))
    ]
    return PassengerPriceSerializer(rows, many=True).data


class OfferSerializer(serializers.Serializer):
    """One fare family over the whole option (a flight or a journey with a change): one price, one set of rules."""

    fare_family = FareFamilySerializer()
    booking_class = serializers.SerializerMethodField()
    currency = serializers.CharField()
    seats_left = serializers.IntegerField(help_text="Seats left in the cabin right now.")
    fare_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    taxes_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="For the whole party.")
    prices = serializers.SerializerMethodField()
    segments = serializers.SerializerMethodField()
    base_miles = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.CharField(help_text="The booking class, or each flight's joined by `/` for a journey, e.g. `L/M`.")
    )
    def get_booking_class(self, offer) -> str:  # noqa: ANN001
        return "/".join(o.booking_class.code for o in selectors.offer_segments(offer))

    @extend_schema_field(PassengerPriceSerializer(many=True))
    def get_prices(self, offer) -> list[dict[str, Any]]:  # noqa: ANN001
        return _passenger_prices(offer)

    @extend_schema_field(SegmentOfferSerializer(many=True, help_text="Each flight's part, in order: book one segment each."))
    def get_segments(self, offer) -> list[dict[str, Any]]:  # noqa: ANN001
        return SegmentOfferSerializer(selectors.offer_segments(offer), many=True).data

    @extend_schema_field(
        serializers.IntegerField(help_text="Miles the journey earns per traveller before any tier bonus, all flights together.")
    )
    def get_base_miles(self, offer) -> int:  # noqa: ANN001
        return selectors.base_miles(flights=self.context["flights"], fare_family=offer.fare_family)


class LowestSerializer(serializers.Serializer):
    fare_family = serializers.CharField(source="fare_family.code")
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()


class LayoverSerializer(serializers.Serializer):
    airport = AirportSerializer()
    minutes = serializers.IntegerField(help_text="From landing to the next flight's scheduled departure.")


class FlightOptionSerializer(serializers.Serializer):
    """A direct flight, or a journey with one change of plane (``stops`` 1) booked as one, its flights in order."""

    key = serializers.CharField(help_text="The option's flight ids joined by `-`, e.g. `12` or `12-40`.")
    flight = FlightSerializer(help_text="The first (for a direct flight, the only) flight.")
    flights = FlightSerializer(many=True, help_text="Every flight of the option, in order: one segment each.")
    stops = serializers.IntegerField(help_text="Changes of plane: 0 for a direct flight.")
    layovers = LayoverSerializer(many=True, help_text="Where and how long each change is.")
    duration_minutes = serializers.IntegerField(help_text="From the first departure to the last arrival.")
    seats_left = serializers.IntegerField(help_text="Seats left in the searched cabin right now (on the fullest flight).")
    sold_out = serializers.BooleanField(help_text="No fare is open for the whole party.")
    lowest = LowestSerializer(allow_null=True)
    offers = serializers.SerializerMethodField()

    @extend_schema_field(
        OfferSerializer(many=True, help_text="One per fare family open for the party on every flight, cheapest first.")
    )
    def get_offers(self, option) -> list[dict[str, Any]]:  # noqa: ANN001
        return OfferSerializer(option.offers, many=True, context={"flights": option.flights}).data


class FlightSearchResultSerializer(serializers.Serializer):
    results = FlightOptionSerializer(many=True)


SALES_HORIZON = timedelta(days=366)


class FlightSearchQuerySerializer(serializers.Serializer):
    origin = serializers.CharField(min_length=3, max_length=3, help_text="IATA airport code, e.g. `LHR`.")
    destination = serializers.CharField(min_length=3, max_length=3, help_text="IATA airport code, e.g. `CDG`.")
    date = serializers.DateField(help_text="Local departure date at the origin, `YYYY-MM-DD`.")
    cabin = serializers.ChoiceField(choices=Cabin.choices, default=Cabin.ECONOMY)
    adults = serializers.IntegerField(min_value=1, max_value=9, default=1)
    children = serializers.IntegerField(min_value=0, max_value=8, default=0, help_text="Aged 2-11 on the day.")
    infants = serializers.IntegerField(min_value=0, max_value=9, default=0, help_text="Under 2, on an adult's lap.")
    sort = serializers.ChoiceField(choices=[(k, k) for k in selectors.SORT_KEYS], default="price")
    connections = serializers.BooleanField(
        default=True, help_text="Also journeys with one change of plane (through the hub); `false`: direct flights only."
    )

    def validate_date(self, value: date) -> date:
        if value > timezone.localdate() + SALES_HORIZON:
            raise serializers.ValidationError(_("Flights are on sale up to a year ahead."))
        return value


class FlightNumberField(serializers.CharField):
    """A flight number as typed: one that is not ours, a NUL character or only spaces included, is simply not found
    (404); the lookup itself ignores whitespace, so none is trimmed here into a blank the schema does not forbid."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


class FlightStatusQuerySerializer(serializers.Serializer):
    flight = FlightNumberField(max_length=10, help_text="Flight number, e.g. `AU123`, `AU 123` or `123`.")
    date = serializers.DateField(help_text="Local departure date at the origin, `YYYY-MM-DD`.")


class SeatMapQuerySerializer(serializers.Serializer):
    cabin = serializers.ChoiceField(choices=Cabin.choices, required=False, help_text="Only this cabin's rows.")


class SeatMapSeatSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="e.g. `12C`")
    letter = serializers.CharField()
    status = serializers.CharField(help_text="`available`, `exit` (free, at an emergency exit), `taken` or `blocked`.")
    selectable = serializers.BooleanField()
    exit_row = serializers.BooleanField()
    window = serializers.BooleanField()
    aisle = serializers.BooleanField()


class SeatMapRowSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    cabin = serializers.ChoiceField(choices=Cabin.choices)
    exit_row = serializers.BooleanField()
    blocks = serializers.ListField(
        child=SeatMapSeatSerializer(many=True), help_text="Groups of seats between the aisles, left to right."
    )


class SeatMapSerializer(serializers.Serializer):
    flight = FlightSerializer()
    cabins = serializers.ListField(child=serializers.ChoiceField(choices=Cabin.choices))
    rows = SeatMapRowSerializer(many=True)


FLIGHT_ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _query(request: Request) -> dict[str, str]:
    """The query string as plain values: an optional parameter sent empty (`?cabin=`) is refused like any other
    value that is not one of its kind, instead of being read as absent (DRF's reading of HTML form input)."""
    return request.query_params.dict()


class PublicReadMixin:
    """Public reads: anyone may call, throttled per client address (or per login when logged in)."""

    permission_classes = [permissions.AllowAny]


class FlightViewSet(PublicReadMixin, viewsets.GenericViewSet):
    """Flights with live seat counts and prices; public like the airline's timetable."""

    queryset = Flight.objects.none()
    serializer_class = FlightSerializer
    lookup_value_regex = "[0-9]{1,18}"
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Search flights",
        description="Flights from `origin` to `destination` leaving on `date` (local), direct or with one change of "
        "plane (a journey through the hub, within each airport's minimum connecting time and the longest layover), "
        "each with one offer per fare family still open for the whole party on every flight: one price for the "
        "journey, priced per passenger type with each flight's taxes itemised, and the seats left in the cabin now. "
        "Book a journey as one booking with one segment per flight of `flights`. At most 9 seats (adults and "
        "children); no more infants than adults.",
        parameters=[FlightSearchQuerySerializer],
        responses=FlightSearchResultSerializer,
        auth=[],
    )
    @action(detail=False, methods=["get"])
    def search(self, request: Request, **kwargs: Any) -> Response:
        query = FlightSearchQuerySerializer(data=_query(request))
        query.is_valid(raise_exception=True)
        q = query.validated_data
        try:
            options = selectors.flight_search(
                origin=q["origin"],
                destination=q["destination"],
                departure_date=q["date"],
                cabin=q["cabin"],
                adults=q["adults"],
                children=q["children"],
                infants=q["infants"],
                sort=q["sort"],
                connections=q["connections"],
            )
        except ApplicationError as refused:
            refused.fields = {("date" if k == "departure_date" else k): v for k, v in refused.fields.items()}
            raise
        return Response(FlightSearchResultSerializer({"results": options}).data)

    @extend_schema(
        summary="Seat map of a flight",
        description="Every seat of the aircraft, row by row and cabin by cabin, split at the aisles, with its live "
        "status: `available`, `exit` (free, at an emergency exit: not for children, infants' adults or travellers "
        "needing assistance), `taken` or `blocked`. Who holds a seat is never shown.",
        parameters=[FLIGHT_ID_PARAM, SeatMapQuerySerializer],
        responses=SeatMapSerializer,
        auth=[],
    )
    @action(detail=True, methods=["get"], url_path="seat-map")
    def seat_map(self, request: Request, pk: str, **kwargs: Any) -> Response:
        query = SeatMapQuerySerializer(data=_query(request))
        query.is_valid(raise_exception=True)
        flight = selectors.flight_get(flight_id=pk)
        seat_map = selectors.seat_map(flight=flight, cabin=query.validated_data.get("cabin") or None)
        return Response(SeatMapSerializer(seat_map).data)


class FlightStatusView(PublicReadMixin, APIView):
    """A flight's status by number and date, for anyone (the portal's status page, airport screens)."""

    @extend_schema(
        operation_id="flight_status_retrieve",
        summary="Flight status",
        description="Scheduled and estimated times, gate and status of one flight on one local departure date.",
        parameters=[FlightStatusQuerySerializer],
        responses={200: FlightStatusSerializer, 404: error("`not_found`: no flight with this number on this date.")},
        auth=[],
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        query = FlightStatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        flight = selectors.flight_status_lookup(
            flight_code=query.validated_data["flight"], service_date=query.validated_data["date"]
        )
        return Response(FlightStatusSerializer(flight).data)
