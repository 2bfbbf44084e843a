"""Operations' reads: flight manifests and disrupted bookings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext

from reservations.models import (
    Booking,
    BookingPassenger,
    BookingStatus,
    Coupon,
    CouponStatus,
    Flight,
    FlightStatus,
    PassengerType,
    SeatAssignment,
    Segment,
    SegmentStatus,
)
from reservations.selectors.boarding import _ssr_codes
from reservations.selectors.bookings import booking_queryset, flight_alternatives
from reservations.selectors.check_in import NOT_ON_THE_FLIGHT


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


@dataclass(frozen=True)
class Disruption:
    """A booking's flight that is cancelled or long delayed, and what the passenger may choose instead.

    The choices are the office's: another flight on the route with seats for the whole party (the
    alternatives the office's rebooking offers), a refund of the unused flights, or, for a delay only,
    keeping the delayed flight.
    """

    segment: Segment
    cancelled: bool
    alternatives: list[Flight]

    @property
    def may_keep(self) -> bool:
        return not self.cancelled


def _long_delayed(flight: Flight) -> bool:
    threshold = timedelta(minutes=settings.DISRUPTION_DELAY_MINUTES)
    return (
        flight.status in (FlightStatus.SCHEDULED, FlightStatus.DELAYED, FlightStatus.BOARDING)
        and flight.estimated_departure is not None
        and flight.estimated_departure > flight.scheduled_departure + threshold
    )


def disrupted_segment(*, booking: Booking) -> Segment | None:
    """The booking's first confirmed flight that is cancelled or long delayed, while the passenger has not
    yet chosen what to do (the booking is flagged); read from the booking's segments as already loaded."""
    if booking.disrupted_at is None or booking.status not in (BookingStatus.HELD, BookingStatus.TICKETED):
        return None
    segments = sorted(booking.segments.all(), key=lambda s: s.sequence)
    return next(
        (
            s
            for s in segments
            if s.status == SegmentStatus.CONFIRMED and (s.flight.status == FlightStatus.CANCELLED or _long_delayed(s.flight))
        ),
        None,
    )


def booking_disruption(*, booking: Booking) -> Disruption | None:
    """The disruption the passenger can act on, with the office's alternatives; None once it is settled."""
    segment = disrupted_segment(booking=booking)
    if segment is None:
        return None
    return Disruption(
        segment=segment,
        cancelled=segment.flight.status == FlightStatus.CANCELLED,
        alternatives=flight_alternatives(segment=segment, min_seats=booking.seats),
    )


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
