"""E-mails reservations sends to passengers, queued to go out after commit."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from crm.services import email_queue
from crm.templatetags.airline_format import money
from reservations.models import (
    Booking,
    SegmentStatus,
    TicketStatus,
)

RECEIPT_TEMPLATE = "reservations/eticket_receipt"


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
                    "origin": s.flight.origin.label(),
                    "destination": s.flight.destination.label(),
                    "departs": local_time(s.flight.departure_time, s.flight.origin.time_zone),
                    "arrives": local_time(s.flight.arrival_time, s.flight.destination.time_zone),
                    "fare": str(s.fare_family),
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
