"""Flight status from operations: delays, cancellations, departure, boarding and arrival."""

from __future__ import annotations

import re as _re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError
from crm.events import send_after_commit
from crm.models import Customer, User
from crm.services import email_queue, timeline_record
from crm.timeline import phrase
from reservations import events
from reservations.models import (
    Booking,
    BookingPassenger,
    Coupon,
    CouponStatus,
    Flight,
    FlightStatus,
    Segment,
    SegmentStatus,
    TicketStatus,
)
from reservations.services.common import ACTIVE_BOOKING, FLIGHT_CLOSED, _local
from reservations.services.disruption import disruption_email_context
from reservations.services.notifications import booking_email_language

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
    left_before = flight.status == FlightStatus.DEPARTED
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
    if flight.status == FlightStatus.DEPARTED and not left_before:
        _mark_no_shows(flight=flight)
    if arriving:
        flight_arrive(flight=flight, by=by)
        flight.refresh_from_db()
    return flight


def _disruption_message(flight: Flight) -> tuple[str, dict]:
    """The disruption as a timeline message and its params, rendered in each reader's language."""
    params = {"flight": flight.flight_code, "date": flight.service_date.isoformat()}
    if flight.status == FlightStatus.CANCELLED:
        message = gettext_noop("%(flight)s on %(date)s is cancelled")
    else:
        message = gettext_noop("%(flight)s on %(date)s is delayed to %(time)s")
        params["time"] = _local(flight.departure_time, flight.origin)
    if not flight.status_reason:
        return message, params
    return gettext_noop("%(what)s: %(reason)s"), {"what": phrase(message, **params), "reason": flight.status_reason[:150]}


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
    message, params = _disruption_message(flight)
    cancelled = flight.status == FlightStatus.CANCELLED
    send_after_commit(
        events.flight_disrupted,
        sender=Flight,
        flight_id=flight.pk,
        reason="cancelled" if cancelled else "delayed",
        booking_ids=[b.pk for b in bookings],
    )
    if not bookings:
        return []
    now = timezone.now()
    Booking.objects.filter(pk__in=[b.pk for b in bookings]).update(disrupted_at=now, disruption_reason=text, updated_at=now)
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
                    # the places as the message's reader names them, whoever reports the disruption
                    "origin": flight.origin.label(booking.language or "en"),
                    "destination": flight.destination.label(booking.language or "en"),
                    "service_date": flight.service_date.isoformat(),
                    "scheduled_departure": _local(flight.scheduled_departure, flight.origin),
                    "estimated_departure": "" if cancelled else _local(flight.departure_time, flight.origin),
                    "cancelled": cancelled,
                    "reason": flight.status_reason,
                    "manage_path": _manage_path(booking.record_locator),
                    **disruption_email_context(booking=booking),
                },
                language=booking_email_language(booking),
                customer=booking.customer,
            )
        people = {c: customers[c] for c in travellers.get(booking.pk, set()) if c in customers}
        if booking.customer_id:
            people[booking.customer_id] = booking.customer
        for customer in people.values():
            timeline_record(
                customer=customer,
                kind="flight.disrupted",
                message=message,
                params=params,
                data={"record_locator": booking.record_locator, "flight_id": flight.pk, "cancelled": cancelled},
                actor=by,
            )
    return bookings


def _mark_no_shows(*, flight: Flight) -> list[int]:
    """The flight has left: ticketed travellers who never checked in are no-shows, announced together.

    Coupons checked in but never scanned at the gate are not no-shows: they are flown on arrival.
    """
    coupon_ids = list(
        Coupon.objects.select_for_update(of=("self",))
        .filter(
            segment__flight=flight,
            segment__status=SegmentStatus.CONFIRMED,
            ticket__status=TicketStatus.OPEN,
            status=CouponStatus.OPEN,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if coupon_ids:
        Coupon.objects.filter(pk__in=coupon_ids).update(status=CouponStatus.NO_SHOW, updated_at=timezone.now())
        send_after_commit(events.no_show, sender=Flight, flight_id=flight.pk, coupon_ids=coupon_ids)
    return coupon_ids


@transaction.atomic
def flight_depart(*, flight: Flight, by: User) -> Flight:
    """The doors are closed: the flight has left. Travellers who never checked in become no-shows; those
    checked in but never scanned at the gate stay checked in (and are flown on arrival)."""
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
    """The flight has landed: its checked-in and boarded coupons are flown and announced in one event.

    A flight whose departure was never recorded gets its no-shows marked here. Returns how many coupons
    were flown by this call; running it again flies none and sends nothing.
    """
    flight = Flight.objects.select_for_update(no_key=True).get(pk=flight.pk)
    if flight.status == FlightStatus.CANCELLED:
        raise ApplicationError(_("A cancelled flight cannot arrive."), code="flight_cancelled")
    if timezone.now() < flight.departure_time:
        raise ApplicationError(_("A flight cannot arrive before it has departed."), code="not_departed")
    landed = flight.status != FlightStatus.ARRIVED
    if landed:
        flight.status = FlightStatus.ARRIVED
        flight.save(update_fields=["status", "updated_at"])
    _mark_no_shows(flight=flight)
    coupon_ids = list(
        Coupon.objects.select_for_update(of=("self",))
        .filter(
            segment__flight=flight,
            segment__status=SegmentStatus.CONFIRMED,
            status__in=[CouponStatus.CHECKED_IN, CouponStatus.BOARDED],
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if coupon_ids:
        Coupon.objects.filter(pk__in=coupon_ids).update(status=CouponStatus.FLOWN, updated_at=timezone.now())
    if landed or coupon_ids:
        send_after_commit(events.flight_arrived, sender=Flight, flight_id=flight.pk, coupon_ids=coupon_ids)
    return len(coupon_ids)
