"""One tick on the portal's booking form enrols a booker who is not a member yet, and puts the new frequent
flyer number on their own traveller so the trip earns miles."""

from __future__ import annotations

import pytest

from loyalty import events as loyalty_events
from loyalty.models import EnrolmentChannel, Member, Programme
from tests.events_support import capture_events
from tests.loyalty.factories import member
from tests.reservations.portal_support import adult, book_url, departure_in, fares_fixture, hold, make_flight, search_params  # noqa: F401

pytestmark = pytest.mark.django_db

TICK = "option_loyalty_enrol"


@pytest.fixture
def url(fares) -> str:
    flight = make_flight("LHR", "CDG", at=departure_in(5))
    return book_url(search_params(flight, adults=2), (flight, "ECO_LIGHT"))


def travellers(customer) -> dict:  # noqa: ANN001
    return {**adult(1, customer.given_name, customer.family_name), **adult(2, "Ann", "Lee")}


def test_a_booker_who_is_not_a_member_is_offered_the_programme_by_name(passenger, passenger_client, url):
    Programme.objects.update_or_create(pk=1, defaults={"name": "Skyward Club"})
    page = passenger_client.get(url).content.decode()
    assert f'name="{TICK}"' in page and "Join Skyward Club and earn miles on this trip" in page


def test_a_member_is_not_offered_to_join(passenger, passenger_client, url):
    member(passenger[1])
    page = passenger_client.get(url).content.decode()
    assert TICK not in page


def test_ticking_enrols_the_booker_and_their_own_traveller_earns_on_the_trip(
    passenger, passenger_client, url, django_capture_on_commit_callbacks
):
    # given a passenger who is not a member
    _, customer = passenger

    # when they book for themselves and a friend with the tick
    with capture_events(loyalty_events) as seen, django_capture_on_commit_callbacks(execute=True):
        booking = hold(passenger_client, url, {**travellers(customer), TICK: "on"})

    # then they are a member enrolled at booking, their traveller carries the number, the friend's does not
    joined = Member.objects.get(customer=customer)
    assert joined.enrolment_channel == EnrolmentChannel.BOOKING
    own, friend = booking.passengers.order_by("sequence")
    assert own.customer_id == customer.pk and own.frequent_flyer_number == joined.number
    assert friend.frequent_flyer_number == ""
    assert [name for name, _payload in seen] == ["member_enrolled"]
    # and joining is on their timeline, as when they join from the portal or an agent enrols them
    from crm.models import TimelineEntry

    (entry,) = TimelineEntry.objects.filter(customer=customer, kind="loyalty.enrolled")
    assert entry.data == {"member_number": joined.number, "channel": EnrolmentChannel.BOOKING}


def test_without_the_tick_nobody_is_enrolled(passenger, passenger_client, url):
    _, customer = passenger
    booking = hold(passenger_client, url, travellers(customer))
    assert not Member.objects.exists()
    assert set(booking.passengers.values_list("frequent_flyer_number", flat=True)) == {""}


def test_a_booker_not_travelling_still_joins_and_no_traveller_gets_the_number(passenger, passenger_client, url):
    booking = hold(passenger_client, url, {**adult(1, "Bo", "Lee"), **adult(2, "Ann", "Lee"), TICK: "on"})
    assert Member.objects.filter(customer=passenger[1]).exists()
    assert set(booking.passengers.values_list("frequent_flyer_number", flat=True)) == {""}


def test_a_booking_refused_for_another_reason_enrols_nobody(passenger, passenger_client, url):
    # given the friend's typed frequent flyer number is wrong
    _, customer = passenger
    data = {
        **adult(1, customer.given_name, customer.family_name),
        **adult(2, "Ann", "Lee", frequent_flyer_number="123"),
        TICK: "on",
    }

    # when the form is sent with the tick
    response = passenger_client.post(url, {"contact_email": "a@example.com", **data})

    # then the page shows the error and the tick enrolled nobody
    assert response.status_code == 200
    assert not Member.objects.exists()


# --- The same tick through the API ---------------------------------------------------------------


def api_body(customer, flight, **extra) -> dict:  # noqa: ANN001, ANN003
    from tests.reservations.api_support import booking_body

    return booking_body(
        flight,
        fare_family="ECO_LIGHT",
        passengers=[
            {"passenger_type": "ADT", "given_name": customer.given_name, "family_name": customer.family_name},
            {"passenger_type": "ADT", "given_name": "Ann", "family_name": "Lee"},
        ],
        **extra,
    )


@pytest.fixture
def api_flight(fares):  # noqa: ANN001, ANN201
    return make_flight("LHR", "CDG", at=departure_in(5))


def test_the_api_booking_with_the_join_option_enrols_the_booker_and_numbers_their_own_traveller(
    passenger, api_as, api_flight, django_capture_on_commit_callbacks
):
    from tests.reservations.api_support import BOOKINGS

    # given a passenger who is not a member
    user, customer = passenger

    # when they book through the API for themselves and a friend, ticking the join option
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(user).post(BOOKINGS, api_body(customer, api_flight, options={"loyalty_enrol": True}), format="json")

    # then they are a member enrolled at booking, and only their own traveller carries the new number
    assert response.status_code == 201, response.content
    joined = Member.objects.get(customer=customer)
    assert joined.enrolment_channel == EnrolmentChannel.BOOKING
    own, friend = response.json()["passengers"]
    assert own["frequent_flyer_number"] == joined.number and friend["frequent_flyer_number"] == ""


def test_the_api_booking_without_the_option_or_with_it_false_enrols_nobody(passenger, api_as, api_flight):
    from tests.reservations.api_support import BOOKINGS

    user, customer = passenger
    client = api_as(user)
    assert client.post(BOOKINGS, api_body(customer, api_flight), format="json").status_code == 201
    body = api_body(customer, api_flight, options={"loyalty_enrol": False})
    assert client.post(BOOKINGS, body, format="json").status_code == 201
    assert not Member.objects.exists()


def test_an_unknown_option_or_a_non_boolean_is_refused_and_books_nobody_in(passenger, api_as, api_flight):
    from reservations.models import Booking
    from tests.reservations.api_support import BOOKINGS, assert_error

    user, customer = passenger
    client = api_as(user)

    # when the option's name is misspelt, or its value is not a JSON boolean
    typo = client.post(BOOKINGS, api_body(customer, api_flight, options={"loyalty_enrl": True}), format="json")
    text = client.post(BOOKINGS, api_body(customer, api_flight, options={"loyalty_enrol": "yes"}), format="json")

    # then both are 400 naming the option, and nothing is booked or enrolled
    assert "options.loyalty_enrl" in assert_error(typo, 400, "unknown_booking_option")["fields"]
    assert "options.loyalty_enrol" in assert_error(text, 400)["fields"]
    assert not Booking.objects.exists() and not Member.objects.exists()


def test_the_schema_documents_the_join_option(client):
    schema = client.get("/api/schema/?format=json").json()
    options = schema["components"]["schemas"]["BookingCreateInputRequest"]["properties"]["options"]
    assert options["additionalProperties"] == {"type": "boolean"}
    assert "`loyalty_enrol`: join the frequent flyer programme" in options["description"]
