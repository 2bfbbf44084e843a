"""E-mails reservations sends to passengers, queued to go out after commit."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.urls import reverse
from django.utils import formats, timezone, translation

from crm.services import email_language, email_queue
from crm.templatetags.airline_format import money
from reservations.models import (
    Booking,
    Payment,
    PaymentMethod,
    Refund,
    Segment,
    SegmentStatus,
    TicketStatus,
)

RECEIPT_TEMPLATE = "reservations/eticket_receipt"
CANCELLATION_TEMPLATE = "reservations/booking_cancelled"
REFUND_TEMPLATE = "reservations/refund_completed"
PAYMENT_RECEIPT_TEMPLATE = "reservations/payment_receipt"


def booking_email_language(booking: Booking) -> str:
    """The booker's preferred language when the portal speaks it, else the language the booking was made in."""
    return email_language(customer=booking.customer if booking.customer_id else None, fallback=booking.language)


def _booker_name(booking: Booking) -> str:
    if booking.customer_id:
        return booking.customer.given_name
    first = booking.passengers.order_by("sequence").first()
    return first.given_name if first is not None else ""


def _flight_lines(segments: Iterable[Segment]) -> list[dict[str, str]]:
    """Each flight as the passenger reads it: code, cities and the local departure time (active language)."""
    from reservations.documents import local_time

    return [
        {
            "flight": s.flight.flight_code,
            "origin": f"{s.flight.origin.city or s.flight.origin.name} ({s.flight.origin.iata_code})",
            "destination": f"{s.flight.destination.city or s.flight.destination.name} ({s.flight.destination.iata_code})",
            "departs": local_time(s.flight.departure_time, s.flight.origin.time_zone),
        }
        for s in segments
    ]


def _paid_with(payment: Payment) -> str:
    from reservations.documents import _payment_label

    return str(_payment_label(payment))


def _manage_path(record_locator: str) -> str:
    return reverse("reservations_portal:trip", kwargs={"record_locator": record_locator})


def _receipt_queue(*, booking: Booking, reissued: bool = False) -> None:
    """The e-ticket receipt e-mail with the PDF receipt and the trip calendar, sent after commit."""
    if not booking.contact_email:
        return
    from reservations.documents import CALENDAR_ATTACHMENT, RECEIPT_ATTACHMENT, local_time

    language = booking_email_language(booking)
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


def _cancellation_queue(*, booking: Booking, segments: list[Segment], refunds: list[Refund], fees: Decimal, reason: str) -> None:
    """The cancellation e-mail: which flights are cancelled, any fee kept and the money going back.

    ``reason`` is the code of the booking_cancelled event: voluntary, involuntary or expired.
    """
    if not booking.contact_email:
        return
    language = booking_email_language(booking)
    refunded = sum((r.amount for r in refunds), Decimal("0"))
    with translation.override(language):
        context = {
            "record_locator": booking.record_locator,
            "given_name": _booker_name(booking),
            "reason": reason,
            "flights": _flight_lines(
                Segment.objects.filter(pk__in=[s.pk for s in segments])
                .select_related("flight__origin", "flight__destination")
                .order_by("sequence")
            ),
            "fees": money(fees, booking.currency) if fees > 0 else "",
            "refund": money(refunded, booking.currency) if refunded > 0 else "",
            "refund_to": sorted({_paid_with(r.payment) for r in refunds}),
            "manage_path": _manage_path(booking.record_locator),
        }
    email_queue(
        to=booking.contact_email, template=CANCELLATION_TEMPLATE, context=context, language=language, customer=booking.customer
    )


def _refund_queue(*, refund: Refund) -> None:
    """The e-mail that says a refund was made: how much, to which payment, for which booking."""
    booking = refund.booking
    if not booking.contact_email:
        return
    language = booking_email_language(booking)
    with translation.override(language):
        context = {
            "record_locator": booking.record_locator,
            "given_name": _booker_name(booking),
            "amount": money(refund.amount, refund.currency),
            "paid_with": _paid_with(refund.payment),
            "card": refund.payment.method == PaymentMethod.CARD,
            "refunded_on": formats.date_format(timezone.localdate(refund.completed_at or timezone.now()), "DATE_FORMAT"),
            "reference": refund.gateway_reference,
            "manage_path": _manage_path(booking.record_locator),
        }
    email_queue(to=booking.contact_email, template=REFUND_TEMPLATE, context=context, language=language, customer=booking.customer)


def _payment_receipt_queue(*, booking: Booking, payment: Payment) -> None:
    """The receipt for one payment (a part payment, a change's balance, a payment after ticketing)."""
    if not booking.contact_email:
        return
    language = booking_email_language(booking)
    with translation.override(language):
        context = {
            "record_locator": booking.record_locator,
            "given_name": _booker_name(booking),
            "amount": money(payment.amount, payment.currency),
            "paid_with": _paid_with(payment),
            "paid_at": formats.date_format(timezone.localtime(payment.created_at), "DATETIME_FORMAT"),
            "time_zone": timezone.get_current_timezone_name(),
            "reference": payment.gateway_reference,
            "total": money(booking.total_amount, booking.currency),
            "paid": money(booking.paid_amount - booking.refunded_amount, booking.currency),
            "balance_due": money(booking.balance_due, booking.currency) if booking.balance_due > 0 else "",
            "manage_path": _manage_path(booking.record_locator),
        }
    email_queue(
        to=booking.contact_email, template=PAYMENT_RECEIPT_TEMPLATE, context=context, language=language, customer=booking.customer
    )
