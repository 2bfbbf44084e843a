"""The e-mails a passenger expects after a cancellation, a refund and any payment, read as a mail client reads
them: sent by the airline (its name, not the software's), in the booker's preferred language.
"""

from __future__ import annotations

import email
import re
from datetime import timedelta
from decimal import Decimal
from email import policy

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from crm.models import OutboundEmail
from reservations import services
from reservations.models import Booking, BookingStatus, SegmentStatus
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory, FlightFactory
from tests.reservations.test_payments import book, pay

TAX = Decimal("25.00")


def read(message) -> email.message.EmailMessage:  # noqa: ANN001
    return email.message_from_bytes(message.message().as_bytes(), policy=policy.default)


def text_of(parsed: email.message.EmailMessage) -> str:
    return parsed.get_body(preferencelist=("plain",)).get_content()


def html_of(parsed: email.message.EmailMessage) -> str:
    return parsed.get_body(preferencelist=("html",)).get_content()


def sent(subject_part: str) -> list[email.message.EmailMessage]:
    return [read(m) for m in mail.outbox if subject_part in m.subject]


def english_date(day) -> str:  # noqa: ANN001
    """The airline's English date: 5 Mar 2026 (day month year), never 03/05/2026."""
    return f"{day.day} {day:%b} {day.year}"


def chinese_date(day) -> str:  # noqa: ANN001
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.fixture
def flex(db) -> str:
    """Refundable, cancellation fee 30.00: cancelling a 87.00 fare refunds 57.00 plus the 25.00 tax."""
    family = FareFamilyFactory(code="ECO_FLEX", name="Flex", refundable=True, cancellation_fee=Decimal("30.00"))
    BookingClassFactory(code="B", fare_family=family, price_per_km=Decimal("0.25"))
    return "ECO_FLEX"


def ticketed(captured, **kwargs) -> Booking:  # noqa: ANN001
    booking = book(**kwargs)
    with captured(execute=True):
        pay(booking, key="ticket")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    mail.outbox.clear()
    return booking


# --- Cancellation and refund ------------------------------------------------------------------------


def test_cancelling_sends_the_cancellation_then_the_refund_e_mail_from_the_airline(flex, django_capture_on_commit_callbacks):
    # given a ticketed booking on a refundable fare, by a customer who reads English
    customer = CustomerFactory(given_name="Ada", preferred_language="en")
    flight = FlightFactory()
    booking = ticketed(django_capture_on_commit_callbacks, flights=[flight], family=flex, customer=customer)
    # when the passenger cancels it
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, reason="Plans changed")
    # then a cancellation e-mail came from the airline, by name, naming the flight, the fee and the refund
    [cancelled] = sent("is cancelled")
    assert cancelled["From"].addresses[0].display_name == settings.AIRLINE_NAME
    assert "Airline CRM" not in str(cancelled["From"])
    assert cancelled["To"].addresses[0].addr_spec == "ada@example.com"
    assert cancelled["Subject"] == f"Booking {booking.record_locator} is cancelled"
    text = text_of(cancelled)
    assert "Hello Ada," in text and f"As you asked, your booking {booking.record_locator} is cancelled." in text
    assert flight.flight_code in text and "Cancellation fee: €30.00" in text
    assert "We are refunding €82.00 to the payment you used (Visa •••• 4242)." in text
    assert '<html lang="en">' in html_of(cancelled) and "€82.00" in html_of(cancelled)
    # and, once the card refund went through, the refund e-mail with the day it was made
    [refunded] = sent("Your refund")
    assert refunded["From"].addresses[0].display_name == settings.AIRLINE_NAME
    refund_text = text_of(refunded)
    today = timezone.localdate()
    assert f"On {english_date(today)} we refunded €82.00 for booking {booking.record_locator} to Visa •••• 4242." in refund_text
    assert "working days" in refund_text
    # and nothing went out twice
    assert OutboundEmail.objects.filter(template="reservations/booking_cancelled").count() == 1
    assert OutboundEmail.objects.filter(template="reservations/refund_completed").count() == 1


def test_the_e_mails_follow_the_bookers_preferred_language_not_the_page_they_booked_on(flex, django_capture_on_commit_callbacks):
    # given a booking made on an English page by a customer whose preferred language is Chinese
    customer = CustomerFactory(given_name="Mei", preferred_language="zh-hans")
    booking = ticketed(django_capture_on_commit_callbacks, family=flex, customer=customer, language="en")
    # when it is cancelled and refunded
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, reason="Plans changed")
    # then both e-mails are rendered in Chinese: the page's language and the Chinese date format
    kept = {e.template: e.language for e in OutboundEmail.objects.exclude(template="reservations/eticket_receipt")}
    assert kept == {"reservations/booking_cancelled": "zh-hans", "reservations/refund_completed": "zh-hans"}
    parsed = [read(m) for m in mail.outbox]
    assert len(parsed) == 2
    for message in parsed:
        assert '<html lang="zh-hans">' in html_of(message)
        assert message["From"].addresses[0].display_name == settings.AIRLINE_NAME
    # (the refund e-mail is the one that does not list the cancelled flight)
    flight_code = booking.segments.get().flight.flight_code
    [refund] = [m for m in parsed if flight_code not in text_of(m)]
    assert "€82.00" in text_of(refund) and booking.record_locator in refund["Subject"]
    assert chinese_date(timezone.localdate()) in text_of(refund)


def test_a_customer_preferring_a_language_the_portal_does_not_speak_gets_the_booking_language(
    flex, django_capture_on_commit_callbacks
):
    # given a customer who prefers French (known to the office, not offered by the portal), booking in Chinese
    customer = CustomerFactory(preferred_language="fr")
    booking = ticketed(django_capture_on_commit_callbacks, family=flex, customer=customer, language="zh-hans")
    # when it is cancelled
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, reason="Plans changed")
    # then the e-mails are in the language of the booking, never half French
    assert set(OutboundEmail.objects.values_list("language", flat=True)) == {"zh-hans"}
    assert all('<html lang="zh-hans">' in html_of(read(m)) for m in mail.outbox)


def test_an_unpaid_hold_that_expires_is_told_so(db, django_capture_on_commit_callbacks):
    # given a held booking whose time is up
    booking = book()
    mail.outbox.clear()
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    # when the sweep expires it
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_expire_hold(booking_id=booking.pk)
    # then the passenger hears that it was not paid in time, with the flight it held
    [message] = sent("is cancelled")
    text = text_of(message)
    assert f"Your booking {booking.record_locator} was not paid by the end of its hold" in text
    assert booking.segments.get(status=SegmentStatus.CONFIRMED).flight.flight_code in text
    assert "refunding" not in text


# --- Payment receipts -------------------------------------------------------------------------------


def test_a_part_payment_gets_a_receipt_with_the_balance_still_due(db, django_capture_on_commit_callbacks):
    # given a held booking of 87.00 + 25.00 tax
    booking = book()
    mail.outbox.clear()
    # when 50.00 is paid by card
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(booking, amount=Decimal("50.00"))
    # then one receipt for that payment, with the card, the day and what is still due; no e-ticket yet
    [receipt] = [read(m) for m in mail.outbox]
    assert receipt["Subject"] == f"Payment receipt, booking {booking.record_locator}"
    assert receipt["From"].addresses[0].display_name == settings.AIRLINE_NAME
    text = text_of(receipt)
    assert "we have received your payment of €50.00" in text
    assert "Paid with: Visa •••• 4242" in text
    assert f"Date: {english_date(timezone.localtime(payment.created_at))}, " in text
    assert not re.search(r"\d{1,2}:\d{2} ?[ap]\.?m", text)
    assert "Balance due: €62.00" in text


def test_a_payment_that_issues_the_tickets_is_confirmed_by_the_e_ticket_receipt_alone(db, django_capture_on_commit_callbacks):
    # given a held booking
    booking = book()
    mail.outbox.clear()
    # when it is paid in full
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking)
    # then one e-mail: the e-ticket receipt, which thanks for the payment
    assert [m.subject for m in mail.outbox] == [f"Your e-ticket, booking {booking.record_locator}"]
    assert "Thank you for your payment." in mail.outbox[0].body


def test_paying_what_a_change_left_due_sends_a_payment_receipt_in_chinese(db, django_capture_on_commit_callbacks):
    # given a ticketed booking by a Chinese-reading customer, changed to a dearer flight (balance due)
    family = FareFamilyFactory(code="ECO_STANDARD")
    BookingClassFactory(code="M", fare_family=family, price_per_km=Decimal("0.25"), closes_at_load_factor=Decimal("0.5"))
    BookingClassFactory(code="Y", fare_family=family, price_per_km=Decimal("0.50"))
    customer = CustomerFactory(preferred_language="zh-hans")
    booking = ticketed(django_capture_on_commit_callbacks, family="ECO_STANDARD", customer=customer)
    busy = FlightFactory(scheduled_departure=timezone.now() + timedelta(days=12), inventory={"economy": 6})
    with django_capture_on_commit_callbacks(execute=True):
        changed = services.booking_change_flight(
            booking=booking, segment=booking.segments.get(status=SegmentStatus.CONFIRMED), new_flight_id=busy.pk
        )
    due = changed.balance_due
    assert due > 0
    mail.outbox.clear()
    # when the passenger pays it
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(changed, key="difference")
    # then a payment receipt goes out, in Chinese (page language and date format), for the amount paid
    [receipt] = [read(m) for m in mail.outbox]
    assert OutboundEmail.objects.get(template="reservations/payment_receipt").language == "zh-hans"
    assert changed.record_locator in receipt["Subject"]
    assert receipt["From"].addresses[0].display_name == settings.AIRLINE_NAME
    html = html_of(receipt)
    assert '<html lang="zh-hans">' in html
    assert f"€{payment.amount:,.2f}" in html and payment.amount == due
    assert chinese_date(timezone.localtime(payment.created_at)) in text_of(receipt)
