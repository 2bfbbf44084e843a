"""Factories for flights, fares and bookings. Airports come from the airportsdata package."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from crm.models import Cabin
from reservations.models import (
    AircraftType,
    Airport,
    Booking,
    BookingClass,
    BookingPassenger,
    Channel,
    FareFamily,
    Flight,
    FlightCabin,
    PassengerType,
    Route,
    SeatMapSection,
    Segment,
    TaxRule,
    TripType,
)
from reservations.services import airports_load


def airport(code: str) -> Airport:
    """The airport with this IATA code, loaded by the reference loader on first use (names as served)."""
    found = Airport.objects.filter(iata_code=code).first()
    if found is None:
        airports_load(codes=[code])
        found = Airport.objects.get(iata_code=code)
    return found


class AircraftTypeFactory(DjangoModelFactory):
    """A small A320-like layout: business rows 1-2 (AC DF), economy rows 3-6 (ABC DEF), exit row 5."""

    class Meta:
        model = AircraftType
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = "32S"
    name = "Airbus A320 (test)"

    @factory.post_generation
    def sections(self, create, extracted, **kwargs):
        if not create or self.sections.exists():
            return
        for spec in extracted or [
            {"cabin": Cabin.BUSINESS, "first_row": 1, "last_row": 2, "layout": "AC DF"},
            {"cabin": Cabin.ECONOMY, "first_row": 3, "last_row": 6, "layout": "ABC DEF", "exit_rows": [5]},
        ]:
            SeatMapSection.objects.create(aircraft_type=self, **spec)


class RouteFactory(DjangoModelFactory):
    class Meta:
        model = Route
        django_get_or_create = ("origin", "destination")

    origin = factory.LazyFunction(lambda: airport("LHR"))
    destination = factory.LazyFunction(lambda: airport("CDG"))
    distance_km = 348
    block_minutes = 75


class FlightFactory(DjangoModelFactory):
    """A flight with one FlightCabin per cabin of its seat map, all seats available."""

    class Meta:
        model = Flight
        skip_postgeneration_save = True

    airline_designator = "AU"
    flight_number = factory.Sequence(lambda n: 100 + n)
    route = factory.SubFactory(RouteFactory)
    origin = factory.LazyAttribute(lambda o: o.route.origin)
    destination = factory.LazyAttribute(lambda o: o.route.destination)
    aircraft_type = factory.SubFactory(AircraftTypeFactory)
    scheduled_departure = factory.LazyFunction(lambda: (timezone.now() + timedelta(days=10)).replace(second=0, microsecond=0))
    scheduled_arrival = factory.LazyAttribute(lambda o: o.scheduled_departure + timedelta(minutes=o.route.block_minutes))
    service_date = factory.LazyAttribute(lambda o: o.scheduled_departure.astimezone(ZoneInfo(o.origin.time_zone)).date())

    @factory.post_generation
    def inventory(self, create, extracted, **kwargs):
        """``inventory={"economy": 3}`` leaves only 3 economy seats available."""
        if not create:
            return
        capacity: dict[str, int] = {}
        for section in self.aircraft_type.sections.all():
            capacity[section.cabin] = capacity.get(section.cabin, 0) + len(section.seats())
        for cabin, seats in capacity.items():
            available = (extracted or {}).get(cabin, seats)
            FlightCabin.objects.create(flight=self, cabin=cabin, capacity=seats, available=available)


class FareFamilyFactory(DjangoModelFactory):
    class Meta:
        model = FareFamily
        django_get_or_create = ("code",)

    code = "ECO_STANDARD"
    name = "Standard"
    cabin = Cabin.ECONOMY
    refundable = False
    change_fee = Decimal("50.00")
    cancellation_fee = Decimal("100.00")
    baggage_pieces = 1
    baggage_kg = 23
    seat_selection_fee = Decimal("0.00")
    rank = 2


class BookingClassFactory(DjangoModelFactory):
    class Meta:
        model = BookingClass
        django_get_or_create = ("code",)

    code = "M"
    fare_family = factory.SubFactory(FareFamilyFactory)
    price_per_km = Decimal("0.2500")
    minimum_fare = Decimal("59.00")
    closes_at_load_factor = Decimal("1.000")


class TaxRuleFactory(DjangoModelFactory):
    class Meta:
        model = TaxRule

    code = "YQ"
    name = "Fuel surcharge"
    amount = Decimal("25.00")


class BookingFactory(DjangoModelFactory):
    """A held booking with no passengers or segments; add them with the factories below."""

    class Meta:
        model = Booking

    trip_type = TripType.ONE_WAY
    channel = Channel.PORTAL
    contact_email = factory.Sequence(lambda n: f"booker{n}@example.com")
    adults = 1
    hold_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))


class BookingPassengerFactory(DjangoModelFactory):
    class Meta:
        model = BookingPassenger

    booking = factory.SubFactory(BookingFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    passenger_type = PassengerType.ADULT
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment

    booking = factory.SubFactory(BookingFactory)
    flight = factory.SubFactory(FlightFactory)
    sequence = 1
    cabin = Cabin.ECONOMY
    booking_class = factory.SubFactory(BookingClassFactory)
    fare_family = factory.LazyAttribute(lambda o: o.booking_class.fare_family)
