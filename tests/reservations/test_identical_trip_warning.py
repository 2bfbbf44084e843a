"""Booking the same trip twice (same flights, same customer or travellers, an active booking already there)
asks first, in the portal and in the office; confirming books it again, and a cancelled booking does not count."""

import pytest
from django.urls import reverse

from reservations import services
from reservations.models import Booking, BookingStatus
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import fares
from tests.reservations.portal_support import (  # noqa: F401
    adult,
    book_url,
    departure_in,
    fares_fixture,
    hold,
    make_flight,
    search_params,
)

# --- Portal -----------------------------------------------------------------------------------


@pytest.fixture
def trip(fares):
    return make_flight("LHR", "CDG", at=departure_in(5, hour=9))


def _portal_post(passenger_client, url, **extra):
    data = {"contact_email": "traveller@example.com", **adult(1, "Olivia", "Hart"), **extra}
    return passenger_client.post(url, data)


def test_portal_warns_before_booking_the_same_trip_twice_and_books_on_confirmation(passenger_client, trip):
    url = book_url(search_params(trip), (trip, "ECO_LIGHT"))
    # Given the passenger already holds a booking on this flight
    first = hold(passenger_client, url, adult(1, "Olivia", "Hart"))
    # When they send the same trip again
    response = _portal_post(passenger_client, url)
    # Then nothing is booked; the page names the existing booking and asks for confirmation
    assert response.status_code == 200
    assert Booking.objects.count() == 1
    html = response.content.decode()
    assert "You already have this trip booked" in html
    assert reverse("reservations_portal:trip", args=[first.record_locator]) in html
    assert 'name="book_again" value="1"' in html
    # When they confirm
    again = _portal_post(passenger_client, url, book_again="1")
    # Then the second booking is held
    assert again.status_code == 302
    assert Booking.objects.count() == 2


def test_portal_does_not_warn_for_a_cancelled_booking_or_other_flights(passenger_client, trip, fares):
    url = book_url(search_params(trip), (trip, "ECO_LIGHT"))
    first = hold(passenger_client, url, adult(1, "Olivia", "Hart"))
    Booking.objects.filter(pk=first.pk).update(status=BookingStatus.CANCELLED)
    # A cancelled booking on the same flight: booked without a question
    assert _portal_post(passenger_client, url).status_code == 302
    # A different flight on the same route: booked without a question
    other = make_flight("LHR", "CDG", at=departure_in(6, hour=9))
    other_url = book_url(search_params(other), (other, "ECO_LIGHT"))
    assert _portal_post(passenger_client, other_url).status_code == 302
    assert Booking.objects.count() == 3


def test_portal_never_reveals_someone_elses_booking_of_the_same_names(passenger_client, make_passenger, trip):
    url = book_url(search_params(trip), (trip, "ECO_LIGHT"))
    # Given another passenger booked a traveller with the same name on the same flight
    other_user, _other = make_passenger("someone.else@example.com")
    from django.test import Client

    other_client = Client()
    other_client.force_login(other_user, backend="django.contrib.auth.backends.ModelBackend")
    theirs = hold(other_client, url, adult(1, "Olivia", "Hart"))
    # When this passenger books the same trip
    response = _portal_post(passenger_client, url)
    # Then it is booked without naming the other passenger's booking
    assert response.status_code == 302
    assert theirs.record_locator not in response.content.decode()


# --- Office -----------------------------------------------------------------------------------


@pytest.fixture
def customer(db):
    return CustomerFactory(given_name="Grace", family_name="Hopper", email="grace@example.com")


@pytest.fixture
def flight(db):
    fares()
    return FlightFactory()


def _office_post(flight, **extra) -> dict:  # noqa: ANN001, ANN003
    return {
        "cabin": "economy", "adults": 1, "children": 0, "infants": 0, "leg_1": f"{flight.pk}:ECO_STANDARD",
        "p1-title": "", "p1-given_name": "Grace", "p1-family_name": "Hopper", "contact_email": "grace@example.com",
        "customer_travels": "on", **extra,
    }  # fmt: skip


def test_office_warns_before_holding_the_same_trip_for_the_same_traveller(agent_client, customer, flight):
    url = reverse("reservations_office:book_passengers", args=[customer.customer_number])
    # Given the agent held a booking for Grace on this flight
    assert agent_client.post(url, _office_post(flight)).status_code == 302
    first = Booking.objects.get()
    # When the same trip is sent again
    response = agent_client.post(url, _office_post(flight))
    # Then the agent is shown the existing booking and asked to confirm
    assert response.status_code == 200 and Booking.objects.count() == 1
    html = response.content.decode()
    assert "This trip is already booked" in html
    assert reverse("reservations_office:booking_detail", args=[first.record_locator]) in html
    # And confirming holds the second booking
    assert agent_client.post(url, _office_post(flight, book_again="1")).status_code == 302
    assert Booking.objects.count() == 2


def test_office_warns_when_another_customer_already_booked_the_same_traveller(agent_client, customer, flight):
    # Given Grace is already booked on this flight by a colleague (another booker)
    colleague = CustomerFactory(given_name="Ada", family_name="Lovelace")
    url = reverse("reservations_office:book_passengers", args=[colleague.customer_number])
    data = _office_post(flight, customer_travels="")
    assert agent_client.post(url, data).status_code == 302
    # When the agent books Grace on the same flight from Grace's own record, not as her
    own = reverse("reservations_office:book_passengers", args=[customer.customer_number])
    response = agent_client.post(own, _office_post(flight, customer_travels=""))
    # Then the agent is warned: the traveller's name matches
    assert response.status_code == 200 and "This trip is already booked" in response.content.decode()


def test_the_selector_matches_exactly_the_same_flights(customer, flight):
    # Given a booking on one flight
    second = FlightFactory(route=flight.route)
    booking = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Grace", family_name="Hopper", customer=customer)],
        contact_email="grace@example.com",
        channel="agent",
        customer=customer,
    )
    from reservations.selectors import booking_identical_active

    # Then the same flight matches, by booker or by traveller name; a trip with another flight added does not
    assert booking_identical_active(flight_ids=[flight.pk], customer=customer) == booking
    assert booking_identical_active(flight_ids=[flight.pk], traveller_names=[(" grace ", "HOPPER")]) == booking
    assert booking_identical_active(flight_ids=[flight.pk, second.pk], customer=customer) is None
    assert booking_identical_active(flight_ids=[flight.pk], traveller_names=[("Ada", "Lovelace")]) is None
