"""Check-in input and boarding passes."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reservations.api.common import AirportTimeField, StrictSerializer
from reservations.api.payments import IDEMPOTENCY_KEY, CardInputSerializer
from reservations.models import PaymentMethod


class CheckInSeatInputSerializer(StrictSerializer):
    passenger = serializers.IntegerField(min_value=1, max_value=99, help_text="Passenger sequence.")
    seat = serializers.RegexField(r"^[0-9]{1,3}[A-Za-z]$", max_length=4, help_text="e.g. `12C`.")


class BagsInputSerializer(StrictSerializer):
    passenger = serializers.IntegerField(min_value=1, max_value=99)
    weights_kg = serializers.ListField(
        child=serializers.DecimalField(max_digits=4, decimal_places=1, min_value=Decimal("0.1"), max_value=Decimal("99")),
        max_length=9,
        help_text="One weight per checked bag.",
    )
    hand_carry = serializers.IntegerField(min_value=0, max_value=9, default=0, help_text="Cabin bags.")


class CheckInPaymentInputSerializer(StrictSerializer):
    """How the check-in's fees (extra bags, seats, anything still due) are paid before the boarding passes."""

    method = serializers.ChoiceField(
        choices=[PaymentMethod.CARD, PaymentMethod.COUNTER], help_text="`counter` is for staff only."
    )
    card = CardInputSerializer(required=False, help_text="For `card`: used once for the charge; never stored.")
    idempotency_key = serializers.RegexField(
        IDEMPOTENCY_KEY.pattern, help_text="1-64 visible ASCII characters, new for each check-in payment you mean."
    )
    expected_total = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False,
        help_text="The amount the passenger was shown; if the fees differ now, nothing is charged (409 `quote_changed`).",
    )  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        if attrs["method"] == PaymentMethod.CARD and "card" not in attrs:
            raise serializers.ValidationError({"card": [_("Enter the card details.")]})
        return attrs


FREQUENT_FLYER_HELP = (
    "The traveller's frequent flyer number, checked as at booking: its check digit, an active member, the "
    "traveller's family name (400 `invalid_frequent_flyer_number`, `unknown_frequent_flyer_number`, "
    "`frequent_flyer_name_mismatch`). Empty removes it."
)


class FrequentFlyerNumberInputSerializer(StrictSerializer):
    passenger = serializers.IntegerField(min_value=1, max_value=99, help_text="Passenger sequence.")
    frequent_flyer_number = serializers.CharField(max_length=20, allow_blank=True, help_text=FREQUENT_FLYER_HELP)


class CheckInInputSerializer(StrictSerializer):
    segment = serializers.IntegerField(min_value=1, max_value=99, help_text="Segment sequence.")
    passengers = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=99), allow_empty=False, min_length=1, max_length=18,
        help_text="Sequences of the passengers to check in.",
    )  # fmt: skip
    seats = CheckInSeatInputSerializer(
        many=True, required=False, max_length=18, help_text="Seats to choose while checking in; the others are allocated."
    )
    bags = BagsInputSerializer(many=True, required=False, max_length=18)
    frequent_flyer_numbers = FrequentFlyerNumberInputSerializer(
        many=True, required=False, max_length=18,
        help_text="Frequent flyer numbers to add, correct or remove first, all or none: they are saved before "
        "anyone is checked in (so a tier's free bags count in the fees), and stay saved if the check-in itself "
        "is then refused. A refused number checks nobody in; its message is under "
        "`frequent_flyer_numbers.<n>.frequent_flyer_number`.",
    )  # fmt: skip
    payment = CheckInPaymentInputSerializer(
        required=False,
        help_text="Needed when the check-in has fees: without it such a check-in is refused (402 `payment_required`) "
        "and nobody is checked in.",
    )


class CheckInSerializer(serializers.Serializer):
    passenger = serializers.IntegerField(source="passenger.sequence")
    segment = serializers.IntegerField(source="segment.sequence")
    flight_code = serializers.CharField(source="flight.flight_code")
    seat = serializers.CharField()
    sequence_number = serializers.IntegerField()
    bags = serializers.IntegerField()
    bag_weights_kg = serializers.ListField(child=serializers.DecimalField(max_digits=5, decimal_places=1))
    hand_carry = serializers.IntegerField()
    excess_baggage_fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    checked_in_at = serializers.DateTimeField()


@extend_schema_field(OpenApiTypes.DATETIME)
class BoardingPassSerializer(serializers.Serializer):
    passenger = serializers.IntegerField(source="check_in.passenger.sequence", help_text="Passenger sequence.")
    segment = serializers.IntegerField(source="check_in.segment.sequence", help_text="Segment sequence.")
    passenger_name = serializers.CharField(help_text="FAMILY/GIVEN, as printed.")
    passenger_type = serializers.CharField()
    record_locator = serializers.CharField()
    ticket_number = serializers.CharField()
    flight_code = serializers.CharField()
    origin = serializers.CharField(source="flight.origin.iata_code")
    destination = serializers.CharField(source="flight.destination.iata_code")
    cabin = serializers.CharField()
    fare_family = serializers.CharField()
    departure = AirportTimeField(help_text="Local time at the origin.")
    arrival = AirportTimeField(help_text="Local time at the destination.")
    boarding = AirportTimeField()
    gate_closes = AirportTimeField()
    gate = serializers.CharField()
    seat = serializers.CharField()
    sequence = serializers.IntegerField(help_text="Check-in sequence number on the flight.")
    zone = serializers.IntegerField(help_text="Boarding zone.")
    bags = serializers.IntegerField()
    hand_carry = serializers.IntegerField()
    ssr_codes = serializers.ListField(child=serializers.CharField())
    bcbp = serializers.CharField(
        source="barcode", help_text="IATA BCBP string (Resolution 792, format M): the data of the PDF417 barcode."
    )


_CHECK_IN_FIELD = re.compile(r"^(?P<name>passengers|bags|hand_carry)\.(?P<pk>\d+)(?:\.(?P<field>\w+))?$")


def _check_in_fields(
    fields: dict, *, chosen: list[int], bag_entry: dict[int, int], number_entry: dict[int, int] | None = None
) -> dict:
    """check_in names travellers by id ("bags.812", "passengers.812.frequent_flyer_number"); the API names the
    entry of the request ("bags.0.weights_kg", "frequent_flyer_numbers.0.frequent_flyer_number", or the
    traveller's place in ``passengers`` for a number they already had)."""
    number_entry = number_entry or {}
    renamed: dict[str, list[str]] = {}
    for key, messages in fields.items():
        match = _CHECK_IN_FIELD.match(key)
        if match is None:
            renamed[key] = messages
            continue
        name, pk = match["name"], int(match["pk"])
        if name == "passengers" and match["field"] == "frequent_flyer_number" and pk in number_entry:
            key = f"frequent_flyer_numbers.{number_entry[pk]}.frequent_flyer_number"
        elif name == "passengers":
            key = f"passengers.{chosen.index(pk)}" if pk in chosen else "passengers"
        elif pk in bag_entry:
            key = f"bags.{bag_entry[pk]}.{'weights_kg' if name == 'bags' else 'hand_carry'}"
        else:
            key = "bags"
        renamed.setdefault(key, []).extend(messages)
    return renamed
