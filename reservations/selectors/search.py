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
    FareFamily,
    Flight,
    FlightCabin,
    FlightStatus,
    PassengerType,
    Route,
    TaxRule,
)
from reservations.rules import connects, maximum_layover

MAX_PARTY_SEATS = 9
MAX_LEGS = 6
MAX_CALENDAR_DAYS = 7
# Flights leaving sooner than this are no longer sold (booking_create refuses them too).
SALES_CUTOFF = timedelta(minutes=60)
SORT_KEYS = ("price", "departure", "duration")
UNSELLABLE = (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED)


@dataclass(frozen=True)
class JourneyOffer:
    """One fare family over every flight of a connection: one price for the journey.

    ``segments`` holds each flight's own offer, as booking prices and charges it: its booking class, its
    fare and the taxes of its own departure (a change in London adds the UK's departure taxes). The
    journey keeps one set of fare rules, those of the fare family, on every flight.
    """

    segments: tuple[pricing.FareOffer, ...]

    @property
    def flight_id(self) -> int:
        return self.segments[0].flight_id

    @property
    def cabin(self) -> str:
        return self.segments[0].cabin

    @property
    def fare_family(self) -> FareFamily:
        return self.segments[0].fare_family

    @property
    def booking_class(self) -> BookingClass:
        """The first flight's class; ``booking_classes`` names every flight's."""
        return self.segments[0].booking_class

    @property
    def booking_classes(self) -> str:
        return "/".join(o.booking_class.code for o in self.segments)

    @property
    def currency(self) -> str:
        return self.segments[0].currency

    @property
    def counts(self) -> dict[str, int]:
        return self.segments[0].counts

    @property
    def seats_left(self) -> int:
        return min(o.seats_left for o in self.segments)

    @property
    def prices(self) -> dict[str, pricing.PassengerPrice]:
        """Per passenger type: the fares of every flight added up, each flight's taxes itemised."""
        return {
            ptype: pricing.PassengerPrice(
                passenger_type=ptype,
                fare=sum((o.prices[ptype].fare for o in self.segments), Decimal(0)),
                taxes=tuple(tax for o in self.segments for tax in o.prices[ptype].taxes),
            )
            for ptype in self.segments[0].prices
        }

    @property
    def total(self) -> Decimal:
        return pricing.money(sum((o.total for o in self.segments), Decimal(0)))

    @property
    def fare_total(self) -> Decimal:
        return pricing.money(sum((o.fare_total for o in self.segments), Decimal(0)))

    @property
    def taxes_total(self) -> Decimal:
        return self.total - self.fare_total


def offer_segments(offer: pricing.FareOffer | JourneyOffer) -> tuple[pricing.FareOffer, ...]:
    """Each flight's own offer: a direct flight's offer is its only one."""
    return offer.segments if isinstance(offer, JourneyOffer) else (offer,)


KM_PER_MILE = Decimal("1.609344")


def base_miles(*, flights: tuple[Flight, ...] | list[Flight], fare_family: FareFamily) -> int:
    """The miles a journey earns before any tier bonus: each flight's distance in statute miles times the
    fare family's earn rate, rounded down per flight, as the programme credits each flown coupon."""
    return sum(
        int((Decimal(f.route.distance_km) / KM_PER_MILE).to_integral_value() * fare_family.miles_earn_percent // 100)
        for f in flights
    )


@dataclass(frozen=True)
class Layover:
    """The wait at the airport where a journey changes flights."""

    airport: Airport
    minutes: int


@dataclass(frozen=True)
class FlightOption:
    """One way to fly a leg: a flight, or a flight and its ``connections`` (one journey through another
    airport), with an offer per fare family still open for the whole party on every flight (none: sold out).

    ``flight`` is the first flight; ``flights`` all of them in order.
    """

    flight: Flight
    offers: list[pricing.FareOffer | JourneyOffer]
    seats_left: int
    connections: tuple[Flight, ...] = ()

    @property
    def lowest(self) -> pricing.FareOffer | JourneyOffer | None:
        return min(self.offers, key=lambda o: (o.total, o.fare_family.rank)) if self.offers else None

    @property
    def sold_out(self) -> bool:
        return not self.offers

    @property
    def flights(self) -> tuple[Flight, ...]:
        return (self.flight, *self.connections)

    @property
    def last_flight(self) -> Flight:
        return self.flights[-1]

    @property
    def stops(self) -> int:
        return len(self.connections)

    @property
    def departure(self) -> datetime:
        return self.flight.scheduled_departure

    @property
    def arrival(self) -> datetime:
        return self.last_flight.scheduled_arrival

    @property
    def duration_minutes(self) -> int:
        """From the first take-off to the last landing, changes included."""
        return int((self.arrival - self.departure).total_seconds() // 60)

    @property
    def layovers(self) -> list[Layover]:
        return [
            Layover(
                airport=after.origin, minutes=int((after.scheduled_departure - before.scheduled_arrival).total_seconds() // 60)
            )
            for before, after in zip(self.flights, self.flights[1:], strict=False)
        ]

    @property
    def key(self) -> str:
        """How a chosen option travels in a query string: its flight ids, e.g. "12" or "12-40"."""
        return "-".join(str(f.pk) for f in self.flights)


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


def _flights_for(legs: list[_Leg], cabin: str, *, connections: bool = False) -> list[Flight]:
    """Every sellable flight of every leg with this cabin, in two queries whatever the number of legs.

    With ``connections``, also every flight leaving the leg's origin those days and every flight to its
    destination up to a day and the longest layover later: the halves of the journeys with one change.
    """
    market = Q()
    for leg in legs:
        starts = _local_midnight(leg.first_day, leg.origin)
        ends = _local_midnight(leg.last_day + timedelta(days=1), leg.origin)
        if connections:
            market |= Q(origin=leg.origin, scheduled_departure__gte=starts, scheduled_departure__lt=ends)
            market |= Q(
                destination=leg.destination,
                scheduled_departure__gte=starts,
                scheduled_departure__lt=ends + timedelta(days=1) + maximum_layover(),
            )
        else:
            market |= Q(
                origin=leg.origin, destination=leg.destination, scheduled_departure__gte=starts, scheduled_departure__lt=ends
            )
    return list(
        Flight.objects.filter(market, cabins__cabin=cabin, scheduled_departure__gt=timezone.now() + SALES_CUTOFF)
        .exclude(status__in=UNSELLABLE)
        .select_related("route", "origin", "destination", "aircraft_type")
        .prefetch_related(Prefetch("cabins", queryset=FlightCabin.objects.filter(cabin=cabin), to_attr="searched_cabin"))
        .order_by("scheduled_departure", "pk")
    )


def _fares_for(*, cabin: str, countries: set[str]) -> tuple[list[BookingClass], list[TaxRule]]:
    """The cabin's booking classes and the taxes of departures from these countries (two queries)."""
    classes = list(BookingClass.objects.select_related("fare_family").filter(fare_family__cabin=cabin))
    rules = list(TaxRule.objects.filter(Q(origin_country="") | Q(origin_country__in=countries)).order_by("code", "pk"))
    return classes, rules


def _priced(flight: Flight, *, classes: list[BookingClass], rules: list[TaxRule], counts: dict[str, int]) -> FlightOption:
    inventory = flight.searched_cabin[0]
    offers = pricing.offers_for(flight=flight, inventory=inventory, classes=classes, rules=rules, counts=counts)
    return FlightOption(flight=flight, offers=offers, seats_left=inventory.available)


def _connected(first: FlightOption, then: FlightOption) -> FlightOption:
    """Two flights as one journey: a fare family is offered when it is open on both."""
    later = {o.fare_family.code: o for o in then.offers}
    offers = [JourneyOffer(segments=(o, later[o.fare_family.code])) for o in first.offers if o.fare_family.code in later]
    return FlightOption(
        flight=first.flight,
        connections=(then.flight,),
        offers=sorted(offers, key=lambda o: (o.total, o.fare_family.rank)),
        seats_left=min(first.seats_left, then.seats_left),
    )


def _leg_options(leg: _Leg, priced: list[FlightOption], *, connections: bool) -> list[FlightOption]:
    """The leg's direct flights and, with ``connections``, its journeys with one change.

    A change is offered where the second flight leaves the airport the first lands at no sooner than that
    airport's minimum connecting time and no later than the longest layover. Built from flights already
    loaded: no query here.
    """
    starting = [o for o in priced if o.flight.origin_id == leg.origin.pk and _on_leg(o.flight, leg, any_destination=True)]
    options = [o for o in starting if o.flight.destination_id == leg.destination.pk]
    if not connections:
        return options
    onward: dict[int, list[FlightOption]] = {}
    for o in priced:
        if o.flight.destination_id == leg.destination.pk and o.flight.origin_id != leg.origin.pk:
            onward.setdefault(o.flight.origin_id, []).append(o)
    for first in starting:
        for then in onward.get(first.flight.destination_id, ()):
            if connects(arriving=first.flight, departing=then.flight):
                options.append(_connected(first, then))
    return options


def _sorted(options: list[FlightOption], sort: str) -> list[FlightOption]:
    def by_price(o: FlightOption) -> tuple:
        lowest = o.lowest
        return (lowest is None, lowest.total if lowest else Decimal(0), o.departure, o.stops, o.key)

    keys = {
        "price": by_price,
        "departure": lambda o: (o.departure, o.stops, o.key),
        "duration": lambda o: (o.duration_minutes, o.departure, o.key),
    }
    return sorted(options, key=keys[sort])


def _on_leg(flight: Flight, leg: _Leg, *, any_destination: bool = False) -> bool:
    local_day = flight.scheduled_departure.astimezone(ZoneInfo(leg.origin.time_zone)).date()
    return (
        flight.origin_id == leg.origin.pk
        and (any_destination or flight.destination_id == leg.destination.pk)
        and leg.first_day <= local_day <= leg.last_day
    )


def _usable(flights: list[Flight], legs: list[_Leg]) -> list[Flight]:
    """The flights that are a leg's direct flight or half of a change at an airport both halves serve:
    from the hub, a search loads the whole day's departures, and only a few lead anywhere useful."""
    keep: set[int] = set()
    for leg in legs:
        origin, destination = leg.origin.pk, leg.destination.pk
        via = {f.destination_id for f in flights if f.origin_id == origin} & {
            f.origin_id for f in flights if f.destination_id == destination
        }
        keep.update(
            f.pk
            for f in flights
            if (f.origin_id == origin and (f.destination_id == destination or f.destination_id in via))
            or (f.destination_id == destination and f.origin_id in via)
        )
    return [f for f in flights if f.pk in keep]


def _priced_flights(
    legs: list[_Leg], *, cabin: str, counts: dict[str, int], connections: bool
) -> tuple[list[FlightOption], list[BookingClass]]:
    """Every flight the legs may use, priced: four queries whatever the number of legs and flights."""
    flights = _flights_for(legs, cabin, connections=connections)
    if connections:
        flights = _usable(flights, legs)
    countries = {str(leg.origin.country) for leg in legs} | {str(f.origin.country) for f in flights}
    classes, taxes = _fares_for(cabin=cabin, countries=countries)
    return [_priced(f, classes=classes, rules=taxes, counts=counts) for f in flights], classes


def itinerary_search(
    *,
    legs: list[tuple[str, str, date]],
    cabin: str,
    adults: int,
    children: int = 0,
    infants: int = 0,
    sort: str = "price",
    connections: bool = True,
) -> list[list[FlightOption]]:
    """One list of options per leg: one-way is one leg, return two, multi-city up to six.

    Each leg offers its direct flights and, with ``connections``, its journeys with one change (through
    the hub), each priced as one journey. Live seats and open classes come from FlightCabin as it is
    now; the query count does not grow with the number of flights or legs.
    """
    checked, counts = _validated_legs(legs=legs, cabin=cabin, sort=sort, adults=adults, children=children, infants=infants)
    priced, _classes = _priced_flights(checked, cabin=cabin, counts=counts, connections=connections)
    return [_sorted(_leg_options(leg, priced, connections=connections), sort) for leg in checked]


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
    connections: bool = False,
) -> list[FlightOption]:
    """Flights leaving ``origin`` on ``departure_date`` in the origin's local time, priced for the party;
    with ``connections``, journeys with one change too."""
    return itinerary_search(
        legs=[(origin, destination, departure_date)],
        cabin=cabin,
        adults=adults,
        children=children,
        infants=infants,
        sort=sort,
        connections=connections,
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
    connections: bool = True,
) -> list[CalendarDay]:
    """The lowest total per local departure day for ``around`` ± ``days``, in a fixed number of queries:
    the cheapest journey of the day, direct or (with ``connections``) with one change."""
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
    priced, classes = _priced_flights([leg], cabin=cabin, counts=counts, connections=connections)
    zone = ZoneInfo(leg.origin.time_zone)
    lowest: dict[date, pricing.FareOffer | JourneyOffer] = {}
    for option in _leg_options(leg, priced, connections=connections):
        offer = option.lowest
        day = option.departure.astimezone(zone).date()
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
