"""Finding bookings: the passenger-scoped getters (booker or co-traveller), the office's search and lists."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext

from crm.errors import ApplicationError, NotFound
from reservations.models import (
    RECORD_LOCATOR_ALPHABET,
    Booking,
    BookingPassenger,
    BookingStatus,
    Segment,
    SegmentStatus,
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
        Prefetch("charges", queryset=BookingCharge.objects.select_related("passenger", "segment__fare_family").order_by("id")),
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


BOOKER = "booker"
TRAVELLER = "traveller"


class BookerOnly(ApplicationError, PermissionDenied):
    """A co-traveller asked for what only the booker may do: the API's 403 ``booker_only``, and a 403 page
    (never a 500) in an HTML view that does not catch it."""


@dataclass(frozen=True)
class PassengerBooking:
    """A booking as one passenger login reaches it.

    The booker reaches all of it. A co-traveller, on a booking someone else made, reaches only their own
    part: themselves (and the infant on their lap, with their frequent flyer numbers), the flights, their
    e-tickets, seats, check-in and boarding passes; never the booker's contact details, charges, payments
    or refunds, and no action on the whole booking.
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


def booking_identical_active(
    *,
    flight_ids: list[int],
    customer=None,
    traveller_names: list[tuple[str, str]] = (),  # noqa: ANN001
) -> Booking | None:
    """A held or ticketed booking on exactly these flights that the customer made or travels on, or (for staff,
    who may see anyone's bookings) with one of the same travellers by name: booking the same trip twice is
    usually a second tab or a second click, and the booking pages ask before doing it. The newest such
    booking, or None. The portal passes no names, so a passenger never learns of someone else's booking.
    """
    from django.db.models import Q

    flights = set(flight_ids)
    names = {f"{given.strip()} {family.strip()}".lower() for given, family in traveller_names if given or family}
    who = Q(passengers__search_name__in=names) if names else Q(pk__in=[])
    if customer is not None and customer.pk is not None:
        who |= Q(customer=customer) | Q(passengers__customer=customer)
    candidates = (
        Booking.objects.filter(who, status__in=[BookingStatus.HELD, BookingStatus.TICKETED])
        .filter(segments__flight_id__in=flights, segments__status=SegmentStatus.CONFIRMED)
        .distinct()
        .order_by("-created_at", "-id")
        .prefetch_related(Prefetch("segments", queryset=Segment.objects.filter(status=SegmentStatus.CONFIRMED)))[:20]
    )
    return next((b for b in candidates if {s.flight_id for s in b.segments.all()} == flights), None)


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
            Prefetch(
                "charges",
                queryset=BookingCharge.objects.select_related("passenger", "segment__fare_family", "created_by").order_by("id"),
            ),
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


def flight_alternatives(*, segment: Segment, day=None, days: int = 3, min_seats: int = 0) -> list:  # noqa: ANN001
    """Other flights on the segment's route from ``day`` (the flight's own date by default) that still sell.

    Each carries ``seats_left`` in the segment's cabin, for choosing a new flight to change or rebook to;
    with ``min_seats`` only those with that many seats left (the whole party, for a rebooking).
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
        .filter(seats_left__gte=min_seats)
        .order_by("scheduled_departure", "id")
    )
