"""Which actions a booking allows now: checks on rows already read, with no writes and no locks.

Each check returns the refusal (an ``ApplicationError``) or None. Services raise the refusal on the rows
they have locked, so they enforce the rule; ``selectors.trip_actions`` offers only what would not be
refused. Kept apart from both, like ``pricing``, so that selectors need not import services. The fare rules a
traveller reads before choosing (``fare_family_rules``) live here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.templatetags.airline_format import money
from reservations.models import (
    Airport,
    Booking,
    BookingPassenger,
    BookingStatus,
    Coupon,
    CouponStatus,
    FareFamily,
    Flight,
    FlightStatus,
    Segment,
    SegmentStatus,
    TicketStatus,
)

BOOKING_CUTOFF = timedelta(minutes=60)

ACTIVE_BOOKING = (BookingStatus.HELD, BookingStatus.TICKETED)

FLIGHT_CLOSED = (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED)

# Coupon states that mean the passenger is at the airport: a change or cancellation waits for the flight.
LIVE_COUPONS = ("checked_in", "boarded")


def minimum_connection(airport: Airport) -> timedelta:
    """The shortest change of flights at ``airport`` that is sold."""
    return timedelta(minutes=airport.minimum_connection_minutes)


def maximum_layover() -> timedelta:
    """The longest wait between two flights that is still one journey (longer is a stopover)."""
    return timedelta(minutes=settings.CONNECTION_MAX_LAYOVER_MINUTES)


def duration_text(minutes: int) -> str:
    """95 → '1 h 35 min' (or '1小时35分钟'): a wait or a flight time as people say it."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return _("%(minutes)d min") % {"minutes": rest}
    if not rest:
        return _("%(hours)d h") % {"hours": hours}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": rest}


def connects(*, arriving: Flight, departing: Flight) -> bool:
    """``departing`` leaves the airport ``arriving`` lands at, within its minimum connecting time and the
    longest layover: the two flights make one journey (flying back where it came from is a return, not a
    change). Times are the schedule's, as they were sold."""
    if departing.origin_id != arriving.destination_id or departing.destination_id == arriving.origin_id:
        return False
    wait = departing.scheduled_departure - arriving.scheduled_arrival
    return minimum_connection(arriving.destination) <= wait <= maximum_layover()


def journeys(flights: list[Flight]) -> list[list[Flight]]:
    """Consecutive flights grouped into journeys: a flight that connects to the one before continues its journey."""
    grouped: list[list[Flight]] = []
    for flight in flights:
        if grouped and connects(arriving=grouped[-1][-1], departing=flight):
            grouped[-1].append(flight)
        else:
            grouped.append([flight])
    return grouped


def _local(moment: datetime, airport: Airport) -> str:
    return moment.astimezone(ZoneInfo(airport.time_zone)).strftime("%Y-%m-%d %H:%M")


def _live(coupons: Iterable[Coupon]) -> list[Coupon]:
    """The coupons of tickets still open (exchanged and refunded tickets are history)."""
    return [c for c in coupons if c.ticket.status == TicketStatus.OPEN]


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


def payment_refusal(*, booking: Booking, at: datetime | None = None) -> ApplicationError | None:
    """Why nothing can be paid on the booking now (cancelled, hold over, nothing due), or None."""
    if booking.status not in ACTIVE_BOOKING:
        return ApplicationError(
            _("Booking %(locator)s is %(status)s and can no longer be paid.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="booking_not_payable",
        )
    if booking.status == BookingStatus.HELD and booking.hold_expires_at and booking.hold_expires_at <= (at or timezone.now()):
        return ApplicationError(
            _("The hold on booking %(locator)s has expired; please book again.") % {"locator": booking.record_locator},
            code="booking_not_payable",
        )
    if booking.balance_due <= 0:
        return ApplicationError(
            _("Nothing is due on booking %(locator)s.") % {"locator": booking.record_locator}, code="nothing_due"
        )
    return None


def cancel_refusal(*, booking: Booking, segments: Iterable[Segment], coupons: Iterable[Coupon]) -> ApplicationError | None:
    """Why the booking cannot be cancelled now, or None; ``segments`` are its confirmed flights."""
    if booking.status not in ACTIVE_BOOKING:
        return ApplicationError(
            _("Booking %(locator)s is already %(status)s.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="already_cancelled",
        )
    live = _live(coupons)
    if any(c.status in LIVE_COUPONS for c in live):
        return ApplicationError(
            _("A passenger is checked in; the check-in must be cancelled at the airport first."), code="cancel_not_allowed"
        )
    flown = {c.segment_id for c in live if c.status == CouponStatus.FLOWN}
    if all(s.pk in flown for s in segments):
        return ApplicationError(_("Every flight of this booking has been flown."), code="cancel_not_allowed")
    return None


def change_refusal(
    *, booking: Booking, segment: Segment, coupons: Iterable[Coupon], involuntary: bool, at: datetime | None = None
) -> ApplicationError | None:
    """Why this flight of the booking cannot be moved to another now, or None.

    An involuntary move (rebooking off a disruption) also takes checked-in passengers and ignores the
    fare's change rules and the cut-off.
    """
    if booking.status not in ACTIVE_BOOKING:
        return ApplicationError(
            _("Booking %(locator)s is %(status)s and cannot be changed.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="change_not_allowed",
        )
    if segment.booking_id != booking.pk or segment.status != SegmentStatus.CONFIRMED:
        return ApplicationError(_("This flight is not part of the booking any more."), code="change_not_allowed")
    movable = {CouponStatus.OPEN, CouponStatus.CHECKED_IN} if involuntary else {CouponStatus.OPEN}
    for coupon in _live(coupons):
        if coupon.segment_id == segment.pk and coupon.status not in movable:
            return ApplicationError(
                _("A passenger has already checked in for or flown this flight; it can no longer be changed."),
                code="change_not_allowed",
            )
        if coupon.segment_id != segment.pk and coupon.status in LIVE_COUPONS:
            return ApplicationError(
                _("A passenger is checked in on another flight of this booking; change after that flight."),
                code="change_not_allowed",
            )
    if not involuntary:
        if booking.status == BookingStatus.TICKETED and not segment.fare_family.changeable:
            return ApplicationError(
                _("The %(fare)s fare does not allow changes.") % {"fare": segment.fare_family.name}, code="change_not_allowed"
            )
        if segment.flight.scheduled_departure - (at or timezone.now()) < BOOKING_CUTOFF:
            return ApplicationError(_("This flight departs too soon to be changed."), code="change_not_allowed")
    return None


def seat_refusal(*, booking: Booking, segment: Segment, at: datetime | None = None) -> ApplicationError | None:
    """Why seats on this flight of the booking cannot be chosen now, or None."""
    if booking.status not in ACTIVE_BOOKING:
        return ApplicationError(_("Seats can only be chosen on an active booking."), code="booking_inactive")
    if segment.status != SegmentStatus.CONFIRMED:
        return ApplicationError(_("This flight is no longer part of the booking."), code="segment_cancelled")
    flight = segment.flight
    if flight.status in FLIGHT_CLOSED or flight.departure_time <= (at or timezone.now()):
        return ApplicationError(
            _("Seats on %(flight)s can no longer be changed.") % {"flight": flight.flight_code}, code="flight_closed"
        )
    return None


def check_in_refusal(
    *, booking: Booking, segment: Segment, unpaid: Decimal, at: datetime | None = None
) -> ApplicationError | None:
    """Why nobody on the booking can check in for this flight now, or None.

    ``unpaid`` is what must be paid before check-in can even start; check-in itself quotes and collects
    its fees and the booking's balance before any boarding pass (``services.check_in_with_payment``).
    """
    if booking.status != BookingStatus.TICKETED:
        return ApplicationError(_("Check-in opens for a booking once it is paid and ticketed."), code="not_ticketed")
    if unpaid > 0:
        return ApplicationError(
            _("%(due)s %(currency)s is still due on this booking; please pay it before checking in.")
            % {"due": unpaid, "currency": booking.currency},
            code="balance_due",
        )
    if segment.status != SegmentStatus.CONFIRMED:
        return ApplicationError(_("This flight is no longer part of the booking."), code="segment_cancelled")
    flight = segment.flight
    if flight.status == FlightStatus.CANCELLED:
        return ApplicationError(
            _("%(flight)s is cancelled; we will help you rebook.") % {"flight": flight.flight_code}, code="flight_cancelled"
        )
    opens, closes = check_in_window(flight=flight)
    now = at or timezone.now()
    if flight.status in (FlightStatus.DEPARTED, FlightStatus.ARRIVED) or now >= closes:
        return ApplicationError(
            _("Check-in for %(flight)s closed at %(closes)s (local time).")
            % {"flight": flight.flight_code, "closes": _local(closes, flight.origin)},
            code="check_in_closed",
        )
    if now < opens:
        return ApplicationError(
            _("Check-in for %(flight)s opens at %(opens)s (local time).")
            % {"flight": flight.flight_code, "opens": _local(opens, flight.origin)},
            code="check_in_not_open",
        )
    return None


def frequent_flyer_refusal(
    *, booking: Booking, passenger: BookingPassenger, coupons: Iterable[Coupon], segments: Iterable[Segment]
) -> ApplicationError | None:
    """Why this traveller's frequent flyer number can no longer be added, changed or removed, or None.

    The number decides which account the traveller's flights earn on and the tier benefits they get at
    the airport, so it may change while they still have a flight ahead: not on a cancelled or lapsed
    booking, not while they are on board, not once none of their flights is left to take. ``coupons`` are
    the booking's (with their tickets), ``segments`` its flights (with each one's ``flight``).
    """
    if booking.status not in ACTIVE_BOOKING:
        return ApplicationError(
            _("Booking %(locator)s is %(status)s: its travellers can no longer be changed.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="booking_inactive",
        )
    if booking.status != BookingStatus.TICKETED:
        return None  # held: nothing is ticketed or flown yet
    flights = {s.pk: s.flight for s in segments}
    theirs = [c for c in _live(coupons) if c.ticket.passenger_id == passenger.pk]
    if any(c.status == CouponStatus.BOARDED for c in theirs):
        return ApplicationError(
            _("%(name)s has boarded; their frequent flyer number cannot be changed during the flight.")
            % {"name": passenger.full_name},
            code="traveller_on_board",
        )
    ahead = [
        c
        for c in theirs
        if c.status in (CouponStatus.OPEN, CouponStatus.CHECKED_IN)
        and c.segment_id in flights
        and flights[c.segment_id].status not in FLIGHT_CLOSED
    ]
    if not ahead:
        return ApplicationError(
            _(
                "%(name)s has no flight left to take on this booking, so their frequent flyer number can no longer be "
                "changed. Missing miles for a flight already flown are claimed from the frequent flyer account."
            )
            % {"name": passenger.full_name},
            code="traveller_flown",
        )
    return None


def fare_family_rules(family: FareFamily) -> list[str]:
    """What a fare family allows, in the reader's language: one wording for the search results (portal
    and office) and the receipt, read from the fare family's own fields."""
    currency = family.currency
    if family.baggage_pieces:
        baggage = _("Checked baggage: %(pieces)d × %(kg)d kg") % {"pieces": family.baggage_pieces, "kg": family.baggage_kg}
    else:
        baggage = _("Hand baggage only; checked bags are charged")
    if not family.changeable:
        changes = _("Changes not allowed")
    elif family.change_fee:
        changes = _("Changes allowed for a fee of %(fee)s plus any fare difference") % {"fee": money(family.change_fee, currency)}
    else:
        changes = _("Free changes: you pay only any fare difference")
    if not family.refundable:
        refund = _("Non-refundable: only taxes are refunded on cancellation")
    elif family.cancellation_fee:
        refund = _("Refundable, less a cancellation fee of %(fee)s") % {"fee": money(family.cancellation_fee, currency)}
    else:
        refund = _("Fully refundable")
    if family.seat_selection_fee:
        seats = _("Seat selection: %(fee)s per flight") % {"fee": money(family.seat_selection_fee, currency)}
    else:
        seats = _("Free seat selection")
    miles = _("Earns miles worth %(percent)d%% of the distance flown") % {"percent": family.miles_earn_percent}
    return [baggage, changes, refund, seats, miles]
