"""Seat selection on a booked segment, with the exit-row and infant rules."""

from __future__ import annotations

import re as _re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict, NotFound
from crm.models import User
from reservations.models import (
    Booking,
    BookingCharge,
    BookingPassenger,
    ChargeKind,
    CheckIn,
    PassengerType,
    SeatAssignment,
    SeatMapSection,
    Segment,
)
from reservations.rules import seat_refusal
from reservations.services.common import booking_total_recompute

SEAT_CODE = _re.compile(r"^(\d{1,3})([A-Z])$")
SEAT_TAKEN_CONSTRAINT = "seat_taken_once_per_flight"


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
    segment = Segment.objects.select_related("flight__aircraft_type", "fare_family").get(pk=segment.pk)
    flight = segment.flight
    refusal = seat_refusal(booking=booking, segment=segment)
    if refusal is not None:
        raise refusal
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
