"""Reservations: airports, aircraft and seat maps, flights and their seat inventory, fares, bookings
(PNR), payments, refunds, e-tickets with coupons, check-in.

Seat inventory lives in ``FlightCabin.available`` and changes only inside ``reservations.services``
(conditional UPDATE), with a CHECK constraint behind it so the database itself refuses an oversell.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Concat, Lower
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from encrypted_fields.fields import EncryptedCharField
from phonenumber_field.modelfields import PhoneNumberField

from crm.languages import in_language
from crm.models import AssistanceCode, Cabin, MealCode, Title, TravelPurpose

# Record locators avoid 0/O, 1/I/L so they survive being read over the phone.
RECORD_LOCATOR_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECORD_LOCATOR_LENGTH = 6
MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


def new_record_locator() -> str:
    return "".join(secrets.choice(RECORD_LOCATOR_ALPHABET) for _ in range(RECORD_LOCATOR_LENGTH))


# --- Reference data ---------------------------------------------------------------------------


class Airport(models.Model):
    """An airport from the maintained ``airportsdata`` package (IATA code, place, time zone).

    The city and name are kept in English, read by everyone, and in Chinese for the airports the airline
    serves, read in Chinese pages: ``local_city``, ``local_name`` and ``label`` pick the reader's form.
    """

    iata_code = models.CharField(_("IATA code"), max_length=3, unique=True)
    icao_code = models.CharField(_("ICAO code"), max_length=4, blank=True)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("name in Chinese"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    city_zh = models.CharField(_("city in Chinese"), max_length=100, blank=True)
    country = CountryField(_("country"))
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    time_zone = models.CharField(_("time zone"), max_length=64, help_text=_("IANA name, e.g. Europe/London"))
    minimum_connection_minutes = models.PositiveSmallIntegerField(
        _("minimum connecting time (minutes)"),
        default=45,
        help_text=_("The shortest time from landing here to the next flight's departure that search offers and booking accepts"),
    )

    class Meta:
        verbose_name = _("airport")
        verbose_name_plural = _("airports")
        ordering = ["iata_code"]

    def __str__(self) -> str:
        return self.label()

    def local_name(self, language: str | None = None) -> str:
        """The airport's name in the reader's language (the active one unless given)."""
        return in_language(self.name, self.name_zh, language=language)

    def local_city(self, language: str | None = None) -> str:
        """The city in the reader's language, or the airport's name where the city is not known."""
        return in_language(self.city, self.city_zh, language=language) or self.local_name(language)

    def label(self, language: str | None = None) -> str:
        """How a passenger finds the airport: "London (LHR)", "伦敦 (LHR)"."""
        return f"{self.local_city(language)} ({self.iata_code})"


class AircraftType(models.Model):
    """An aircraft type with its seat map (one section per cabin)."""

    code = models.CharField(_("code"), max_length=4, unique=True, help_text=_("IATA aircraft type code, e.g. 320"))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("aircraft type")
        verbose_name_plural = _("aircraft types")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class SeatMapSection(models.Model):
    """Rows ``first_row``..``last_row`` of one cabin.

    ``layout`` is the seat letters left to right with a space for each aisle ("ABC DEF");
    ``blocked_seats`` are never sold (crew rest, missing seats), ``exit_rows`` are shown and restricted.
    """

    aircraft_type = models.ForeignKey(AircraftType, on_delete=models.CASCADE, related_name="sections")
    cabin = models.CharField(_("cabin"), max_length=20, choices=Cabin.choices)
    first_row = models.PositiveSmallIntegerField(_("first row"))
    last_row = models.PositiveSmallIntegerField(_("last row"))
    layout = models.CharField(_("layout"), max_length=20, help_text=_('Seat letters with a space per aisle: "ABC DEF"'))
    exit_rows = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True, verbose_name=_("exit rows"))
    blocked_seats = ArrayField(models.CharField(max_length=4), default=list, blank=True, verbose_name=_("blocked seats"))

    class Meta:
        verbose_name = _("seat map section")
        verbose_name_plural = _("seat map sections")
        ordering = ["aircraft_type", "first_row"]
        constraints = [models.CheckConstraint(condition=Q(last_row__gte=F("first_row")), name="seat_section_rows_ordered")]

    @property
    def letters(self) -> list[str]:
        return [ch for ch in self.layout if ch != " "]

    def seats(self) -> list[str]:
        """Every sellable seat in this section, row by row."""
        blocked = set(self.blocked_seats)
        return [
            f"{row}{letter}"
            for row in range(self.first_row, self.last_row + 1)
            for letter in self.letters
            if f"{row}{letter}" not in blocked
        ]


class Route(models.Model):
    origin = models.ForeignKey(Airport, on_delete=models.PROTECT, related_name="routes_out")
    destination = models.ForeignKey(Airport, on_delete=models.PROTECT, related_name="routes_in")
    distance_km = models.PositiveIntegerField(_("distance (km)"))
    block_minutes = models.PositiveSmallIntegerField(_("block time (minutes)"))

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        constraints = [
            models.UniqueConstraint(fields=["origin", "destination"], name="route_unique"),
            models.CheckConstraint(condition=~Q(origin=F("destination")), name="route_distinct_airports"),
        ]

    def __str__(self) -> str:
        return f"{self.origin.iata_code}-{self.destination.iata_code}"


class FlightStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("On time")
    DELAYED = "delayed", _("Delayed")
    BOARDING = "boarding", _("Boarding")
    DEPARTED = "departed", _("Departed")
    ARRIVED = "arrived", _("Arrived")
    CANCELLED = "cancelled", _("Cancelled")


class Flight(models.Model):
    """One operated flight: airline designator + number on a local departure date."""

    airline_designator = models.CharField(_("airline"), max_length=3, default="AU")
    flight_number = models.PositiveSmallIntegerField(_("flight number"))
    service_date = models.DateField(_("date"), help_text=_("Local departure date at the origin"))
    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="flights")
    origin = models.ForeignKey(Airport, on_delete=models.PROTECT, related_name="departures")
    destination = models.ForeignKey(Airport, on_delete=models.PROTECT, related_name="arrivals")
    aircraft_type = models.ForeignKey(AircraftType, on_delete=models.PROTECT, related_name="flights")
    scheduled_departure = models.DateTimeField(_("scheduled departure"))
    scheduled_arrival = models.DateTimeField(_("scheduled arrival"))
    estimated_departure = models.DateTimeField(_("estimated departure"), null=True, blank=True)
    estimated_arrival = models.DateTimeField(_("estimated arrival"), null=True, blank=True)
    gate = models.CharField(_("gate"), max_length=8, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=FlightStatus.choices, default=FlightStatus.SCHEDULED)
    status_reason = models.CharField(_("reason"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("flight")
        verbose_name_plural = _("flights")
        ordering = ["scheduled_departure", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["airline_designator", "flight_number", "service_date"], name="flight_number_date_unique"
            ),
            models.CheckConstraint(
                condition=Q(scheduled_arrival__gt=F("scheduled_departure")), name="flight_arrives_after_departure"
            ),
        ]
        indexes = [models.Index(fields=["origin", "destination", "scheduled_departure"], name="flight_market_departure")]

    def __str__(self) -> str:
        return f"{self.flight_code} {self.service_date:%d%b}".upper()

    @property
    def flight_code(self) -> str:
        return f"{self.airline_designator}{self.flight_number}"

    @property
    def departure_time(self):  # noqa: ANN201 - the best-known departure time
        return self.estimated_departure or self.scheduled_departure

    @property
    def arrival_time(self):  # noqa: ANN201
        return self.estimated_arrival or self.scheduled_arrival

    @property
    def duration_minutes(self) -> int:
        return int((self.scheduled_arrival - self.scheduled_departure).total_seconds() // 60)


class FlightCabin(models.Model):
    """Live seat inventory of one cabin on one flight: the only place seats are counted."""

    flight = models.ForeignKey(Flight, on_delete=models.CASCADE, related_name="cabins")
    cabin = models.CharField(_("cabin"), max_length=20, choices=Cabin.choices)
    capacity = models.PositiveSmallIntegerField(_("capacity"))
    available = models.IntegerField(_("seats available"))

    class Meta:
        verbose_name = _("flight cabin")
        verbose_name_plural = _("flight cabins")
        constraints = [
            models.UniqueConstraint(fields=["flight", "cabin"], name="flight_cabin_unique"),
            models.CheckConstraint(condition=Q(available__gte=0), name="flight_cabin_available_not_negative"),
            models.CheckConstraint(condition=Q(available__lte=F("capacity")), name="flight_cabin_available_within_capacity"),
        ]

    @property
    def sold(self) -> int:
        return self.capacity - self.available

    @property
    def load_factor(self) -> Decimal:
        return Decimal(self.sold) / Decimal(self.capacity) if self.capacity else Decimal(1)


# --- Fares ------------------------------------------------------------------------------------


# The airline's own fare family names (``reservations.services.reference.FARE_FAMILIES``), shown in the reader's
# language; a family the admin names otherwise is shown as written.
FARE_FAMILY_NAMES = {
    "Light": pgettext_lazy("fare family", "Light"),
    "Standard": pgettext_lazy("fare family", "Standard"),
    "Flex": pgettext_lazy("fare family", "Flex"),
}


def fare_family_name(name: str) -> str:
    """A fare family's name in the reader's language: ours translated, others as the admin wrote them."""
    return str(FARE_FAMILY_NAMES.get(name, name))


class FareFamily(models.Model):
    """What a fare allows (Light / Standard / Flex): the rules changes, refunds and check-in apply."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    cabin = models.CharField(_("cabin"), max_length=20, choices=Cabin.choices)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    refundable = models.BooleanField(_("refundable"), default=False)
    changeable = models.BooleanField(_("changes allowed"), default=True)
    change_fee = models.DecimalField(_("change fee"), **MONEY, default=ZERO)
    cancellation_fee = models.DecimalField(_("cancellation fee"), **MONEY, default=ZERO)
    baggage_pieces = models.PositiveSmallIntegerField(_("free checked bags"), default=0)
    baggage_kg = models.PositiveSmallIntegerField(_("weight per free bag (kg)"), default=23)
    excess_bag_fee = models.DecimalField(_("fee per extra bag"), **MONEY, default=Decimal("60.00"))
    overweight_fee = models.DecimalField(_("fee per overweight bag"), **MONEY, default=Decimal("75.00"))
    seat_selection_fee = models.DecimalField(_("seat selection fee"), **MONEY, default=ZERO)
    # xgettext:no-python-format
    miles_earn_percent = models.PositiveSmallIntegerField(_("miles earned (% of distance)"), default=100)
    # xgettext:no-python-format
    child_percent = models.PositiveSmallIntegerField(_("child fare (% of adult)"), default=75)
    # xgettext:no-python-format
    infant_percent = models.PositiveSmallIntegerField(_("infant fare (% of adult)"), default=10)
    rank = models.PositiveSmallIntegerField(_("rank"), default=0, help_text=_("Order within the cabin, cheapest first"))

    class Meta:
        verbose_name = _("fare family")
        verbose_name_plural = _("fare families")
        ordering = ["cabin", "rank"]

    def __str__(self) -> str:
        return f"{self.get_cabin_display()} {self.local_name()}"

    def local_name(self) -> str:
        """ "Flex", "灵活": the name in the active language."""
        return fare_family_name(self.name)


class BookingClass(models.Model):
    """A price level (RBD) within a fare family; cheaper classes close as the cabin fills."""

    code = models.CharField(_("booking class"), max_length=1, unique=True)
    fare_family = models.ForeignKey(FareFamily, on_delete=models.PROTECT, related_name="booking_classes")
    price_per_km = models.DecimalField(_("adult fare per km"), max_digits=8, decimal_places=4)
    minimum_fare = models.DecimalField(_("minimum adult fare"), **MONEY)
    closes_at_load_factor = models.DecimalField(
        _("closes at load factor"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("1.000"),
        help_text=_("Share of the cabin sold (0-1) from which this class is no longer offered"),
    )

    class Meta:
        verbose_name = _("booking class")
        verbose_name_plural = _("booking classes")
        ordering = ["fare_family__cabin", "price_per_km"]

    def __str__(self) -> str:
        return f"{self.code} ({self.fare_family})"

    @property
    def cabin(self) -> str:
        return self.fare_family.cabin


class TaxRule(models.Model):
    """A tax or fee added per passenger per flight, e.g. a departure tax of the origin country."""

    code = models.CharField(_("code"), max_length=4, help_text=_("Ticket tax code, e.g. GB, YQ"))
    name = models.CharField(_("name"), max_length=100)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    origin_country = CountryField(_("departing from"), blank=True, help_text=_("Blank: every departure"))
    applies_to_infants = models.BooleanField(_("charged for infants"), default=False)

    class Meta:
        verbose_name = _("tax or fee")
        verbose_name_plural = _("taxes and fees")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.local_name()}"

    def local_name(self) -> str:
        """The name in the reader's language: the airline's own taxes are in the catalogue, others as written."""
        return tax_name(self.name)


def tax_name(name: str) -> str:
    """A tax's name in the reader's language (``reference.TAX_RULES`` are marked for translation)."""
    return gettext(name) if name else name


# --- Bookings ---------------------------------------------------------------------------------


class BookingStatus(models.TextChoices):
    HELD = "held", _("Held, awaiting payment")
    TICKETED = "ticketed", _("Ticketed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired unpaid")


class TripType(models.TextChoices):
    ONE_WAY = "one_way", _("One way")
    ROUND_TRIP = "round_trip", _("Return")
    MULTI_CITY = "multi_city", _("Multi-city")


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    AGENT = "agent", _("Agent")
    API = "api", _("API")


class Booking(models.Model):
    """A passenger name record: who flies, on which flights, what was charged and paid."""

    record_locator = models.CharField(_("booking reference"), max_length=6, unique=True, default=new_record_locator)
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings",
        verbose_name=_("booked by"),
    )  # fmt: skip
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=BookingStatus.choices, default=BookingStatus.HELD)
    trip_type = models.CharField(_("trip type"), max_length=12, choices=TripType.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    purpose = models.CharField(_("purpose of travel"), max_length=12, choices=TravelPurpose.choices, blank=True)
    contact_email = models.EmailField(_("contact e-mail"))
    contact_phone = PhoneNumberField(_("contact phone"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    adults = models.PositiveSmallIntegerField(_("adults"))
    children = models.PositiveSmallIntegerField(_("children"), default=0)
    infants = models.PositiveSmallIntegerField(_("infants"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    total_amount = models.DecimalField(_("total"), **MONEY, default=ZERO)
    paid_amount = models.DecimalField(_("paid"), **MONEY, default=ZERO)
    refunded_amount = models.DecimalField(_("refunded"), **MONEY, default=ZERO)
    hold_expires_at = models.DateTimeField(_("hold expires at"), null=True, blank=True)
    disrupted_at = models.DateTimeField(_("disrupted at"), null=True, blank=True)
    disruption_reason = models.CharField(_("disruption"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-created_at", "-id"]
        permissions = [("waive_fees", _("Can waive change and cancellation fees"))]
        constraints = [
            models.CheckConstraint(condition=Q(adults__gte=1) & Q(infants__lte=F("adults")), name="booking_infants_with_adults"),
            models.CheckConstraint(condition=Q(adults__lte=9) & Q(children__lte=9), name="booking_at_most_nine_seats_each"),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(refunded_amount__gte=0), name="booking_money_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "hold_expires_at"], name="booking_hold_expiry"),
            models.Index(fields=["disrupted_at"], name="booking_disrupted"),
        ]

    def __str__(self) -> str:
        return self.record_locator

    @property
    def seats(self) -> int:
        return self.adults + self.children

    @property
    def balance_due(self) -> Decimal:
        """What the passenger still owes (negative: the airline owes a refund)."""
        return self.total_amount - (self.paid_amount - self.refunded_amount)


class PassengerType(models.TextChoices):
    ADULT = "ADT", _("Adult")
    CHILD = "CHD", _("Child (2-11)")
    INFANT = "INF", _("Infant (under 2, on a lap)")


class DocumentType(models.TextChoices):
    PASSPORT = "P", _("Passport")
    NATIONAL_ID = "I", _("National identity card")


class BookingPassenger(models.Model):
    """One traveller in a booking; the travel document is encrypted like the customer's own."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="passengers")
    customer = models.ForeignKey("crm.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="trips")
    sequence = models.PositiveSmallIntegerField(_("passenger number"))
    passenger_type = models.CharField(_("type"), max_length=3, choices=PassengerType.choices)
    title = models.CharField(_("title"), max_length=4, blank=True)
    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    search_name = models.GeneratedField(
        expression=Lower(Concat("given_name", models.Value(" "), "family_name")),
        output_field=models.CharField(max_length=201),
        db_persist=True,
    )
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    nationality = CountryField(_("nationality"), blank=True)
    document_type = models.CharField(_("document type"), max_length=1, choices=DocumentType.choices, blank=True)
    document_number = EncryptedCharField(_("document number"), max_length=40, blank=True, null=True)
    document_expiry = models.DateField(_("document expiry"), null=True, blank=True)
    document_country = CountryField(_("issuing country"), blank=True)
    meal = models.CharField(_("special meal"), max_length=4, choices=MealCode.choices, blank=True)
    assistance = ArrayField(
        models.CharField(max_length=4, choices=AssistanceCode.choices), default=list, blank=True,
        verbose_name=_("special assistance"),
    )  # fmt: skip
    frequent_flyer_number = models.CharField(_("frequent flyer number"), max_length=20, blank=True)
    travelling_with = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="infants",
        verbose_name=_("infant travels on the lap of"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("passenger")
        verbose_name_plural = _("passengers")
        ordering = ["booking", "sequence"]
        constraints = [models.UniqueConstraint(fields=["booking", "sequence"], name="passenger_sequence_unique")]
        indexes = [GinIndex(OpClass("search_name", name="gin_trgm_ops"), name="passenger_search_name_trgm")]

    def __str__(self) -> str:
        return f"{self.family_name}/{self.given_name}".upper()

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def title_display(self) -> str:
        """The title as people write it, in the reader's language ("MS" -> "Ms"); the code is for the PNR."""
        return str(dict(Title.choices).get(self.title, self.title)) if self.title else ""

    @property
    def holds_seat(self) -> bool:
        return self.passenger_type != PassengerType.INFANT


class SegmentStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


class Segment(models.Model):
    """One flight of a booking, in one cabin and booking class, for every passenger of the booking."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="segments")
    flight = models.ForeignKey(Flight, on_delete=models.PROTECT, related_name="segments")
    sequence = models.PositiveSmallIntegerField(_("segment number"))
    cabin = models.CharField(_("cabin"), max_length=20, choices=Cabin.choices)
    booking_class = models.ForeignKey(BookingClass, on_delete=models.PROTECT, related_name="+")
    fare_family = models.ForeignKey(FareFamily, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=SegmentStatus.choices, default=SegmentStatus.CONFIRMED)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["booking", "sequence"]
        constraints = [models.UniqueConstraint(fields=["booking", "sequence"], name="segment_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.booking.record_locator} {self.flight}"


class SeatAssignment(models.Model):
    """A seat on a flight, held by exactly one passenger (the unique constraint is the guarantee)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="seat_assignments")
    passenger = models.ForeignKey(BookingPassenger, on_delete=models.CASCADE, related_name="seat_assignments")
    flight = models.ForeignKey(Flight, on_delete=models.CASCADE, related_name="seat_assignments")
    seat = models.CharField(_("seat"), max_length=4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("seat assignment")
        verbose_name_plural = _("seat assignments")
        constraints = [
            models.UniqueConstraint(fields=["flight", "seat"], name="seat_taken_once_per_flight"),
            models.UniqueConstraint(fields=["segment", "passenger"], name="one_seat_per_passenger_per_segment"),
        ]


class ChargeKind(models.TextChoices):
    FARE = "fare", _("Fare")
    TAX = "tax", _("Tax")
    SEAT = "seat", _("Seat selection")
    BAGGAGE = "baggage", _("Excess baggage")
    CHANGE_FEE = "change_fee", _("Change fee")
    FARE_DIFFERENCE = "fare_difference", _("Fare difference")
    CANCELLATION_FEE = "cancellation_fee", _("Cancellation fee")
    WAIVER = "waiver", _("Fee waived")
    CREDIT = "credit", _("Credit for unused flights")
    DISCOUNT = "discount", _("Discount")


SEAT_LINE = gettext_noop("%(flight)s seat selection")


def _written_in_a_portal_language(text: str, msgid: str, **values: str) -> bool:
    """Whether ``text`` is this sentence as it reads in one of the portal's languages."""
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            if text == gettext(msgid) % values:
                return True
    return False


class BookingCharge(models.Model):
    """One itemised line of what the booking costs; the booking total is their sum."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="charges")
    passenger = models.ForeignKey(BookingPassenger, on_delete=models.CASCADE, null=True, blank=True, related_name="charges")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, null=True, blank=True, related_name="charges")
    kind = models.CharField(_("kind"), max_length=20, choices=ChargeKind.choices)
    code = models.CharField(_("code"), max_length=20, blank=True)
    description = models.CharField(_("description"), max_length=200)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["booking", "id"]

    def local_description(self) -> str:
        """The line in the reader's language.

        Fares, taxes, seat fees and cancellation fees are told again from what they are (the flight code the
        line starts with, the fare family, the passenger type, the tax's name in the catalogue), so a line
        reads the same whoever made it in whatever language; other lines read as they were written. Load
        ``passenger`` and ``segment__fare_family`` with the charges.
        """
        flight_code, _space, rest = self.description.partition(" ")
        if self.kind == ChargeKind.FARE and self.segment_id and self.passenger_id:
            family = self.segment.fare_family.local_name()
            return f"{flight_code} {family} ({self.passenger.get_passenger_type_display()})"
        if self.kind == ChargeKind.TAX:
            return f"{flight_code} {tax_name(rest)}" if rest else tax_name(flight_code)
        if self.kind == ChargeKind.SEAT and _written_in_a_portal_language(self.description, SEAT_LINE, flight=flight_code):
            return gettext(SEAT_LINE) % {"flight": flight_code}
        if self.kind == ChargeKind.CANCELLATION_FEE and rest:
            return f"{flight_code} {fare_family_name(rest)}"
        return self.description


# --- Payments and refunds ---------------------------------------------------------------------


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    VOUCHER = "voucher", _("Travel voucher")
    COUNTER = "counter", _("Paid at the counter")
    MILES = "miles", _("Miles")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Being processed")
    SUCCEEDED = "succeeded", _("Succeeded")
    DECLINED = "declined", _("Declined")


class Payment(models.Model):
    """One attempt to pay; the idempotency key makes a repeated request return this row, not charge again.

    A card payment is recorded as pending before the gateway is called, so a charge can never exist
    without its row. Keys belong to the login that sent them (``idempotency_scope``): two logins that
    both send "1" mean two payments. Cards are kept as the gateway's token, brand and last four digits only.
    """

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="payments")
    idempotency_scope = models.CharField(_("idempotency scope"), max_length=40, default="")
    idempotency_key = models.CharField(_("idempotency key"), max_length=100)
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    status = models.CharField(_("status"), max_length=10, choices=PaymentStatus.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    gateway_reference = models.CharField(_("gateway reference"), max_length=64, blank=True)
    card_token = models.CharField(_("card token"), max_length=64, blank=True)
    card_brand = models.CharField(_("card brand"), max_length=20, blank=True)
    card_last4 = models.CharField(_("card last 4"), max_length=4, blank=True)
    voucher = models.ForeignKey(
        "reservations.TravelVoucher", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    miles = models.PositiveIntegerField(_("miles"), null=True, blank=True)
    decline_reason = models.CharField(_("decline reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["booking", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(fields=["idempotency_scope", "idempotency_key"], name="payment_idempotency_key_unique"),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="payment_pending"),
        ]

    @property
    def external_key(self) -> str:
        """What the gateway (or a payment method) knows this payment by: a retry of the row never charges twice."""
        return f"payment-{self.pk}"

    @property
    def refundable_amount(self) -> Decimal:
        refunded = sum((r.amount for r in self.refunds.all() if r.status != RefundStatus.FAILED), ZERO)
        return self.amount - refunded if self.status == PaymentStatus.SUCCEEDED else ZERO


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Refunded")
    FAILED = "failed", _("Failed")


class Refund(models.Model):
    """Money going back to the original payment method, tracked until the gateway confirms it."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    reason = models.CharField(_("reason"), max_length=300)
    gateway_reference = models.CharField(_("gateway reference"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["booking", "created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    @property
    def external_key(self) -> str:
        """What the gateway knows this refund by: sending it twice refunds once."""
        return f"refund-{self.pk}"


class TravelVoucher(models.Model):
    """Credit the airline issued (goodwill, cancelled trip) that pays for a booking."""

    code = models.CharField(_("voucher code"), max_length=16, unique=True)
    customer = models.ForeignKey("crm.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="vouchers")
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    initial_amount = models.DecimalField(_("value"), **MONEY)
    balance = models.DecimalField(_("balance"), **MONEY)
    expires_on = models.DateField(_("valid until"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("travel voucher")
        verbose_name_plural = _("travel vouchers")
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0) & Q(balance__lte=F("initial_amount")), name="voucher_balance_in_range"
            )
        ]


# --- Tickets and check-in ---------------------------------------------------------------------


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    EXCHANGED = "exchanged", _("Exchanged")
    REFUNDED = "refunded", _("Refunded")
    VOID = "void", _("Void")


class Ticket(models.Model):
    """An e-ticket: 3-digit airline prefix + 10-digit serial, one per passenger per issue."""

    number = models.CharField(_("ticket number"), max_length=13, unique=True)
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="tickets")
    passenger = models.ForeignKey(BookingPassenger, on_delete=models.PROTECT, related_name="tickets")
    status = models.CharField(_("status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        verbose_name = _("e-ticket")
        verbose_name_plural = _("e-tickets")
        ordering = ["booking", "passenger__sequence", "issued_at"]
        constraints = [models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{13}$"), name="ticket_number_13_digits")]

    def __str__(self) -> str:
        return self.number


class CouponStatus(models.TextChoices):
    OPEN = "open", _("Open for use")
    CHECKED_IN = "checked_in", _("Checked in")
    BOARDED = "boarded", _("Boarded")
    FLOWN = "flown", _("Flown")
    NO_SHOW = "no_show", _("No-show")  # the flight left without the traveller, who never checked in
    EXCHANGED = "exchanged", _("Exchanged")
    REFUNDED = "refunded", _("Refunded")
    VOID = "void", _("Void")


class Coupon(models.Model):
    """The right to fly one segment on a ticket."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="coupons")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="coupons")
    number = models.PositiveSmallIntegerField(_("coupon number"))
    status = models.CharField(_("status"), max_length=12, choices=CouponStatus.choices, default=CouponStatus.OPEN)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["ticket", "number"]
        constraints = [models.UniqueConstraint(fields=["ticket", "number"], name="coupon_number_unique")]


class CheckIn(models.Model):
    """A passenger accepted for one flight: seat, bags and the boarding-pass sequence number."""

    coupon = models.OneToOneField(Coupon, on_delete=models.PROTECT, related_name="check_in")
    passenger = models.ForeignKey(BookingPassenger, on_delete=models.PROTECT, related_name="check_ins")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="check_ins")
    flight = models.ForeignKey(Flight, on_delete=models.PROTECT, related_name="check_ins")
    seat = models.CharField(_("seat"), max_length=4, blank=True)
    sequence_number = models.PositiveSmallIntegerField(_("check-in sequence"))
    bags = models.PositiveSmallIntegerField(_("checked bags"), default=0)
    bag_weights_kg = ArrayField(
        models.DecimalField(max_digits=5, decimal_places=1), default=list, blank=True, verbose_name=_("bag weights (kg)")
    )
    hand_carry = models.PositiveSmallIntegerField(_("hand-carry items"), default=0)
    excess_baggage_fee = models.DecimalField(_("excess baggage fee"), **MONEY, default=ZERO)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    checked_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [models.UniqueConstraint(fields=["flight", "sequence_number"], name="check_in_sequence_unique")]

    @property
    def total_bag_weight_kg(self) -> Decimal:
        return sum(self.bag_weights_kg, Decimal(0))
