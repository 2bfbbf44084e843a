"""The portal home page leads with a flight search (from, to, dates, travellers) that opens the flights page."""

import re

import pytest
from django.test import Client

from crm import registry
from tests.reservations.portal_support import departure_in, fares_fixture, make_flight  # noqa: F401

SEARCH_FIELDS = ("trip_type", "origin", "destination", "departure_date", "return_date", "adults", "children", "infants")


def home_search_form(page: str) -> str:
    return re.search(r'<form class="search-form home-search".*?</form>', page, re.S).group(0)


@pytest.fixture
def flight(fares):
    return make_flight("LHR", "CDG", at=departure_in(6, hour=9))


def test_the_home_page_leads_with_a_flight_search_for_visitors(client, flight):
    # given a visitor who is not signed in
    # when they open the home page
    page = client.get("/").content.decode()

    # then a flight search comes first, before the account pitch, and sends its fields to the flights page
    form = home_search_form(page)
    assert page.index(form) < page.index("With an account you can")
    assert 'method="get" action="/flights/"' in form
    for name in SEARCH_FIELDS:
        assert f'name="{name}"' in form, name
    assert '<option value="LHR">' in form and '<option value="CDG">' in form


def test_the_home_page_leads_with_a_flight_search_for_passengers_from_their_home_airport(passenger, passenger_client, flight):
    # given a signed-in passenger whose home airport is Paris
    _, customer = passenger
    customer.home_airport = "CDG"
    customer.save(update_fields=["home_airport"])

    # when they open the home page
    page = passenger_client.get("/").content.decode()

    # then the search comes before their account links, departing from Paris
    form = home_search_form(page)
    assert page.index(form) < page.index('id="home-profile"')
    assert '<option value="CDG" selected>' in form and '<option value="LHR" selected>' not in form


def test_searching_from_the_home_page_lists_the_flights(client, flight):
    # given the home page's search form
    form = home_search_form(client.get("/").content.decode())
    action = re.search(r'action="([^"]+)"', form).group(1)
    names = set(re.findall(r'name="([^"]+)"', form))
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))

    # when a visitor fills in a one-way trip to Paris for two adults and sends it
    typed = {
        "trip_type": "one_way",
        "origin": "LHR",
        "destination": "CDG",
        "departure_date": flight.service_date.isoformat(),
        "return_date": "",
        "adults": "2",
        "children": "0",
        "infants": "0",
        "cabin": "economy",
    }
    assert set(typed) | set(hidden) == names
    results = client.get(action, {**hidden, **typed})

    # then the flights page lists the flight with its fares for the two of them
    page = results.content.decode()
    assert results.status_code == 200
    assert flight.flight_code in page and f'name="leg1" value="{flight.pk}:ECO_STANDARD"' in page
    assert 'name="adults" value="2"' in page


def test_a_home_section_that_fails_is_left_out_and_the_page_still_opens(client, flight):
    # given an app whose home page section raises
    def broken(request, customer):  # noqa: ANN001, ANN202
        raise RuntimeError("down")

    registry.register_home_section("broken_for_test", broken)
    try:
        # when the home page is opened
        response = Client().get("/")
    finally:
        registry.unregister_home_section("broken_for_test")

    # then it opens with the flight search and without the broken section
    assert response.status_code == 200
    assert 'class="search-form home-search"' in response.content.decode()
