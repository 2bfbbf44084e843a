"""The portal's booking flow: flights → travellers → seats → payment, each page showing its step; seats
chosen before paying (with the fare's seat fee in the amount to pay) or skipped; the test-card hint on the
payment page only with DEBUG on."""

import re
from decimal import Decimal

import pytest

from reservations.gateway import CARD_DECLINED, CARD_SUCCEEDS, SimulatedCardGateway
from reservations.models import BookingStatus, ChargeKind, SeatAssignment
from tests.reservations.portal_support import (  # noqa: F401
    SEARCH,
    adult,
    book_url,
    departure_in,
    fares_fixture,
    hold,
    make_flight,
    pay_form,
    search_params,
)


def current_step(page: str) -> str:
    """The text of the step marked current in the page's step indicator ("" when there is none)."""
    steps = re.search(r'<nav class="booking-steps".*?</nav>', page, re.S)
    if steps is None:
        return ""
    current = re.search(r'<li class="current" aria-current="step">(.*?)</li>', steps.group(0), re.S)
    return re.sub(r"<[^>]+>|\s+", " ", current.group(1)).split()[-1] if current else ""


@pytest.fixture
def trip(fares):
    out = make_flight("LHR", "CDG", at=departure_in(5, hour=9))
    back = make_flight("CDG", "LHR", at=departure_in(9, hour=15))
    return out, back


@pytest.fixture
def held(passenger, passenger_client, trip):
    """Two adults on a return trip, on the Light fare out (seats cost 15.00) and Standard back (free)."""
    out, back = trip
    _, customer = passenger
    url = book_url(search_params(out, back, adults=2), (out, "ECO_LIGHT"), (back, "ECO_STANDARD"))
    return hold(passenger_client, url, {**adult(1, customer.given_name, customer.family_name), **adult(2, "Ann", "Lee")})


def test_each_page_of_the_booking_flow_shows_its_step(passenger, passenger_client, trip, held):
    # given a passenger searching a return trip, and the booking they held
    out, back = trip
    params = search_params(out, back, adults=2)

    # when they open the results, the travellers page, the seats step and the payment page
    results = passenger_client.get(SEARCH, params).content.decode()
    travellers = passenger_client.get(book_url(params, (out, "ECO_LIGHT"), (back, "ECO_STANDARD"))).content.decode()
    seats = passenger_client.get(f"/trips/{held.record_locator}/flights/1/seats/").content.decode()
    payment = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()

    # then each shows the four steps with its own marked as the current one, the earlier ones as done
    assert [current_step(p) for p in (results, travellers, seats, payment)] == ["Flights", "Travellers", "Seats", "Payment"]
    for page in (results, travellers, seats, payment):
        assert all(name in page for name in ("Flights", "Travellers", "Seats", "Payment"))
    assert payment.count('class="done"') == 3 and results.count('class="done"') == 0


def test_after_the_travellers_the_flow_goes_to_the_seats_of_the_first_flight_then_the_next(passenger, passenger_client, trip):
    # given a passenger who chose a return trip
    out, back = trip
    _, customer = passenger
    url = book_url(search_params(out, back), (out, "ECO_LIGHT"), (back, "ECO_STANDARD"))

    # when they send the travellers page
    response = passenger_client.post(
        url, {"contact_email": "traveller@example.com", **adult(1, customer.given_name, customer.family_name)}
    )

    # then the booking is held and the next page is the seat map of its first flight, leading on to the second
    assert response.status_code == 302 and re.fullmatch(r"/trips/[A-Z0-9]{6}/flights/1/seats/", response["Location"])
    locator = response["Location"].split("/")[2]
    first = passenger_client.get(response["Location"]).content.decode()
    assert f'href="/trips/{locator}/flights/2/seats/"' in first and f'href="/trips/{locator}/pay/"' in first
    second = passenger_client.get(f"/trips/{locator}/flights/2/seats/").content.decode()
    assert "/flights/3/seats/" not in second and f'href="/trips/{locator}/pay/"' in second
    assert "Choosing seats is optional" in second


def test_a_seat_chosen_before_paying_is_kept_and_its_fee_is_in_the_amount_to_pay(passenger_client, held):
    # given a held booking whose first flight's fare charges 15.00 to choose a seat
    segment = held.segments.get(sequence=1)
    traveller = held.passengers.get(sequence=2)
    before = held.balance_due

    # when the passenger takes seat 4B for the second traveller at the seats step
    response = passenger_client.post(f"/trips/{held.record_locator}/flights/1/seats/", {"passenger": traveller.pk, "seat": "4B"})

    # then the seat is theirs, the booking is still held, and the payment page asks for the fare plus the fee
    assert response.status_code == 302
    assert SeatAssignment.objects.get(segment=segment, passenger=traveller).seat == "4B"
    held.refresh_from_db()
    assert held.status == BookingStatus.HELD
    assert held.balance_due == before + Decimal("15.00")
    assert held.charges.filter(kind=ChargeKind.SEAT, passenger=traveller).count() == 1
    payment = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()
    assert f"{held.balance_due:,.2f}" in payment

    # and paying issues the tickets with the seat still the traveller's
    data = {**pay_form(passenger_client, held), "number": CARD_SUCCEEDS}
    paid = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    held.refresh_from_db()
    assert paid.status_code == 302 and held.status == BookingStatus.TICKETED and held.balance_due == 0
    assert SeatAssignment.objects.get(segment=segment, passenger=traveller).seat == "4B"


def test_the_seats_step_can_be_skipped(passenger_client, held):
    # given a held booking at its seats step
    before = held.balance_due

    # when the passenger goes on to payment without choosing a seat
    payment = passenger_client.get(f"/trips/{held.record_locator}/pay/")

    # then the payment page opens, with nothing added to the price and no seat taken
    assert payment.status_code == 200 and current_step(payment.content.decode()) == "Payment"
    held.refresh_from_db()
    assert held.balance_due == before
    assert not SeatAssignment.objects.filter(segment__booking=held).exists()


def test_a_paid_bookings_seat_page_is_no_step_of_booking(passenger_client, held):
    # given a booking that has been paid
    data = {**pay_form(passenger_client, held), "number": CARD_SUCCEEDS}
    passenger_client.post(f"/trips/{held.record_locator}/pay/", data)
    held.refresh_from_db()
    assert held.status == BookingStatus.TICKETED

    # when its seat map is opened from the trip
    page = passenger_client.get(f"/trips/{held.record_locator}/flights/1/seats/").content.decode()

    # then it shows no booking steps, and leads back to the trip
    assert current_step(page) == "" and 'class="booking-steps"' not in page
    assert f'href="/trips/{held.record_locator}/"' in page and "Continue to payment" not in page


# --- The test cards' hint ----------------------------------------------------------------------------


def test_with_debug_on_the_payment_page_lists_the_gateways_test_cards(settings, passenger_client, held):
    # given a site running with DEBUG on
    settings.DEBUG = True

    # when the payment page is opened
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()

    # then it lists each of the simulated gateway's test cards with what it does
    hint = re.search(r'<aside class="card card-form sample-cards".*?</aside>', page, re.S).group(0)
    for card in SimulatedCardGateway.SAMPLE_CARDS:
        spaced = " ".join(re.findall(r"\d{4}", card.number))
        assert f"<code>{spaced}</code>" in hint
    assert "4242 4242 4242 4242</code>: the payment goes through" in hint
    assert "4000 0000 0000 0002</code>: the card is declined" in hint


def test_the_card_the_hint_calls_declined_is_declined(settings, passenger_client, held):
    # given the hint's declined card
    settings.DEBUG = True
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()
    declined = re.search(r"<code>([\d ]+)</code>: the card is declined</li>", page).group(1)
    assert declined.replace(" ", "") == CARD_DECLINED

    # when the passenger pays with it
    data = {**pay_form(passenger_client, held), "number": declined}
    response = passenger_client.post(f"/trips/{held.record_locator}/pay/", data)

    # then the payment is refused and the booking stays held
    assert response.status_code == 200 and "The payment did not go through" in response.content.decode()
    held.refresh_from_db()
    assert held.status == BookingStatus.HELD


def test_without_debug_the_payment_page_shows_no_test_cards(settings, passenger_client, held):
    # given a site running with DEBUG off, as in production
    settings.DEBUG = False

    # when the payment page is opened
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()

    # then no test card is shown
    assert "sample-cards" not in page and "Test cards" not in page
    assert "4242 4242 4242 4242" not in page and "4000 0000 0000 0002" not in page


def test_a_live_gateway_without_test_cards_shows_no_hint_even_with_debug(settings, passenger_client, held):
    # given DEBUG on, but a gateway that knows no test cards
    settings.DEBUG = True
    settings.PAYMENT_GATEWAY = "tests.reservations.test_portal_booking_steps.LiveGateway"

    # when the payment page is opened
    page = passenger_client.get(f"/trips/{held.record_locator}/pay/").content.decode()

    # then there is no hint
    assert "sample-cards" not in page


class LiveGateway(SimulatedCardGateway):
    """A gateway such as a live acquirer's: it charges real cards and has no test cards to show."""

    SAMPLE_CARDS = ()
