"""Every write in reservations and the rules behind it: inventory, bookings, payments, tickets,
changes and refunds, check-in, flight status.

Locks are always taken in one order (flight cabins by primary key, then the booking) so that two
transactions never deadlock.
"""

from __future__ import annotations

import functools
import math
import re as _re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import airportsdata
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.db.models.functions import Least
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict, NotFound
from crm.models import AssistanceCode, Cabin, Customer, MealCode, SeatPreference, TravelPurpose, User
from crm.services import email_queue, timeline_record
from crm.templatetags.airline_format import money
from reservations import events, pricing
from reservations.gateway import get_gateway
from reservations.models import (
    ZERO,
    AircraftType,
    Airport,
    Booking,
    BookingCharge,
    BookingClass,
    BookingPassenger,
    BookingStatus,
    Channel,
    ChargeKind,
    CheckIn,
    Coupon,
    CouponStatus,
    DocumentType,
    FareFamily,
    Flight,
    FlightCabin,
    FlightStatus,
    PassengerType,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    Route,
    SeatAssignment,
    SeatMapSection,
    Segment,
    SegmentStatus,
    TaxRule,
    Ticket,
    TicketStatus,
    TravelVoucher,
    TripType,
)

MAX_SEATS = 9
MIN_CONNECTION = timedelta(minutes=45)
BOOKING_CUTOFF = timedelta(minutes=60)


# --- Inventory ----------------------------------------------------------------------------------


def _lock_inventory(*, wanted: list[tuple[int, str]]) -> dict[tuple[int, str], FlightCabin]:
    """Lock the flight cabins of these (flight id, cabin) pairs in primary-key order."""
    flight_ids = sorted({flight_id for flight_id, _cabin in wanted})
    rows = FlightCabin.objects.select_for_update().filter(flight_id__in=flight_ids).order_by("pk")
    found = {(row.flight_id, row.cabin): row for row in rows}
    return {key: found[key] for key in wanted if key in found}


def inventory_take(*, inventory: FlightCabin, seats: int) -> None:
    """Take seats out of a locked cabin; the conditional UPDATE and the CHECK make an oversell impossible."""
    if seats <= 0:
        return
    taken = FlightCabin.objects.filter(pk=inventory.pk, available__gte=seats).update(available=F("available") - seats)
    if not taken:
        raise Conflict(
            _("Sold out: fewer than %(seats)d seats are left in %(cabin)s on %(flight)s.")
            % {"seats": seats, "cabin": inventory.get_cabin_display().lower(), "flight": inventory.flight.flight_code},
            code="sold_out",
        )
    inventory.available -= seats


def inventory_release(*, flight_id: int, cabin: str, seats: int) -> None:
    """Give seats back (cancellation, expiry, change); never above the cabin's capacity."""
    if seats <= 0:
        return
    FlightCabin.objects.filter(flight_id=flight_id, cabin=cabin).update(available=Least(F("available") + seats, F("capacity")))


# --- Booking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRequest:
    """One flight the party wants, in a cabin and fare family (e.g. economy Standard)."""

    flight_id: int
    cabin: str
    fare_family: str


@dataclass
class PassengerRequest:
    """One traveller as entered; blank preferences are filled from ``customer`` when given."""

    passenger_type: str
    given_name: str
    family_name: str
    title: str = ""
    date_of_birth: date | None = None
    nationality: str = ""
    document_type: str = ""
    document_number: str = ""
    document_expiry: date | None = None
    document_country: str = ""
    meal: str = ""
    assistance: list[str] = field(default_factory=list)
    frequent_flyer_number: str = ""
    customer: Customer | None = None


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _validate_party(passengers: list[PassengerRequest], first_day: date) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    counts = dict.fromkeys(PassengerType.values, 0)
    for i, p in enumerate(passengers, start=1):
        prefix = f"passengers.{i}"
        if p.passenger_type not in PassengerType.values:
            errors[f"{prefix}.passenger_type"] = [_("Choose adult, child or infant.")]
            continue
        counts[p.passenger_type] += 1
        if not p.given_name.strip():
            errors[f"{prefix}.given_name"] = [_("Enter the given name as in the travel document.")]
        if not p.family_name.strip():
            errors[f"{prefix}.family_name"] = [_("Enter the family name as in the travel document.")]
        if p.meal and p.meal not in MealCode.values:
            errors[f"{prefix}.meal"] = [_("Choose a special meal from the list.")]
        bad = [code for code in p.assistance if code not in AssistanceCode.values]
        if bad:
            errors[f"{prefix}.assistance"] = [_("Unknown assistance code: %(codes)s.") % {"codes": ", ".join(bad)}]
        if p.document_type and p.document_type not in DocumentType.values:
            errors[f"{prefix}.document_type"] = [_("Choose passport or national identity card.")]
        if p.document_expiry and p.document_expiry < first_day:
            errors[f"{prefix}.document_expiry"] = [_("The travel document expires before the flight.")]
        if p.passenger_type in (PassengerType.CHILD, PassengerType.INFANT) and not p.date_of_birth:
            errors[f"{prefix}.date_of_birth"] = [_("Enter the date of birth of every child and infant.")]
        elif p.date_of_birth:
            if p.date_of_birth > timezone.localdate():
                errors[f"{prefix}.date_of_birth"] = [_("The date of birth is in the future.")]
                continue
            age = _age_on(p.date_of_birth, first_day)
            if p.passenger_type == PassengerType.INFANT and age >= 2:
                errors[f"{prefix}.date_of_birth"] = [_("An infant is under 2 on the day of the first flight.")]
            elif p.passenger_type == PassengerType.CHILD and not 2 <= age <= 11:
                errors[f"{prefix}.date_of_birth"] = [_("A child is 2 to 11 years old on the day of the first flight.")]
            elif p.passenger_type == PassengerType.ADULT and age < 12:
                errors[f"{prefix}.date_of_birth"] = [_("An adult is 12 or older on the day of the first flight.")]
    if counts[PassengerType.ADULT] < 1:
        errors["passengers"] = [_("Every booking needs at least one adult.")]
    elif counts[PassengerType.ADULT] + counts[PassengerType.CHILD] > MAX_SEATS:
        errors["passengers"] = [_("At most %(max)d seats per booking (adults and children).") % {"max": MAX_SEATS}]
    elif counts[PassengerType.INFANT] > counts[PassengerType.ADULT]:
        errors["passengers"] = [_("Each infant travels on the lap of an adult: no more infants than adults.")]
    if errors:
        raise ApplicationError(_("Please correct the passenger details."), fields=errors)
    return counts


def _validate_itinerary(segments: list[SegmentRequest]) -> list[Flight]:
    if not segments:
        raise ApplicationError(_("Choose at least one flight."), fields={"segments": [_("Choose at least one flight.")]})
    if len(segments) > 6:
        raise ApplicationError(_("At most 6 flights per booking."), fields={"segments": [_("At most 6 flights per booking.")]})
    flights = Flight.objects.select_related("origin", "destination", "route").in_bulk([s.flight_id for s in segments])
    errors: dict[str, list[str]] = {}
    ordered: list[Flight] = []
    now = timezone.now()
    for i, request in enumerate(segments, start=1):
        flight = flights.get(request.flight_id)
        key = f"segments.{i}"
        if flight is None:
            errors[key] = [_("No such flight.")]
            continue
        if request.cabin not in {c for c, _label in FlightCabin._meta.get_field("cabin").choices}:
            errors[f"{key}.cabin"] = [_("Choose a cabin.")]
        if flight.status in (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED):
            errors[key] = [_("%(flight)s is no longer bookable.") % {"flight": flight.flight_code}]
        elif flight.scheduled_departure - now < BOOKING_CUTOFF:
            errors[key] = [_("%(flight)s departs too soon to be booked.") % {"flight": flight.flight_code}]
        if ordered and flight.scheduled_departure < ordered[-1].scheduled_arrival + MIN_CONNECTION:
            errors[key] = [_("Each flight must depart at least 45 minutes after the previous one lands.")]
        ordered.append(flight)
    if errors:
        raise ApplicationError(_("Please check the flights."), fields=errors)
    return ordered


def _trip_type(flights: list[Flight]) -> str:
    if len(flights) == 1:
        return TripType.ONE_WAY
    if (
        len(flights) == 2
        and flights[0].origin_id == flights[1].destination_id
        and flights[0].destination_id == flights[1].origin_id
    ):
        return TripType.ROUND_TRIP
    return TripType.MULTI_CITY


def _prefill(p: PassengerRequest) -> PassengerRequest:
    """Meals, assistance and documents the customer record already holds, unless entered anew."""
    c = p.customer
    if c is None:
        return p
    p.title = p.title or c.title
    p.date_of_birth = p.date_of_birth or c.date_of_birth
    p.nationality = p.nationality or str(c.nationality or "")
    p.meal = p.meal or c.meal_preference
    p.assistance = p.assistance or list(c.special_assistance)
    if not p.document_number and c.passport_number:
        p.document_type, p.document_number = DocumentType.PASSPORT, c.passport_number
        p.document_expiry = p.document_expiry or c.passport_expiry
        p.document_country = p.document_country or str(c.passport_country or "")
    return p


def _fare_classes(cabins: set[str]) -> list[BookingClass]:
    return list(BookingClass.objects.select_related("fare_family").filter(fare_family__cabin__in=cabins))


@transaction.atomic
def booking_create(
    *,
    segments: list[SegmentRequest],
    passengers: list[PassengerRequest],
    contact_email: str,
    channel: str,
    contact_phone: str = "",
    purpose: str = "",
    customer: Customer | None = None,
    by: User | None = None,
    language: str = "en",
) -> Booking:
    """Hold seats for the whole party on every flight, price it, and record the booking.

    All or nothing: if any flight has too few seats, nothing is taken and the caller gets a 409.
    """
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown booking channel."), fields={"channel": [_("Unknown booking channel.")]})
    if purpose and purpose not in TravelPurpose.values:
        raise ApplicationError(_("Choose a purpose of travel from the list."), fields={"purpose": [_("Unknown purpose.")]})
    if not contact_email or "@" not in contact_email:
        raise ApplicationError(_("Enter a contact e-mail."), fields={"contact_email": [_("Enter a valid e-mail address.")]})
    flights = _validate_itinerary(segments)
    first_day = flights[0].service_date
    counts = _validate_party([_prefill(p) for p in passengers], first_day)
    seats = counts[PassengerType.ADULT] + counts[PassengerType.CHILD]

    inventory = _lock_inventory(wanted=[(s.flight_id, s.cabin) for s in segments])
    classes = _fare_classes({s.cabin for s in segments})
    rules = list(TaxRule.objects.all())
    chosen: list[pricing.FareOffer] = []
    for i, (request, flight) in enumerate(zip(segments, flights, strict=True), start=1):
        cabin = inventory.get((flight.pk, request.cabin))
        if cabin is None:
            raise ApplicationError(
                _("%(flight)s has no such cabin.") % {"flight": flight.flight_code},
                fields={f"segments.{i}.cabin": [_("This flight has no such cabin.")]},
            )
        if cabin.available < seats:
            raise Conflict(
                _("Sold out: %(flight)s has %(left)d seats left in %(cabin)s, %(seats)d needed.")
                % {
                    "flight": flight.flight_code,
                    "left": cabin.available,
                    "cabin": cabin.get_cabin_display().lower(),
                    "seats": seats,
                },
                code="sold_out",
            )
        offers = pricing.offers_for(flight=flight, inventory=cabin, classes=classes, rules=rules, counts=counts)
        offer = next((o for o in offers if o.fare_family.code == request.fare_family), None)
        if offer is None:
            raise Conflict(
                _("The %(family)s fare is no longer available on %(flight)s; choose another fare.")
                % {"family": request.fare_family, "flight": flight.flight_code},
                code="fare_unavailable",
            )
        chosen.append(offer)
    for request, flight in zip(segments, flights, strict=True):
        inventory_take(inventory=inventory[(flight.pk, request.cabin)], seats=seats)

    booking = Booking.objects.create(
        customer=customer,
        created_by=by if by is not None and by.is_authenticated else None,
        trip_type=_trip_type(flights),
        channel=channel,
        purpose=purpose,
        contact_email=contact_email.strip(),
        contact_phone=contact_phone or "",
        language=language,
        adults=counts[PassengerType.ADULT],
        children=counts[PassengerType.CHILD],
        infants=counts[PassengerType.INFANT],
        currency=chosen[0].currency,
        hold_expires_at=timezone.now() + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
    )
    rows = []
    adults: list[BookingPassenger] = []
    for seq, p in enumerate(passengers, start=1):
        row = BookingPassenger(
            booking=booking, sequence=seq, customer=p.customer, passenger_type=p.passenger_type, title=p.title,
            given_name=p.given_name.strip(), family_name=p.family_name.strip(), date_of_birth=p.date_of_birth,
            nationality=p.nationality, document_type=p.document_type, document_number=p.document_number or None,
            document_expiry=p.document_expiry, document_country=p.document_country, meal=p.meal,
            assistance=list(p.assistance), frequent_flyer_number=p.frequent_flyer_number.strip(),
        )  # fmt: skip
        if p.passenger_type == PassengerType.INFANT:
            row.travelling_with = adults[len([r for r in rows if r.passenger_type == PassengerType.INFANT])] if adults else None
        row.save()
        if p.passenger_type == PassengerType.ADULT:
            adults.append(row)
        rows.append(row)
    if any(r.passenger_type == PassengerType.INFANT and r.travelling_with is None for r in rows):
        raise ApplicationError(
            _("List the adults before the infants they carry."), fields={"passengers": [_("List adults first.")]}
        )

    charges = []
    for seq, (offer, flight) in enumerate(zip(chosen, flights, strict=True), start=1):
        segment = Segment.objects.create(
            booking=booking, flight=flight, sequence=seq, cabin=offer.cabin,
            booking_class=offer.booking_class, fare_family=offer.fare_family,
        )  # fmt: skip
        for row in rows:
            price = offer.prices[row.passenger_type]
            charges.append(BookingCharge(
                booking=booking, passenger=row, segment=segment, kind=ChargeKind.FARE, code=offer.booking_class.code,
                description=f"{flight.flight_code} {offer.fare_family.name} ({row.get_passenger_type_display()})",
                amount=price.fare, currency=offer.currency,
            ))  # fmt: skip
            charges.extend(
                BookingCharge(
                    booking=booking,
                    passenger=row,
                    segment=segment,
                    kind=ChargeKind.TAX,
                    code=tax.code,
                    description=f"{flight.flight_code} {tax.name}",
                    amount=tax.amount,
                    currency=offer.currency,
                )  # fmt: skip
                for tax in price.taxes
            )
    BookingCharge.objects.bulk_create(charges)
    booking.total_amount = pricing.money(sum((c.amount for c in charges), Decimal(0)))
    booking.save(update_fields=["total_amount"])

    route = " – ".join([flights[0].origin.iata_code, *(f.destination.iata_code for f in flights)])
    for person in {c.pk: c for c in [customer, *(r.customer for r in rows)] if c is not None}.values():
        timeline_record(
            customer=person,
            kind="booking.created",
            summary=_("Booking %(locator)s made: %(route)s") % {"locator": booking.record_locator, "route": route},
            data={"record_locator": booking.record_locator, "channel": channel},
            actor=by,
        )
    return booking


def booking_total_recompute(*, booking: Booking) -> Booking:
    """The booking total is the sum of its charges; call after adding or removing one."""
    total = sum((c.amount for c in booking.charges.all()), Decimal(0))
    booking.total_amount = pricing.money(total)
    booking.save(update_fields=["total_amount", "updated_at"])
    return booking


def _release_booking_seats(booking: Booking) -> None:
    """Give back every confirmed segment's seats and seat assignments."""
    segments = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).order_by("flight_id"))
    cabins = _lock_inventory(wanted=[(s.flight_id, s.cabin) for s in segments])
    for segment in segments:
        if (segment.flight_id, segment.cabin) in cabins:
            inventory_release(flight_id=segment.flight_id, cabin=segment.cabin, seats=booking.seats)
        segment.seat_assignments.all().delete()


def booking_expire_hold(*, booking_id: int) -> Booking | None:
    """Release an unpaid hold whose time is up; a booking paid meanwhile is left alone.

    Locks flight cabins before the booking, like every other writer. A hold partly paid (a voucher,
    say) is cancelled instead, which refunds what was paid.
    """
    booking = Booking.objects.filter(pk=booking_id).first()
    if booking is None or booking.status != BookingStatus.HELD:
        return booking
    if booking.paid_amount > booking.refunded_amount:
        if booking.hold_expires_at and booking.hold_expires_at <= timezone.now():
            return booking_cancel(booking=booking, reason=_("The hold expired before the booking was fully paid."))
        return booking
    planned = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).values_list("flight_id", "cabin"))
    with transaction.atomic():
        _inventory, booking = _lock_for_change(booking=booking, flights=planned)
        if booking.status != BookingStatus.HELD or booking.paid_amount > booking.refunded_amount:
            return booking
        if booking.hold_expires_at and booking.hold_expires_at > timezone.now():
            return booking
        _release_booking_seats(booking)
        booking.status = BookingStatus.EXPIRED
        booking.cancelled_at = timezone.now()
        booking.save(update_fields=["status", "cancelled_at", "updated_at"])
        if booking.customer_id:
            timeline_record(
                customer=booking.customer,
                kind="booking.expired",
                summary=_("Booking %(locator)s expired unpaid; its seats were released.") % {"locator": booking.record_locator},
                data={"record_locator": booking.record_locator},
            )
        from reservations.events import booking_cancelled

        booking_cancelled.send(sender=Booking, booking=booking, reason="expired")
    return booking


def booking_expire_holds(*, limit: int = 500) -> int:
    """Expire every overdue hold, each in its own transaction (the periodic task calls this)."""
    overdue = list(
        Booking.objects.filter(status=BookingStatus.HELD, hold_expires_at__lte=timezone.now())
        .order_by("hold_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for booking_id in overdue:
        booking = booking_expire_hold(booking_id=booking_id)
        if booking is not None and booking.status == BookingStatus.EXPIRED:
            expired += 1
    return expired


# --- Seat selection -----------------------------------------------------------------------------


SEAT_CODE = _re.compile(r"^(\d{1,3})([A-Z])$")
SEAT_TAKEN_CONSTRAINT = "seat_taken_once_per_flight"
ACTIVE_BOOKING = (BookingStatus.HELD, BookingStatus.TICKETED)
FLIGHT_CLOSED = (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED)


def seat_code_normalize(seat: str) -> str:
    """ " 12a " -> "12A"; the seat map and the boarding pass use the same spelling."""
    return "".join((seat or "").split()).upper().lstrip("0")


def seat_section(*, sections: list[SeatMapSection], seat: str) -> SeatMapSection | None:
    """The seat-map section holding this seat, or None when the aircraft has no such seat."""
    match = SEAT_CODE.match(seat)
    if not match:
        return None
    row, letter = int(match.group(1)), match.group(2)
    return next((s for s in sections if s.first_row <= row <= s.last_row and letter in s.letters), None)


def exit_row_refusal(*, passenger: BookingPassenger, carries_infant: bool) -> str:
    """Why this traveller may not sit at an emergency exit, or "" when they may.

    Exit-row passengers must be able and willing to open the door for everyone else.
    """
    if passenger.passenger_type == PassengerType.CHILD:
        return _("Children cannot sit in an exit row.")
    if not passenger.holds_seat:
        return _("Infants travel on a lap and hold no seat.")
    if carries_infant:
        return _("Travellers with an infant on their lap cannot sit in an exit row.")
    if passenger.assistance:
        return _("Travellers who need special assistance cannot sit in an exit row.")
    return ""


def _constraint_name(exc: IntegrityError) -> str:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""


def _seat_taken(seat: str) -> Conflict:
    return Conflict(_("Seat %(seat)s is taken; choose another one.") % {"seat": seat}, code="seat_taken")


@transaction.atomic
def seat_assign(
    *,
    segment: Segment,
    passenger: BookingPassenger,
    seat: str,
    by: User | None = None,
    charge: bool = True,
) -> SeatAssignment:
    """Give the passenger this seat on the segment's flight, replacing the seat they had.

    The unique (flight, seat) constraint decides who gets a seat two people want at the same moment;
    the insert runs in a savepoint so the loser gets a 409 and keeps their previous seat. The fare
    family's seat-selection fee is charged once per passenger and flight (``charge=False`` for seats
    the airline allocates itself).
    """
    booking = Booking.objects.select_for_update().get(pk=segment.booking_id)
    if passenger.booking_id != booking.pk:
        raise NotFound(_("This traveller is not on this booking."))
    if booking.status not in ACTIVE_BOOKING:
        raise ApplicationError(_("Seats can only be chosen on an active booking."), code="booking_inactive")
    segment = Segment.objects.select_related("flight__aircraft_type", "fare_family").get(pk=segment.pk)
    flight = segment.flight
    if segment.status != SegmentStatus.CONFIRMED:
        raise ApplicationError(_("This flight is no longer part of the booking."), code="segment_cancelled")
    if flight.status in FLIGHT_CLOSED or flight.departure_time <= timezone.now():
        raise ApplicationError(
            _("Seats on %(flight)s can no longer be changed.") % {"flight": flight.flight_code}, code="flight_closed"
        )
    if not passenger.holds_seat:
        message = _("Infants travel on a lap and hold no seat.")
        raise ApplicationError(message, code="infant_no_seat", fields={"seat": [message]})
    code = seat_code_normalize(seat)
    section = seat_section(sections=list(flight.aircraft_type.sections.all()), seat=code)
    if section is None:
        raise ApplicationError(
            _("There is no seat %(seat)s on this aircraft.") % {"seat": code or seat},
            code="no_such_seat",
            fields={"seat": [_("Choose a seat from the seat map.")]},
        )
    if section.cabin != segment.cabin:
        raise ApplicationError(
            _("Seat %(seat)s is not in your cabin (%(cabin)s).") % {"seat": code, "cabin": segment.get_cabin_display()},
            code="wrong_cabin",
            fields={"seat": [_("Choose a seat in your cabin.")]},
        )
    if code in section.blocked_seats:
        message = _("Seat %(seat)s is not available.") % {"seat": code}
        raise ApplicationError(message, code="seat_blocked", fields={"seat": [message]})
    if int(SEAT_CODE.match(code).group(1)) in section.exit_rows:
        refusal = exit_row_refusal(passenger=passenger, carries_infant=passenger.infants.exists())
        if refusal:
            raise ApplicationError(refusal, code="exit_row_restricted", fields={"seat": [refusal]})

    current = SeatAssignment.objects.filter(segment=segment, passenger=passenger).first()
    if current is not None and current.seat == code:
        return current
    try:
        with transaction.atomic():
            if current is None:
                assignment = SeatAssignment.objects.create(segment=segment, passenger=passenger, flight=flight, seat=code)
            else:
                current.seat, current.created_at = code, timezone.now()
                current.save(update_fields=["seat", "created_at"])
                assignment = current
    except IntegrityError as exc:
        if _constraint_name(exc) == SEAT_TAKEN_CONSTRAINT:
            raise _seat_taken(code) from exc
        raise
    CheckIn.objects.filter(segment=segment, passenger=passenger).update(seat=code)

    fee = segment.fare_family.seat_selection_fee
    if (
        charge
        and fee > 0
        and not BookingCharge.objects.filter(booking=booking, passenger=passenger, segment=segment, kind=ChargeKind.SEAT).exists()
    ):
        BookingCharge.objects.create(
            booking=booking, passenger=passenger, segment=segment, kind=ChargeKind.SEAT, code="SEAT",
            description=_("%(flight)s seat selection") % {"flight": flight.flight_code},
            amount=fee, currency=segment.fare_family.currency,
            created_by=by if by is not None and by.is_authenticated else None,
        )  # fmt: skip
        booking_total_recompute(booking=booking)
    return assignment


# --- Payments -----------------------------------------------------------------------------------


# Coupon, CouponStatus, TicketStatus, IntegrityError and email_queue are imported by the neighbouring
# sections of this module; they are module globals by the time any function here runs.


@dataclass(frozen=True)
class CardDetails:
    """A card as typed in: handed to the gateway for a token and never stored or logged (repr hides it)."""

    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int
    cvv: str = field(repr=False)
    holder: str


class PaymentDeclined(ApplicationError):
    """The gateway refused the card; ``payment`` is the recorded declined attempt."""

    status = 402

    def __init__(self, message: str, *, payment: Payment):
        super().__init__(message, code="payment_declined")
        self.payment = payment


# Loyalty provides how miles pay: redeemer(*, booking, amount, currency, idempotency_key, by) -> miles
# debited (raising ApplicationError when the member is short), refunder(*, payment, amount) puts them back.
_miles_hooks: dict[str, Callable[..., Any] | None] = {"redeem": None, "refund": None}


def register_miles_redeemer(fn: Callable[..., int] | None, *, refunder: Callable[..., None] | None = None) -> None:
    """Called by the loyalty app at start-up; reservations knows nothing else about miles."""
    _miles_hooks["redeem"] = fn
    _miles_hooks["refund"] = refunder


def _is_staff_with(user: User | None, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff and user.has_perm(perm))


def _actor(user: User | None) -> User | None:
    return user if user is not None and user.is_authenticated else None


def _people(booking: Booking) -> list[Customer]:
    """The booker and every traveller with a customer record: whose timeline a booking event belongs on."""
    travellers = Customer.objects.filter(trips__booking=booking).distinct()
    found = {c.pk: c for c in [booking.customer, *travellers] if c is not None}
    return list(found.values())


def _booker_timeline(booking: Booking, *, kind: str, summary: str, data: dict | None = None, by: User | None = None) -> None:
    if booking.customer_id:
        timeline_record(
            customer=booking.customer,
            kind=kind,
            summary=summary,
            data={"record_locator": booking.record_locator, **(data or {})},
            actor=by,
        )


def _check_payable(booking: Booking) -> None:
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.EXPIRED):
        raise ApplicationError(
            _("Booking %(locator)s is %(status)s and can no longer be paid.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="booking_not_payable",
        )
    if booking.status == BookingStatus.HELD and booking.hold_expires_at and booking.hold_expires_at <= timezone.now():
        raise ApplicationError(
            _("The hold on booking %(locator)s has expired; please book again.") % {"locator": booking.record_locator},
            code="booking_not_payable",
        )


def _voucher_debit(*, code: str, amount: Decimal, currency: str) -> TravelVoucher:
    """Take ``amount`` off the voucher with a conditional UPDATE, so two payments cannot spend it twice."""
    wrong = {"voucher_code": [_("No valid voucher with this code.")]}
    voucher = TravelVoucher.objects.filter(code__iexact=(code or "").strip()).first()
    if voucher is None:
        raise ApplicationError(_("No valid voucher with this code."), code="voucher_invalid", fields=wrong)
    if voucher.expires_on < timezone.localdate():
        raise ApplicationError(
            _("This voucher expired on %(date)s.") % {"date": voucher.expires_on.isoformat()},
            code="voucher_invalid",
            fields=wrong,
        )
    if voucher.currency != currency:
        raise ApplicationError(
            _("This voucher is in %(voucher)s; the booking is priced in %(booking)s.")
            % {"voucher": voucher.currency, "booking": currency},
            code="voucher_invalid",
            fields=wrong,
        )
    if not TravelVoucher.objects.filter(pk=voucher.pk, balance__gte=amount).update(balance=F("balance") - amount):
        voucher.refresh_from_db(fields=["balance"])
        message = _("The voucher has %(balance)s %(currency)s left, less than %(amount)s %(currency)s.") % {
            "balance": voucher.balance,
            "amount": amount,
            "currency": currency,
        }
        raise ApplicationError(message, code="voucher_insufficient", fields={"voucher_code": [message]})
    return voucher


def payment_take(
    *,
    booking: Booking,
    method: str,
    idempotency_key: str,
    amount: Decimal | None = None,
    card: CardDetails | None = None,
    voucher_code: str = "",
    by: User | None = None,
) -> Payment:
    """Pay towards the balance due (all of it unless ``amount``); full payment issues the e-tickets.

    The client's idempotency key makes a repeated request return the first result instead of charging
    again. A declined card is kept as a declined payment (the attempt belongs to the booking's history):
    it is committed first, then ``PaymentDeclined`` is raised carrying it; a replay of the same key raises
    the same decline. Call this outside an enclosing transaction, or the raise rolls the record back.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        message = _("Send an idempotency key of 1 to 100 characters.")
        raise ApplicationError(message, code="idempotency_key_invalid", fields={"idempotency_key": [message]})
    if method not in PaymentMethod.values:
        message = _("Choose card, travel voucher, counter or miles.")
        raise ApplicationError(message, fields={"method": [message]})
    payment = _payment_record(booking=booking, method=method, key=key, amount=amount, card=card, voucher_code=voucher_code, by=by)
    booking.refresh_from_db(fields=["status", "paid_amount", "refunded_amount", "total_amount", "hold_expires_at", "updated_at"])
    if payment.status == PaymentStatus.DECLINED:
        raise PaymentDeclined(_("The card was declined (%(reason)s).") % {"reason": payment.decline_reason}, payment=payment)
    return payment


@transaction.atomic
def _payment_record(
    *,
    booking: Booking,
    method: str,
    key: str,
    amount: Decimal | None,
    card: CardDetails | None,
    voucher_code: str,
    by: User | None,
) -> Payment:
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking.pk)
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.booking_id != locked.pk:
            raise Conflict(_("This idempotency key was already used for another booking."), code="idempotency_key_reused")
        return existing
    if method == PaymentMethod.COUNTER and not _is_staff_with(by, "reservations.add_payment"):
        raise ApplicationError(_("Only an agent can take a payment at the counter."), code="forbidden", status=403)
    _check_payable(locked)
    due = locked.balance_due
    if due <= 0:
        raise ApplicationError(
            _("Nothing is due on booking %(locator)s.") % {"locator": locked.record_locator}, code="nothing_due"
        )
    try:
        value = due if amount is None else pricing.money(Decimal(str(amount)))
    except (ArithmeticError, TypeError, ValueError):
        value = Decimal(0)
    if value <= 0:
        message = _("Enter an amount greater than zero.")
        raise ApplicationError(message, fields={"amount": [message]})
    if value > due:
        message = _("The amount is more than the %(due)s %(currency)s due.") % {"due": due, "currency": locked.currency}
        raise ApplicationError(message, code="amount_exceeds_balance", fields={"amount": [message]})

    payment = Payment(
        booking=locked, idempotency_key=key, method=method, amount=value, currency=locked.currency, created_by=_actor(by)
    )
    if method == PaymentMethod.CARD:
        if card is None:
            message = _("Enter the card details.")
            raise ApplicationError(message, code="card_invalid", fields={"card": [message]})
        gateway = get_gateway()
        token = gateway.tokenize(
            number=card.number, expiry_month=card.expiry_month, expiry_year=card.expiry_year, cvv=card.cvv, holder=card.holder
        )
        payment.card_token, payment.card_brand, payment.card_last4 = token.token, token.brand, token.last4
        result = gateway.charge(token=token.token, amount=value, currency=locked.currency, idempotency_key=key)
        if not result.succeeded:
            payment.status = PaymentStatus.DECLINED
            payment.decline_reason = result.decline_reason[:200]
            _payment_save(payment)
            return payment
        payment.gateway_reference = result.reference
    elif method == PaymentMethod.VOUCHER:
        payment.voucher = _voucher_debit(code=voucher_code, amount=value, currency=locked.currency)
    elif method == PaymentMethod.MILES:
        redeem = _miles_hooks["redeem"]
        if redeem is None:
            raise ApplicationError(_("Paying with miles is not available."), code="miles_unavailable")
        payment.miles = redeem(booking=locked, amount=value, currency=locked.currency, idempotency_key=key, by=by)
    payment.status = PaymentStatus.SUCCEEDED
    _payment_save(payment)
    Booking.objects.filter(pk=locked.pk).update(paid_amount=F("paid_amount") + value, updated_at=timezone.now())
    locked.refresh_from_db(fields=["paid_amount", "updated_at"])
    _booker_timeline(
        locked,
        kind="booking.payment",
        summary=_("Payment of %(amount)s %(currency)s received for booking %(locator)s (%(method)s)")
        % {
            "amount": value,
            "currency": locked.currency,
            "locator": locked.record_locator,
            "method": payment.get_method_display(),
        },
        data={"payment_id": payment.pk, "amount": str(value), "method": method},
        by=by,
    )
    if locked.status == BookingStatus.HELD and locked.balance_due <= 0:
        booking_ticket(booking=locked)
    return payment


def _payment_save(payment: Payment) -> None:
    """The unique idempotency key is the last word when two requests race with one key for two bookings."""
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        raise Conflict(_("This idempotency key was already used for another booking."), code="idempotency_key_reused")


# --- Ticketing ----------------------------------------------------------------------------------

TICKET_SERIAL_SEQUENCE = "reservations_ticket_serial"
RECEIPT_TEMPLATE = "reservations/eticket_receipt"


def _next_ticket_number() -> str:
    """The airline's 3-digit accounting prefix and the next 10-digit serial from a database sequence."""
    prefix = str(settings.AIRLINE_TICKET_PREFIX)
    if len(prefix) != 3 or not prefix.isdigit():
        raise ImproperlyConfigured("AIRLINE_TICKET_PREFIX must be three digits.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [TICKET_SERIAL_SEQUENCE])
        serial = cursor.fetchone()[0]
    return f"{prefix}{serial:010d}"


def _issue_tickets(*, booking: Booking, segments_for: Callable[[BookingPassenger], list[Segment]]) -> list[Ticket]:
    """One new ticket per passenger, with a coupon for each segment ``segments_for`` gives that passenger."""
    tickets = []
    coupons = []
    now = timezone.now()
    for passenger in booking.passengers.order_by("sequence"):
        segments = segments_for(passenger)
        if not segments:
            continue
        ticket = Ticket.objects.create(number=_next_ticket_number(), booking=booking, passenger=passenger, issued_at=now)
        coupons += [Coupon(ticket=ticket, segment=s, number=n) for n, s in enumerate(segments, start=1)]
        tickets.append(ticket)
    Coupon.objects.bulk_create(coupons)
    return tickets


def _email_language(language: str) -> str:
    code = (language or "en").lower()
    return code if code in dict(settings.LANGUAGES) else "en"


def _receipt_queue(*, booking: Booking, reissued: bool = False) -> None:
    """The e-ticket receipt e-mail with the PDF receipt and the trip calendar, sent after commit."""
    if not booking.contact_email:
        return
    from reservations.documents import CALENDAR_ATTACHMENT, RECEIPT_ATTACHMENT, local_time

    language = _email_language(booking.language)
    passengers = list(booking.passengers.order_by("sequence"))
    tickets = {t.passenger_id: t.number for t in booking.tickets.filter(status=TicketStatus.OPEN)}
    segments = booking.segments.filter(status=SegmentStatus.CONFIRMED).select_related(
        "flight__origin", "flight__destination", "fare_family"
    )
    booker = booking.customer.given_name if booking.customer_id else (passengers[0].given_name if passengers else "")
    with translation.override(language):
        context = {
            "record_locator": booking.record_locator,
            "reissued": reissued,
            "given_name": booker,
            "passengers": [
                {"name": p.full_name, "type": str(p.get_passenger_type_display()), "ticket": tickets.get(p.pk, "")}
                for p in passengers
            ],
            "flights": [
                {
                    "flight": s.flight.flight_code,
                    "origin": f"{s.flight.origin.city or s.flight.origin.name} ({s.flight.origin.iata_code})",
                    "destination": f"{s.flight.destination.city or s.flight.destination.name} ({s.flight.destination.iata_code})",
                    "departs": local_time(s.flight.departure_time, s.flight.origin.time_zone),
                    "arrives": local_time(s.flight.arrival_time, s.flight.destination.time_zone),
                    "fare": f"{s.get_cabin_display()} {s.fare_family.name}",
                }
                for s in segments
            ],
            "total": money(booking.total_amount, booking.currency),
            "paid": money(booking.paid_amount - booking.refunded_amount, booking.currency),
            "balance_due": money(booking.balance_due, booking.currency) if booking.balance_due > 0 else "",
        }
    email_queue(
        to=booking.contact_email,
        template=RECEIPT_TEMPLATE,
        context=context,
        language=language,
        customer=booking.customer,
        attachments=[(RECEIPT_ATTACHMENT, {"booking_id": booking.pk}), (CALENDAR_ATTACHMENT, {"booking_id": booking.pk})],
    )


@transaction.atomic
def booking_ticket(*, booking: Booking) -> list[Ticket]:
    """Issue the e-tickets of a fully paid booking: one per passenger, one coupon per flight.

    Idempotent: a booking already ticketed gets its open tickets back and nothing is issued or sent twice.
    """
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking.pk)
    if locked.status == BookingStatus.TICKETED:
        return list(locked.tickets.filter(status=TicketStatus.OPEN).order_by("passenger__sequence", "id"))
    if locked.status != BookingStatus.HELD:
        raise ApplicationError(
            _("Booking %(locator)s is %(status)s; no tickets can be issued.")
            % {"locator": locked.record_locator, "status": locked.get_status_display().lower()},
            code="booking_not_ticketable",
        )
    if locked.balance_due > 0:
        raise ApplicationError(
            _("%(due)s %(currency)s is still due on booking %(locator)s.")
            % {"due": locked.balance_due, "currency": locked.currency, "locator": locked.record_locator},
            code="payment_due",
        )
    segments = list(locked.segments.filter(status=SegmentStatus.CONFIRMED).order_by("sequence"))
    tickets = _issue_tickets(booking=locked, segments_for=lambda passenger: segments)
    locked.status = BookingStatus.TICKETED
    locked.hold_expires_at = None
    locked.save(update_fields=["status", "hold_expires_at", "updated_at"])
    booking.status, booking.hold_expires_at = locked.status, None
    for person in _people(locked):
        timeline_record(
            customer=person,
            kind="booking.ticketed",
            summary=_("E-tickets issued for booking %(locator)s") % {"locator": locked.record_locator},
            data={"record_locator": locked.record_locator, "tickets": [t.number for t in tickets]},
        )
    from reservations.events import booking_ticketed

    booking_ticketed.send(sender=Booking, booking=locked)
    _receipt_queue(booking=locked)
    return tickets


# --- Changes, cancellations and refunds ---------------------------------------------------------

# Fare value carried by a segment: what was charged for flying it, less what was credited back.
FARE_VALUE_KINDS = (ChargeKind.FARE, ChargeKind.FARE_DIFFERENCE, ChargeKind.CREDIT)
# Coupon states that mean the passenger is at the airport: a change or cancellation waits for the flight.
LIVE_COUPONS = ("checked_in", "boarded")
REFUND_SWEEP_SECONDS = 300


@dataclass(frozen=True)
class PassengerChange:
    """One passenger's side of a change: the fare value they hold, the new fare and the fee."""

    passenger_id: int
    old_fare: Decimal
    new_fare: Decimal
    change_fee: Decimal

    @property
    def fare_difference(self) -> Decimal:
        return max(self.new_fare - self.old_fare, ZERO)

    @property
    def residual(self) -> Decimal:
        return max(self.old_fare - self.new_fare, ZERO)


@dataclass(frozen=True)
class ChangeQuote:
    """What moving one segment to another flight costs, by the rules of the fare being changed.

    The fare difference is never negative: when the new fare is cheaper the residual is credited back
    (refundable fares, and bookings not ticketed yet) or forfeited (non-refundable fares).
    """

    booking_id: int
    segment_id: int
    new_flight_id: int
    cabin: str
    fare_family: FareFamily
    booking_class: BookingClass
    currency: str
    passengers: tuple[PassengerChange, ...]
    residual_credited: bool

    @property
    def old_fare(self) -> Decimal:
        return sum((p.old_fare for p in self.passengers), ZERO)

    @property
    def new_fare(self) -> Decimal:
        return sum((p.new_fare for p in self.passengers), ZERO)

    @property
    def fare_difference(self) -> Decimal:
        return sum((p.fare_difference for p in self.passengers), ZERO)

    @property
    def residual(self) -> Decimal:
        return sum((p.residual for p in self.passengers), ZERO)

    @property
    def credit(self) -> Decimal:
        return self.residual if self.residual_credited else ZERO

    @property
    def forfeited(self) -> Decimal:
        return ZERO if self.residual_credited else self.residual

    @property
    def change_fee(self) -> Decimal:
        return sum((p.change_fee for p in self.passengers), ZERO)

    @property
    def amount_due(self) -> Decimal:
        return self.fare_difference + self.change_fee


def _waiver_reason(*, by: User | None, waive_reason: str) -> str:
    """A fee waiver needs the Supervisor's permission and a reason; the reason is the audit trail."""
    if not waive_reason:
        return ""
    reason = waive_reason.strip()
    if not reason:
        message = _("Give the reason for waiving the fee.")
        raise ApplicationError(message, code="waiver_reason_required", fields={"waive_reason": [message]})
    if not _is_staff_with(by, "reservations.waive_fees"):
        raise ApplicationError(_("Only a supervisor can waive fees."), code="forbidden", status=403)
    return reason[:300]


def _segment_values(segment: Segment) -> dict[int, tuple[Decimal, dict[str, Decimal]]]:
    """Per passenger: the fare value and the taxes (by code) the segment carries."""
    values: dict[int, tuple[Decimal, dict[str, Decimal]]] = {}
    for charge in segment.charges.all():
        if charge.passenger_id is None:
            continue
        fare, taxes = values.setdefault(charge.passenger_id, (ZERO, {}))
        if charge.kind in FARE_VALUE_KINDS:
            values[charge.passenger_id] = (fare + charge.amount, taxes)
        elif charge.kind == ChargeKind.TAX:
            taxes[charge.code] = taxes.get(charge.code, ZERO) + charge.amount
    return values


def _coupons_of(booking: Booking) -> list[Coupon]:
    return list(Coupon.objects.filter(ticket__booking=booking).select_related("ticket"))


def _check_segment_movable(*, booking: Booking, segment: Segment, involuntary: bool) -> None:
    if booking.status not in (BookingStatus.HELD, BookingStatus.TICKETED):
        raise ApplicationError(
            _("Booking %(locator)s is %(status)s and cannot be changed.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="change_not_allowed",
        )
    if segment.booking_id != booking.pk or segment.status != SegmentStatus.CONFIRMED:
        raise ApplicationError(_("This flight is not part of the booking any more."), code="change_not_allowed")
    movable = {CouponStatus.OPEN, CouponStatus.CHECKED_IN} if involuntary else {CouponStatus.OPEN}
    for coupon in _coupons_of(booking):
        if coupon.ticket.status != TicketStatus.OPEN:
            continue
        if coupon.segment_id == segment.pk and coupon.status not in movable:
            raise ApplicationError(
                _("A passenger has already checked in for or flown this flight; it can no longer be changed."),
                code="change_not_allowed",
            )
        if coupon.segment_id != segment.pk and coupon.status in LIVE_COUPONS:
            raise ApplicationError(
                _("A passenger is checked in on another flight of this booking; change after that flight."),
                code="change_not_allowed",
            )
    if not involuntary:
        if booking.status == BookingStatus.TICKETED and not segment.fare_family.changeable:
            raise ApplicationError(
                _("The %(fare)s fare does not allow changes.") % {"fare": segment.fare_family.name}, code="change_not_allowed"
            )
        if segment.flight.scheduled_departure - timezone.now() < BOOKING_CUTOFF:
            raise ApplicationError(_("This flight departs too soon to be changed."), code="change_not_allowed")


def _check_replacement(*, booking: Booking, segment: Segment, new_flight: Flight) -> None:
    """The new flight serves the same airports, can still be booked, and fits between the other flights."""
    field_errors = {"new_flight_id": []}
    old = segment.flight
    if (new_flight.origin_id, new_flight.destination_id) != (old.origin_id, old.destination_id):
        field_errors["new_flight_id"].append(
            _("Choose a flight from %(origin)s to %(destination)s.")
            % {"origin": old.origin.iata_code, "destination": old.destination.iata_code}
        )
    elif new_flight.status in (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED):
        field_errors["new_flight_id"].append(_("%(flight)s is no longer bookable.") % {"flight": new_flight.flight_code})
    elif new_flight.scheduled_departure - timezone.now() < BOOKING_CUTOFF:
        field_errors["new_flight_id"].append(_("%(flight)s departs too soon to be booked.") % {"flight": new_flight.flight_code})
    else:
        others = booking.segments.filter(status=SegmentStatus.CONFIRMED).exclude(pk=segment.pk).select_related("flight")
        for other in others:
            if (
                other.sequence < segment.sequence
                and new_flight.scheduled_departure < other.flight.scheduled_arrival + MIN_CONNECTION
            ):
                field_errors["new_flight_id"].append(
                    _("The new flight must depart at least 45 minutes after the previous one lands.")
                )
            if (
                other.sequence > segment.sequence
                and other.flight.scheduled_departure < new_flight.scheduled_arrival + MIN_CONNECTION
            ):
                field_errors["new_flight_id"].append(
                    _("The new flight must land at least 45 minutes before the next one departs.")
                )
    if field_errors["new_flight_id"]:
        raise ApplicationError(field_errors["new_flight_id"][0], code="invalid_flight", fields=field_errors)


def _price_change(
    *, booking: Booking, segment: Segment, new_flight: Flight, fare_family: FareFamily, inventory: FlightCabin | None
) -> ChangeQuote:
    if inventory is None:
        message = _("%(flight)s has no such cabin.") % {"flight": new_flight.flight_code}
        raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
    if new_flight.pk == segment.flight_id and fare_family.pk == segment.fare_family_id:
        message = _("Choose a different flight or fare.")
        raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
    if new_flight.pk == segment.flight_id and inventory.cabin == segment.cabin:
        # The party's own seats count as available when only the fare changes.
        inventory = FlightCabin(
            pk=inventory.pk, flight=new_flight, cabin=inventory.cabin, capacity=inventory.capacity,
            available=inventory.available + booking.seats,
        )  # fmt: skip
    counts = {PassengerType.ADULT: booking.adults, PassengerType.CHILD: booking.children, PassengerType.INFANT: booking.infants}
    offers = pricing.offers_for(
        flight=new_flight, inventory=inventory, classes=_fare_classes({fare_family.cabin}), rules=[], counts=counts
    )
    offer = next((o for o in offers if o.fare_family.pk == fare_family.pk), None)
    if offer is None:
        raise Conflict(
            _("The %(family)s fare is not available on %(flight)s; choose another flight or fare.")
            % {"family": fare_family.name, "flight": new_flight.flight_code},
            code="fare_unavailable",
        )
    ticketed = booking.status == BookingStatus.TICKETED
    values = _segment_values(segment)
    passengers = tuple(
        PassengerChange(
            passenger_id=p.pk,
            old_fare=values.get(p.pk, (ZERO, {}))[0],
            new_fare=offer.prices[p.passenger_type].fare,
            change_fee=segment.fare_family.change_fee if ticketed and p.holds_seat else ZERO,
        )
        for p in booking.passengers.order_by("sequence")
    )
    return ChangeQuote(
        booking_id=booking.pk,
        segment_id=segment.pk,
        new_flight_id=new_flight.pk,
        cabin=fare_family.cabin,
        fare_family=fare_family,
        booking_class=offer.booking_class,
        currency=booking.currency,
        passengers=passengers,
        residual_credited=not ticketed or segment.fare_family.refundable,
    )


def _fare_family_for(*, segment: Segment, code: str | None) -> FareFamily:
    if not code:
        return segment.fare_family
    family = FareFamily.objects.filter(code=code).first()
    if family is None:
        message = _("No such fare.")
        raise ApplicationError(message, fields={"fare_family": [message]})
    return family


def _flight_for(new_flight_id: int) -> Flight:
    flight = Flight.objects.select_related("origin", "destination", "route").filter(pk=new_flight_id).first()
    if flight is None:
        message = _("No such flight.")
        raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
    return flight


def booking_change_quote(
    *, booking: Booking, segment: Segment, new_flight: Flight, fare_family: str | None = None
) -> ChangeQuote:
    """Price moving ``segment`` to ``new_flight`` (and optionally another fare family) without changing anything."""
    _check_segment_movable(booking=booking, segment=segment, involuntary=False)
    family = _fare_family_for(segment=segment, code=fare_family)
    _check_replacement(booking=booking, segment=segment, new_flight=new_flight)
    inventory = FlightCabin.objects.filter(flight=new_flight, cabin=family.cabin).first()
    return _price_change(booking=booking, segment=segment, new_flight=new_flight, fare_family=family, inventory=inventory)


def _move_segment(
    *,
    booking: Booking,
    old: Segment,
    new_flight: Flight,
    cabin: str,
    booking_class: BookingClass,
    fare_family: FareFamily,
    inventory: dict[tuple[int, str], FlightCabin],
    carry: dict[int, Decimal],
    by: User | None,
) -> Segment:
    """Move the party's seats and the segment's value to a new segment on ``new_flight``.

    The old segment is cancelled (its coupons and charges keep the history of the old flight) and moves
    to the end of the itinerary's numbering; the new one takes its place. Fare value and taxes are
    carried across as a credit on the old segment and matching lines on the new one.
    """
    if (new_flight.pk, cabin) != (old.flight_id, old.cabin):
        inventory_take(inventory=inventory[(new_flight.pk, cabin)], seats=booking.seats)
        inventory_release(flight_id=old.flight_id, cabin=old.cabin, seats=booking.seats)
    old.seat_assignments.all().delete()
    values = _segment_values(old)
    position = old.sequence
    old.sequence = max(s.sequence for s in booking.segments.all()) + 1
    old.status = SegmentStatus.CANCELLED
    old.save(update_fields=["sequence", "status"])
    new = Segment.objects.create(
        booking=booking, flight=new_flight, sequence=position, cabin=cabin, booking_class=booking_class, fare_family=fare_family
    )
    when = old.flight.service_date.strftime("%d%b").upper()
    lines = []
    for passenger in booking.passengers.order_by("sequence"):
        fare, taxes = values.get(passenger.pk, (ZERO, {}))
        moved = carry.get(passenger.pk, fare)
        if moved or any(taxes.values()):
            lines.append(BookingCharge(
                booking=booking, passenger=passenger, segment=old, kind=ChargeKind.CREDIT,
                description=f"{old.flight.flight_code} {when} → {new_flight.flight_code}",
                amount=-(moved + sum(taxes.values(), ZERO)), currency=booking.currency, created_by=_actor(by),
            ))  # fmt: skip
        if moved:
            lines.append(BookingCharge(
                booking=booking, passenger=passenger, segment=new, kind=ChargeKind.FARE, code=booking_class.code,
                description=f"{new_flight.flight_code} {fare_family.name} ({passenger.get_passenger_type_display()})",
                amount=moved, currency=booking.currency, created_by=_actor(by),
            ))  # fmt: skip
        lines += [
            BookingCharge(
                booking=booking,
                passenger=passenger,
                segment=new,
                kind=ChargeKind.TAX,
                code=code,
                description=f"{new_flight.flight_code} {code}",
                amount=amount,
                currency=booking.currency,
            )  # fmt: skip
            for code, amount in taxes.items()
            if amount
        ]
    BookingCharge.objects.bulk_create(lines)
    return new


def _reissue_tickets(*, booking: Booking) -> list[Ticket]:
    """Exchange every open ticket for a new one covering the confirmed flights not yet flown."""
    coupons = _coupons_of(booking)
    flown = {(c.ticket.passenger_id, c.segment_id) for c in coupons if c.status == CouponStatus.FLOWN}
    live = [c for c in coupons if c.ticket.status == TicketStatus.OPEN]
    Coupon.objects.filter(pk__in=[c.pk for c in live if c.status in (CouponStatus.OPEN, CouponStatus.CHECKED_IN)]).update(
        status=CouponStatus.EXCHANGED, updated_at=timezone.now()
    )
    Ticket.objects.filter(pk__in={c.ticket_id for c in live}).update(status=TicketStatus.EXCHANGED)
    segments = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).order_by("sequence"))
    return _issue_tickets(
        booking=booking, segments_for=lambda passenger: [s for s in segments if (passenger.pk, s.pk) not in flown]
    )


def _lock_for_change(*, booking: Booking, flights: list[tuple[int, str]]) -> tuple[dict[tuple[int, str], FlightCabin], Booking]:
    """Flight cabins first (by primary key), then the booking: the order every writer follows."""
    inventory = _lock_inventory(wanted=flights)
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking.pk)
    return inventory, locked


def _settle_credit(*, booking: Booking, reason: str, by: User | None) -> list[Refund]:
    """When the airline now owes money (a credited residual, a cancellation), refund it to how it was paid."""
    owed = -booking.balance_due
    return _refunds_issue(booking=booking, amount=owed, reason=reason, by=by) if owed > 0 else []


def booking_change_flight(
    *,
    booking: Booking,
    segment: Segment,
    new_flight_id: int,
    by: User | None = None,
    waive_reason: str = "",
    fare_family: str | None = None,
) -> Booking:
    """Move one flight of the booking to another flight by the fare's rules.

    Charges the fare difference and the change fee (a Supervisor may waive the fee, with a reason);
    any money owed shows as the balance due, which ``payment_take`` collects. A ticketed booking gets
    new tickets and its old coupons become exchanged.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    new_flight = _flight_for(new_flight_id)
    family = _fare_family_for(segment=segment, code=fare_family)
    with transaction.atomic():
        inventory, locked = _lock_for_change(
            booking=booking, flights=[(segment.flight_id, segment.cabin), (new_flight.pk, family.cabin)]
        )
        current = Segment.objects.select_related("flight__origin", "flight__destination", "fare_family").get(pk=segment.pk)
        if current.flight_id != segment.flight_id:
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        _check_segment_movable(booking=locked, segment=current, involuntary=False)
        _check_replacement(booking=locked, segment=current, new_flight=new_flight)
        quote = _price_change(
            booking=locked, segment=current, new_flight=new_flight, fare_family=family,
            inventory=inventory.get((new_flight.pk, family.cabin)),
        )  # fmt: skip
        carry = {
            p.passenger_id: (p.new_fare if p.residual and not quote.residual_credited else p.old_fare) for p in quote.passengers
        }
        new = _move_segment(
            booking=locked, old=current, new_flight=new_flight, cabin=quote.cabin, booking_class=quote.booking_class,
            fare_family=family, inventory=inventory, carry=carry, by=by,
        )  # fmt: skip
        passengers = {p.pk: p for p in locked.passengers.all()}
        lines = []
        for item in quote.passengers:
            passenger = passengers[item.passenger_id]
            common = {"booking": locked, "passenger": passenger, "segment": new, "currency": locked.currency}
            if item.fare_difference:
                lines.append(BookingCharge(
                    **common, kind=ChargeKind.FARE_DIFFERENCE, amount=item.fare_difference, created_by=_actor(by),
                    description=f"{current.flight.flight_code} → {new_flight.flight_code}",
                ))  # fmt: skip
            if item.residual and quote.residual_credited:
                lines.append(BookingCharge(
                    **common, kind=ChargeKind.CREDIT, amount=-item.residual, created_by=_actor(by),
                    description=_("Lower fare on %(flight)s") % {"flight": new_flight.flight_code},
                ))  # fmt: skip
            if item.change_fee:
                lines.append(BookingCharge(
                    **common, kind=ChargeKind.CHANGE_FEE, amount=item.change_fee, created_by=_actor(by),
                    description=f"{current.flight.flight_code} → {new_flight.flight_code}",
                ))  # fmt: skip
                if waiver:
                    lines.append(BookingCharge(
                        **common, kind=ChargeKind.WAIVER, amount=-item.change_fee, reason=waiver, created_by=_actor(by),
                        description=str(ChargeKind.CHANGE_FEE.label),
                    ))  # fmt: skip
        BookingCharge.objects.bulk_create(lines)
        booking_total_recompute(booking=locked)
        summary = _("Booking %(locator)s: %(old)s on %(old_date)s changed to %(new)s on %(new_date)s") % {
            "locator": locked.record_locator,
            "old": current.flight.flight_code,
            "old_date": current.flight.service_date.isoformat(),
            "new": new_flight.flight_code,
            "new_date": new_flight.service_date.isoformat(),
        }
        for person in _people(locked):
            timeline_record(
                customer=person, kind="booking.changed", summary=summary, actor=by,
                data={"record_locator": locked.record_locator, "from_flight": current.flight_id, "to_flight": new_flight.pk,
                      "fare_difference": str(quote.fare_difference), "change_fee": str(quote.change_fee)},
            )  # fmt: skip
        if waiver and quote.change_fee:
            _waiver_audit(booking=locked, amount=quote.change_fee, kind=ChargeKind.CHANGE_FEE, reason=waiver, by=by)
        if locked.status == BookingStatus.TICKETED:
            _reissue_tickets(booking=locked)
        _settle_credit(booking=locked, reason=summary, by=by)
        if locked.status == BookingStatus.TICKETED:
            _receipt_queue(booking=locked, reissued=True)
    return Booking.objects.get(pk=locked.pk)


def _waiver_audit(*, booking: Booking, amount: Decimal, kind: str, reason: str, by: User | None) -> None:
    if booking.customer_id:
        timeline_record(
            customer=booking.customer,
            kind="booking.fee_waived",
            summary=_("%(fee)s of %(amount)s %(currency)s waived on booking %(locator)s: %(reason)s")
            % {
                "fee": ChargeKind(kind).label,
                "amount": amount,
                "currency": booking.currency,
                "locator": booking.record_locator,
                "reason": reason,
            },
            data={"record_locator": booking.record_locator, "fee": kind, "amount": str(amount), "reason": reason},
            actor=by,
        )


def booking_rebook(*, booking: Booking, segment: Segment, new_flight_id: int, by: User | None = None, reason: str) -> Booking:
    """Move a disrupted flight's passengers to another flight: no fee and no fare difference.

    The fare, class and cabin stay the same; only seats are needed on the new flight. Staff may rebook
    any booking; a passenger only off a flight that is cancelled or delayed.
    """
    reason = (reason or "").strip()
    if not reason:
        message = _("Give the reason for the rebooking.")
        raise ApplicationError(message, fields={"reason": [message]})
    new_flight = _flight_for(new_flight_id)
    with transaction.atomic():
        inventory, locked = _lock_for_change(
            booking=booking, flights=[(segment.flight_id, segment.cabin), (new_flight.pk, segment.cabin)]
        )
        current = Segment.objects.select_related("flight__origin", "flight__destination", "fare_family", "booking_class").get(
            pk=segment.pk
        )
        if current.flight_id != segment.flight_id:
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        disrupted = current.flight.status in (FlightStatus.CANCELLED, FlightStatus.DELAYED)
        if by is not None and not disrupted and not _is_staff_with(by, "reservations.change_booking"):
            raise ApplicationError(_("Only an agent can rebook a flight that is not disrupted."), code="forbidden", status=403)
        _check_segment_movable(booking=locked, segment=current, involuntary=True)
        _check_replacement(booking=locked, segment=current, new_flight=new_flight)
        if new_flight.pk == current.flight_id:
            message = _("Choose a different flight.")
            raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
        if (new_flight.pk, current.cabin) not in inventory:
            message = _("%(flight)s has no such cabin.") % {"flight": new_flight.flight_code}
            raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
        _move_segment(
            booking=locked, old=current, new_flight=new_flight, cabin=current.cabin, booking_class=current.booking_class,
            fare_family=current.fare_family, inventory=inventory, carry={}, by=by,
        )  # fmt: skip
        booking_total_recompute(booking=locked)
        if (
            locked.disrupted_at
            and not locked.segments.filter(status=SegmentStatus.CONFIRMED, flight__status=FlightStatus.CANCELLED).exists()
        ):
            locked.disrupted_at, locked.disruption_reason = None, ""
            locked.save(update_fields=["disrupted_at", "disruption_reason", "updated_at"])
        summary = _("Booking %(locator)s rebooked from %(old)s to %(new)s on %(date)s: %(reason)s") % {
            "locator": locked.record_locator,
            "old": current.flight.flight_code,
            "new": new_flight.flight_code,
            "date": new_flight.service_date.isoformat(),
            "reason": reason,
        }
        for person in _people(locked):
            timeline_record(
                customer=person, kind="booking.rebooked", summary=summary, actor=by,
                data={"record_locator": locked.record_locator, "from_flight": current.flight_id, "to_flight": new_flight.pk},
            )  # fmt: skip
        if locked.status == BookingStatus.TICKETED:
            _reissue_tickets(booking=locked)
            _receipt_queue(booking=locked, reissued=True)
    return Booking.objects.get(pk=locked.pk)


def booking_cancel(
    *, booking: Booking, by: User | None = None, reason: str = "", involuntary: bool = False, waive_reason: str = ""
) -> Booking:
    """Cancel the flights not yet flown, release their seats and refund what the fare rules allow.

    Refundable fares return fare and taxes less the cancellation fee (never below zero); non-refundable
    fares return the taxes only; an involuntary cancellation, or one before ticketing, returns everything.
    Fees are per passenger holding a seat. Refunds go back to the payments they came from.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    if involuntary and by is not None and not _is_staff_with(by, "reservations.change_booking"):
        raise ApplicationError(_("Only the airline can cancel a booking involuntarily."), code="forbidden", status=403)
    planned = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).values_list("flight_id", "cabin"))
    with transaction.atomic():
        inventory, locked = _lock_for_change(booking=booking, flights=planned)
        if locked.status not in (BookingStatus.HELD, BookingStatus.TICKETED):
            raise ApplicationError(
                _("Booking %(locator)s is already %(status)s.")
                % {"locator": locked.record_locator, "status": locked.get_status_display().lower()},
                code="already_cancelled",
            )
        segments = list(
            locked.segments.filter(status=SegmentStatus.CONFIRMED)
            .select_related("flight", "fare_family")
            .prefetch_related("charges")
            .order_by("sequence")
        )
        if sorted((s.flight_id, s.cabin) for s in segments) != sorted(planned):
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        coupons = [c for c in _coupons_of(locked) if c.ticket.status == TicketStatus.OPEN]
        if any(c.status in LIVE_COUPONS for c in coupons):
            raise ApplicationError(
                _("A passenger is checked in; the check-in must be cancelled at the airport first."), code="cancel_not_allowed"
            )
        flown = {c.segment_id for c in coupons if c.status == CouponStatus.FLOWN}
        unflown = [s for s in segments if s.pk not in flown]
        if not unflown:
            raise ApplicationError(_("Every flight of this booking has been flown."), code="cancel_not_allowed")
        full = involuntary or locked.status == BookingStatus.HELD
        passengers = list(locked.passengers.order_by("sequence"))
        lines: list[BookingCharge] = []
        refunded_pairs: set[tuple[int, int]] = set()
        fees = ZERO
        for segment in unflown:
            for passenger in passengers:
                charges = [c for c in segment.charges.all() if c.passenger_id == passenger.pk]
                fare = sum((c.amount for c in charges if c.kind in FARE_VALUE_KINDS), ZERO)
                taxes = sum((c.amount for c in charges if c.kind == ChargeKind.TAX), ZERO)
                fee = ZERO
                if full:
                    credit = sum((c.amount for c in charges), ZERO)
                elif segment.fare_family.refundable:
                    fee = min(segment.fare_family.cancellation_fee, max(fare, ZERO)) if passenger.holds_seat else ZERO
                    credit = fare + taxes
                else:
                    credit = taxes
                common = {"booking": locked, "passenger": passenger, "segment": segment, "currency": locked.currency}
                if credit:
                    lines.append(BookingCharge(
                        **common, kind=ChargeKind.CREDIT, amount=-credit, created_by=_actor(by),
                        description=_("%(flight)s %(date)s not flown") % {
                            "flight": segment.flight.flight_code, "date": segment.flight.service_date.isoformat()},
                    ))  # fmt: skip
                if fee:
                    lines.append(BookingCharge(
                        **common, kind=ChargeKind.CANCELLATION_FEE, amount=fee, created_by=_actor(by),
                        description=f"{segment.flight.flight_code} {segment.fare_family.name}",
                    ))  # fmt: skip
                    if waiver:
                        lines.append(BookingCharge(
                            **common, kind=ChargeKind.WAIVER, amount=-fee, reason=waiver, created_by=_actor(by),
                            description=str(ChargeKind.CANCELLATION_FEE.label),
                        ))  # fmt: skip
                    fees += fee
                if credit - (ZERO if waiver else fee) > 0:
                    refunded_pairs.add((passenger.pk, segment.pk))
        BookingCharge.objects.bulk_create(lines)
        booking_total_recompute(booking=locked)
        if full and not flown and locked.total_amount > 0:
            BookingCharge.objects.create(
                booking=locked, kind=ChargeKind.CREDIT, amount=-locked.total_amount, currency=locked.currency,
                description=_("Cancelled by the airline") if involuntary else _("Cancelled before ticketing"),
                created_by=_actor(by),
            )  # fmt: skip
            booking_total_recompute(booking=locked)
        if locked.balance_due > 0:
            # What was never paid (e.g. the difference of an earlier change) is not owed once the trip is off.
            BookingCharge.objects.create(
                booking=locked, kind=ChargeKind.CREDIT, amount=-locked.balance_due, currency=locked.currency,
                description=_("Unpaid balance cancelled"), created_by=_actor(by),
            )  # fmt: skip
            booking_total_recompute(booking=locked)

        for segment in unflown:
            if (segment.flight_id, segment.cabin) in inventory:
                inventory_release(flight_id=segment.flight_id, cabin=segment.cabin, seats=locked.seats)
            segment.seat_assignments.all().delete()
        Segment.objects.filter(pk__in=[s.pk for s in unflown]).update(status=SegmentStatus.CANCELLED)
        now = timezone.now()
        cancelled = {s.pk for s in unflown}
        for coupon in coupons:
            if coupon.segment_id in cancelled and coupon.status == CouponStatus.OPEN:
                refunded = (coupon.ticket.passenger_id, coupon.segment_id) in refunded_pairs
                coupon.status = CouponStatus.REFUNDED if refunded else CouponStatus.VOID
                coupon.save(update_fields=["status", "updated_at"])
        for ticket in {c.ticket_id: c.ticket for c in coupons}.values():
            states = {c.status for c in coupons if c.ticket_id == ticket.pk}
            if CouponStatus.REFUNDED in states:
                ticket.status = TicketStatus.REFUNDED
            elif states == {CouponStatus.VOID}:
                ticket.status = TicketStatus.VOID
            else:
                continue
            ticket.save(update_fields=["status"])
        locked.status = BookingStatus.CANCELLED
        locked.cancelled_at = now
        locked.hold_expires_at = None
        locked.save(update_fields=["status", "cancelled_at", "hold_expires_at", "updated_at"])
        why = (reason or "").strip() or (_("Cancelled by the airline") if involuntary else _("Cancelled on request"))
        refunds = _settle_credit(booking=locked, reason=why[:300], by=by)
        for person in _people(locked):
            timeline_record(
                customer=person,
                kind="booking.cancelled",
                summary=_("Booking %(locator)s cancelled: %(reason)s") % {"locator": locked.record_locator, "reason": why},
                data={
                    "record_locator": locked.record_locator,
                    "involuntary": involuntary,
                    "refund": str(sum((r.amount for r in refunds), ZERO)),
                    "fees": str(fees),
                },
                actor=by,
            )
        if waiver and fees:
            _waiver_audit(booking=locked, amount=fees, kind=ChargeKind.CANCELLATION_FEE, reason=waiver, by=by)
        from reservations.events import booking_cancelled

        booking_cancelled.send(sender=Booking, booking=locked, reason="involuntary" if involuntary else "cancelled")
    return Booking.objects.get(pk=locked.pk)


@dataclass(frozen=True)
class CancelQuote:
    """What cancelling now would refund and keep, exactly as booking_cancel would do it."""

    refunds: list[Refund]
    fees: Decimal
    currency: str

    @property
    def refund_total(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)


class _QuoteReady(Exception):
    def __init__(self, quote: CancelQuote) -> None:
        super().__init__()
        self.quote = quote


def booking_cancel_quote(*, booking: Booking, by: User | None = None) -> CancelQuote:
    """Cancel inside a savepoint and roll it back, so the quote can never drift from the real rules.

    Nothing leaves the transaction: refunds to cards and e-mails start only on commit, which never comes.
    """
    before_refunds = set(booking.refunds.values_list("pk", flat=True))
    before_charges = set(booking.charges.values_list("pk", flat=True))
    try:
        with transaction.atomic():
            booking_cancel(booking=booking, by=by, reason=_("Quote"))
            refunds = list(Refund.objects.select_related("payment").filter(booking=booking).exclude(pk__in=before_refunds))
            fees = BookingCharge.objects.filter(booking=booking, kind=ChargeKind.CANCELLATION_FEE).exclude(pk__in=before_charges)
            raise _QuoteReady(CancelQuote(refunds=refunds, fees=sum((c.amount for c in fees), ZERO), currency=booking.currency))
    except _QuoteReady as ready:
        return ready.quote


@transaction.atomic
def refund_owed(*, booking: Booking, reason: str, by: User | None = None) -> list[Refund]:
    """Refund whatever the airline owes on the booking (e.g. after a failed refund) to the payments it came from."""
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    if locked.balance_due >= 0:
        raise ApplicationError(
            _("Nothing is owed on booking %(locator)s.") % {"locator": locked.record_locator}, code="nothing_owed"
        )
    return _settle_credit(booking=locked, reason=reason, by=by)


def _refunds_issue(*, booking: Booking, amount: Decimal, reason: str, by: User | None) -> list[Refund]:
    """Spread a refund over the booking's payments, newest first, each up to what is left of it."""
    refunds = []
    remaining = amount
    payments = booking.payments.filter(status=PaymentStatus.SUCCEEDED).prefetch_related("refunds").order_by("-created_at", "-id")
    for payment in payments:
        take = min(remaining, payment.refundable_amount)
        if take > 0:
            refunds.append(refund_create(booking=booking, payment=payment, amount=take, reason=reason, by=by))
            remaining -= take
        if remaining <= 0:
            break
    return refunds


@transaction.atomic
def refund_create(*, booking: Booking, payment: Payment, amount: Decimal, reason: str, by: User | None = None) -> Refund:
    """Record money going back to the payment it came from; never more than the airline owes.

    Vouchers are credited at once (and miles, when loyalty provides a refunder); card refunds go to the
    gateway from a task after commit; counter refunds wait for the agent who pays them out.
    """
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    payment = Payment.objects.prefetch_related("refunds").get(pk=payment.pk)
    reason = (reason or "").strip()[:300]
    if not reason:
        message = _("Give the reason for the refund.")
        raise ApplicationError(message, fields={"reason": [message]})
    if payment.booking_id != locked.pk or payment.status != PaymentStatus.SUCCEEDED:
        raise ApplicationError(_("Only a successful payment of this booking can be refunded."), code="refund_not_allowed")
    amount = pricing.money(Decimal(str(amount)))
    owed = -locked.balance_due
    if amount <= 0 or amount > payment.refundable_amount or amount > owed:
        message = _("The refund must be more than zero and at most %(limit)s %(currency)s.") % {
            "limit": max(min(payment.refundable_amount, owed), ZERO),
            "currency": locked.currency,
        }
        raise ApplicationError(message, code="refund_exceeds_credit", fields={"amount": [message]})
    refund = Refund.objects.create(
        booking=locked, payment=payment, amount=amount, currency=payment.currency, reason=reason, created_by=_actor(by)
    )
    Booking.objects.filter(pk=locked.pk).update(refunded_amount=F("refunded_amount") + amount, updated_at=timezone.now())
    if payment.method == PaymentMethod.VOUCHER and payment.voucher_id:
        credited = TravelVoucher.objects.filter(pk=payment.voucher_id, balance__lte=F("initial_amount") - amount).update(
            balance=F("balance") + amount
        )
        _refund_finish(refund=refund, succeeded=bool(credited), reference=f"voucher:{payment.voucher_id}")
    elif payment.method == PaymentMethod.MILES and _miles_hooks["refund"] is not None:
        _miles_hooks["refund"](payment=payment, amount=amount)
        _refund_finish(refund=refund, succeeded=True)
    elif payment.method == PaymentMethod.CARD:
        from reservations.tasks import process_refund

        transaction.on_commit(lambda: process_refund.delay(refund_id=refund.pk))
    _booker_timeline(
        locked,
        kind="booking.refund",
        summary=_("Refund of %(amount)s %(currency)s for booking %(locator)s to %(method)s")
        % {
            "amount": amount,
            "currency": refund.currency,
            "locator": locked.record_locator,
            "method": payment.get_method_display(),
        },
        data={"refund_id": refund.pk, "amount": str(amount), "status": refund.status},
        by=by,
    )
    return refund


def _refund_finish(*, refund: Refund, succeeded: bool, reference: str = "") -> Refund:
    refund.status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
    refund.gateway_reference = reference[:64]
    refund.completed_at = timezone.now()
    refund.save(update_fields=["status", "gateway_reference", "completed_at"])
    if not succeeded:
        # The money is owed again: the booking shows it as a credit for the next attempt.
        Booking.objects.filter(pk=refund.booking_id).update(
            refunded_amount=F("refunded_amount") - refund.amount, updated_at=timezone.now()
        )
    return refund


def refund_complete(*, refund: Refund, succeeded: bool = True, reference: str = "", by: User | None = None) -> Refund:
    """Close a pending refund: the gateway confirmed it, the agent paid it out, or it failed."""
    if by is not None and not _is_staff_with(by, "reservations.add_refund"):
        raise ApplicationError(_("Only an agent can complete a refund."), code="forbidden", status=403)
    with transaction.atomic():
        Booking.objects.select_for_update().filter(pk=refund.booking_id).first()
        locked = Refund.objects.select_for_update(of=("self",)).select_related("booking__customer", "payment").get(pk=refund.pk)
        if locked.status != RefundStatus.PENDING:
            if (locked.status == RefundStatus.SUCCEEDED) == succeeded:
                return locked
            raise ApplicationError(
                _("This refund is already %(status)s.") % {"status": locked.get_status_display().lower()}, code="refund_closed"
            )
        _refund_finish(refund=locked, succeeded=succeeded, reference=reference)
        _booker_timeline(
            locked.booking,
            kind="booking.refund_completed" if succeeded else "booking.refund_failed",
            summary=(_("Refund of %(amount)s %(currency)s for booking %(locator)s completed") if succeeded
                     else _("Refund of %(amount)s %(currency)s for booking %(locator)s failed"))
            % {"amount": locked.amount, "currency": locked.currency, "locator": locked.booking.record_locator},
            data={"refund_id": locked.pk},
            by=by,
        )  # fmt: skip
    return locked


def refund_process(*, refund_id: int) -> Refund | None:
    """Send a pending card refund to the gateway (the task calls this); safe to run twice."""
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != RefundStatus.PENDING or refund.payment.method != PaymentMethod.CARD:
        return refund
    with transaction.atomic():
        Booking.objects.select_for_update().filter(pk=refund.booking_id).first()
        locked = Refund.objects.select_for_update(skip_locked=True).select_related("payment").filter(pk=refund_id).first()
        if locked is None or locked.status != RefundStatus.PENDING:
            return locked
        result = get_gateway().refund(reference=locked.payment.gateway_reference, amount=locked.amount, currency=locked.currency)
        return refund_complete(refund=locked, succeeded=result.succeeded, reference=result.reference)


def refunds_process_pending(*, older_than_seconds: int = REFUND_SWEEP_SECONDS) -> int:
    """Re-enqueue card refunds whose task was lost (the periodic sweep calls this)."""
    from reservations.tasks import process_refund

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Refund.objects.filter(status=RefundStatus.PENDING, payment__method=PaymentMethod.CARD, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        process_refund.delay(refund_id=pk)
    return len(ids)


# --- Check-in -----------------------------------------------------------------------------------


MAX_BAG_KG = Decimal("32")
MAX_BAGS = 3
MAX_HAND_CARRY = 2
BAG_WEIGHT_STEP = Decimal("0.1")
AUTO_SEAT_ATTEMPTS = 5


def check_in_window(*, flight: Flight) -> tuple[datetime, datetime]:
    """When online and desk check-in opens and closes, counted back from the best-known departure time.

    Open from the first instant up to, not including, the second.
    """
    departure = flight.departure_time
    return (
        departure - timedelta(hours=settings.CHECK_IN_OPENS_HOURS),
        departure - timedelta(minutes=settings.CHECK_IN_CLOSES_MINUTES),
    )


def check_in_is_open(*, flight: Flight, at: datetime | None = None) -> bool:
    opens, closes = check_in_window(flight=flight)
    return flight.status not in FLIGHT_CLOSED and opens <= (at or timezone.now()) < closes


def _local(moment: datetime, airport: Airport) -> str:
    return moment.astimezone(ZoneInfo(airport.time_zone)).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class BaggageQuote:
    """What one passenger's checked bags cost beyond the fare's free allowance."""

    weights: tuple[Decimal, ...]
    extra_bags: int
    overweight_bags: int
    fee: Decimal
    currency: str


def bag_weights_clean(weights: Iterable, *, field_name: str = "bags") -> list[Decimal]:
    """Kilograms to one decimal; a bag must weigh something and at most 32 kg (heavier goes as cargo)."""
    cleaned = []
    for raw in weights:
        try:
            weight = Decimal(str(raw)).quantize(BAG_WEIGHT_STEP, rounding=ROUND_HALF_UP)
        except (InvalidOperation, ValueError):
            raise ApplicationError(_("Enter each bag's weight in kilograms."), fields={field_name: [_("Not a weight.")]})
        if not weight.is_finite() or weight <= 0:
            raise ApplicationError(_("Enter each bag's weight in kilograms."), fields={field_name: [_("Not a weight.")]})
        if weight > MAX_BAG_KG:
            message = _("Bags over %(max)s kg cannot be checked in; they travel as cargo.") % {"max": MAX_BAG_KG}
            raise ApplicationError(message, code="bag_too_heavy", fields={field_name: [message]})
        cleaned.append(weight)
    if len(cleaned) > MAX_BAGS:
        message = _("At most %(max)d checked bags per traveller.") % {"max": MAX_BAGS}
        raise ApplicationError(message, code="too_many_bags", fields={field_name: [message]})
    return cleaned


def baggage_quote(*, fare_family: FareFamily, weights: Iterable) -> BaggageQuote:
    """Bags beyond the free pieces pay the extra-bag fee; every bag over the free weight pays the overweight fee.

    An extra bag that is also overweight pays both. 23.0 kg against a 23 kg allowance is free; 23.1 kg is not.
    """
    cleaned = bag_weights_clean(weights)
    extra = max(0, len(cleaned) - fare_family.baggage_pieces)
    overweight = sum(1 for w in cleaned if w > fare_family.baggage_kg)
    fee = pricing.money(fare_family.excess_bag_fee * extra + fare_family.overweight_fee * overweight)
    return BaggageQuote(
        weights=tuple(cleaned), extra_bags=extra, overweight_bags=overweight, fee=fee, currency=fare_family.currency
    )


def _seat_sort_key(
    seat: str, *, section: SeatMapSection, preference: str, near_row: int | None
) -> tuple[int, int, int, int, int]:
    row, letter = int(seat[:-1]), seat[-1]
    layout = section.layout
    position = layout.index(letter)
    window = position in (0, len(layout) - 1)
    aisle = (position > 0 and layout[position - 1] == " ") or (position < len(layout) - 1 and layout[position + 1] == " ")
    mismatch = (preference == SeatPreference.WINDOW and not window) or (preference == SeatPreference.AISLE and not aisle)
    return (
        int(row in section.exit_rows),
        abs(row - near_row) if near_row is not None else 0,
        int(mismatch),
        row,
        position,
    )


def _auto_seat(
    *, segment: Segment, passenger: BookingPassenger, carries_infant: bool, near_row: int | None, by: User | None
) -> SeatAssignment:
    """The best free seat in the passenger's cabin: near the party, by their window/aisle preference, front first.

    Exit rows only as a last resort and only for those allowed there.
    """
    sections = [s for s in segment.flight.aircraft_type.sections.all() if s.cabin == segment.cabin]
    preference = passenger.customer.seat_preference if passenger.customer_id else SeatPreference.NONE
    exit_allowed = not exit_row_refusal(passenger=passenger, carries_infant=carries_infant)
    taken = set(SeatAssignment.objects.filter(flight_id=segment.flight_id).values_list("seat", flat=True))
    for _attempt in range(AUTO_SEAT_ATTEMPTS):
        candidates = [
            (_seat_sort_key(seat, section=section, preference=preference, near_row=near_row), seat)
            for section in sections
            for seat in section.seats()
            if seat not in taken and (exit_allowed or int(seat[:-1]) not in section.exit_rows)
        ]
        if not candidates:
            break
        seat = min(candidates)[1]
        try:
            return seat_assign(segment=segment, passenger=passenger, seat=seat, by=by, charge=False)
        except Conflict as exc:
            if exc.code != "seat_taken":
                raise
            taken.add(seat)
    raise Conflict(
        _("No seat is free for %(name)s in this cabin; please see an agent at the airport.") % {"name": passenger.full_name},
        code="no_seat_available",
    )


def _check_in_party(
    *, booking: Booking, passengers: list[BookingPassenger], coupons: dict[int, Coupon]
) -> list[BookingPassenger]:
    """The requested travellers in booking order, each infant joined to the adult whose lap they sit on."""
    party = {p.pk: p for p in booking.passengers.all()}
    unknown = [p for p in passengers if p.pk not in party]
    if unknown or not passengers:
        raise ApplicationError(
            _("Choose the travellers to check in from this booking."), fields={"passengers": [_("Unknown traveller.")]}
        )
    wanted = {p.pk for p in passengers}
    wanted |= {
        p.pk
        for p in party.values()
        if p.travelling_with_id in wanted and p.pk in coupons and coupons[p.pk].status == CouponStatus.OPEN
    }
    for infant_id in [pk for pk in wanted if not party[pk].holds_seat]:
        adult_id = party[infant_id].travelling_with_id
        adult_coupon = coupons.get(adult_id)
        if adult_id not in wanted and not (adult_coupon and adult_coupon.status == CouponStatus.CHECKED_IN):
            raise ApplicationError(
                _("%(infant)s is checked in together with %(adult)s.")
                % {"infant": party[infant_id].full_name, "adult": party[adult_id].full_name if adult_id else ""},
                code="infant_without_adult",
            )
    return [p for p in party.values() if p.pk in wanted]


@transaction.atomic
def check_in(
    *,
    booking: Booking,
    segment: Segment,
    passengers: list[BookingPassenger],
    seats: dict[int, str] | None = None,
    bags: dict[int, list[Decimal]] | None = None,
    hand_carry: dict[int, int] | None = None,
    channel: str,
    by: User | None = None,
) -> list[CheckIn]:
    """Accept travellers for one flight: open coupons become checked in, each with a seat and a sequence number.

    Keys of ``seats``, ``bags`` and ``hand_carry`` are passenger ids. Infants follow the adult they sit
    with. The flight row is locked first (then the booking), so two check-ins on the same flight take
    sequence numbers one after the other.
    """
    seats, bags, hand_carry = seats or {}, bags or {}, hand_carry or {}
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown check-in channel."), fields={"channel": [_("Unknown channel.")]})
    if segment.booking_id != booking.pk:
        raise NotFound(_("No such flight on this booking."))
    flight = (
        Flight.objects.select_for_update(no_key=True, of=("self",))
        .select_related("origin", "destination", "aircraft_type")
        .get(pk=segment.flight_id)
    )
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    segment = Segment.objects.select_related("fare_family").get(pk=segment.pk)
    segment.flight = flight
    if booking.status != BookingStatus.TICKETED:
        raise ApplicationError(_("Check-in opens for a booking once it is paid and ticketed."), code="not_ticketed")
    # Excess baggage is paid at the airport; anything else still owed (a change) must be paid first.
    baggage = sum(booking.charges.filter(kind=ChargeKind.BAGGAGE).values_list("amount", flat=True), Decimal(0))
    if booking.balance_due - baggage > 0:
        raise ApplicationError(
            _("%(due)s %(currency)s is still due on this booking; please pay it before checking in.")
            % {"due": booking.balance_due - baggage, "currency": booking.currency},
            code="balance_due",
        )
    if segment.status != SegmentStatus.CONFIRMED:
        raise ApplicationError(_("This flight is no longer part of the booking."), code="segment_cancelled")
    if flight.status == FlightStatus.CANCELLED:
        raise ApplicationError(
            _("%(flight)s is cancelled; we will help you rebook.") % {"flight": flight.flight_code}, code="flight_cancelled"
        )
    opens, closes = check_in_window(flight=flight)
    now = timezone.now()
    if flight.status in (FlightStatus.DEPARTED, FlightStatus.ARRIVED) or now >= closes:
        raise ApplicationError(
            _("Check-in for %(flight)s closed at %(closes)s (local time).")
            % {"flight": flight.flight_code, "closes": _local(closes, flight.origin)},
            code="check_in_closed",
        )
    if now < opens:
        raise ApplicationError(
            _("Check-in for %(flight)s opens at %(opens)s (local time).")
            % {"flight": flight.flight_code, "opens": _local(opens, flight.origin)},
            code="check_in_not_open",
        )

    coupons = {
        c.ticket.passenger_id: c
        for c in Coupon.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(segment=segment, ticket__booking=booking, ticket__status=TicketStatus.OPEN)
        .exclude(status__in=[CouponStatus.EXCHANGED, CouponStatus.REFUNDED, CouponStatus.VOID])
        .order_by("pk")
    }
    party = _check_in_party(booking=booking, passengers=passengers, coupons=coupons)
    ids = {p.pk for p in party}
    for name, given in (("seats", seats), ("bags", bags), ("hand_carry", hand_carry)):
        if set(given) - ids:
            raise ApplicationError(
                _("Only travellers being checked in can have seats or bags."), fields={name: [_("Unknown traveller.")]}
            )
    errors: dict[str, list[str]] = {}
    quotes: dict[int, BaggageQuote] = {}
    for p in party:
        coupon = coupons.get(p.pk)
        if coupon is None:
            errors[f"passengers.{p.pk}"] = [_("%(name)s has no e-ticket for this flight.") % {"name": p.full_name}]
        elif coupon.status != CouponStatus.OPEN:
            errors[f"passengers.{p.pk}"] = [_("%(name)s is already checked in.") % {"name": p.full_name}]
        items = hand_carry.get(p.pk, 0)
        if not isinstance(items, int) or not 0 <= items <= MAX_HAND_CARRY:
            errors[f"hand_carry.{p.pk}"] = [_("Each traveller may bring 0 to %(max)d cabin bags.") % {"max": MAX_HAND_CARRY}]
        try:
            quotes[p.pk] = baggage_quote(fare_family=segment.fare_family, weights=bags.get(p.pk) or [])
        except ApplicationError as exc:
            errors[f"bags.{p.pk}"] = [exc.message]
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="check_in_invalid", fields=errors)

    carrying = {p.travelling_with_id for p in booking.passengers.all() if p.travelling_with_id}
    for p in party:
        if p.holds_seat and p.pk in seats and seats[p.pk]:
            seat_assign(segment=segment, passenger=p, seat=seats[p.pk], by=by)
    held = {a.passenger_id: a.seat for a in SeatAssignment.objects.filter(segment=segment, passenger_id__in=ids)}
    near_row: int | None = next((int(s[:-1]) for s in held.values()), None)
    for p in party:
        if p.holds_seat and p.pk not in held:
            assignment = _auto_seat(segment=segment, passenger=p, carries_infant=p.pk in carrying, near_row=near_row, by=by)
            held[p.pk] = assignment.seat
            near_row = int(assignment.seat[:-1]) if near_row is None else near_row

    last = CheckIn.objects.filter(flight=flight).aggregate(last=Max("sequence_number"))["last"] or 0
    actor = by if by is not None and by.is_authenticated else None
    created: list[CheckIn] = []
    for p in party:
        quote = quotes[p.pk]
        last += 1
        row = CheckIn.objects.create(
            coupon=coupons[p.pk], passenger=p, segment=segment, flight=flight, seat=held.get(p.pk, ""),
            sequence_number=last, bags=len(quote.weights), bag_weights_kg=list(quote.weights),
            hand_carry=hand_carry.get(p.pk, 0), excess_baggage_fee=quote.fee, channel=channel,
            checked_in_by=actor, checked_in_at=now,
        )  # fmt: skip
        created.append(row)
        if quote.fee > 0:
            BookingCharge.objects.create(
                booking=booking, passenger=p, segment=segment, kind=ChargeKind.BAGGAGE, code="XBAG",
                description=_("%(flight)s excess baggage: %(extra)d extra, %(overweight)d overweight")
                % {"flight": flight.flight_code, "extra": quote.extra_bags, "overweight": quote.overweight_bags},
                amount=quote.fee, currency=quote.currency, created_by=actor,
            )  # fmt: skip
    Coupon.objects.filter(pk__in=[coupons[p.pk].pk for p in party]).update(status=CouponStatus.CHECKED_IN, updated_at=now)
    if any(quotes[p.pk].fee > 0 for p in party):
        booking_total_recompute(booking=booking)

    summary = _("Checked in for %(flight)s %(route)s on %(date)s") % {
        "flight": flight.flight_code,
        "route": f"{flight.origin.iata_code}–{flight.destination.iata_code}",
        "date": flight.service_date.isoformat(),
    }
    people = {p.customer_id: p.customer for p in party if p.customer_id}
    for customer in people.values():
        timeline_record(
            customer=customer,
            kind="check_in.created",
            summary=summary,
            data={"record_locator": booking.record_locator, "flight_id": flight.pk, "channel": channel},
            actor=by,
        )
    return created


@transaction.atomic
def check_in_cancel(*, check_in: CheckIn, by: User | None = None) -> list[Coupon]:
    """Offload a traveller before departure: the coupon opens again and excess-baggage charges are removed.

    An infant is offloaded with their adult. The seat stays held for the traveller.
    """
    flight = Flight.objects.select_for_update(no_key=True).get(pk=check_in.flight_id)
    booking = Booking.objects.select_for_update().get(pk=check_in.segment.booking_id)
    if flight.status in FLIGHT_CLOSED:
        raise ApplicationError(_("This check-in can no longer be undone."), code="check_in_final")
    infants = BookingPassenger.objects.filter(travelling_with_id=check_in.passenger_id).values_list("pk", flat=True)
    rows = list(
        CheckIn.objects.select_related("coupon")
        .filter(segment_id=check_in.segment_id, passenger_id__in=[check_in.passenger_id, *infants])
        .order_by("pk")
    )
    if any(r.coupon.status != CouponStatus.CHECKED_IN for r in rows):
        raise ApplicationError(_("A traveller who has boarded cannot be offloaded here."), code="check_in_final")
    coupons = [r.coupon for r in rows]
    removed = BookingCharge.objects.filter(
        booking=booking,
        segment_id=check_in.segment_id,
        passenger_id__in=[r.passenger_id for r in rows],
        kind=ChargeKind.BAGGAGE,
    ).delete()[0]
    CheckIn.objects.filter(pk__in=[r.pk for r in rows]).delete()
    Coupon.objects.filter(pk__in=[c.pk for c in coupons]).update(status=CouponStatus.OPEN, updated_at=timezone.now())
    if removed:
        booking_total_recompute(booking=booking)
    for c in coupons:
        c.status = CouponStatus.OPEN
    return coupons


# --- Flight status and disruption ---------------------------------------------------------------


MAX_DELAY = timedelta(hours=72)
GATE = _re.compile(r"^[A-Z0-9]{0,8}$")
# Order of the operational states; a flight moves forward only (boarding may fall back to a delay).
STATUS_STAGE = {
    FlightStatus.SCHEDULED: 0,
    FlightStatus.DELAYED: 0,
    FlightStatus.BOARDING: 1,
    FlightStatus.DEPARTED: 2,
    FlightStatus.ARRIVED: 3,
}
NO_DISRUPTION, LONG_DELAY, CANCELLATION = 0, 1, 2


def flight_delay(*, flight: Flight) -> timedelta:
    if flight.estimated_departure is None:
        return timedelta(0)
    return max(flight.estimated_departure - flight.scheduled_departure, timedelta(0))


def _disruption_level(flight: Flight) -> int:
    """Cancelled beats a long delay; passengers are told again only when it gets worse."""
    if flight.status == FlightStatus.CANCELLED:
        return CANCELLATION
    if flight_delay(flight=flight) > timedelta(minutes=settings.DISRUPTION_DELAY_MINUTES):
        return LONG_DELAY
    return NO_DISRUPTION


def _status_errors(
    flight: Flight, *, status: str | None, estimated_departure: datetime | None, gate: str | None, reason: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if status is not None and status not in FlightStatus.values:
        errors["status"] = [_("Choose a status from the list.")]
    elif status is not None and status != flight.status:
        if flight.status == FlightStatus.DEPARTED and status != FlightStatus.ARRIVED:
            errors["status"] = [_("A departed flight can only arrive.")]
        elif status != FlightStatus.CANCELLED and STATUS_STAGE[status] < STATUS_STAGE[flight.status] - 1:
            errors["status"] = [_("A flight cannot go back to this status.")]
        elif status in (FlightStatus.BOARDING, FlightStatus.DEPARTED, FlightStatus.ARRIVED) and (
            timezone.now() < flight.departure_time - timedelta(hours=2)
        ):
            errors["status"] = [_("Boarding and departure are recorded on the day, close to the departure time.")]
    if estimated_departure is not None and estimated_departure != flight.estimated_departure:
        if timezone.is_naive(estimated_departure):
            errors["estimated_departure"] = [_("Enter the new departure time with its time zone.")]
        elif estimated_departure < flight.scheduled_departure:
            errors["estimated_departure"] = [_("The new departure time cannot be before the scheduled time.")]
        elif estimated_departure - flight.scheduled_departure > MAX_DELAY:
            errors["estimated_departure"] = [_("A delay of more than 72 hours is a cancellation; cancel the flight instead.")]
        elif flight.status in (FlightStatus.DEPARTED, FlightStatus.ARRIVED):
            errors["estimated_departure"] = [_("The flight has already left.")]
    if status == FlightStatus.DELAYED and estimated_departure is None and flight.estimated_departure is None:
        errors["estimated_departure"] = [_("Enter the new departure time of the delayed flight.")]
    if gate is not None and not GATE.match("".join(gate.split()).upper()):
        errors["gate"] = [_("A gate is up to 8 letters and digits, e.g. B42.")]
    if len(reason) > 200:
        errors["reason"] = [_("Keep the reason under 200 characters.")]
    if status == FlightStatus.CANCELLED and flight.status != FlightStatus.CANCELLED and not reason:
        errors["reason"] = [_("Give the reason for the cancellation; passengers are told it.")]
    return errors


@transaction.atomic
def flight_status_update(
    *,
    flight: Flight,
    by: User,
    status: str | None = None,
    estimated_departure: datetime | None = None,
    gate: str | None = None,
    reason: str = "",
) -> Flight:
    """Record what operations know: a new departure time, a gate, boarding, departure, a cancellation.

    A later estimate makes the flight delayed and moves its arrival by the same amount; an estimate equal
    to the schedule puts it back on time. When the flight becomes cancelled, or delayed by more than
    DISRUPTION_DELAY_MINUTES, every active booking on it is flagged and its contact e-mailed; repeating the
    same update changes nothing and e-mails no one again.
    """
    if by is None or not by.is_authenticated or not by.is_staff:
        raise ApplicationError(_("Only airline staff can change a flight's status."), code="forbidden", status=403)
    flight = Flight.objects.select_for_update(no_key=True, of=("self",)).select_related("origin", "destination").get(pk=flight.pk)
    if flight.status in (FlightStatus.CANCELLED, FlightStatus.ARRIVED):
        unchanged_gate = gate is None or "".join(gate.split()).upper() == flight.gate
        if status in (None, flight.status) and estimated_departure in (None, flight.estimated_departure) and unchanged_gate:
            return flight
        raise ApplicationError(
            _("%(flight)s is %(status)s; its status can no longer change.")
            % {"flight": flight.flight_code, "status": flight.get_status_display().lower()},
            code="flight_closed",
        )
    reason = " ".join((reason or "").split())
    errors = _status_errors(flight, status=status, estimated_departure=estimated_departure, gate=gate, reason=reason)
    if errors:
        raise ApplicationError(_("Please check the flight status."), fields=errors)

    before = _disruption_level(flight)
    new_status = status or flight.status
    if estimated_departure is not None and estimated_departure != flight.estimated_departure:
        if estimated_departure == flight.scheduled_departure:
            flight.estimated_departure = flight.estimated_arrival = None
        else:
            flight.estimated_departure = estimated_departure
            flight.estimated_arrival = estimated_departure + (flight.scheduled_arrival - flight.scheduled_departure)
    elif status == FlightStatus.SCHEDULED:
        flight.estimated_departure = flight.estimated_arrival = None
    if new_status in (FlightStatus.SCHEDULED, FlightStatus.DELAYED):
        new_status = FlightStatus.DELAYED if flight_delay(flight=flight) > timedelta(0) else FlightStatus.SCHEDULED
    arriving = new_status == FlightStatus.ARRIVED
    flight.status = flight.status if arriving else new_status
    if gate is not None:
        flight.gate = "".join(gate.split()).upper()
    if reason:
        flight.status_reason = reason
    elif flight.status == FlightStatus.SCHEDULED:
        flight.status_reason = ""
    flight.save(update_fields=["status", "estimated_departure", "estimated_arrival", "gate", "status_reason", "updated_at"])

    if _disruption_level(flight) > before:
        _flight_disrupt(flight=flight, by=by)
    if arriving:
        flight_arrive(flight=flight, by=by)
        flight.refresh_from_db()
    return flight


def _disruption_text(flight: Flight) -> str:
    if flight.status == FlightStatus.CANCELLED:
        text = _("%(flight)s on %(date)s is cancelled") % {"flight": flight.flight_code, "date": flight.service_date.isoformat()}
    else:
        text = _("%(flight)s on %(date)s is delayed to %(time)s") % {
            "flight": flight.flight_code,
            "date": flight.service_date.isoformat(),
            "time": _local(flight.departure_time, flight.origin),
        }
    return f"{text}: {flight.status_reason}"[:200] if flight.status_reason else text


def _manage_path(record_locator: str) -> str:
    try:
        return reverse("reservations_portal:trip", kwargs={"record_locator": record_locator})
    except NoReverseMatch:
        return "/"


def _flight_disrupt(*, flight: Flight, by: User | None) -> list[Booking]:
    """Flag every active booking on the flight, tell each contact in their language, then tell other apps."""
    booking_ids = Segment.objects.filter(flight=flight, status=SegmentStatus.CONFIRMED).values("booking_id")
    bookings = list(
        Booking.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk__in=booking_ids, status__in=ACTIVE_BOOKING)
        .order_by("pk")
    )
    text = _disruption_text(flight)
    if not bookings:
        events.flight_disrupted.send(sender=Flight, flight=flight, bookings=[], reason=text)
        return []
    now = timezone.now()
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(disrupted_at=now, disruption_reason=text, updated_at=now)
    cancelled = flight.status == FlightStatus.CANCELLED
    travellers: dict[int, set[int]] = {}
    for booking_id, customer_id in BookingPassenger.objects.filter(
        booking_id__in=[b.pk for b in bookings], customer__isnull=False
    ).values_list("booking_id", "customer_id"):
        travellers.setdefault(booking_id, set()).add(customer_id)
    customers = Customer.objects.in_bulk({c for ids in travellers.values() for c in ids})
    for booking in bookings:
        booking.disrupted_at, booking.disruption_reason = now, text
        if booking.contact_email:  # blank once the passenger's data was erased
            email_queue(
                to=booking.contact_email,
                template="reservations/flight_disrupted",
                context={
                    "record_locator": booking.record_locator,
                    "flight_code": flight.flight_code,
                    "origin": str(flight.origin),
                    "destination": str(flight.destination),
                    "service_date": flight.service_date.isoformat(),
                    "scheduled_departure": _local(flight.scheduled_departure, flight.origin),
                    "estimated_departure": "" if cancelled else _local(flight.departure_time, flight.origin),
                    "cancelled": cancelled,
                    "reason": flight.status_reason,
                    "manage_path": _manage_path(booking.record_locator),
                },
                language=booking.language or "en",
                customer=booking.customer,
            )
        people = {c: customers[c] for c in travellers.get(booking.pk, set()) if c in customers}
        if booking.customer_id:
            people[booking.customer_id] = booking.customer
        for customer in people.values():
            timeline_record(
                customer=customer,
                kind="flight.disrupted",
                summary=text,
                data={"record_locator": booking.record_locator, "flight_id": flight.pk, "cancelled": cancelled},
                actor=by,
            )
    events.flight_disrupted.send(sender=Flight, flight=flight, bookings=bookings, reason=text)
    return bookings


@transaction.atomic
def flight_depart(*, flight: Flight, by: User) -> Flight:
    """The doors are closed: the flight has left. Checked-in travellers who never boarded stay checked in."""
    return flight_status_update(flight=flight, by=by, status=FlightStatus.DEPARTED)


@transaction.atomic
def coupon_board(*, coupon: Coupon, by: User | None = None) -> Coupon:
    """The traveller passed the gate: their checked-in coupon is boarded (scanning twice is harmless)."""
    coupon = Coupon.objects.select_for_update().select_related("segment__flight").get(pk=coupon.pk)
    if coupon.status == CouponStatus.BOARDED:
        return coupon
    if coupon.status != CouponStatus.CHECKED_IN:
        raise ApplicationError(_("Only a checked-in traveller can board."), code="not_checked_in")
    if coupon.segment.flight.status in FLIGHT_CLOSED:
        raise ApplicationError(_("This flight is closed for boarding."), code="flight_closed")
    coupon.status = CouponStatus.BOARDED
    coupon.save(update_fields=["status", "updated_at"])
    return coupon


@transaction.atomic
def flight_arrive(*, flight: Flight, by: User | None = None) -> int:
    """The flight has landed: its checked-in and boarded coupons are flown, each announced once.

    Returns how many coupons were flown by this call; running it again flies none and sends nothing.
    """
    flight = Flight.objects.select_for_update(no_key=True).get(pk=flight.pk)
    if flight.status == FlightStatus.CANCELLED:
        raise ApplicationError(_("A cancelled flight cannot arrive."), code="flight_cancelled")
    if timezone.now() < flight.departure_time:
        raise ApplicationError(_("A flight cannot arrive before it has departed."), code="not_departed")
    if flight.status != FlightStatus.ARRIVED:
        flight.status = FlightStatus.ARRIVED
        flight.save(update_fields=["status", "updated_at"])
    coupons = list(
        Coupon.objects.select_for_update(of=("self",))
        .select_related("ticket", "segment")
        .filter(
            segment__flight=flight,
            segment__status=SegmentStatus.CONFIRMED,
            status__in=[CouponStatus.CHECKED_IN, CouponStatus.BOARDED],
        )
        .order_by("pk")
    )
    if not coupons:
        return 0
    now = timezone.now()
    Coupon.objects.filter(pk__in=[c.pk for c in coupons]).update(status=CouponStatus.FLOWN, updated_at=now)
    for coupon in coupons:
        coupon.status, coupon.updated_at = CouponStatus.FLOWN, now
        events.segment_flown.send(sender=Coupon, coupon=coupon)
    return len(coupons)


# --- Reference data and schedule ----------------------------------------------------------------

AIRPORT_FIELDS = ("icao_code", "name", "city", "country", "latitude", "longitude", "time_zone")


@functools.cache
def _airport_package() -> dict[str, dict]:
    """The package's IATA table, parsed once per process (it holds some 8,000 airports)."""
    return airportsdata.load("IATA")


def _airport_from_package(code: str, data: dict) -> Airport:
    return Airport(
        iata_code=code,
        icao_code=(data.get("icao") or "")[:4],
        name=(data.get("name") or code)[:200],
        city=(data.get("city") or "")[:100],
        country=data.get("country") or "",
        latitude=Decimal(str(round(float(data["lat"]), 6))),
        longitude=Decimal(str(round(float(data["lon"]), 6))),
        time_zone=data.get("tz") or "UTC",
    )


@transaction.atomic
def airports_load(*, codes: Iterable[str] | None = None) -> int:
    """Insert or refresh airports from the maintained ``airportsdata`` package (all of them when no codes).

    The package is the single source of names, coordinates and time zones, so a re-run picks up its
    corrections. Returns how many airports were written.
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

# (code, name, amount, departing from (blank: everywhere), charged for infants)
TAX_RULES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("YQ", "Fuel surcharge", "35.00", "", False),
    ("YR", "Ticketing service fee", "5.00", "", True),
    ("GB", "UK Air Passenger Duty", "15.00", "GB", False),
    ("UB", "UK passenger service charge", "28.50", "GB", True),
    ("RA", "German air transport tax", "15.53", "DE", False),
    ("DE", "German security charge", "10.00", "DE", True),
    ("FR", "French civil aviation tax", "4.63", "FR", False),
    ("IZ", "French solidarity tax", "7.40", "FR", False),
    ("US", "US international transportation tax", "22.90", "US", False),
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
