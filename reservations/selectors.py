"""Reads shared by the office, the portal, the API and tasks, with the joins each page needs."""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from crm.errors import ApplicationError, NotFound
from crm.models import AssistanceCode, Cabin
from reservations import bcbp, pricing, rules
from reservations.models import (
    RECORD_LOCATOR_ALPHABET,
    Airport,
    Booking,
    BookingClass,
    BookingPassenger,
    BookingStatus,
    Channel,
    ChargeKind,
    CheckIn,
    Coupon,
    CouponStatus,
    Flight,
    FlightCabin,
    FlightStatus,
    PassengerType,
    Route,
    SeatAssignment,
    SeatMapSection,
    Segment,
    SegmentStatus,
    TaxRule,
    TicketStatus,
)


def booking_queryset() -> QuerySet[Booking]:
    """Bookings with what every booking page shows: passengers, segments with their flights."""
    return Booking.objects.select_related("customer").prefetch_related(
        Prefetch("passengers", queryset=BookingPassenger.objects.order_by("sequence")),
        Prefetch(
            "segments",
            queryset=Segment.objects.select_related(
                "flight__origin", "flight__destination", "flight__aircraft_type", "fare_family", "booking_class"
            ).order_by("sequence"),
        ),
    )


def normalize_record_locator(text: str) -> str:
    return "".join(text.split()).upper()


def booking_trip_queryset() -> QuerySet[Booking]:
    """Bookings with what the passenger's trip page adds: tickets, charges, payments and refunds, in a fixed
    number of queries whatever the number of travellers."""
    from reservations.models import BookingCharge, Payment, Refund, Ticket

    return booking_queryset().prefetch_related(
        Prefetch(
            "tickets", queryset=Ticket.objects.select_related("passenger").order_by("passenger__sequence", "issued_at", "id")
        ),
        Prefetch("charges", queryset=BookingCharge.objects.select_related("passenger").order_by("id")),
        Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
        Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
    )


def booking_get(*, record_locator: str, detail: bool = False) -> Booking:
    """For staff (the caller has checked the permission); ``detail`` loads what the trip page shows."""
    locator = normalize_record_locator(record_locator)
    if len(locator) != 6 or any(ch not in RECORD_LOCATOR_ALPHABET for ch in locator):
        raise NotFound("No booking with this reference.")
    booking = (booking_trip_queryset() if detail else booking_queryset()).filter(record_locator=locator).first()
    if booking is None:
        raise NotFound("No booking with this reference.")
    return booking


def booking_get_for_passenger(*, user, record_locator: str, detail: bool = False) -> Booking:  # noqa: ANN001
    """A booking the passenger made, to act on as a whole (pay, cancel, change, receipt).

    Someone who only travels on it is refused with ``booker_only`` (403); anyone else's is 'not found'.
    Pages a co-traveller may open too use ``booking_reach_for_passenger``.
    """
    return booking_reach_for_passenger(user=user, record_locator=record_locator, detail=detail).require_booker()


# --- Who a passenger is on a booking ----------------------------------------------------------

BOOKER = "booker"
TRAVELLER = "traveller"


class BookerOnly(ApplicationError, PermissionDenied):
    """A co-traveller asked for what only the booker may do: the API's 403 ``booker_only``, and a 403 page
    (never a 500) in an HTML view that does not catch it."""


@dataclass(frozen=True)
class PassengerBooking:
    """A booking as one passenger login reaches it.

    The booker reaches all of it. A co-traveller, on a booking someone else made, reaches only their own
    part: themselves (and the infant on their lap), the flights, their e-tickets, seats, check-in and
    boarding passes; never the booker's contact details, charges, payments or refunds, and no action on
    the whole booking.
    """

    booking: Booking
    role: str
    passenger_ids: frozenset[int]

    @property
    def is_booker(self) -> bool:
        return self.role == BOOKER

    @property
    def passengers(self) -> list[BookingPassenger]:
        return [p for p in self.booking.passengers.all() if p.pk in self.passenger_ids]

    def shows(self, passenger_id: int | None) -> bool:
        return passenger_id in self.passenger_ids

    def require_booker(self) -> Booking:
        if not self.is_booker:
            raise BookerOnly(gettext("Only the person who made this booking can do this."), code="booker_only", status=403)
        return self.booking


def booking_reach(*, booking: Booking, customer) -> PassengerBooking | None:  # noqa: ANN001
    """What ``customer`` may reach of ``booking`` (its passengers already loaded): None when it is not theirs."""
    if customer is None:
        return None
    passengers = list(booking.passengers.all())
    if booking.customer_id == customer.pk:
        return PassengerBooking(booking=booking, role=BOOKER, passenger_ids=frozenset(p.pk for p in passengers))
    own = {p.pk for p in passengers if p.customer_id == customer.pk}
    if not own:
        return None
    laps = {p.pk for p in passengers if p.travelling_with_id in own}
    return PassengerBooking(booking=booking, role=TRAVELLER, passenger_ids=frozenset(own | laps))


def booking_reach_for_passenger(*, user, record_locator: str, detail: bool = False) -> PassengerBooking:  # noqa: ANN001
    """A booking the passenger made or travels on, with what they may reach of it; anyone else's is 'not found'.

    ``detail`` loads what the trip page shows, as for ``booking_get``."""
    booking = booking_get(record_locator=record_locator, detail=detail)
    customer = getattr(user, "customer", None) if user and user.is_authenticated else None
    reach = booking_reach(booking=booking, customer=customer)
    if reach is None:
        raise NotFound("No booking with this reference.")
    return reach


def bookings_for_customer(*, customer) -> QuerySet[Booking]:  # noqa: ANN001
    """Bookings the customer made or travels on, newest first."""
    from django.db.models import Q

    return booking_queryset().filter(Q(customer=customer) | Q(passengers__customer=customer)).distinct()


# --- Back-office ------------------------------------------------------------------------------

NAME_SIMILARITY = 0.3


def normalize_ticket_number(text: str) -> str:
    """'157-1234567890' or '157 1234 567890' as the 13 digits printed on the ticket."""
    return "".join(ch for ch in (text or "") if ch not in " -")


def looks_like_record_locator(text: str) -> bool:
    locator = normalize_record_locator(text or "")
    return len(locator) == 6 and all(ch in RECORD_LOCATOR_ALPHABET for ch in locator)


def looks_like_ticket_number(text: str) -> bool:
    number = normalize_ticket_number(text)
    return len(number) == 13 and number.isdigit()


def booking_office_queryset() -> QuerySet[Booking]:
    """A booking with everything the office booking page shows, in a fixed number of queries."""
    from reservations.models import BookingCharge, CheckIn, Coupon, Payment, Refund, SeatAssignment, Ticket

    return (
        booking_queryset()
        .select_related("created_by")
        .prefetch_related(
            "passengers__customer",
            Prefetch("segments__check_ins", queryset=CheckIn.objects.order_by("id")),
            Prefetch("segments__seat_assignments", queryset=SeatAssignment.objects.order_by("id")),
            Prefetch("charges", queryset=BookingCharge.objects.select_related("passenger", "created_by").order_by("id")),
            Prefetch("payments", queryset=Payment.objects.select_related("voucher", "created_by").order_by("created_at", "id")),
            Prefetch("refunds", queryset=Refund.objects.select_related("payment").order_by("created_at", "id")),
            Prefetch(
                "tickets",
                queryset=Ticket.objects.select_related("passenger")
                .prefetch_related(
                    Prefetch("coupons", queryset=Coupon.objects.select_related("segment__flight").order_by("number"))
                )
                .order_by("passenger__sequence", "issued_at", "id"),
            ),
        )
    )


# What staff need to open a booking, in the office and through the API alike: the booking and its
# travellers' personal data. Analysts hold view_booking alone (for aggregates) and open neither.
SEE_BOOKINGS = ("reservations.view_booking", "reservations.view_bookingpassenger")


def booking_get_for_office(*, record_locator: str) -> Booking:
    """For staff holding SEE_BOOKINGS (checked by the caller)."""
    locator = normalize_record_locator(record_locator or "")
    if not looks_like_record_locator(locator):
        raise NotFound("No booking with this reference.")
    booking = booking_office_queryset().filter(record_locator=locator).first()
    if booking is None:
        raise NotFound("No booking with this reference.")
    return booking


def booking_search(*, query: str) -> QuerySet[Booking]:
    """The office's one box: a booking reference, a 13-digit e-ticket number, or a passenger's name.

    Names match on every word (ILIKE) or by trigram similarity, so "Jonh Smiht" still finds John Smith.
    No query: the newest bookings.
    """
    from django.contrib.postgres.search import TrigramSimilarity
    from django.db.models import Q

    text = " ".join((query or "").split())
    bookings = booking_queryset()
    if not text:
        return bookings
    if looks_like_ticket_number(text):
        return bookings.filter(pk__in=_ticket_booking_ids(normalize_ticket_number(text)))
    if looks_like_record_locator(text):
        exact = bookings.filter(record_locator=normalize_record_locator(text))
        if exact.exists():
            return exact
    # Both use the trigram index on search_name: ILIKE '%word%' and the % (similar) operator.
    words = Q()
    for word in text.lower().split():
        words &= Q(search_name__contains=word)
    by_words = BookingPassenger.objects.filter(words).values("booking_id")
    similar = (
        BookingPassenger.objects.filter(search_name__trigram_similar=text.lower())
        .annotate(similarity=TrigramSimilarity("search_name", text.lower()))
        .filter(similarity__gte=NAME_SIMILARITY)
        .values("booking_id")
    )
    return bookings.filter(Q(pk__in=by_words) | Q(pk__in=similar))


def _ticket_booking_ids(number: str) -> QuerySet:
    from reservations.models import Ticket

    return Ticket.objects.filter(number=number).values("booking_id")


def booking_customer_ids(*, query: str) -> set[int]:
    """Customers behind a booking reference or ticket number (booker and travellers), for the customer search."""
    from reservations.models import Ticket

    text = (query or "").strip()
    ids: set[int] = set()
    if looks_like_ticket_number(text):
        for booker, traveller in Ticket.objects.filter(number=normalize_ticket_number(text)).values_list(
            "booking__customer_id", "passenger__customer_id"
        ):
            ids.update(i for i in (booker, traveller) if i)
    elif looks_like_record_locator(text):
        locator = normalize_record_locator(text)
        ids.update(Booking.objects.filter(record_locator=locator, customer__isnull=False).values_list("customer_id", flat=True))
        ids.update(
            BookingPassenger.objects.filter(booking__record_locator=locator, customer__isnull=False).values_list(
                "customer_id", flat=True
            )
        )
    return ids


def bookings_for_customer_panel(*, customer) -> QuerySet[Booking]:  # noqa: ANN001
    """The customer's bookings with their tickets, payments and check-ins, for the customer 360."""
    from reservations.models import CheckIn, Payment, Ticket

    return bookings_for_customer(customer=customer).prefetch_related(
        Prefetch("tickets", queryset=Ticket.objects.order_by("passenger__sequence", "issued_at", "id")),
        Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
        Prefetch("segments__check_ins", queryset=CheckIn.objects.order_by("id")),
    )


def flights_for_day(*, day, origin: str = "") -> QuerySet:  # noqa: ANN001
    """One local departure date's flights (from one airport if given) with their cabins' seat counts."""
    from reservations.models import Flight

    flights = (
        Flight.objects.filter(service_date=day)
        .select_related("origin", "destination", "aircraft_type")
        .prefetch_related("cabins")
        .order_by("scheduled_departure", "id")
    )
    return flights.filter(origin__iata_code=origin.upper()) if origin else flights


def flight_get(*, flight_id: int | str):  # noqa: ANN201
    from reservations.models import Flight

    try:
        return (
            Flight.objects.select_related("origin", "destination", "aircraft_type")
            .prefetch_related("cabins")
            .get(pk=int(flight_id))
        )
    except (Flight.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("No such flight.") from None


def flight_alternatives(*, segment: Segment, day=None, days: int = 3) -> list:  # noqa: ANN001
    """Other flights on the segment's route from ``day`` (the flight's own date by default) that still sell.

    Each carries ``seats_left`` in the segment's cabin, for choosing a new flight to change or rebook to.
    """
    from datetime import timedelta

    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from reservations.models import Flight, FlightCabin, FlightStatus

    flight = segment.flight
    start = day or flight.service_date
    seats = FlightCabin.objects.filter(flight=OuterRef("pk"), cabin=segment.cabin).values("available")[:1]
    return list(
        Flight.objects.filter(
            origin_id=flight.origin_id,
            destination_id=flight.destination_id,
            service_date__gte=start,
            service_date__lt=start + timedelta(days=days),
            scheduled_departure__gt=timezone.now() + timedelta(minutes=60),
        )
        .exclude(pk=flight.pk)
        .exclude(status__in=[FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED])
        .select_related("origin", "destination", "aircraft_type")
        .annotate(seats_left=Subquery(seats))
        .order_by("scheduled_departure", "id")
    )


# --- Flight search ------------------------------------------------------------------------------


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
    """(IATA code, "City (CODE)") of every airport the network serves, for search forms."""
    served = Airport.objects.filter(
        Exists(Route.objects.filter(origin=OuterRef("pk"))) | Exists(Route.objects.filter(destination=OuterRef("pk")))
    )
    return [(a.iata_code, str(a)) for a in served.order_by("city", "iata_code")]


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


# --- Seat maps, check-in and boarding -----------------------------------------------------------


BOARDING_BEGINS_MINUTES = 40
GATE_CLOSES_MINUTES = 15
# IATA prime codes of the cabins, printed as the compartment on the boarding pass.
COMPARTMENT_CODES = {Cabin.FIRST: "F", Cabin.BUSINESS: "J", Cabin.PREMIUM_ECONOMY: "W", Cabin.ECONOMY: "Y"}
CHECK_IN_SOURCES = {Channel.PORTAL: bcbp.SOURCE_WEB, Channel.AGENT: bcbp.SOURCE_AIRPORT_AGENT, Channel.API: bcbp.SOURCE_VENDOR}
NOT_ON_THE_FLIGHT = (CouponStatus.EXCHANGED, CouponStatus.REFUNDED, CouponStatus.VOID)


class SeatStatus:
    """How a seat shows on the map: free, free but at an emergency exit, held by someone, never sold."""

    AVAILABLE = "available"
    EXIT = "exit"
    TAKEN = "taken"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class SeatMapSeat:
    code: str
    row: int
    letter: str
    cabin: str
    status: str
    exit_row: bool
    window: bool
    aisle: bool
    passenger_id: int | None = None  # who holds it; show only to that passenger's own booking

    @property
    def selectable(self) -> bool:
        return self.status in (SeatStatus.AVAILABLE, SeatStatus.EXIT)


@dataclass(frozen=True)
class SeatMapRow:
    number: int
    cabin: str
    exit_row: bool
    blocks: list[list[SeatMapSeat]]  # seats between aisles, left to right

    @property
    def seats(self) -> list[SeatMapSeat]:
        return [seat for block in self.blocks for seat in block]


@dataclass(frozen=True)
class SeatMap:
    flight: Flight
    rows: list[SeatMapRow]

    def seat(self, code: str) -> SeatMapSeat | None:
        code = "".join((code or "").split()).upper().lstrip("0")
        return next((s for row in self.rows for s in row.seats if s.code == code), None)

    def free_seats(self, *, cabin: str) -> list[str]:
        return [s.code for row in self.rows if row.cabin == cabin for s in row.seats if s.selectable]

    @property
    def cabins(self) -> list[str]:
        return list(dict.fromkeys(row.cabin for row in self.rows))


def seat_map(*, flight: Flight, cabin: str | None = None) -> SeatMap:
    """The aircraft's rows with each seat's live status, in two queries whatever the number of passengers."""
    sections = SeatMapSection.objects.filter(aircraft_type_id=flight.aircraft_type_id).order_by("first_row")
    if cabin:
        sections = sections.filter(cabin=cabin)
    holders = dict(SeatAssignment.objects.filter(flight_id=flight.pk).values_list("seat", "passenger_id"))
    rows = []
    for section in sections:
        blocked = set(section.blocked_seats)
        exits = set(section.exit_rows)
        layout = section.layout
        for number in range(section.first_row, section.last_row + 1):
            blocks: list[list[SeatMapSeat]] = [[]]
            for position, letter in enumerate(layout):
                if letter == " ":
                    blocks.append([])
                    continue
                code = f"{number}{letter}"
                if code in blocked:
                    status = SeatStatus.BLOCKED
                elif code in holders:
                    status = SeatStatus.TAKEN
                else:
                    status = SeatStatus.EXIT if number in exits else SeatStatus.AVAILABLE
                aisle = (position > 0 and layout[position - 1] == " ") or (
                    position < len(layout) - 1 and layout[position + 1] == " "
                )
                blocks[-1].append(
                    SeatMapSeat(
                        code=code,
                        row=number,
                        letter=letter,
                        cabin=section.cabin,
                        status=status,
                        exit_row=number in exits,
                        window=position in (0, len(layout) - 1),
                        aisle=aisle,
                        passenger_id=holders.get(code),
                    )
                )
            rows.append(SeatMapRow(number=number, cabin=section.cabin, exit_row=number in exits, blocks=blocks))
    return SeatMap(flight=flight, rows=rows)


def _family_name_key(text: str) -> str:
    """Case, spaces and accents do not matter: "de la Cruz" finds "DELACRUZ" and "Müller" finds "MULLER"."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    return "".join(plain.split()).casefold()


def booking_get_for_check_in(*, record_locator: str, family_name: str) -> Booking:
    """Online check-in without logging in: the reference and a traveller's family name must both match.

    Every mismatch gets the same answer, so the form cannot be used to learn which references exist.
    """
    message = gettext("No booking matches this reference and family name.")
    locator = normalize_record_locator(record_locator or "")
    key = _family_name_key(family_name)
    booking = None
    if key and len(locator) == 6 and all(ch in RECORD_LOCATOR_ALPHABET for ch in locator):
        booking = booking_queryset().filter(record_locator=locator).first()
    if booking is None or not any(_family_name_key(p.family_name) == key for p in booking.passengers.all()):
        raise NotFound(message)
    return booking


def check_ins_for_booking(*, booking: Booking) -> list[CheckIn]:
    """The booking's boarding passes, flight by flight, traveller by traveller."""
    return list(
        CheckIn.objects.filter(segment__booking=booking)
        .select_related("passenger", "segment", "flight__origin", "flight__destination")
        .order_by("segment__sequence", "passenger__sequence")
    )


def check_in_get_for_booking(*, booking: Booking, check_in_id: int) -> CheckIn:
    """One boarding pass of this booking; another booking's is "not found"."""
    found = CheckIn.objects.filter(segment__booking=booking, pk=check_in_id).first()
    if found is None:
        raise NotFound(gettext("No such boarding pass on this booking."))
    return found


def segment_change_refusal(*, booking: Booking, segment: Segment) -> ApplicationError | None:
    """Why the passenger cannot change this flight now (the message the change service would give), or None."""
    coupons = list(Coupon.objects.filter(ticket__booking=booking).select_related("ticket"))
    return rules.change_refusal(booking=booking, segment=segment, coupons=coupons, involuntary=False)


# --- What a trip offers -----------------------------------------------------------------------

BOOKER_ACTIONS = frozenset({"pay", "cancel", "change"})
STAFF_ACTION_PERMISSIONS = {
    "pay": ("reservations.add_payment",),
    "cancel": ("reservations.change_booking", "reservations.add_refund"),
    "change": ("reservations.change_booking",),
    "check_in": ("reservations.add_checkin",),
    "seats": ("reservations.add_seatassignment",),
}


@dataclass(frozen=True)
class SegmentActions:
    """What can be done on one flight of the booking now."""

    segment: Segment
    check_in: bool
    check_in_opens: datetime
    seats: bool
    change: bool
    future: bool


@dataclass(frozen=True)
class TripActions:
    """The actions a booking offers its passenger (or a member of staff) now.

    Each is offered exactly when the service would not refuse it (``reservations.rules``); the services
    still enforce the rules, this only decides which buttons and links to show.
    """

    pay: bool
    cancel: bool
    documents: bool
    segments: tuple[SegmentActions, ...]

    def for_segment(self, segment: Segment) -> SegmentActions | None:
        return next((a for a in self.segments if a.segment.pk == segment.pk), None)


def trip_actions(*, booking: Booking, user=None, at: datetime | None = None) -> TripActions:  # noqa: ANN001
    """Which of pay, cancel, change, seats and check-in the booking offers now, in a fixed number of queries.

    Uses the booking's prefetched segments (with flight and fare family) and charges when they are there.
    A member of staff is offered only what their permissions also allow.
    """
    now = at or timezone.now()
    staff = bool(user is not None and user.is_authenticated and user.is_staff)
    # A passenger who only travels on someone else's booking acts on their own flights, never on the whole.
    customer = getattr(user, "customer", None) if user is not None and user.is_authenticated and not staff else None
    booker = customer is None or booking.customer_id == customer.pk

    def allowed(action: str) -> bool:
        if action in BOOKER_ACTIONS and not booker:
            return False
        return not staff or user.has_perms(STAFF_ACTION_PERMISSIONS[action])

    segments = list(booking.segments.all())
    confirmed = [s for s in segments if s.status == SegmentStatus.CONFIRMED]
    coupons = (
        list(Coupon.objects.filter(ticket__booking=booking).select_related("ticket"))
        if booking.status == BookingStatus.TICKETED
        else []
    )
    baggage = sum((c.amount for c in booking.charges.all() if c.kind == ChargeKind.BAGGAGE), Decimal(0))
    unpaid = booking.balance_due - baggage
    waiting = {c.segment_id for c in coupons if c.ticket.status == TicketStatus.OPEN and c.status == CouponStatus.OPEN}
    per_segment = []
    for segment in segments:
        opens, _closes = rules.check_in_window(flight=segment.flight)
        per_segment.append(
            SegmentActions(
                segment=segment,
                check_in=allowed("check_in")
                and segment.pk in waiting
                and rules.check_in_refusal(booking=booking, segment=segment, unpaid=unpaid, at=now) is None,
                check_in_opens=opens,
                seats=allowed("seats") and rules.seat_refusal(booking=booking, segment=segment, at=now) is None,
                change=allowed("change")
                and rules.change_refusal(booking=booking, segment=segment, coupons=coupons, involuntary=False, at=now) is None,
                future=segment.flight.scheduled_departure > now,
            )
        )
    return TripActions(
        pay=allowed("pay") and rules.payment_refusal(booking=booking, at=now) is None,
        cancel=allowed("cancel") and rules.cancel_refusal(booking=booking, segments=confirmed, coupons=coupons) is None,
        documents=booking.status == BookingStatus.TICKETED,
        segments=tuple(per_segment),
    )


@dataclass(frozen=True)
class BoardingPass:
    """What the printed and on-screen boarding pass shows, times in each airport's local time."""

    check_in: CheckIn
    passenger_name: str
    passenger_type: str
    record_locator: str
    ticket_number: str
    flight: Flight
    flight_code: str
    cabin: str
    fare_family: str
    departure: datetime
    arrival: datetime
    boarding: datetime
    gate_closes: datetime
    gate: str
    seat: str
    sequence: int
    zone: int
    bags: int
    hand_carry: int
    lap_infant: str
    travelling_with: str
    ssr_codes: list[str]
    barcode: str

    @property
    def barcode_png(self) -> bytes:
        return bcbp.pdf417_png(self.barcode)

    @property
    def barcode_data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.barcode_png).decode("ascii")


def _ssr_codes(passenger: BookingPassenger, *, carries_infant: bool) -> list[str]:
    codes = [passenger.meal] if passenger.meal else []
    codes += list(passenger.assistance)
    if carries_infant:
        codes.append("INFT")
    if passenger.passenger_type == PassengerType.CHILD:
        codes.append("CHLD")
    if passenger.frequent_flyer_number:
        codes.append("FQTV")
    return codes


def _boarding_zone(*, cabin: str, seat: str, passenger: BookingPassenger, carries_infant: bool, rows: range) -> int:
    """Premium cabins first, then those who need time (assistance, children, infants), then economy back to front."""
    if cabin in (Cabin.FIRST, Cabin.BUSINESS):
        return 1
    if passenger.assistance or carries_infant or passenger.passenger_type != PassengerType.ADULT:
        return 2
    row = int(seat[:-1]) if seat[:-1].isdigit() else rows.start
    return 3 if row > rows.start + len(rows) // 2 else 4


def _boarding_check_ins() -> QuerySet[CheckIn]:
    return CheckIn.objects.select_related(
        "coupon__ticket",
        "passenger__travelling_with",
        "segment__booking",
        "segment__fare_family",
        "flight__origin",
        "flight__destination",
    )


def boarding_pass(*, check_in: CheckIn) -> BoardingPass:
    """Everything the boarding pass page and PDF print, with the Resolution 792 barcode string."""
    check_in = _boarding_check_ins().get(pk=check_in.pk)
    infant = BookingPassenger.objects.filter(travelling_with_id=check_in.passenger_id).order_by("sequence").first()
    sections = SeatMapSection.objects.filter(aircraft_type_id=check_in.flight.aircraft_type_id, cabin=check_in.segment.cabin)
    return _boarding_pass(check_in, infant=infant, sections=list(sections))


def boarding_passes(*, booking: Booking, passenger_ids: Collection[int] | None = None) -> list[BoardingPass]:
    """The booking's boarding passes (or only those of ``passenger_ids``), flight by flight, traveller by
    traveller, in three queries whatever the number of travellers."""
    check_ins = _boarding_check_ins().filter(segment__booking=booking)
    if passenger_ids is not None:
        check_ins = check_ins.filter(passenger_id__in=passenger_ids)
    check_ins = list(check_ins.order_by("segment__sequence", "passenger__sequence"))
    infants: dict[int, BookingPassenger] = {}
    for infant in BookingPassenger.objects.filter(booking=booking, travelling_with__isnull=False).order_by("sequence"):
        infants.setdefault(infant.travelling_with_id, infant)
    sections = list(SeatMapSection.objects.filter(aircraft_type_id__in={c.flight.aircraft_type_id for c in check_ins}))
    return [
        _boarding_pass(
            c,
            infant=infants.get(c.passenger_id),
            sections=[s for s in sections if s.aircraft_type_id == c.flight.aircraft_type_id and s.cabin == c.segment.cabin],
        )
        for c in check_ins
    ]


def _boarding_pass(check_in: CheckIn, *, infant: BookingPassenger | None, sections: list[SeatMapSection]) -> BoardingPass:
    passenger, segment, flight = check_in.passenger, check_in.segment, check_in.flight
    booking = segment.booking
    carries_infant = infant is not None
    cabin_rows = [range(s.first_row, s.last_row + 1) for s in sections]
    rows = range(min(r.start for r in cabin_rows), max(r.stop for r in cabin_rows)) if cabin_rows else range(1, 2)
    origin_zone, destination_zone = ZoneInfo(flight.origin.time_zone), ZoneInfo(flight.destination.time_zone)
    departure = flight.departure_time.astimezone(origin_zone)
    seat = check_in.seat or ("INF" if not passenger.holds_seat else "")
    ticket_number = check_in.coupon.ticket.number
    fare = segment.fare_family
    premium = segment.cabin in (Cabin.FIRST, Cabin.BUSINESS)
    if passenger.passenger_type == PassengerType.INFANT:
        description = bcbp.INFANT
    elif passenger.passenger_type == PassengerType.CHILD:
        description = bcbp.UNACCOMPANIED_MINOR if AssistanceCode.UMNR in passenger.assistance else bcbp.CHILD
    else:
        description = bcbp.ADULT_WITH_INFANT if carries_infant else bcbp.ADULT
    source = CHECK_IN_SOURCES.get(check_in.channel, bcbp.SOURCE_WEB)
    leg = bcbp.Leg(
        record_locator=booking.record_locator,
        origin=flight.origin.iata_code,
        destination=flight.destination.iata_code,
        carrier=flight.airline_designator,
        flight_number=flight.flight_number,
        flight_date=flight.service_date,
        compartment=COMPARTMENT_CODES.get(segment.cabin, "Y"),
        seat=seat,
        sequence=check_in.sequence_number,
        passenger_status=bcbp.STATUS_BAGS_CHECKED_IN if check_in.bags else bcbp.STATUS_CHECKED_IN,
        **bcbp.Leg.ticket_fields(ticket_number),
        selectee="0",
        documentation_verification="1" if flight.origin.country != flight.destination.country else "0",
        marketing_carrier=flight.airline_designator,
        frequent_flyer_carrier=flight.airline_designator if passenger.frequent_flyer_number else "",
        frequent_flyer_number=passenger.frequent_flyer_number[:16],
        free_baggage=bcbp.free_baggage_allowance(pieces=fare.baggage_pieces),
        fast_track="Y" if premium else "N",
    )
    barcode = bcbp.encode(
        family_name=passenger.family_name,
        given_name=passenger.given_name,
        legs=[leg],
        passenger_description=description,
        check_in_source=source,
        issuance_source=source,
        issued_on=check_in.checked_in_at.astimezone(origin_zone).date(),
        issuer=flight.airline_designator,
    )
    return BoardingPass(
        check_in=check_in,
        passenger_name=str(passenger),
        passenger_type=passenger.get_passenger_type_display(),
        record_locator=booking.record_locator,
        ticket_number=ticket_number,
        flight=flight,
        flight_code=flight.flight_code,
        cabin=segment.get_cabin_display(),
        fare_family=fare.name,
        departure=departure,
        arrival=flight.arrival_time.astimezone(destination_zone),
        boarding=departure - timedelta(minutes=BOARDING_BEGINS_MINUTES),
        gate_closes=departure - timedelta(minutes=GATE_CLOSES_MINUTES),
        gate=flight.gate,
        seat=seat,
        sequence=check_in.sequence_number,
        zone=_boarding_zone(cabin=segment.cabin, seat=seat, passenger=passenger, carries_infant=carries_infant, rows=rows),
        bags=check_in.bags,
        hand_carry=check_in.hand_carry,
        lap_infant=infant.full_name if infant else "",
        travelling_with=passenger.travelling_with.full_name if passenger.travelling_with_id else "",
        ssr_codes=_ssr_codes(passenger, carries_infant=carries_infant),
        barcode=barcode,
    )


@dataclass(frozen=True)
class ManifestRow:
    """One traveller on the flight, as the gate and the office see them."""

    passenger: BookingPassenger
    record_locator: str
    booking_status: str
    name: str
    passenger_type: str
    cabin: str
    seat: str
    ticket_number: str
    coupon_status: str
    check_in_status: str  # the coupon status label: open (not checked in), checked in, boarded, flown
    checked_in: bool
    sequence: int | None
    bags: int
    bag_weight_kg: Decimal
    hand_carry: int
    excess_baggage_fee: Decimal
    ssr_codes: list[str]
    infant_of: str


def flight_manifest(*, flight: Flight) -> list[ManifestRow]:
    """Everyone booked on the flight, alphabetical, with seat, check-in, bags and SSR codes, in four queries."""
    segments = {
        s.pk: s
        for s in Segment.objects.select_related("booking").filter(
            flight_id=flight.pk,
            status=SegmentStatus.CONFIRMED,
            booking__status__in=[BookingStatus.HELD, BookingStatus.TICKETED],
        )
    }
    by_booking = {s.booking_id: s for s in segments.values()}
    passengers = list(BookingPassenger.objects.filter(booking_id__in=list(by_booking)))
    names = {p.pk: p.full_name for p in passengers}
    carrying = {p.travelling_with_id for p in passengers if p.travelling_with_id}
    seats = {
        (segment_id, passenger_id): seat
        for segment_id, passenger_id, seat in SeatAssignment.objects.filter(flight_id=flight.pk).values_list(
            "segment_id", "passenger_id", "seat"
        )
    }
    coupons = {
        (c.segment_id, c.ticket.passenger_id): c
        for c in Coupon.objects.select_related("ticket", "check_in")
        .filter(segment_id__in=list(segments))
        .exclude(status__in=NOT_ON_THE_FLIGHT)
    }
    rows = []
    for p in passengers:
        segment = by_booking[p.booking_id]
        coupon = coupons.get((segment.pk, p.pk))
        done = getattr(coupon, "check_in", None) if coupon else None
        rows.append(
            ManifestRow(
                passenger=p,
                record_locator=segment.booking.record_locator,
                booking_status=segment.booking.get_status_display(),
                name=str(p),
                passenger_type=p.passenger_type,
                cabin=segment.get_cabin_display(),
                seat=(done.seat if done and done.seat else seats.get((segment.pk, p.pk), "")),
                ticket_number=coupon.ticket.number if coupon else "",
                coupon_status=coupon.status if coupon else "",
                check_in_status=(
                    gettext("Not ticketed")
                    if coupon is None
                    else gettext("Not checked in")
                    if coupon.status == CouponStatus.OPEN
                    else coupon.get_status_display()
                ),
                checked_in=done is not None,
                sequence=done.sequence_number if done else None,
                bags=done.bags if done else 0,
                bag_weight_kg=done.total_bag_weight_kg if done else Decimal(0),
                hand_carry=done.hand_carry if done else 0,
                excess_baggage_fee=done.excess_baggage_fee if done else Decimal(0),
                ssr_codes=_ssr_codes(p, carries_infant=p.pk in carrying),
                infant_of=names.get(p.travelling_with_id, "") if p.travelling_with_id else "",
            )
        )
    return sorted(rows, key=lambda r: (r.passenger.family_name.upper(), r.passenger.given_name.upper(), r.passenger.pk))


def manifest_totals(rows: list[ManifestRow]) -> dict[str, int | Decimal]:
    """Head counts and baggage for the top of the manifest."""
    return {
        "booked": len(rows),
        "checked_in": sum(1 for r in rows if r.checked_in),
        "boarded": sum(1 for r in rows if r.coupon_status == CouponStatus.BOARDED),
        "infants": sum(1 for r in rows if r.passenger_type == PassengerType.INFANT),
        "bags": sum(r.bags for r in rows),
        "bag_weight_kg": sum((r.bag_weight_kg for r in rows), Decimal(0)),
    }


def disrupted_bookings(*, flight: Flight | None = None) -> QuerySet[Booking]:
    """Active bookings still on a cancelled or long-delayed flight, most recently disrupted first.

    A booking leaves the list once it is rebooked onto another flight, cancelled, or the flight leaves.
    """
    threshold = timedelta(minutes=settings.DISRUPTION_DELAY_MINUTES)
    affected = Segment.objects.filter(booking=OuterRef("pk"), status=SegmentStatus.CONFIRMED).filter(
        Q(flight__status=FlightStatus.CANCELLED)
        | Q(
            flight__status__in=[FlightStatus.SCHEDULED, FlightStatus.DELAYED, FlightStatus.BOARDING],
            flight__estimated_departure__gt=F("flight__scheduled_departure") + threshold,
        )
    )
    if flight is not None:
        affected = affected.filter(flight=flight)
    return (
        booking_queryset()
        .filter(disrupted_at__isnull=False, status__in=[BookingStatus.HELD, BookingStatus.TICKETED])
        .filter(Exists(affected))
        .order_by("-disrupted_at", "-pk")
    )
