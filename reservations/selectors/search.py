"""Flight search, the price calendar, airports and flight status: reads shared by the portal, the office and the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext

from crm.errors import ApplicationError, NotFound
from crm.models import Cabin
from reservations import pricing
from reservations.models import (
    Airport,
    BookingClass,
    Flight,
    FlightCabin,
    FlightStatus,
    PassengerType,
    Route,
    TaxRule,
)

MAX_PARTY_SEATS = 9
MAX_LEGS = 6
MAX_CALENDAR_DAYS = 7
# Flights leaving sooner than this are no longer sold (booking_create refuses them too).
SALES_CUTOFF = timedelta(minutes=60)
SORT_KEYS = ("price", "departure", "duration")
UNSELLABLE = (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED)


@dataclass(frozen=True)
class FlightOption:
    """One flight found, with an offer per fare family still open for the whole party (none: sold out)."""

    flight: Flight
    offers: list[pricing.FareOffer]
    seats_left: int

    @property
    def lowest(self) -> pricing.FareOffer | None:
        return min(self.offers, key=lambda o: (o.total, o.fare_family.rank)) if self.offers else None

    @property
    def sold_out(self) -> bool:
        return not self.offers


@dataclass(frozen=True)
class CalendarDay:
    """The lowest total for the party on one day, or None when nothing can be sold that day."""

    date: date
    lowest: Decimal | None
    currency: str


@dataclass(frozen=True)
class _Leg:
    origin: Airport
    destination: Airport
    first_day: date
    last_day: date


def _party_errors(*, adults: int, children: int, infants: int) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if adults < 1:
        errors["adults"] = [gettext("At least one adult travels.")]
    if children < 0:
        errors["children"] = [gettext("Enter 0 or more children.")]
    if infants < 0:
        errors["infants"] = [gettext("Enter 0 or more infants.")]
    if adults + max(children, 0) > MAX_PARTY_SEATS:
        errors["children"] = [gettext("At most %(max)d seats per booking (adults and children).") % {"max": MAX_PARTY_SEATS}]
    if adults >= 1 and infants > adults:
        errors["infants"] = [gettext("Each infant travels on the lap of an adult: no more infants than adults.")]
    return errors


def _local_today(airport: Airport) -> date:
    return timezone.now().astimezone(ZoneInfo(airport.time_zone)).date()


def _validated_legs(
    *, legs: list[tuple[str, str, date]], cabin: str, sort: str, adults: int, children: int, infants: int, days: int = 0
) -> tuple[list[_Leg], dict[str, int]]:
    """Check the whole request at once so the caller can show every mistake together."""
    errors = _party_errors(adults=adults, children=children, infants=infants)
    if cabin not in Cabin.values:
        errors["cabin"] = [gettext("Choose a cabin from the list.")]
    if sort not in SORT_KEYS:
        errors["sort"] = [gettext("Sort by price, departure or duration.")]
    if not legs:
        errors["legs"] = [gettext("Choose at least one flight.")]
    elif len(legs) > MAX_LEGS:
        errors["legs"] = [gettext("At most %(max)d flights per trip.") % {"max": MAX_LEGS}]
    codes = {str(code).strip().upper() for o, d, _day in legs[:MAX_LEGS] for code in (o, d)}
    airports = Airport.objects.in_bulk(codes, field_name="iata_code") if codes else {}
    single = len(legs) == 1
    result: list[_Leg] = []
    previous: date | None = None
    for i, (origin_code, destination_code, day) in enumerate(legs[:MAX_LEGS], start=1):
        prefix = "" if single else f"legs.{i}."
        origin = airports.get(str(origin_code).strip().upper())
        destination = airports.get(str(destination_code).strip().upper())
        if origin is None:
            errors[f"{prefix}origin"] = [gettext("Choose a departure airport from the list.")]
        if destination is None:
            errors[f"{prefix}destination"] = [gettext("Choose a destination from the list.")]
        elif origin is not None and origin.pk == destination.pk:
            errors[f"{prefix}destination"] = [gettext("Choose a destination different from the departure airport.")]
        if not isinstance(day, date):
            errors[f"{prefix}departure_date"] = [gettext("Enter a date.")]
        elif origin is not None and day < _local_today(origin):
            errors[f"{prefix}departure_date"] = [gettext("Choose today or a later date.")]
        elif previous is not None and day < previous:
            errors[f"{prefix}departure_date"] = [gettext("Each flight must be on or after the date of the one before.")]
        if isinstance(day, date):
            previous = day
        if origin is not None and destination is not None and isinstance(day, date):
            result.append(_Leg(origin, destination, day - timedelta(days=days), day + timedelta(days=days)))
    if errors:
        raise ApplicationError(gettext("Please check your search."), fields=errors)
    counts = {PassengerType.ADULT: adults, PassengerType.CHILD: children, PassengerType.INFANT: infants}
    return result, counts


def _local_midnight(day: date, airport: Airport) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(airport.time_zone))


def _flights_for(legs: list[_Leg], cabin: str) -> list[Flight]:
    """Every sellable flight of every leg with this cabin, in two queries whatever the number of legs."""
    market = Q()
    for leg in legs:
        market |= Q(
            origin=leg.origin,
            destination=leg.destination,
            scheduled_departure__gte=_local_midnight(leg.first_day, leg.origin),
            scheduled_departure__lt=_local_midnight(leg.last_day + timedelta(days=1), leg.origin),
        )
    return list(
        Flight.objects.filter(market, cabins__cabin=cabin, scheduled_departure__gt=timezone.now() + SALES_CUTOFF)
        .exclude(status__in=UNSELLABLE)
        .select_related("route", "origin", "destination", "aircraft_type")
        .prefetch_related(Prefetch("cabins", queryset=FlightCabin.objects.filter(cabin=cabin), to_attr="searched_cabin"))
        .order_by("scheduled_departure", "pk")
    )


def _fares_for(*, cabin: str, countries: set[str]) -> tuple[list[BookingClass], list[TaxRule]]:
    classes = list(BookingClass.objects.select_related("fare_family").filter(fare_family__cabin=cabin))
    rules = list(TaxRule.objects.filter(Q(origin_country="") | Q(origin_country__in=countries)).order_by("code", "pk"))
    return classes, rules


def _priced(flight: Flight, *, classes: list[BookingClass], rules: list[TaxRule], counts: dict[str, int]) -> FlightOption:
    inventory = flight.searched_cabin[0]
    offers = pricing.offers_for(flight=flight, inventory=inventory, classes=classes, rules=rules, counts=counts)
    return FlightOption(flight=flight, offers=offers, seats_left=inventory.available)


def _sorted(options: list[FlightOption], sort: str) -> list[FlightOption]:
    def by_price(o: FlightOption) -> tuple:
        lowest = o.lowest
        return (lowest is None, lowest.total if lowest else Decimal(0), o.flight.scheduled_departure, o.flight.pk)

    keys = {
        "price": by_price,
        "departure": lambda o: (o.flight.scheduled_departure, o.flight.pk),
        "duration": lambda o: (o.flight.duration_minutes, o.flight.scheduled_departure, o.flight.pk),
    }
    return sorted(options, key=keys[sort])


def _on_leg(flight: Flight, leg: _Leg) -> bool:
    local_day = flight.scheduled_departure.astimezone(ZoneInfo(leg.origin.time_zone)).date()
    return (
        flight.origin_id == leg.origin.pk
        and flight.destination_id == leg.destination.pk
        and leg.first_day <= local_day <= leg.last_day
    )


def itinerary_search(
    *,
    legs: list[tuple[str, str, date]],
    cabin: str,
    adults: int,
    children: int = 0,
    infants: int = 0,
    sort: str = "price",
) -> list[list[FlightOption]]:
    """One list of options per leg: one-way is one leg, return two, multi-city up to six.

    Live seats and open classes come from FlightCabin as it is now; the query count does not grow
    with the number of flights or legs.
    """
    checked, counts = _validated_legs(legs=legs, cabin=cabin, sort=sort, adults=adults, children=children, infants=infants)
    flights = _flights_for(checked, cabin)
    classes, rules = _fares_for(cabin=cabin, countries={str(leg.origin.country) for leg in checked})
    priced = [_priced(f, classes=classes, rules=rules, counts=counts) for f in flights]
    return [_sorted([o for o in priced if _on_leg(o.flight, leg)], sort) for leg in checked]


def flight_search(
    *,
    origin: str,
    destination: str,
    departure_date: date,
    cabin: str,
    adults: int,
    children: int = 0,
    infants: int = 0,
    sort: str = "price",
) -> list[FlightOption]:
    """Flights leaving ``origin`` on ``departure_date`` in the origin's local time, priced for the party."""
    return itinerary_search(
        legs=[(origin, destination, departure_date)],
        cabin=cabin,
        adults=adults,
        children=children,
        infants=infants,
        sort=sort,
    )[0]


def price_calendar(
    *,
    origin: str,
    destination: str,
    around: date,
    cabin: str,
    adults: int,
    children: int = 0,
    infants: int = 0,
    days: int = 3,
) -> list[CalendarDay]:
    """The lowest total per local departure day for ``around`` ± ``days``, in a fixed number of queries."""
    if not 0 <= days <= MAX_CALENDAR_DAYS:
        message = gettext("Show 0 to %(max)d days either side.") % {"max": MAX_CALENDAR_DAYS}
        raise ApplicationError(message, fields={"days": [message]})
    (leg,), counts = _validated_legs(
        legs=[(origin, destination, around)],
        cabin=cabin,
        sort="price",
        adults=adults,
        children=children,
        infants=infants,
        days=days,
    )
    classes, rules = _fares_for(cabin=cabin, countries={str(leg.origin.country)})
    zone = ZoneInfo(leg.origin.time_zone)
    lowest: dict[date, pricing.FareOffer] = {}
    for flight in _flights_for([leg], cabin):
        offer = _priced(flight, classes=classes, rules=rules, counts=counts).lowest
        day = flight.scheduled_departure.astimezone(zone).date()
        if offer is not None and (day not in lowest or offer.total < lowest[day].total):
            lowest[day] = offer
    currency = next((c.fare_family.currency for c in classes), settings.BOOKING_CURRENCY)
    calendar = []
    for offset in range(-days, days + 1):
        day = around + timedelta(days=offset)
        offer = lowest.get(day)
        calendar.append(
            CalendarDay(date=day, lowest=offer.total if offer else None, currency=offer.currency if offer else currency)
        )
    return calendar


def airport_choices() -> list[tuple[str, str]]:
    """(IATA code, "City (CODE)") of every airport the network serves, for search forms: the city in the
    reader's language, in the order of the English names (one order whatever the language)."""
    served = Airport.objects.filter(
        Exists(Route.objects.filter(origin=OuterRef("pk"))) | Exists(Route.objects.filter(destination=OuterRef("pk")))
    )
    return [(a.iata_code, a.label()) for a in served.order_by("city", "iata_code")]


FLIGHT_CODE = re.compile(r"(?P<airline>[A-Z]{2,3}|[A-Z][0-9]|[0-9][A-Z])?(?P<number>[0-9]{1,4})")


def flight_status_lookup(*, flight_code: str, service_date: date) -> Flight:
    """A flight by its code ("AU111", "AU 111" or just "111" for our own) and local departure date."""
    match = FLIGHT_CODE.fullmatch("".join(str(flight_code).split()).upper())
    if match is None or not isinstance(service_date, date):
        raise NotFound(gettext("No flight with this number on this date."))
    flight = (
        Flight.objects.select_related("origin", "destination", "aircraft_type", "route")
        .filter(
            airline_designator=match["airline"] or settings.AIRLINE_DESIGNATOR,
            flight_number=int(match["number"]),
            service_date=service_date,
        )
        .first()
    )
    if flight is None:
        raise NotFound(gettext("No flight with this number on this date."))
    return flight
