"""Documents a traveller keeps: the e-ticket receipt (PDF) and the trip calendar (.ics).

Both are built from the booking as it is now, so a receipt sent after a change shows the new flights.
The receipt is in the active language with flight times at each airport's own clock; the calendar uses
UTC, which every calendar program converts to the reader's zone.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch
from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext as _

from crm import registry
from crm.templatetags.airline_format import money
from reservations.models import (
    Booking,
    BookingCharge,
    ChargeKind,
    Coupon,
    Flight,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    Segment,
    SegmentStatus,
    Ticket,
    TicketStatus,
)
from reservations.rules import fare_family_rules

LATIN_FONT, LATIN_BOLD = "Helvetica", "Helvetica-Bold"
# A CID font the PDF viewer supplies (Adobe's Asian font packs): Chinese text without embedding a font.
CJK_FONT = "STSong-Light"
VALUE_LINES = (ChargeKind.FARE, ChargeKind.TAX, ChargeKind.CREDIT, ChargeKind.DISCOUNT)


def _booking(booking: Booking) -> Booking:
    """The booking with everything a receipt shows, in a fixed number of queries."""
    return (
        Booking.objects.select_related("customer")
        .prefetch_related(
            "passengers",
            Prefetch(
                "segments",
                queryset=Segment.objects.select_related(
                    "flight__origin", "flight__destination", "fare_family", "booking_class"
                ).order_by("sequence"),
            ),
            Prefetch(
                "charges", queryset=BookingCharge.objects.select_related("passenger", "segment__fare_family").order_by("id")
            ),
            Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
            Prefetch("refunds", queryset=Refund.objects.select_related("payment").order_by("created_at", "id")),
            Prefetch(
                "tickets",
                queryset=Ticket.objects.filter(status=TicketStatus.OPEN).prefetch_related(
                    Prefetch("coupons", queryset=Coupon.objects.order_by("number"))
                ),
            ),
        )
        .get(pk=booking.pk)
    )


def local_time(moment: datetime, time_zone: str) -> str:
    """A time as the clock at that airport shows it, in the active language."""
    return dateformat.format(timezone.localtime(moment, ZoneInfo(time_zone)), "D j M Y H:i")


def _payment_label(payment: Payment) -> str:
    if payment.method == PaymentMethod.CARD:
        return f"{payment.card_brand} •••• {payment.card_last4}"
    if payment.method == PaymentMethod.VOUCHER and payment.voucher_id:
        return _("Travel voucher")
    if payment.method == PaymentMethod.MILES and payment.miles:
        return _("%(miles)s miles") % {"miles": f"{payment.miles:,}"}
    return str(payment.get_method_display())


def receipt_lines(booking: Booking) -> list[tuple[str, str, Decimal]]:
    """The itemised charges (description, passenger, amount) adding up to the booking total.

    Fares and taxes of flights that were exchanged or cancelled, with the credits that offset them, are
    summed into one line: what remains of them is the value the airline kept.
    """
    lines: list[tuple[str, str, Decimal]] = []
    kept = Decimal("0.00")
    for charge in booking.charges.all():
        if charge.kind in VALUE_LINES and charge.segment_id and charge.segment.status != SegmentStatus.CONFIRMED:
            kept += charge.amount
            continue
        label = charge.local_description()
        if charge.kind not in (ChargeKind.FARE, ChargeKind.TAX):
            label = f"{charge.get_kind_display()}: {label}"
        lines.append((label, charge.passenger.full_name if charge.passenger_id else "", charge.amount))
    if kept:
        lines.append((_("Exchanged or cancelled flights (value kept)"), "", kept))
    return lines


def _needs_cjk(texts: list[str]) -> bool:
    if (translation.get_language() or "").startswith("zh"):
        return True
    try:
        "".join(texts).encode("cp1252")
    except UnicodeEncodeError:
        return True
    return False


def eticket_receipt_pdf(*, booking: Booking) -> bytes:
    """The e-ticket receipt: passengers and ticket numbers, flights, itemised fare and taxes, payments, rules."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    booking = _booking(booking)
    passengers = list(booking.passengers.all())
    segments = [s for s in booking.segments.all() if s.status == SegmentStatus.CONFIRMED]
    if _needs_cjk([p.full_name for p in passengers]):
        if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        font = bold = CJK_FONT
    else:
        font, bold = LATIN_FONT, LATIN_BOLD
    title = ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=4)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)

    def para(text: object) -> Paragraph:
        return Paragraph(str(text).replace("&", "&amp;").replace("<", "&lt;"), body)

    def table(rows: list[list[object]], widths: list[float]) -> Table:
        grid = Table([[para(cell) for cell in row] for row in rows], colWidths=[w * mm for w in widths], repeatRows=1)
        grid.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), font),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b8c0")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return grid

    tickets = {t.passenger_id: t for t in booking.tickets.all()}
    story: list[object] = [
        Paragraph(f"{settings.AIRLINE_NAME}: {_('E-ticket receipt')}", title),
        para(_("Booking reference: %(locator)s") % {"locator": booking.record_locator}),
        para(_("Status: %(status)s") % {"status": booking.get_status_display()}),
        para(_("Issued: %(date)s") % {"date": dateformat.format(timezone.localtime(), "j M Y H:i T")}),
        Paragraph(_("Passengers"), heading),
        table(
            [[_("Passenger"), _("Type"), _("E-ticket number")]]
            + [
                [p.full_name, p.get_passenger_type_display(), tickets[p.pk].number if p.pk in tickets else _("not issued")]
                for p in passengers
            ],
            [70, 50, 55],
        ),
        Paragraph(_("Flights (local times)"), heading),
        table(
            [[_("Flight"), _("From"), _("Departs"), _("To"), _("Arrives"), _("Fare")]]
            + [
                [
                    s.flight.flight_code,
                    s.flight.origin.label(),
                    local_time(s.flight.departure_time, s.flight.origin.time_zone),
                    s.flight.destination.label(),
                    local_time(s.flight.arrival_time, s.flight.destination.time_zone),
                    f"{s.get_cabin_display()} {s.fare_family.local_name()} ({s.booking_class.code})",
                ]
                for s in segments
            ],
            [18, 32, 32, 32, 32, 34],
        ),
        Paragraph(_("Fare, taxes and fees"), heading),
        table(
            [[_("Item"), _("Passenger"), _("Amount")]]
            + [[label, who, money(amount, booking.currency)] for label, who, amount in receipt_lines(booking)]
            + [[_("Total"), "", money(booking.total_amount, booking.currency)]],
            [100, 50, 30],
        ),
        Paragraph(_("Payments and refunds"), heading),
        table(
            [[_("Date"), _("Method"), _("Payment status"), _("Amount")]]
            + [
                [
                    dateformat.format(timezone.localtime(p.created_at), "j M Y"),
                    _payment_label(p),
                    p.get_status_display(),
                    money(p.amount, p.currency),
                ]
                for p in booking.payments.all()
                if p.status == PaymentStatus.SUCCEEDED
            ]
            + [
                [
                    dateformat.format(timezone.localtime(r.created_at), "j M Y"),
                    _("Refund to %(method)s") % {"method": _payment_label(r.payment)},
                    r.get_status_display(),
                    money(-r.amount, r.currency),
                ]
                for r in booking.refunds.all()
            ]
            + [[_("Balance due"), "", "", money(max(booking.balance_due, Decimal(0)), booking.currency)]],
            [30, 70, 40, 40],
        ),
        Paragraph(_("Fare rules"), heading),
    ]
    families = {s.fare_family_id: s.fare_family for s in segments}
    for family in families.values():
        rules = fare_family_rules(family)
        story.append(para(f"{family}: " + "; ".join(str(r) for r in rules)))
    story += [
        Spacer(1, 6 * mm),
        para(_("Fees are per passenger holding a seat. Check in online from 24 hours before departure.")),
    ]

    return a4_pdf(story, title=f"{settings.AIRLINE_NAME} {booking.record_locator}")


def a4_pdf(story: list, *, title: str) -> bytes:
    """The airline's A4 document layout (15 mm margins, the airline as author) around reportlab flowables."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    out = io.BytesIO()
    margins = dict.fromkeys(("leftMargin", "rightMargin", "topMargin", "bottomMargin"), 15 * mm)
    SimpleDocTemplate(out, pagesize=A4, title=title, author=settings.AIRLINE_NAME, **margins).build(story)
    return out.getvalue()


def _event_uid(segment: Segment) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "airline.example"
    return f"{segment.booking.record_locator}-{segment.pk}@{domain}"


def _place(flight: Flight, *, arrival: bool = False) -> str:
    airport = flight.destination if arrival else flight.origin
    return f"{airport.local_name()} ({airport.iata_code}), {airport.local_city()}".rstrip(", ")


def trip_calendar_ics(*, booking: Booking) -> bytes:
    """One calendar event per confirmed flight, in UTC, with a UID that stays the same for that segment."""
    from icalendar import Calendar, Event, vGeo

    booking = _booking(booking)
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.AIRLINE_NAME}//Trip {booking.record_locator}//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{settings.AIRLINE_NAME} {booking.record_locator}")
    now = timezone.now().astimezone(ZoneInfo("UTC"))
    for segment in booking.segments.all():
        if segment.status != SegmentStatus.CONFIRMED:
            continue
        segment.booking = booking
        flight = segment.flight
        event = Event()
        event.add("uid", _event_uid(segment))
        event.add("dtstamp", now)
        event.add("dtstart", flight.departure_time.astimezone(ZoneInfo("UTC")))
        event.add("dtend", flight.arrival_time.astimezone(ZoneInfo("UTC")))
        event.add(
            "summary",
            _("Flight %(flight)s %(origin)s → %(destination)s")
            % {"flight": flight.flight_code, "origin": flight.origin.iata_code, "destination": flight.destination.iata_code},
        )
        event.add("location", _place(flight))
        event.add("geo", vGeo((float(flight.origin.latitude), float(flight.origin.longitude))))
        event.add(
            "description",
            "\n".join(
                [
                    _("Booking reference: %(locator)s") % {"locator": booking.record_locator},
                    _("Departs %(place)s at %(time)s local time")
                    % {"place": flight.origin.iata_code, "time": local_time(flight.departure_time, flight.origin.time_zone)},
                    _("Arrives %(place)s at %(time)s local time")
                    % {
                        "place": flight.destination.iata_code,
                        "time": local_time(flight.arrival_time, flight.destination.time_zone),
                    },
                ]
            ),
        )
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()


# --- E-mail attachments -----------------------------------------------------------------------


def _receipt_attachment(params: dict) -> registry.Attachment:
    booking = Booking.objects.get(pk=params["booking_id"])
    return registry.Attachment(
        filename=f"e-ticket-{booking.record_locator}.pdf",
        content=eticket_receipt_pdf(booking=booking),
        mimetype="application/pdf",
    )


def _calendar_attachment(params: dict) -> registry.Attachment:
    booking = Booking.objects.get(pk=params["booking_id"])
    return registry.Attachment(
        filename=f"trip-{booking.record_locator}.ics", content=trip_calendar_ics(booking=booking), mimetype="text/calendar"
    )


RECEIPT_ATTACHMENT = "reservations.eticket_receipt_pdf"
CALENDAR_ATTACHMENT = "reservations.trip_calendar_ics"
registry.register_attachment(RECEIPT_ATTACHMENT, _receipt_attachment)
registry.register_attachment(CALENDAR_ATTACHMENT, _calendar_attachment)
