"""A passenger booking for themselves travels as themselves: reservations.services.passengers_link_booker."""

from __future__ import annotations

import pytest

from reservations import services
from reservations.models import Booking
from tests.crm.factories import CustomerFactory
from tests.reservations.api_support import BOOKINGS, bookable_flight, booking_body, fares


def traveller(given_name: str, family_name: str, **kwargs) -> services.PassengerRequest:
    return services.PassengerRequest(passenger_type="ADT", given_name=given_name, family_name=family_name, **kwargs)


@pytest.fixture
def booker(db):
    return CustomerFactory(given_name="Ada", family_name="Lovelace")


def test_the_first_traveller_with_the_bookers_name_is_linked_to_the_booker(booker):
    # given a party whose first traveller carries the booker's name, typed differently
    party = [traveller("  ada ", "LOVELACE"), traveller("Charles", "Babbage")]
    # when the service links the booker
    linked = services.passengers_link_booker(passengers=party, booker=booker)
    # then the first traveller is the booker, the second nobody
    assert [p.customer for p in linked] == [booker, None]
    assert [p.given_name for p in linked] == ["  ada ", "Charles"]


def test_a_first_traveller_with_another_name_is_not_linked(booker):
    party = [traveller("Charles", "Babbage"), traveller("Ada", "Lovelace")]
    linked = services.passengers_link_booker(passengers=party, booker=booker)
    assert [p.customer for p in linked] == [None, None]


def test_a_traveller_already_linked_stays_as_it_is(booker):
    someone = CustomerFactory(given_name="Ada", family_name="Lovelace")
    linked = services.passengers_link_booker(passengers=[traveller("Ada", "Lovelace", customer=someone)], booker=booker)
    assert linked[0].customer == someone


def test_without_a_booker_nobody_is_linked(db):
    linked = services.passengers_link_booker(passengers=[traveller("Ada", "Lovelace")], booker=None)
    assert linked[0].customer is None


@pytest.mark.parametrize(("given_name", "linked"), [("Pat", True), ("Sam", False)])
def test_a_passenger_booking_through_the_api_travels_as_themselves_like_in_the_portal(make_passenger, api_as, given_name, linked):
    # given a passenger and a bookable flight
    user, customer = make_passenger("pat@example.com", given_name="Pat", family_name="Quinn")
    fares()
    flight = bookable_flight()
    # when they book through the API with a first traveller named as themselves, or someone else
    party = [{"passenger_type": "ADT", "given_name": given_name, "family_name": "Quinn"}]
    response = api_as(user).post(BOOKINGS, booking_body(flight, passengers=party), format="json")
    # then the first traveller is linked to their record only when the name is theirs
    assert response.status_code == 201, response.content
    first = Booking.objects.get(record_locator=response.json()["record_locator"]).passengers.get(sequence=1)
    assert (first.customer == customer) is linked
    assert first.customer is None or first.customer == customer
