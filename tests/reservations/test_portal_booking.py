"""Passengers book in the portal: login first, details pre-filled from their record, a held booking, bad input."""

from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.utils import timezone

from crm.services import customer_update
from reservations.models import Booking, BookingStatus, FlightCabin, PassengerType
from tests.reservations.factories import BookingFactory, BookingPassengerFactory, SegmentFactory
from tests.reservations.portal_support import (  # noqa: F401
    adult,
    book_url,
    departure_in,
    fares_fixture,
    hold,
    infant,
    make_flight,
    search_params,
)


@pytest.fixture
def trip(fares):
    out = make_flight("LHR", "CDG", at=departure_in(5, hour=9))
    back = make_flight("CDG", "LHR", at=departure_in(9, hour=15))
    return out, back


@pytest.fixture
def me(passenger):
    user, customer = passenger
    customer = customer_update(
        customer=customer,
        data={
            "title": "DR",
            "date_of_birth": date(1985, 4, 2),
            "nationality": "GB",
            "passport_number": "K1234567",
            "passport_expiry": date(2033, 1, 31),
            "passport_country": "GB",
            "meal_preference": "VGML",
            "special_assistance": ["DEAF"],
        },
    )
    return user, customer


def economy_seats(flight) -> int:
    return FlightCabin.objects.get(flight=flight, cabin="economy").available


def test_booking_asks_an_anonymous_visitor_to_log_in_and_comes_back(client, trip):
    out, back = trip
    url = book_url(search_params(out, back), (out, "ECO_LIGHT"), (back, "ECO_LIGHT"))

    response = client.get(url)

    assert response.status_code == 302
    target = urlparse(response["Location"])
    assert target.path == "/accounts/login/"
    assert parse_qs(target.query)["next"] == [url]


def test_the_first_traveller_is_filled_in_from_the_passengers_record(me, passenger_client, trip):
    user, customer = me
    out, back = trip
    page = passenger_client.get(book_url(search_params(out, back, adults=2), (out, "ECO_STANDARD"), (back, "ECO_FLEX")))
    html = page.content.decode()

    assert page.status_code == 200
    form = page.context["passenger_forms"][0]
    assert form.initial["given_name"] == customer.given_name and form.initial["family_name"] == customer.family_name
    assert 'value="1985-04-02"' in html and 'value="K1234567"' in html and 'value="2033-01-31"' in html
    assert '<option value="VGML" selected>' in html
    assert 'name="p1-assistance" value="DEAF"' in html and "checked" in html
    # and the second traveller starts blank, and the contact is the login's address
    assert page.context["passenger_forms"][1].initial == {}
    assert f'value="{customer.email}"' in html
    # and the chosen fares are priced for the party
    assert "Standard" in html and "Flex" in html and "Total" in html


def test_a_held_booking_is_created_for_two_adults_and_an_infant_on_a_lap(me, passenger_client, trip):
    user, customer = me
    out, back = trip
    before = economy_seats(out)
    url = book_url(search_params(out, back, adults=2, infants=1), (out, "ECO_LIGHT"), (back, "ECO_STANDARD"))
    passenger_client.get(url)

    booking = hold(
        passenger_client,
        url,
        {
            **adult(1, customer.given_name, customer.family_name),
            **adult(2, "Li", "Wei"),
            **infant(3, "Xiao", "Wei"),
            "purpose": "leisure",
        },
    )

    assert booking.status == BookingStatus.HELD and booking.hold_expires_at > timezone.now()
    assert (booking.adults, booking.children, booking.infants) == (2, 0, 1)
    assert booking.customer == customer and booking.channel == "portal" and booking.purpose == "leisure"
    first, second, baby = booking.passengers.order_by("sequence")
    assert first.customer == customer and first.document_number == "K1234567" and first.meal == "VGML"
    assert second.customer is None
    assert baby.passenger_type == PassengerType.INFANT and baby.travelling_with == first
    assert economy_seats(out) == before - 2
    assert [s.fare_family.code for s in booking.segments.order_by("sequence")] == ["ECO_LIGHT", "ECO_STANDARD"]


def test_a_traveller_renamed_to_someone_else_is_not_linked_to_the_passengers_record(me, passenger_client, trip):
    out, _back = trip
    url = book_url(search_params(out), (out, "ECO_LIGHT"))
    booking = hold(passenger_client, url, adult(1, "Somebody", "Else"))
    assert booking.passengers.get().customer is None
    assert booking.customer is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (adult(1, "", "Lovelace"), "This field is required."),
        ({**adult(1, "Ada", "Lovelace"), "contact_email": "not-an-address"}, "Enter a valid email address."),
        ({**adult(1, "Ada", "Lovelace"), "p1-document_number": "X1"}, "Choose the kind of travel document."),
        ({**adult(1, "Ada", "Lovelace"), "contact_phone": "12"}, "Enter the phone number in international format"),
        ({**adult(1, "Ada", "Lovelace", date_of_birth="2020-01-01")}, "An adult is 12 or older"),
    ],
)
def test_bad_traveller_details_show_errors_and_book_nothing(passenger, passenger_client, trip, data, message):
    out, _back = trip
    before = economy_seats(out)
    url = book_url(search_params(out), (out, "ECO_LIGHT"))

    response = passenger_client.post(url, {"contact_email": "ada@example.com", **data})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'id="error-summary"' in response.content.decode()
    assert not Booking.objects.exists()
    assert economy_seats(out) == before


def test_an_infant_needs_a_date_of_birth_that_makes_them_an_infant(passenger, passenger_client, trip):
    out, _back = trip
    url = book_url(search_params(out, infants=1), (out, "ECO_LIGHT"))
    too_old = (timezone.localdate() - timedelta(days=365 * 3)).isoformat()

    missing = passenger_client.post(url, {"contact_email": "a@example.com", **adult(1, "Ada", "L"), **adult(2, "Baby", "L")})
    old = passenger_client.post(
        url, {"contact_email": "a@example.com", **adult(1, "Ada", "L"), **adult(2, "Baby", "L", date_of_birth=too_old)}
    )

    assert "This field is required." in missing.content.decode()
    assert "An infant is under 2" in old.content.decode()
    assert not Booking.objects.exists()


def test_a_fare_no_longer_sold_sends_the_passenger_back_to_the_results(passenger, passenger_client, trip):
    out, _back = trip
    FlightCabin.objects.filter(flight=out).update(available=0)
    params = search_params(out)

    response = passenger_client.get(book_url(params, (out, "ECO_LIGHT")), follow=True)

    assert response.redirect_chain[0][0].startswith("/flights/?")
    assert "Choose an available flight and fare for each part of the trip." in response.content.decode()


def test_a_tampered_choice_is_refused_without_a_500(passenger, passenger_client, trip):
    out, _back = trip
    params = search_params(out)
    for value in ("abc", f"{out.pk}:NOPE", "99999999:ECO_LIGHT", ""):
        response = passenger_client.get("/book/", {**params, "leg1": value})
        assert response.status_code == 302 and response["Location"].startswith("/flights/")


@pytest.fixture
def someone_elses_booking(fares):
    flight = make_flight(at=departure_in(1, hour=20))
    booking = BookingFactory(status=BookingStatus.TICKETED, total_amount=100, paid_amount=100)
    BookingPassengerFactory(booking=booking, sequence=1, given_name="Quentin", family_name="Zebedee")
    SegmentFactory(booking=booking, flight=flight)
    return booking


@pytest.mark.parametrize(
    "path",
    [
        "/trips/{}/",
        "/trips/{}/pay/",
        "/trips/{}/confirmation/",
        "/trips/{}/receipt.pdf",
        "/trips/{}/trip.ics",
        "/trips/{}/cancel/",
        "/trips/{}/flights/1/change/",
        "/trips/{}/flights/1/seats/",
        "/check-in/{}/",
        "/check-in/{}/flights/1/",
        "/check-in/{}/flights/1/seats/",
    ],
)
def test_another_passengers_booking_is_not_found(passenger_client, someone_elses_booking, path):
    response = passenger_client.get(path.format(someone_elses_booking.record_locator))
    assert response.status_code == 404
    assert "Zebedee" not in response.content.decode() and "Quentin" not in response.content.decode()


@pytest.mark.parametrize(
    "path",
    ["/trips/", "/trips/{}/", "/trips/{}/pay/", "/trips/{}/confirmation/", "/trips/{}/receipt.pdf", "/trips/{}/cancel/"],
)
def test_booking_pages_send_anonymous_visitors_to_the_login(someone_elses_booking, path):
    response = Client().get(path.format(someone_elses_booking.record_locator))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_a_staff_login_without_a_customer_record_cannot_book(agent_client, trip):
    out, _back = trip
    assert agent_client.get(book_url(search_params(out), (out, "ECO_LIGHT"))).status_code == 404


def test_the_travellers_step_states_each_fare_in_the_wording_of_the_search_and_the_receipt(passenger, passenger_client, trip):
    from django.utils.html import escape

    from reservations.models import FareFamily
    from reservations.rules import fare_family_rules

    out, back = trip
    # When the traveller-details step opens for a Light fare out and a Flex fare back
    page = passenger_client.get(book_url(search_params(out, back), (out, "ECO_LIGHT"), (back, "ECO_FLEX")))
    html = page.content.decode()
    # Then every rule of each fare reads as the shared fare rules word it, one list item each
    assert page.status_code == 200
    for code in ("ECO_LIGHT", "ECO_FLEX"):
        for rule in fare_family_rules(FareFamily.objects.get(code=code)):
            assert f"<li>{escape(rule)}</li>" in html
    # And the page's own second wording of the rules is gone
    assert "free bag" not in html and "not refundable" not in html
