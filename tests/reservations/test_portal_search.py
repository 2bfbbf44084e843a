"""Passengers search flights in the portal: legs, the ±3-day price calendar, sorting, seats left, bad input."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from reservations.models import FlightCabin
from tests.reservations.portal_support import SEARCH, departure_in, fares_fixture, make_flight, search_params  # noqa: F401


@pytest.fixture
def outbound(fares):
    return make_flight("LHR", "CDG", at=departure_in(5, hour=9))


def test_anonymous_search_lists_flights_with_local_times_duration_and_fare_families(client, outbound):
    # given a flight from London 09:00 UTC, 75 minutes, to Paris
    # when anyone searches that day
    page = client.get(SEARCH, search_params(outbound)).content.decode()

    # then it shows with departure and arrival at each airport's local clock, the duration and each fare family
    local_departure = outbound.scheduled_departure.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M")
    local_arrival = outbound.scheduled_arrival.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    assert outbound.flight_code in page
    assert f">{local_departure}</time> LHR" in page and f">{local_arrival}</time> CDG" in page
    assert "1 h 15 min" in page
    for family in ("ECO_LIGHT", "ECO_STANDARD", "ECO_FLEX"):
        assert f'value="{outbound.pk}:{family}"' in page
    assert "seats left" not in page


def test_results_show_each_fare_familys_rules_before_choosing(client, outbound):
    # given a flight sold in Light, Standard and Flex (the airline's fare rules)
    # when anyone searches that day
    page = client.get(SEARCH, search_params(outbound)).content.decode()

    # then, before the form is sent, each fare family lists its bags, changes, refunds, seats and miles
    rules = page[page.index('class="fare-rules"') : page.index("Continue to traveller details")]
    light, standard, flex = (part for part in rules.split("<details>")[1:])
    assert "Light" in light and "Standard" in standard and "Flex" in flex
    assert "Hand baggage only; checked bags are charged" in light
    assert "Changes not allowed" in light
    assert "Non-refundable: only taxes are refunded on cancellation" in light
    assert "Seat selection: €15.00 per flight" in light
    assert "Earns miles worth 50% of the distance flown" in light
    assert "Checked baggage: 1 × 23 kg" in standard
    assert "Changes allowed for a fee of €60.00 plus any fare difference" in standard
    assert "Free seat selection" in standard
    assert "Earns miles worth 100% of the distance flown" in standard
    assert "Checked baggage: 2 × 23 kg" in flex
    assert "Free changes: you pay only any fare difference" in flex
    assert "Fully refundable" in flex
    assert "Earns miles worth 150% of the distance flown" in flex


def test_results_say_how_few_seats_are_left(client, fares):
    # given a flight with only 3 economy seats left
    flight = make_flight(at=departure_in(5), inventory={"economy": 3})
    # when searched
    page = client.get(SEARCH, search_params(flight)).content.decode()
    # then the fares that still sell say so
    assert "3 seats left" in page


def test_the_price_calendar_shows_the_lowest_fare_for_three_days_either_side_with_links(client, fares):
    # given flights on the searched day and two days before, the earlier one nearly full (so dearer)
    day_flight = make_flight(at=departure_in(6, hour=10))
    earlier = make_flight(at=departure_in(4, hour=10))
    FlightCabin.objects.filter(flight=earlier).update(available=1)

    # when searching the later day
    response = client.get(SEARCH, search_params(day_flight))
    page = response.content.decode()

    # then the calendar lists 7 days, a price on the two days with flights, and a link to the other day's search
    calendar = page[page.index('class="price-calendar"') : page.index('class="sort-links"')]
    assert calendar.count("<li") == 7
    prices = re.findall(r'class="price">([^<]+)<', calendar)
    assert len([p for p in prices if "€" in p]) == 2 and prices.count("Not available") == 5
    assert prices[1] != prices[3]
    other_day = earlier.service_date.isoformat()
    assert f"departure_date={other_day}" in calendar
    assert "(chosen day)" in calendar


def test_results_sort_by_departure_or_duration(client, fares):
    # given a long morning flight and a short afternoon one the same day
    slow = make_flight(at=departure_in(5, hour=8), minutes=120)
    fast = make_flight(at=departure_in(5, hour=15), minutes=60)

    def order(sort):
        page = client.get(SEARCH, search_params(slow, sort=sort)).content.decode()
        return [int(m) for m in re.findall(r'name="leg1" value="(\d+):ECO_LIGHT"', page)]

    # then by departure the morning one is first, by duration the short one
    assert order("departure") == [slow.pk, fast.pk]
    assert order("duration") == [fast.pk, slow.pk]


def test_a_return_search_shows_both_directions_each_with_its_calendar(client, fares):
    out = make_flight("LHR", "CDG", at=departure_in(5))
    back = make_flight("CDG", "LHR", at=departure_in(8))
    page = client.get(SEARCH, search_params(out, back)).content.decode()
    assert f'name="leg1" value="{out.pk}:ECO_LIGHT"' in page
    assert f'name="leg2" value="{back.pk}:ECO_LIGHT"' in page
    assert page.count('class="price-calendar"') == 2


def test_a_multi_city_search_has_one_section_per_flight(client, fares):
    first = make_flight("LHR", "CDG", at=departure_in(5))
    second = make_flight("CDG", "AMS", at=departure_in(7))
    params = {
        **search_params(first),
        "trip_type": "multi_city",
        "origin_2": "CDG",
        "destination_2": "AMS",
        "date_2": second.service_date.isoformat(),
    }
    page = client.get(SEARCH, params).content.decode()
    assert f'name="leg2" value="{second.pk}:ECO_LIGHT"' in page
    assert "Flight 2: Paris" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"destination": "LHR"}, "Choose a destination different from the departure airport."),
        ({"adults": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"adults": "1", "infants": "2"}, "no more infants than adults"),
        ({"adults": "6", "children": "4"}, "At most 9 seats per booking"),
        ({"trip_type": "round_trip", "return_date": ""}, "Choose the date of the return flight."),
        ({"departure_date": "not a date"}, "Enter a valid date."),
    ],
)
def test_bad_searches_explain_the_problem_and_show_no_results(client, outbound, change, message):
    response = client.get(SEARCH, {**search_params(outbound), **change})
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert 'name="leg1"' not in page


def test_a_date_in_the_past_is_refused(client, outbound):
    yesterday = (outbound.service_date - timedelta(days=30)).isoformat()
    page = client.get(SEARCH, {**search_params(outbound), "departure_date": yesterday}).content.decode()
    assert "Choose today or a later date." in page and 'name="leg1"' not in page


def test_search_results_take_the_same_number_of_queries_for_more_flights(client, fares, django_assert_max_num_queries):
    # given one return search measured with one flight each way
    out = make_flight("LHR", "CDG", at=departure_in(5, hour=7))
    back = make_flight("CDG", "LHR", at=departure_in(8, hour=7))
    params = search_params(out, back)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(SEARCH, params)

    # when five more flights each way are added
    for hour in (9, 11, 13, 15, 17):
        make_flight("LHR", "CDG", at=departure_in(5, hour=hour))
        make_flight("CDG", "LHR", at=departure_in(8, hour=hour))

    # then the page takes no more queries
    with django_assert_max_num_queries(len(few)):
        page = client.get(SEARCH, params).content.decode()
    assert page.count('name="leg1" value=') == 18
