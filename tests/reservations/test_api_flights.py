"""Public flight endpoints: search with live seats and fares, seat maps, flight status."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from reservations import services
from reservations.models import Channel, FlightStatus
from tests.reservations.api_support import assert_error, bookable_flight, fares
from tests.reservations.factories import FlightFactory, RouteFactory, airport

SEARCH = "/api/v1/flights/search/"
STATUS = "/api/v1/flight-status/"


@pytest.fixture
def fare_codes(db):
    return fares()


def local_day(flight) -> str:  # noqa: ANN001
    return flight.scheduled_departure.astimezone(ZoneInfo(flight.origin.time_zone)).date().isoformat()


def search(client, flight, **params):  # noqa: ANN001, ANN201
    return client.get(SEARCH, {"origin": "LHR", "destination": "CDG", "date": local_day(flight), **params})


def hold_seats(flight, seats: int) -> None:  # noqa: ANN001
    services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[
            services.PassengerRequest(passenger_type="ADT", given_name=f"P{i}", family_name="Held") for i in range(seats)
        ],
        contact_email="held@example.com",
        channel=Channel.AGENT,
    )


# --- Search ---------------------------------------------------------------------------------------


def test_anyone_can_search_and_gets_an_offer_per_fare_family_priced_for_the_party(api_client, fare_codes):
    # given a flight with Light and Standard fares
    flight = bookable_flight()

    # when an anonymous client searches for two adults and a child
    response = search(api_client, flight, adults=2, children=1)

    # then the flight comes with both fares, cheapest first, priced per passenger type with taxes itemised
    assert response.status_code == 200, response.content
    (option,) = response.json()["results"]
    assert option["flight"]["id"] == flight.pk
    assert option["flight"]["flight_code"] == flight.flight_code
    assert [o["fare_family"]["code"] for o in option["offers"]] == ["ECO_LIGHT", "ECO_STANDARD"]
    assert option["lowest"] == {"fare_family": "ECO_LIGHT", "total": option["offers"][0]["total"], "currency": "EUR"}
    light = option["offers"][0]
    assert [(p["passenger_type"], p["count"]) for p in light["prices"]] == [("ADT", 2), ("CHD", 1)]
    adult, child = light["prices"]
    assert adult["taxes"] == [{"code": "YQ", "name": "Fuel surcharge", "amount": "25.00"}]
    assert float(light["total"]) == pytest.approx(2 * float(adult["total"]) + float(child["total"]))
    assert light["fare_family"]["refundable"] is False and light["fare_family"]["baggage_pieces"] == 0


def test_search_shows_the_seats_left_right_now(api_client, fare_codes):
    # given a flight with 5 economy seats left, of which 2 are then booked
    flight = bookable_flight(inventory={"economy": 5})
    assert search(api_client, flight).json()["results"][0]["seats_left"] == 5

    hold_seats(flight, 2)

    # then the next search shows 3
    option = search(api_client, flight).json()["results"][0]
    assert option["seats_left"] == 3
    assert {o["seats_left"] for o in option["offers"]} == {3}


def test_a_party_bigger_than_the_seats_left_sees_the_flight_sold_out(api_client, fare_codes):
    flight = bookable_flight(inventory={"economy": 2})

    option = search(api_client, flight, adults=3).json()["results"][0]

    assert option["sold_out"] is True
    assert option["offers"] == [] and option["lowest"] is None


def test_search_sorts_by_departure_or_duration(api_client, fare_codes):
    morning = timezone.now().replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=10)
    slow = FlightFactory(scheduled_departure=morning, scheduled_arrival=morning + timedelta(minutes=150))
    fast = FlightFactory(scheduled_departure=morning + timedelta(hours=4), scheduled_arrival=morning + timedelta(hours=5))

    by_departure = search(api_client, slow, sort="departure").json()["results"]
    by_duration = search(api_client, slow, sort="duration").json()["results"]

    assert [o["flight"]["id"] for o in by_departure] == [slow.pk, fast.pk]
    assert [o["flight"]["id"] for o in by_duration] == [fast.pk, slow.pk]
    assert by_duration[0]["flight"]["duration_minutes"] == 60


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "2026-02-30"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"origin": "XXXX"}, "origin"),
        ({"origin": "ZZZ"}, "origin"),
        ({"destination": "LHR"}, "destination"),
        ({"adults": "0"}, "adults"),
        ({"adults": "ten"}, "adults"),
        ({"adults": "5", "children": "5"}, "children"),
        ({"adults": "1", "infants": "2"}, "infants"),
        ({"cabin": "cargo"}, "cabin"),
        ({"sort": "random"}, "sort"),
        ({"origin": "\x00\x00\x00"}, "origin"),
    ],
)
def test_bad_search_is_a_400_naming_the_parameter(api_client, fare_codes, params, field):
    flight = bookable_flight()

    error = assert_error(search(api_client, flight, **params), 400, "invalid")

    assert field in error["fields"], error


def test_search_in_the_past_is_refused(api_client, fare_codes):
    flight = bookable_flight()

    error = assert_error(search(api_client, flight, date=(timezone.localdate() - timedelta(days=2)).isoformat()), 400)

    assert "date" in error["fields"]


def test_search_without_the_required_parameters_lists_them(api_client):
    error = assert_error(api_client.get(SEARCH), 400, "invalid")

    assert set(error["fields"]) == {"origin", "destination", "date"}


def test_search_queries_do_not_grow_with_flights(api_client, fare_codes, django_assert_max_num_queries):
    # given one flight that day, measured
    day = timezone.now().replace(hour=5, minute=0, second=0, microsecond=0) + timedelta(days=12)
    first = FlightFactory(scheduled_departure=day)
    with django_assert_max_num_queries(30) as few:
        assert len(search(api_client, first).json()["results"]) == 1

    # when there are ten flights that day
    for hour in range(1, 10):
        FlightFactory(scheduled_departure=day + timedelta(hours=hour))

    # then the search costs no more queries
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(search(api_client, first).json()["results"]) == 10


# --- Seat map -------------------------------------------------------------------------------------


def test_seat_map_shows_every_seat_with_its_live_status_but_not_who_holds_it(api_client, fare_codes):
    # given a flight where one passenger holds seat 3A
    flight = bookable_flight()
    hold_seats(flight, 1)
    booking = flight.segments.get().booking
    services.seat_assign(segment=booking.segments.get(), passenger=booking.passengers.get(), seat="3A")

    # when anyone reads the seat map
    response = api_client.get(f"/api/v1/flights/{flight.pk}/seat-map/")

    # then each row is split at the aisle and 3A is taken, without naming anyone
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cabins"] == ["business", "economy"]
    row3 = next(r for r in body["rows"] if r["number"] == 3)
    assert [[s["code"] for s in block] for block in row3["blocks"]] == [["3A", "3B", "3C"], ["3D", "3E", "3F"]]
    seat_3a = row3["blocks"][0][0]
    assert (seat_3a["status"], seat_3a["selectable"], seat_3a["window"]) == ("taken", False, True)
    assert row3["blocks"][0][2]["aisle"] is True
    row5 = next(r for r in body["rows"] if r["number"] == 5)
    assert row5["exit_row"] is True and row5["blocks"][0][0]["status"] == "exit"
    assert "passenger" not in response.content.decode()


def test_seat_map_of_one_cabin(api_client, fare_codes):
    flight = bookable_flight()

    body = api_client.get(f"/api/v1/flights/{flight.pk}/seat-map/", {"cabin": "business"}).json()

    assert body["cabins"] == ["business"]
    assert [r["number"] for r in body["rows"]] == [1, 2]


@pytest.mark.parametrize("path", ["999999/seat-map/", "abc/seat-map/", "99999999999999999999999/seat-map/"])
def test_seat_map_of_no_such_flight_is_404(api_client, db, path):
    assert_error(api_client.get(f"/api/v1/flights/{path}"), 404, "not_found")


def test_seat_map_with_an_unknown_cabin_is_400(api_client, fare_codes):
    flight = bookable_flight()

    assert_error(api_client.get(f"/api/v1/flights/{flight.pk}/seat-map/", {"cabin": "hold"}), 400, "invalid")


def test_seat_map_with_the_cabin_sent_empty_is_400_not_every_cabin(api_client, fare_codes):
    # given a flight whose seat map the schema lets be filtered by one cabin of an enum
    flight = bookable_flight()

    # when the cabin parameter is sent empty
    response = api_client.get(f"/api/v1/flights/{flight.pk}/seat-map/?cabin=")

    # then it is refused naming the parameter, like any other value that is not a cabin
    assert list(assert_error(response, 400, "invalid")["fields"]) == ["cabin"]


@pytest.mark.parametrize("param", ["cabin", "adults", "sort", "connections"])
def test_a_search_option_sent_empty_is_400_not_its_default(api_client, fare_codes, param):
    # given a flight to search for
    flight = bookable_flight()

    # when an optional search parameter (an enum, a whole number, a boolean) is sent empty
    response = search(api_client, flight, **{param: ""})

    # then it is refused naming that parameter, instead of being read as absent
    assert list(assert_error(response, 400, "invalid")["fields"]) == [param]


# --- Flight status --------------------------------------------------------------------------------


def test_anyone_can_look_up_a_delayed_flights_status_in_local_time(api_client, db):
    # given a flight delayed by 90 minutes, at gate B7
    route = RouteFactory(origin=airport("LHR"), destination=airport("JFK"), distance_km=5540, block_minutes=480)
    flight = FlightFactory(route=route)
    estimated = flight.scheduled_departure + timedelta(minutes=90)
    flight.estimated_departure, flight.status, flight.gate = estimated, FlightStatus.DELAYED, "B7"
    flight.save(update_fields=["estimated_departure", "status", "gate"])

    # when someone looks it up by number and local date
    response = api_client.get(STATUS, {"flight": f"AU {flight.flight_number}", "date": str(flight.service_date)})

    # then they see the new time at London's offset and the arrival at New York's
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["flight_code"], body["status"], body["gate"]) == (flight.flight_code, "delayed", "B7")
    assert body["status_display"] == "Delayed"
    assert body["estimated_departure"] == estimated.astimezone(ZoneInfo("Europe/London")).isoformat()
    assert body["scheduled_arrival"] == flight.scheduled_arrival.astimezone(ZoneInfo("America/New_York")).isoformat()


def test_flight_status_of_an_unknown_flight_is_404(api_client, db):
    flight = FlightFactory()

    assert_error(api_client.get(STATUS, {"flight": "AU9999", "date": str(flight.service_date)}), 404, "not_found")
    assert_error(api_client.get(STATUS, {"flight": "no-such", "date": str(flight.service_date)}), 404, "not_found")


@pytest.mark.parametrize("number", ["AU1\x00", "\x00", "A\x00U 1", "\x1c", "   "])
def test_flight_status_of_a_number_with_a_nul_character_or_only_spaces_is_404_like_other_junk(api_client, db, number):
    # given a flight on a day
    flight = FlightFactory()

    # when its status is asked for a number carrying a NUL character, or only whitespace (strings the schema allows)
    response = api_client.get(STATUS, {"flight": number, "date": str(flight.service_date)})

    # then it is the documented 404 of a number we do not fly, not a 400 the schema does not state
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "params", [{}, {"flight": "AU1"}, {"flight": "AU1", "date": "13/13/2026"}, {"flight": "x" * 50, "date": "2026-01-01"}]
)
def test_flight_status_with_bad_parameters_is_400(api_client, db, params):
    assert_error(api_client.get(STATUS, params), 400, "invalid")
