"""Seat maps and the check-in reads."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext

from crm.errors import ApplicationError, NotFound
from crm.models import Cabin
from reservations import bcbp, rules
from reservations.models import (
    RECORD_LOCATOR_ALPHABET,
    Booking,
    Channel,
    CheckIn,
    Coupon,
    CouponStatus,
    Flight,
    SeatAssignment,
    SeatMapSection,
    Segment,
)
from reservations.selectors.bookings import booking_queryset, normalize_record_locator

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
