"""Issuing e-tickets and their coupons once a booking is fully paid."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError
from crm.events import send_after_commit
from crm.services import timeline_record
from reservations import events
from reservations.models import (
    Booking,
    BookingPassenger,
    BookingStatus,
    Coupon,
    Segment,
    SegmentStatus,
    Ticket,
    TicketStatus,
)
from reservations.services.common import _people
from reservations.services.notifications import _receipt_queue

TICKET_SERIAL_SEQUENCE = "reservations_ticket_serial"


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
            message=gettext_noop("E-tickets issued for booking %(locator)s"),
            params={"locator": locked.record_locator},
            data={"record_locator": locked.record_locator, "tickets": [t.number for t in tickets]},
        )
    send_after_commit(
        events.booking_ticketed,
        sender=Booking,
        booking_id=locked.pk,
        record_locator=locked.record_locator,
        ticket_ids=[t.pk for t in tickets],
    )
    _receipt_queue(booking=locked)
    return tickets
