"""Boarding passes as printed and on screen, with their IATA bar code."""

from __future__ import annotations

import base64
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from crm.models import AssistanceCode, Cabin
from reservations import bcbp, hooks
from reservations.models import (
    Booking,
    BookingPassenger,
    CheckIn,
    Flight,
    PassengerType,
    SeatMapSection,
)
from reservations.selectors.check_in import BOARDING_BEGINS_MINUTES, CHECK_IN_SOURCES, COMPARTMENT_CODES, GATE_CLOSES_MINUTES


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
    # The traveller's own benefits (``hooks.traveller_benefits``): BCBP has no field for them, so the pass shows them.
    priority: bool = False
    lounge: bool = False
    benefits_label: str = ""

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
    benefits = hooks.traveller_benefits_for(passenger=check_in.passenger, booking=check_in.segment.booking)
    return _boarding_pass(check_in, infant=infant, sections=list(sections), benefits=benefits)


def boarding_passes(*, booking: Booking, passenger_ids: Collection[int] | None = None) -> list[BoardingPass]:
    """The booking's boarding passes (or only those of ``passenger_ids``), flight by flight, traveller by
    traveller, in three queries whatever the number of travellers (plus what the benefits hooks read, once)."""
    check_ins = _boarding_check_ins().filter(segment__booking=booking)
    if passenger_ids is not None:
        check_ins = check_ins.filter(passenger_id__in=passenger_ids)
    check_ins = list(check_ins.order_by("segment__sequence", "passenger__sequence"))
    infants: dict[int, BookingPassenger] = {}
    for infant in BookingPassenger.objects.filter(booking=booking, travelling_with__isnull=False).order_by("sequence"):
        infants.setdefault(infant.travelling_with_id, infant)
    sections = list(SeatMapSection.objects.filter(aircraft_type_id__in={c.flight.aircraft_type_id for c in check_ins}))
    travellers = {c.passenger_id: c.passenger for c in check_ins}
    benefits = hooks.traveller_benefits_for_many(passengers=travellers.values(), booking=booking) if travellers else {}
    return [
        _boarding_pass(
            c,
            infant=infants.get(c.passenger_id),
            sections=[s for s in sections if s.aircraft_type_id == c.flight.aircraft_type_id and s.cabin == c.segment.cabin],
            benefits=benefits[c.passenger_id],
        )
        for c in check_ins
    ]


def _boarding_pass(
    check_in: CheckIn, *, infant: BookingPassenger | None, sections: list[SeatMapSection], benefits: hooks.TravellerBenefits
) -> BoardingPass:
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
        free_baggage=bcbp.free_baggage_allowance(pieces=fare.baggage_pieces + benefits.extra_bags),
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
        fare_family=fare.local_name(),
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
        priority=benefits.priority,
        lounge=benefits.lounge,
        benefits_label=benefits.label if (benefits.priority or benefits.lounge) else "",
    )
