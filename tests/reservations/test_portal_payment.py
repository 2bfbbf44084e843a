"""Search → book → pay in the portal with the test client; declined cards, double submits, receipt, calendar,
changing a flight and cancelling with the refund shown first."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from reservations.gateway import SimulatedCardGateway
from reservations.models import Booking, BookingStatus, CouponStatus, Payment, PaymentStatus, Refund, SegmentStatus
from tests.reservations.portal_support import (  # noqa: F401
    DECLINED_CARD,
    SEARCH,
    TEST_CARD,
    adult,
    book_url,
    departure_in,
    fares_fixture,
    hold,
    infant,
    make_flight,
    pay_form,
    search_params,
)


@pytest.fixture
def trip(fares):
    out = make_flight("LHR", "CDG", at=departure_in(5, hour=9))
    back = make_flight("CDG", "LHR", at=departure_in(9, hour=15))
    return out, back


@pytest.fixture
def held(passenger, passenger_client, trip) -> Booking:
    out, back = trip
    _, customer = passenger
    url = book_url(search_params(out, back, adults=2, infants=1), (out, "ECO_STANDARD"), (back, "ECO_FLEX"))
    return hold(
        passenger_client,
        url,
        {**adult(1, customer.given_name, customer.family_name), **adult(2, "Ann", "Lee"), **infant(3, "Bo", "Lee")},
    )


def pay(client, booking, number=TEST_CARD, **changes):
    data = {**pay_form(client, booking), "number": number, **changes}
    return client.post(f"/trips/{booking.record_locator}/pay/", data), data


def test_search_book_and_pay_with_the_test_card_issues_e_tickets(
    passenger, passenger_client, trip, django_capture_on_commit_callbacks
):
    # given a passenger who searched a return trip for two adults and an infant
    out, back = trip
    _, customer = passenger
    results = passenger_client.get(SEARCH, search_params(out, back, adults=2, infants=1)).content.decode()
    leg1 = re.search(rf'name="leg1" value="({out.pk}:ECO_STANDARD)"', results).group(1)
    leg2 = re.search(rf'name="leg2" value="({back.pk}:ECO_LIGHT)"', results).group(1)
    url = (
        f"/book/?{'&'.join(f'{k}={v}' for k, v in search_params(out, back, adults=2, infants=1).items())}&leg1={leg1}&leg2={leg2}"
    )

    # when they enter the travellers and pay with the test card
    booking = hold(
        passenger_client,
        url,
        {**adult(1, customer.given_name, customer.family_name), **adult(2, "Ann", "Lee"), **infant(3, "Bo", "Lee")},
    )
    pay_page = passenger_client.get(f"/trips/{booking.record_locator}/pay/").content.decode()
    assert "Your seats are held until" in pay_page
    with django_capture_on_commit_callbacks(execute=True):
        response, _data = pay(passenger_client, booking)

    # then the booking is ticketed: one e-ticket per traveller, the confirmation shows them and the documents
    assert response.status_code == 302 and response["Location"] == f"/trips/{booking.record_locator}/confirmation/"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and booking.balance_due == 0
    tickets = list(booking.tickets.all())
    assert len(tickets) == 3
    page = passenger_client.get(response["Location"]).content.decode()
    assert booking.record_locator in page and all(t.number in page for t in tickets)
    assert "receipt.pdf" in page and "trip.ics" in page
    # and the card was stored as brand and last four digits only
    payment = booking.payments.get()
    assert payment.card_last4 == "4242" and "4242424242424242" not in str(payment.__dict__)
    # and the e-ticket e-mail went to the contact address
    assert any(booking.record_locator in m.subject or booking.record_locator in m.body for m in mail.outbox)


def test_the_receipt_pdf_and_the_calendar_file_download(held, passenger_client):
    pay(passenger_client, held)
    pdf = passenger_client.get(f"/trips/{held.record_locator}/receipt.pdf")
    ics = passenger_client.get(f"/trips/{held.record_locator}/trip.ics")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf["Content-Disposition"]
    assert ics["Content-Type"].startswith("text/calendar") and b"BEGIN:VCALENDAR" in ics.content
    assert ics.content.count(b"BEGIN:VEVENT") == 2


def test_documents_are_not_ready_before_payment(held, passenger_client):
    assert passenger_client.get(f"/trips/{held.record_locator}/receipt.pdf").status_code == 404
    assert passenger_client.get(f"/trips/{held.record_locator}/trip.ics").status_code == 404


def test_a_declined_card_says_so_and_the_booking_stays_held(held, passenger_client):
    response, data = pay(passenger_client, held, number=DECLINED_CARD)

    page = response.content.decode()
    assert response.status_code == 200
    assert "The payment did not go through" in page and "Nothing was charged" in page
    held.refresh_from_db()
    assert held.status == BookingStatus.HELD and held.paid_amount == 0
    assert Payment.objects.get(booking=held).status == PaymentStatus.DECLINED
    # and the page offers a new form with a new key, and the card number is not written back
    new_key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    assert new_key != data["idempotency_key"]
    assert "4000000000000002" not in page and "4000 0000 0000 0002" not in page
    # and another card then pays
    response, _data = pay(passenger_client, held)
    held.refresh_from_db()
    assert held.status == BookingStatus.TICKETED


def test_submitting_the_same_payment_form_twice_charges_once(held, passenger_client):
    data = {**pay_form(passenger_client, held), "number": TEST_CARD}
    first = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    second = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    assert first.status_code == second.status_code == 302
    assert Payment.objects.filter(booking=held).count() == 1
    held.refresh_from_db()
    assert held.paid_amount == held.total_amount


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"number": "4242 4242 4242 4241"}, "not a valid card number"),
        ({"expiry": "13/30"}, "Enter the expiry date as MM/YY"),
        ({"expiry": "01/20"}, "This card has expired."),
        ({"cvv": "12"}, "Ensure this value has at least 3 characters"),
        ({"holder": ""}, "This field is required."),
        ({"idempotency_key": "portal-XXXXXX-0"}, "This payment form is out of date"),
    ],
)
def test_bad_card_details_are_explained_and_nothing_is_charged(held, passenger_client, change, message):
    response, _data = pay(passenger_client, held, **change)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Payment.objects.exists()
    held.refresh_from_db()
    assert held.status == BookingStatus.HELD


def test_an_expired_hold_cannot_be_paid(held, passenger_client):
    # given the payment form as it was rendered, and then the hold running out
    data = {**pay_form(passenger_client, held), "number": TEST_CARD}
    Booking.objects.filter(pk=held.pk).update(hold_expires_at=held.created_at)
    # when the form is sent
    response = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    # then nothing is charged and the page says why
    page = response.content.decode()
    assert "The time to pay for this booking is over" in page and 'name="number"' not in page
    assert not Payment.objects.exists()


def test_the_refund_is_shown_before_cancelling_and_nothing_changes_until_confirmed(held, passenger_client):
    # given a paid booking (Standard out: not refundable; Flex back: refundable)
    pay(passenger_client, held)
    held.refresh_from_db()

    # when the passenger opens the cancel page
    page = passenger_client.get(f"/trips/{held.record_locator}/cancel/")

    # then the refund is shown, back to the card, and the booking is untouched
    preview = page.context["preview"]
    assert 0 < preview.refund_total < held.paid_amount
    assert "back to your" in page.content.decode() and "4242" in page.content.decode()
    held.refresh_from_db()
    assert held.status == BookingStatus.TICKETED and not Refund.objects.exists()

    # and without ticking the confirmation nothing happens
    refused = passenger_client.post(f"/trips/{held.record_locator}/cancel/", {})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert Booking.objects.get(pk=held.pk).status == BookingStatus.TICKETED

    # when confirmed, the refund is the one shown
    passenger_client.post(f"/trips/{held.record_locator}/cancel/", {"confirm": "on"})
    held.refresh_from_db()
    assert held.status == BookingStatus.CANCELLED
    assert sum(r.amount for r in held.refunds.all()) == preview.refund_total


def test_a_held_booking_is_cancelled_without_charge(held, passenger_client):
    page = passenger_client.get(f"/trips/{held.record_locator}/cancel/").content.decode()
    assert "Nothing has been paid yet" in page
    passenger_client.post(f"/trips/{held.record_locator}/cancel/", {"confirm": "on"})
    assert Booking.objects.get(pk=held.pk).status == BookingStatus.CANCELLED


def test_changing_a_flight_shows_the_price_then_moves_the_booking(held, passenger_client, trip):
    # given a paid booking and a later flight the same day
    out, _back = trip
    pay(passenger_client, held)
    later = make_flight("LHR", "CDG", at=departure_in(5, hour=17))
    change_url = f"/trips/{held.record_locator}/flights/1/change/"

    # when the passenger looks at that day's flights and picks the later one
    options = passenger_client.get(change_url, {"date": out.service_date.isoformat()}).content.decode()
    assert f'value="{later.pk}:ECO_STANDARD"' in options
    quote_page = passenger_client.get(change_url, {"choice": f"{later.pk}:ECO_STANDARD"})

    # then the change fee and fare difference are shown, and nothing has moved yet
    quote = quote_page.context["quote"]
    assert quote.change_fee > 0 and "Confirm the change" in quote_page.content.decode()
    assert held.segments.get(sequence=1).flight == out

    # when confirmed, the flight is the new one and the fee is due
    response = passenger_client.post(change_url, {"choice": f"{later.pk}:ECO_STANDARD"})
    assert response.status_code == 302 and response["Location"] == f"/trips/{held.record_locator}/pay/"
    segment = held.segments.get(sequence=1)
    assert segment.flight == later and segment.status == SegmentStatus.CONFIRMED
    held.refresh_from_db()
    assert held.balance_due == quote.amount_due
    # and paying the difference closes the balance
    pay(passenger_client, held)
    held.refresh_from_db()
    assert held.balance_due == 0
    assert held.tickets.filter(coupons__segment=segment, coupons__status=CouponStatus.OPEN).count() == 3


def test_a_light_fare_cannot_be_changed(passenger, passenger_client, trip):
    out, _back = trip
    booking = hold(passenger_client, book_url(search_params(out), (out, "ECO_LIGHT")), adult(1, "Ann", "Lee"))
    pay(passenger_client, booking)
    response = passenger_client.get(f"/trips/{booking.record_locator}/flights/1/change/", follow=True)
    assert "does not allow changes" in response.content.decode()
    assert "/change/" not in passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()


class SilentGateway(SimulatedCardGateway):
    """A gateway that never answers a charge (a timeout): the outcome is not known to the portal."""

    def charge(self, *, token, amount, currency, idempotency_key):  # noqa: ANN001, ANN201
        raise TimeoutError("no answer from the acquirer")


def test_a_payment_without_an_answer_yet_sends_the_passenger_to_the_trip_page(passenger_client, held, settings):
    # given a gateway that does not answer
    settings.PAYMENT_GATEWAY = "tests.reservations.test_portal_payment.SilentGateway"
    trip_page = reverse("reservations_portal:trip", kwargs={"record_locator": held.record_locator})
    # when the passenger pays, then submits the same form again
    response, data = pay(passenger_client, held)
    again = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    # then both times they are sent to the trip page and told the payment is being processed, never "not charged"
    assert (response.status_code, response["Location"]) == (302, trip_page)
    assert (again.status_code, again["Location"]) == (302, trip_page)
    page = passenger_client.get(trip_page).content.decode()
    assert "still being processed" in page and "Nothing was charged" not in page
    # and one payment is recorded, pending, for the sweep to settle
    assert list(Payment.objects.values_list("status", flat=True)) == [PaymentStatus.PENDING]
