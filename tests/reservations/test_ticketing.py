"""Ticketing: full payment issues one 13-digit e-ticket per passenger with a coupon per flight, and the
e-ticket receipt e-mail (text + HTML, PDF receipt and .ics calendar attached) goes out after commit.
"""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from reportlab import rl_config

from crm.errors import ApplicationError
from crm.models import OutboundEmail, TimelineEntry
from reservations import documents, events, services
from reservations.models import Booking, BookingStatus, Coupon, CouponStatus, Payment, Ticket
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory, RouteFactory, airport
from tests.reservations.test_payments import book, card, pay


@pytest.fixture
def plain_pdf(monkeypatch):
    """Uncompressed PDF streams, so the text drawn on the page can be read from the bytes."""
    monkeypatch.setattr(rl_config, "pageCompression", 0)


def round_trip():
    """LHR-CDG on day 20 at 08:30 UTC and back on day 27, as two flights."""
    out_at = (timezone.now() + timedelta(days=20)).replace(hour=8, minute=30, second=0, microsecond=0)
    back_at = out_at + timedelta(days=7)
    outbound = FlightFactory(scheduled_departure=out_at)
    inbound = FlightFactory(route=RouteFactory(origin=airport("CDG"), destination=airport("LHR")), scheduled_departure=back_at)
    return [outbound, inbound]


def read_as_a_mail_client(message) -> email.message.EmailMessage:  # noqa: ANN001
    return email.message_from_bytes(message.message().as_bytes(), policy=policy.default)


def pdf_text(data: bytes) -> str:
    """The strings drawn with Tj/TJ operators in an uncompressed PDF, joined."""
    return " ".join(s.decode("latin-1") for s in re.findall(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj", data))


# --- Tickets and coupons --------------------------------------------------------------------------


def test_full_payment_issues_one_13_digit_ticket_per_passenger_with_a_coupon_per_flight(db):
    # given a return trip for two adults and an infant
    booking = book(flights=round_trip(), adults=2, infants=1)
    # when it is paid in full
    pay(booking)
    # then each of the three passengers has one ticket: the airline prefix and a 10-digit serial
    tickets = list(Ticket.objects.filter(booking=booking).order_by("passenger__sequence"))
    assert len(tickets) == 3
    assert [t.passenger.sequence for t in tickets] == [1, 2, 3]
    for ticket in tickets:
        assert re.fullmatch(r"\d{13}", ticket.number) and ticket.number.startswith(settings.AIRLINE_TICKET_PREFIX)
    assert len({t.number for t in tickets}) == 3
    # and one open coupon per flight, numbered in flight order
    segments = list(booking.segments.order_by("sequence"))
    for ticket in tickets:
        coupons = list(ticket.coupons.order_by("number"))
        assert [(c.number, c.segment_id, c.status) for c in coupons] == [
            (1, segments[0].pk, CouponStatus.OPEN),
            (2, segments[1].pk, CouponStatus.OPEN),
        ]
    booking.refresh_from_db()
    assert (booking.status, booking.hold_expires_at) == (BookingStatus.TICKETED, None)


def test_ticket_serials_follow_the_database_sequence(db):
    first, second = book(), book()
    pay(first, key="a")
    pay(second, key="b")
    one, two = Ticket.objects.get(booking=first).number, Ticket.objects.get(booking=second).number
    assert int(two[3:]) == int(one[3:]) + 1


def test_ticketing_twice_issues_nothing_more(db, django_capture_on_commit_callbacks):
    booking = book(adults=2)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking)
    issued = sorted(Ticket.objects.values_list("number", flat=True))
    # when ticketing runs again (a retried task, a second click)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.booking_ticket(booking=booking)
    # then the same tickets come back, with no new coupons and no second e-mail
    assert sorted(t.number for t in again) == issued
    assert Ticket.objects.count() == 2 and Coupon.objects.count() == 2
    assert len(mail.outbox) == 1 and OutboundEmail.objects.count() == 1


def test_an_unpaid_booking_is_not_ticketed(db):
    booking = book()
    with pytest.raises(ApplicationError) as refused:
        services.booking_ticket(booking=booking)
    assert refused.value.code == "payment_due"
    assert not Ticket.objects.exists()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.HELD


def test_ticketing_sends_the_booking_ticketed_event_and_notes_the_timeline(db, django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    booking = book(customer=customer)
    received = []

    def receiver(sender, record_locator, **kwargs):  # noqa: ANN001, ANN202
        received.append((record_locator, Booking.objects.get(record_locator=record_locator).status))

    events.booking_ticketed.connect(receiver, dispatch_uid="test-ticketed")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            pay(booking)
    finally:
        events.booking_ticketed.disconnect(dispatch_uid="test-ticketed")
    assert received == [(booking.record_locator, BookingStatus.TICKETED)]
    kinds = list(TimelineEntry.objects.filter(customer=customer).values_list("kind", flat=True))
    assert "booking.ticketed" in kinds and "booking.payment" in kinds


# --- The receipt e-mail ---------------------------------------------------------------------------


def test_the_receipt_email_carries_text_html_the_pdf_receipt_and_the_trip_calendar(
    db, plain_pdf, django_capture_on_commit_callbacks
):
    # given a paid return trip
    booking = book(flights=round_trip(), adults=2)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking)
    # when the passenger's mail client opens the message
    assert len(mail.outbox) == 1
    received = read_as_a_mail_client(mail.outbox[0])
    # then it is addressed to the contact, about this booking
    assert received["To"] == "ada@example.com"
    assert booking.record_locator in received["Subject"]
    # and has a plain-text and an HTML version naming the tickets
    body = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert body.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    numbers = list(Ticket.objects.values_list("number", flat=True))
    for number in numbers:
        assert number in body.get_content() and number in html.get_content()
    assert received.get_content_type() == "multipart/mixed"
    assert any(part.get_content_type() == "multipart/alternative" for part in received.walk())
    # and the PDF receipt and the calendar are attached
    files = {part.get_filename(): part for part in received.iter_attachments()}
    assert set(files) == {f"e-ticket-{booking.record_locator}.pdf", f"trip-{booking.record_locator}.ics"}
    pdf = files[f"e-ticket-{booking.record_locator}.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    data = pdf.get_content()
    assert data.startswith(b"%PDF") and booking.record_locator in pdf_text(data)
    ics = files[f"trip-{booking.record_locator}.ics"]
    assert ics.get_content_type() == "text/calendar"
    calendar = icalendar.Calendar.from_ical(ics.get_content())
    assert len(calendar.walk("VEVENT")) == 2
    # and the e-mail record no longer keeps the personal data it was rendered from
    assert OutboundEmail.objects.get().context == {}


def test_the_receipt_email_is_in_the_language_of_the_booking(db, django_capture_on_commit_callbacks):
    booking = book(language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking)
    received = read_as_a_mail_client(mail.outbox[0])
    assert "电子客票" in received["Subject"]
    assert "电子客票" in received.get_body(preferencelist=("plain",)).get_content()
    assert OutboundEmail.objects.get().language == "zh-hans"


# --- The PDF receipt and the calendar -------------------------------------------------------------


def test_the_pdf_receipt_shows_local_times_itemised_charges_and_only_the_cards_last_digits(db, plain_pdf):
    # given a paid trip whose flight leaves London at 08:30 UTC and lands in Paris
    flights = round_trip()
    booking = book(flights=flights)
    pay(booking, card=card(number="5555 5555 5555 4444"))
    # when the receipt is drawn
    text = pdf_text(documents.eticket_receipt_pdf(booking=booking))
    # then flight times are at each airport's own clock
    outbound = flights[0]
    leaves = outbound.scheduled_departure.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M")
    lands = outbound.scheduled_arrival.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    assert leaves in text and lands in text
    # and the passenger, the ticket number, fares and taxes are itemised
    ticket = Ticket.objects.get()
    assert "Ada0 Lovelace" in text and ticket.number in text
    assert "Fuel surcharge" in text
    assert text.count("87.00") >= 2 and text.count("25.00") >= 2
    # and the payment shows the brand and last four only
    payment = Payment.objects.get()
    assert "Mastercard" in text and "4444" in text and "5555555555554444" not in text
    assert payment.card_last4 == "4444"
    # and the fare rules are spelled out
    assert "Non-refundable" in text


def test_the_calendar_has_one_event_per_flight_in_utc_with_a_stable_uid(db):
    flights = round_trip()
    booking = book(flights=flights)
    # when the calendar is built twice
    first = icalendar.Calendar.from_ical(documents.trip_calendar_ics(booking=booking))
    second = icalendar.Calendar.from_ical(documents.trip_calendar_ics(booking=booking))
    # then each flight is one event, in UTC, at the flight's times, from the departure airport
    events_ = first.walk("VEVENT")
    assert len(events_) == 2
    for event, flight in zip(events_, flights, strict=True):
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        assert start == flight.scheduled_departure and end == flight.scheduled_arrival
        assert start.utcoffset() == timedelta(0)
        assert flight.flight_code in str(event["summary"]) and flight.origin.iata_code in str(event["location"])
    # and the UIDs are unique per flight and the same each time
    uids = [str(e["uid"]) for e in events_]
    assert len(set(uids)) == 2 and uids == [str(e["uid"]) for e in second.walk("VEVENT")]
    assert all(booking.record_locator in uid for uid in uids)
