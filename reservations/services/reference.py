"""Reference data and the network schedule: airports, aircraft seat maps, fares and flights."""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import airportsdata
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError
from crm.models import Cabin
from reservations.models import (
    AircraftType,
    Airport,
    BookingClass,
    FareFamily,
    Flight,
    FlightCabin,
    Route,
    SeatMapSection,
    TaxRule,
)

AIRPORT_FIELDS = ("icao_code", "name", "name_zh", "city", "city_zh", "country", "latitude", "longitude", "time_zone")

# The places the airline serves as passengers name them: IATA code -> (city, city in Chinese, airport name in
# Chinese, airport name in English where the package's differs from the one people use). The package names
# some cities by the municipality the airport stands in ("Mississauga" for Toronto, "Arnavutköy, Istanbul").
PLACES: dict[str, tuple[str, str, str, str]] = {
    "LHR": ("London", "伦敦", "伦敦希思罗机场", ""),
    "CDG": ("Paris", "巴黎", "巴黎夏尔·戴高乐机场", "Paris Charles de Gaulle Airport"),
    "AMS": ("Amsterdam", "阿姆斯特丹", "阿姆斯特丹史基浦机场", ""),
    "FRA": ("Frankfurt", "法兰克福", "法兰克福机场", "Frankfurt Airport"),
    "MUC": ("Munich", "慕尼黑", "慕尼黑机场", "Munich Airport"),
    "ZRH": ("Zurich", "苏黎世", "苏黎世机场", ""),
    "GVA": ("Geneva", "日内瓦", "日内瓦机场", "Geneva Airport"),
    "DUB": ("Dublin", "都柏林", "都柏林机场", ""),
    "EDI": ("Edinburgh", "爱丁堡", "爱丁堡机场", ""),
    "MAN": ("Manchester", "曼彻斯特", "曼彻斯特机场", ""),
    "CPH": ("Copenhagen", "哥本哈根", "哥本哈根凯斯楚普机场", "Copenhagen Airport"),
    "BER": ("Berlin", "柏林", "柏林勃兰登堡机场", ""),
    "PRG": ("Prague", "布拉格", "布拉格瓦茨拉夫·哈维尔机场", "Václav Havel Airport Prague"),
    "VIE": ("Vienna", "维也纳", "维也纳国际机场", ""),
    "BCN": ("Barcelona", "巴塞罗那", "巴塞罗那埃尔普拉特机场", "Barcelona–El Prat Airport"),
    "MAD": ("Madrid", "马德里", "马德里巴拉哈斯机场", "Adolfo Suárez Madrid–Barajas Airport"),
    "NCE": ("Nice", "尼斯", "尼斯蔚蓝海岸机场", "Nice Côte d'Azur Airport"),
    "FCO": ("Rome", "罗马", "罗马菲乌米奇诺机场", "Rome Fiumicino Airport"),
    "OSL": ("Oslo", "奥斯陆", "奥斯陆加勒穆恩机场", ""),
    "ARN": ("Stockholm", "斯德哥尔摩", "斯德哥尔摩阿兰达机场", "Stockholm Arlanda Airport"),
    "LIS": ("Lisbon", "里斯本", "里斯本机场", "Lisbon Airport"),
    "ATH": ("Athens", "雅典", "雅典国际机场", "Athens International Airport"),
    "IST": ("Istanbul", "伊斯坦布尔", "伊斯坦布尔机场", ""),
    "TLV": ("Tel Aviv", "特拉维夫", "特拉维夫本·古里安国际机场", ""),
    "JFK": ("New York", "纽约", "纽约约翰·肯尼迪国际机场", ""),
    "BOS": ("Boston", "波士顿", "波士顿洛根国际机场", "Boston Logan International Airport"),
    "ORD": ("Chicago", "芝加哥", "芝加哥奥黑尔国际机场", ""),
    "YYZ": ("Toronto", "多伦多", "多伦多皮尔逊国际机场", ""),
    "DXB": ("Dubai", "迪拜", "迪拜国际机场", ""),
    "SIN": ("Singapore", "新加坡", "新加坡樟宜机场", "Singapore Changi Airport"),
    "HKG": ("Hong Kong", "香港", "香港国际机场", "Hong Kong International Airport"),
}

# The package names some airports by the municipality they stand in ("Mississauga" for Toronto Pearson,
# "Arnavutköy, Istanbul") or by an old or formal name; passengers look for the city and the name on the
# signs. Every airport the network serves is listed here with the names people use.
PLACE_NAMES: dict[str, tuple[str, str]] = {
    "LHR": ("London", "London Heathrow Airport"),
    "CDG": ("Paris", "Paris Charles de Gaulle Airport"),
    "AMS": ("Amsterdam", "Amsterdam Airport Schiphol"),
    "FRA": ("Frankfurt", "Frankfurt Airport"),
    "MUC": ("Munich", "Munich Airport"),
    "ZRH": ("Zurich", "Zurich Airport"),
    "GVA": ("Geneva", "Geneva Airport"),
    "DUB": ("Dublin", "Dublin Airport"),
    "EDI": ("Edinburgh", "Edinburgh Airport"),
    "MAN": ("Manchester", "Manchester Airport"),
    "CPH": ("Copenhagen", "Copenhagen Airport"),
    "BER": ("Berlin", "Berlin Brandenburg Airport"),
    "PRG": ("Prague", "Prague Václav Havel Airport"),
    "VIE": ("Vienna", "Vienna International Airport"),
    "BCN": ("Barcelona", "Barcelona–El Prat Airport"),
    "MAD": ("Madrid", "Madrid–Barajas Airport"),
    "NCE": ("Nice", "Nice Côte d'Azur Airport"),
    "FCO": ("Rome", "Rome Fiumicino Airport"),
    "OSL": ("Oslo", "Oslo Airport, Gardermoen"),
    "ARN": ("Stockholm", "Stockholm Arlanda Airport"),
    "LIS": ("Lisbon", "Lisbon Airport"),
    "ATH": ("Athens", "Athens International Airport"),
    "IST": ("Istanbul", "Istanbul Airport"),
    "TLV": ("Tel Aviv", "Ben Gurion Airport"),
    "JFK": ("New York", "New York John F. Kennedy International Airport"),
    "BOS": ("Boston", "Boston Logan International Airport"),
    "ORD": ("Chicago", "Chicago O'Hare International Airport"),
    "YYZ": ("Toronto", "Toronto Pearson International Airport"),
    "DXB": ("Dubai", "Dubai International Airport"),
    "SIN": ("Singapore", "Singapore Changi Airport"),
    "HKG": ("Hong Kong", "Hong Kong International Airport"),
}
# Minimum connecting times where they differ from the model's default (45 minutes): the hub's terminals
# are far apart, so a change there takes an hour.
MINIMUM_CONNECTION_MINUTES: dict[str, int] = {"LHR": 60}


@functools.cache
def _airport_package() -> dict[str, dict]:
    """The package's IATA table, parsed once per process (it holds some 8,000 airports)."""
    return airportsdata.load("IATA")


def _airport_from_package(code: str, data: dict) -> Airport:
    city, name = PLACE_NAMES.get(code, (data.get("city") or "", data.get("name") or code))
    _city, city_zh, name_zh, _name = PLACES.get(code, ("", "", "", ""))
    airport = Airport(
        iata_code=code,
        icao_code=(data.get("icao") or "")[:4],
        name=name[:200],
        name_zh=name_zh,
        city=city[:100],
        city_zh=city_zh,
        country=data.get("country") or "",
        latitude=Decimal(str(round(float(data["lat"]), 6))),
        longitude=Decimal(str(round(float(data["lon"]), 6))),
        time_zone=data.get("tz") or "UTC",
    )
    if code in MINIMUM_CONNECTION_MINUTES:
        airport.minimum_connection_minutes = MINIMUM_CONNECTION_MINUTES[code]
    return airport


@transaction.atomic
def airports_load(*, codes: Iterable[str] | None = None) -> int:
    """Insert or refresh airports from the maintained ``airportsdata`` package (all of them when no codes).

    The package is the source of coordinates, time zones and names (``PLACE_NAMES`` holds the names
    passengers use for the airports the network serves, ``PLACES`` their Chinese names), so a re-run picks
    up its corrections. The minimum connecting time is set when an airport is first loaded and is left as
    the admin edits it. Returns how many airports were written.
    """
    package = _airport_package()
    if codes is None:
        wanted = sorted(code for code, data in package.items() if data.get("tz") and data.get("country"))
    else:
        wanted = sorted({code.strip().upper() for code in codes})
        unknown = [code for code in wanted if code not in package]
        if unknown:
            message = _("Unknown IATA airport code: %(codes)s.") % {"codes": ", ".join(unknown)}
            raise ApplicationError(message, fields={"codes": [message]})
    rows = [_airport_from_package(code, package[code]) for code in wanted]
    Airport.objects.bulk_create(
        rows, batch_size=2000, update_conflicts=True, unique_fields=["iata_code"], update_fields=list(AIRPORT_FIELDS)
    )
    return len(rows)


@dataclass(frozen=True)
class SeatSection:
    cabin: str
    first_row: int
    last_row: int
    layout: str
    exit_rows: tuple[int, ...] = ()
    blocked_seats: tuple[str, ...] = ()


# Seat maps close to what European and long-haul operators fly; row 13 exists, as on most Airbus maps.
AIRCRAFT_TYPES: dict[str, tuple[str, tuple[SeatSection, ...]]] = {
    "320": (
        "Airbus A320",
        (
            SeatSection(Cabin.BUSINESS, 1, 3, "AC DF"),
            # Over-wing exits at rows 12-13; the last row loses two seats to the galley.
            SeatSection(Cabin.ECONOMY, 4, 30, "ABC DEF", exit_rows=(12, 13), blocked_seats=("30E", "30F")),
        ),
    ),
    "32Q": (
        "Airbus A321neo",
        (
            SeatSection(Cabin.BUSINESS, 1, 4, "AC DF"),
            SeatSection(Cabin.ECONOMY, 5, 36, "ABC DEF", exit_rows=(10, 25), blocked_seats=("36C", "36D")),
        ),
    ),
    "789": (
        "Boeing 787-9",
        (
            SeatSection(Cabin.BUSINESS, 1, 8, "A DF K"),
            SeatSection(Cabin.PREMIUM_ECONOMY, 20, 25, "AC DEF HK", exit_rows=(20,)),
            # Crew-rest seats at the back of economy are never sold.
            SeatSection(Cabin.ECONOMY, 30, 56, "ABC DEF HJK", exit_rows=(30, 42), blocked_seats=("56D", "56E", "56F")),
        ),
    ),
}


@transaction.atomic
def aircraft_types_ensure() -> list[AircraftType]:
    """The fleet's aircraft types with their seat maps; an existing seat map is left as the admin edited it."""
    types = []
    for code, (name, sections) in AIRCRAFT_TYPES.items():
        aircraft, _created = AircraftType.objects.get_or_create(code=code, defaults={"name": name})
        if not aircraft.sections.exists():
            SeatMapSection.objects.bulk_create(
                SeatMapSection(
                    aircraft_type=aircraft,
                    cabin=s.cabin,
                    first_row=s.first_row,
                    last_row=s.last_row,
                    layout=s.layout,
                    exit_rows=list(s.exit_rows),
                    blocked_seats=list(s.blocked_seats),
                )
                for s in sections
            )
        types.append(aircraft)
    return types


# Light is the price-driven fare, Flex the one a company pays for: the rules changes and refunds apply.
FARE_FAMILIES: dict[str, dict] = {
    "ECO_LIGHT": {
        "name": "Light", "cabin": Cabin.ECONOMY, "rank": 1, "refundable": False, "changeable": False,
        "change_fee": Decimal("0.00"), "cancellation_fee": Decimal("0.00"), "baggage_pieces": 0, "baggage_kg": 23,
        "seat_selection_fee": Decimal("15.00"), "miles_earn_percent": 50,
    },
    "ECO_STANDARD": {
        "name": "Standard", "cabin": Cabin.ECONOMY, "rank": 2, "refundable": False, "changeable": True,
        "change_fee": Decimal("60.00"), "cancellation_fee": Decimal("0.00"), "baggage_pieces": 1, "baggage_kg": 23,
        "seat_selection_fee": Decimal("0.00"), "miles_earn_percent": 100,
    },
    "ECO_FLEX": {
        "name": "Flex", "cabin": Cabin.ECONOMY, "rank": 3, "refundable": True, "changeable": True,
        "change_fee": Decimal("0.00"), "cancellation_fee": Decimal("0.00"), "baggage_pieces": 2, "baggage_kg": 23,
        "seat_selection_fee": Decimal("0.00"), "miles_earn_percent": 150,
    },
    "PREM_FLEX": {
        "name": "Flex", "cabin": Cabin.PREMIUM_ECONOMY, "rank": 1, "refundable": True, "changeable": True,
        "change_fee": Decimal("0.00"), "cancellation_fee": Decimal("50.00"), "baggage_pieces": 2, "baggage_kg": 23,
        "seat_selection_fee": Decimal("0.00"), "miles_earn_percent": 175,
    },
    "BUS_STANDARD": {
        "name": "Standard", "cabin": Cabin.BUSINESS, "rank": 1, "refundable": True, "changeable": True,
        "change_fee": Decimal("100.00"), "cancellation_fee": Decimal("200.00"), "baggage_pieces": 2, "baggage_kg": 32,
        "seat_selection_fee": Decimal("0.00"), "miles_earn_percent": 200,
    },
    "BUS_FLEX": {
        "name": "Flex", "cabin": Cabin.BUSINESS, "rank": 2, "refundable": True, "changeable": True,
        "change_fee": Decimal("0.00"), "cancellation_fee": Decimal("0.00"), "baggage_pieces": 3, "baggage_kg": 32,
        "seat_selection_fee": Decimal("0.00"), "miles_earn_percent": 250,
    },
}  # fmt: skip

# code: (fare family, adult fare per km, minimum adult fare, closes at load factor).
# The cheapest classes close first as the cabin fills, so the price of the same fare rises.
BOOKING_CLASSES: dict[str, tuple[str, str, str, str]] = {
    "O": ("ECO_LIGHT", "0.0600", "39.00", "0.500"),
    "Q": ("ECO_LIGHT", "0.0750", "49.00", "0.700"),
    "K": ("ECO_LIGHT", "0.0950", "59.00", "0.850"),
    "L": ("ECO_STANDARD", "0.1100", "79.00", "0.700"),
    "M": ("ECO_STANDARD", "0.1350", "99.00", "0.900"),
    "H": ("ECO_STANDARD", "0.1650", "119.00", "1.000"),
    "B": ("ECO_FLEX", "0.2200", "179.00", "0.950"),
    "Y": ("ECO_FLEX", "0.2800", "229.00", "1.000"),
    "E": ("PREM_FLEX", "0.2600", "219.00", "0.800"),
    "W": ("PREM_FLEX", "0.3400", "289.00", "1.000"),
    "I": ("BUS_STANDARD", "0.4800", "349.00", "0.600"),
    "D": ("BUS_STANDARD", "0.6000", "449.00", "0.850"),
    "C": ("BUS_FLEX", "0.7800", "599.00", "1.000"),
    "J": ("BUS_FLEX", "0.9500", "749.00", "1.000"),
}

# (code, name, amount, departing from (blank: everywhere), charged for infants). The names are stored in
# English and shown through the catalogue (``TaxRule.local_name``), hence marked here.
TAX_RULES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("YQ", gettext_noop("Fuel surcharge"), "35.00", "", False),
    ("YR", gettext_noop("Ticketing service fee"), "5.00", "", True),
    ("GB", gettext_noop("UK Air Passenger Duty"), "15.00", "GB", False),
    ("UB", gettext_noop("UK passenger service charge"), "28.50", "GB", True),
    ("RA", gettext_noop("German air transport tax"), "15.53", "DE", False),
    ("DE", gettext_noop("German security charge"), "10.00", "DE", True),
    ("FR", gettext_noop("French civil aviation tax"), "4.63", "FR", False),
    ("IZ", gettext_noop("French solidarity tax"), "7.40", "FR", False),
    ("US", gettext_noop("US international transportation tax"), "22.90", "US", False),
)


@transaction.atomic
def fares_ensure() -> None:
    """Fare families, booking classes and taxes the airline sells with; existing rows keep admin edits."""
    currency = settings.BOOKING_CURRENCY
    families = {}
    for code, rules in FARE_FAMILIES.items():
        families[code], _created = FareFamily.objects.get_or_create(code=code, defaults={**rules, "currency": currency})
    for code, (family, per_km, minimum, closes) in BOOKING_CLASSES.items():
        BookingClass.objects.get_or_create(
            code=code,
            defaults={
                "fare_family": families[family],
                "price_per_km": Decimal(per_km),
                "minimum_fare": Decimal(minimum),
                "closes_at_load_factor": Decimal(closes),
            },
        )
    for code, name, amount, country, infants in TAX_RULES:
        TaxRule.objects.get_or_create(
            code=code,
            origin_country=country,
            defaults={"name": name, "amount": Decimal(amount), "currency": currency, "applies_to_infants": infants},
        )


# Spokes of the hub-and-spoke network: Europe three times a day, the Mediterranean and Middle East
# twice, long haul once.
NETWORK = (
    "CDG", "AMS", "FRA", "MUC", "ZRH", "GVA", "DUB", "EDI", "MAN", "CPH", "BER", "PRG", "VIE", "BCN", "MAD",
    "NCE", "FCO", "OSL", "ARN", "LIS", "ATH", "IST", "TLV", "JFK", "BOS", "ORD", "YYZ", "DXB", "SIN", "HKG",
)  # fmt: skip
DEFAULT_HUB = "LHR"
EARTH_RADIUS_KM = 6371.0
TAXI_AND_CLIMB_MINUTES = 40
CRUISE_KMH = 850
SHORT_HAUL_KM = 1500
MEDIUM_HAUL_KM = 4000
# Local departure times from the hub by number of daily rotations; the return leaves after a turnaround.
HUB_DEPARTURES = {
    3: (time(7, 0), time(12, 30), time(18, 0)),
    2: (time(8, 15), time(16, 45)),
}
WESTBOUND_LONG_HAUL = time(11, 0)
EASTBOUND_LONG_HAUL = time(21, 30)  # overnight, landing in the morning
EARLIEST_DEPARTURE = time(6, 0)
TIMETABLE_WINTER_DAY = date(2026, 1, 15)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Haversine distance, the basis of fares and miles."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a)))


def block_minutes_for(distance_km: int) -> int:
    """Gate to gate: taxi, climb and descent plus cruise, rounded up to 5 minutes like a timetable."""
    minutes = TAXI_AND_CLIMB_MINUTES + distance_km / CRUISE_KMH * 60
    return int(math.ceil(minutes / 5) * 5)


def _aircraft_code_for(distance_km: int) -> str:
    if distance_km < SHORT_HAUL_KM:
        return "320"
    if distance_km < MEDIUM_HAUL_KM:
        return "32Q"
    return "789"


def _turnaround(distance_km: int) -> timedelta:
    if distance_km < SHORT_HAUL_KM:
        return timedelta(minutes=45)
    if distance_km < MEDIUM_HAUL_KM:
        return timedelta(minutes=60)
    return timedelta(minutes=150)


@dataclass(frozen=True)
class TimetableEntry:
    """One daily flight of the timetable, in the origin's local time as timetables are published."""

    flight_number: int
    origin: str
    destination: str
    departure: time
    distance_km: int
    block_minutes: int
    aircraft_code: str


def _number_base(hub: str) -> int:
    """Flight numbers 111-406 for the home hub; another hub gets its own block of 400 numbers."""
    if hub == DEFAULT_HUB:
        return 100
    return 1200 + (zlib.crc32(hub.encode()) % 20) * 400


def _local_time(moment: datetime, zone: ZoneInfo) -> time:
    local = moment.astimezone(zone)
    minutes = math.ceil((local.hour * 60 + local.minute) / 5) * 5
    if minutes >= 24 * 60 or minutes < EARLIEST_DEPARTURE.hour * 60:
        return EARLIEST_DEPARTURE
    return time(minutes // 60, minutes % 60)


def schedule_timetable(*, hub: str = DEFAULT_HUB) -> list[TimetableEntry]:
    """Every daily flight of the network around ``hub``, from the coordinates in ``airportsdata``.

    Return flights leave the spoke one turnaround after the outbound lands; their local time is
    fixed on a winter day so that, like a real timetable, it stays the same wall-clock time all year.
    """
    package = _airport_package()
    hub = hub.strip().upper()
    if hub not in package:
        message = _("Unknown IATA airport code: %(codes)s.") % {"codes": hub}
        raise ApplicationError(message, fields={"hub": [message]})
    spokes = [code for code in (DEFAULT_HUB, *NETWORK) if code != hub]
    base = _number_base(hub)
    home = package[hub]
    hub_zone = ZoneInfo(home["tz"])
    entries = []
    for index, code in enumerate(spokes, start=1):
        spoke = package[code]
        distance = great_circle_km(home["lat"], home["lon"], spoke["lat"], spoke["lon"])
        block = block_minutes_for(distance)
        aircraft = _aircraft_code_for(distance)
        if distance < SHORT_HAUL_KM:
            departures = HUB_DEPARTURES[3]
        elif distance < MEDIUM_HAUL_KM:
            departures = HUB_DEPARTURES[2]
        else:
            departures = (EASTBOUND_LONG_HAUL if spoke["lon"] > home["lon"] + 20 else WESTBOUND_LONG_HAUL,)
        stagger = timedelta(minutes=5 * (index % 6))  # not every bank leaves on the same minute
        for rotation, planned in enumerate(departures):
            leaves = datetime.combine(TIMETABLE_WINTER_DAY, planned, tzinfo=hub_zone) + stagger
            out_number = base + 10 * index + 2 * rotation + 1
            back = leaves + timedelta(minutes=block) + _turnaround(distance)
            entries.append(TimetableEntry(out_number, hub, code, leaves.time(), distance, block, aircraft))
            entries.append(
                TimetableEntry(out_number + 1, code, hub, _local_time(back, ZoneInfo(spoke["tz"])), distance, block, aircraft)
            )
    return entries


@transaction.atomic
def schedule_generate(
    *, days: int, start: date | None = None, hub: str = DEFAULT_HUB, progress: Callable[[int], None] | None = None
) -> int:
    """Flights of the hub-and-spoke timetable for ``days`` days from ``start`` (today by default).

    Idempotent: a flight already there (same airline, number and date) is left alone, so the command
    can run every day to roll the schedule forward. ``progress`` is told each finished day's count.
    Returns how many flights were created.
    """
    if days < 1 or days > 366:
        message = _("Choose between 1 and 366 days.")
        raise ApplicationError(message, fields={"days": [message]})
    timetable = schedule_timetable(hub=hub)
    start = start or timezone.localdate()
    designator = settings.AIRLINE_DESIGNATOR
    codes = {e.origin for e in timetable} | {e.destination for e in timetable}
    missing = codes - set(Airport.objects.filter(iata_code__in=codes).values_list("iata_code", flat=True))
    if missing:
        airports_load(codes=missing)
    airports = Airport.objects.in_bulk(codes, field_name="iata_code")
    fleet = {a.code: a for a in aircraft_types_ensure()}
    capacity: dict[str, dict[str, int]] = {code: {} for code in fleet}
    for section in SeatMapSection.objects.filter(aircraft_type__in=fleet.values()).select_related("aircraft_type"):
        seats = capacity[section.aircraft_type.code]
        seats[section.cabin] = seats.get(section.cabin, 0) + len(section.seats())

    Route.objects.bulk_create(
        [
            Route(
                origin=airports[e.origin],
                destination=airports[e.destination],
                distance_km=e.distance_km,
                block_minutes=e.block_minutes,
            )
            for e in timetable
        ],
        ignore_conflicts=True,
    )
    routes = {
        (r.origin_id, r.destination_id): r
        for r in Route.objects.filter(origin__in=airports.values(), destination__in=airports.values())
    }

    last = start + timedelta(days=days - 1)
    numbers = {e.flight_number for e in timetable}
    existing = {
        (number, day): route_id
        for number, day, route_id in Flight.objects.filter(
            airline_designator=designator, flight_number__in=numbers, service_date__range=(start, last)
        ).values_list("flight_number", "service_date", "route_id")
    }
    by_day: list[list[Flight]] = []
    clashes: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        flights: list[Flight] = []
        by_day.append(flights)
        for e in timetable:
            origin, destination = airports[e.origin], airports[e.destination]
            route = routes[(origin.pk, destination.pk)]
            if (e.flight_number, day) in existing:
                if existing[(e.flight_number, day)] != route.pk:
                    clashes.append(f"{designator}{e.flight_number} {day:%Y-%m-%d}")
                continue
            leaves = datetime.combine(day, e.departure, tzinfo=ZoneInfo(origin.time_zone))
            leaves_utc = leaves.astimezone(UTC)
            flights.append(
                Flight(
                    airline_designator=designator,
                    flight_number=e.flight_number,
                    service_date=day,
                    route=route,
                    origin=origin,
                    destination=destination,
                    aircraft_type=fleet[e.aircraft_code],
                    scheduled_departure=leaves_utc,
                    scheduled_arrival=leaves_utc + timedelta(minutes=route.block_minutes),
                )
            )
    if clashes:
        message = _("These flight numbers already fly other routes: %(flights)s.") % {"flights": ", ".join(clashes[:5])}
        raise ApplicationError(message, code="flight_number_taken", fields={"hub": [message]})
    for flights in by_day:
        Flight.objects.bulk_create(flights, batch_size=1000)
        FlightCabin.objects.bulk_create(
            [
                FlightCabin(flight=flight, cabin=cabin, capacity=seats, available=seats)
                for flight in flights
                for cabin, seats in capacity[flight.aircraft_type.code].items()
            ],
            batch_size=2000,
        )
        if progress is not None:
            progress(len(flights))
    return sum(len(flights) for flights in by_day)
