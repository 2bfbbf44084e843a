"""Flight search: validation, live availability, sorting, local dates, the price calendar,
return and multi-city trips, airports for the forms, and the public flight-status lookup."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.errors import ApplicationError, NotFound
from reservations import selectors, services
from reservations.models import FlightCabin, FlightStatus
from tests.reservations.factories import FlightFactory, RouteFactory, airport

LONDON_TAXES = Decimal("83.50")  # YQ 35 + YR 5 + GB 15 + UB 28.50 per seat from the UK


@pytest.fixture
def fares(db):
    services.fares_ensure()
    airport("LHR")
    airport("CDG")


def soon(days: int = 10) -> date:
    return timezone.localdate() + timedelta(days=days)


def flight_at(day: date, hour: int, minute: int = 0, *, origin="LHR", destination="CDG", minutes=None, **kwargs):
    """A flight leaving ``origin`` at this local time; ``minutes`` overrides the route's block time."""
    route = RouteFactory(origin=airport(origin), destination=airport(destination))
    leaves = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(route.origin.time_zone))
    arrives = leaves + timedelta(minutes=minutes or route.block_minutes)
    return FlightFactory(route=route, scheduled_departure=leaves, scheduled_arrival=arrives, **kwargs)


def load(flight, *, sold: int, capacity: int = 1000, cabin: str = "economy") -> None:
    FlightCabin.objects.filter(flight=flight, cabin=cabin).update(capacity=capacity, available=capacity - sold)


def search(day: date, **kwargs):
    query = {"origin": "LHR", "destination": "CDG", "departure_date": day, "cabin": "economy", "adults": 1, **kwargs}
    return selectors.flight_search(**query)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"origin": "QQQ"}, "origin"),
        ({"destination": "XYZ"}, "destination"),
        ({"destination": "LHR"}, "destination"),
        ({"departure_date": "yesterday"}, "departure_date"),
        ({"adults": 0}, "adults"),
        ({"adults": 8, "children": 2}, "children"),
        ({"children": -1}, "children"),
        ({"adults": 2, "infants": 3}, "infants"),
        ({"cabin": "steerage"}, "cabin"),
        ({"sort": "cheapest"}, "sort"),
    ],
)
def test_search_refuses_bad_input_with_the_field_to_correct(fares, changes, field):
    if changes.get("departure_date") == "yesterday":
        changes["departure_date"] = timezone.now().astimezone(ZoneInfo("Europe/London")).date() - timedelta(days=1)

    with pytest.raises(ApplicationError) as refused:
        search(soon(), **changes)

    assert field in refused.value.fields
    assert refused.value.fields[field][0]


def test_nine_seats_and_as_many_infants_as_adults_are_allowed(fares):
    flight_at(soon(), 9)

    options = search(soon(), adults=5, children=4, infants=5)

    assert len(options) == 1
    assert options[0].lowest is not None
    assert options[0].lowest.counts == {"ADT": 5, "CHD": 4, "INF": 5}


def test_airport_codes_are_read_in_any_case_and_spacing(fares):
    flight = flight_at(soon(), 9)

    options = search(soon(), origin=" lhr", destination="cdg ")

    assert [o.flight for o in options] == [flight]


# --- availability ------------------------------------------------------------------------------


def test_a_sold_out_flight_is_listed_without_offers(fares):
    # given two flights, one with no economy seat left
    full = flight_at(soon(), 8)
    free = flight_at(soon(), 12)
    load(full, sold=1000)

    # when one adult searches
    options = search(soon(), sort="departure")

    # then both are shown; the full one has nothing to sell
    assert [o.flight for o in options] == [full, free]
    assert options[0].offers == [] and options[0].lowest is None and options[0].sold_out
    assert options[0].seats_left == 0
    assert options[1].lowest is not None


def test_infants_hold_no_seat(fares):
    # given a flight with two seats left
    flight = flight_at(soon(), 9)
    load(flight, sold=22, capacity=24)

    # then two adults with two infants on their laps can book it, three adults cannot
    with_infants = search(soon(), adults=2, infants=2)[0]
    three = search(soon(), adults=3)[0]
    assert with_infants.offers and with_infants.seats_left == 2
    assert with_infants.lowest.counts["INF"] == 2
    assert three.offers == []


def test_a_child_holds_a_seat(fares):
    flight = flight_at(soon(), 9)
    load(flight, sold=22, capacity=24)

    assert search(soon(), adults=2, children=1)[0].offers == []


def test_availability_is_live(fares):
    flight = flight_at(soon(), 9)
    assert search(soon())[0].seats_left == 24

    FlightCabin.objects.filter(flight=flight, cabin="economy").update(available=5)

    assert search(soon())[0].seats_left == 5


def test_a_flight_without_the_cabin_is_not_listed(fares):
    flight_at(soon(), 9)  # the test aircraft has business and economy only

    assert search(soon(), cabin="premium_economy") == []
    assert len(search(soon(), cabin="business")) == 1
    assert {o.cabin for o in search(soon(), cabin="business")[0].offers} == {"business"}


def test_cancelled_and_about_to_leave_flights_are_not_sold(fares):
    # given a cancelled flight, one leaving in 30 minutes and one in three hours
    day = soon()
    cancelled = flight_at(day, 9, status=FlightStatus.CANCELLED)
    now = timezone.now().replace(second=0, microsecond=0)
    leaving = FlightFactory(route=cancelled.route, scheduled_departure=now + timedelta(minutes=30))
    later = FlightFactory(route=cancelled.route, scheduled_departure=now + timedelta(hours=3))

    found = {o.flight for d in {day, leaving.service_date, later.service_date} for o in search(d)}

    assert later in found
    assert cancelled not in found
    assert leaving not in found


# --- local dates -------------------------------------------------------------------------------


def test_the_departure_date_is_the_local_date_at_the_origin(fares):
    # given flights from Tokyo at 00:30 and 23:50 local time, which are the previous day in UTC
    day = soon()
    early = flight_at(day, 0, 30, origin="NRT", destination="LHR")
    late = flight_at(day - timedelta(days=1), 23, 50, origin="NRT", destination="LHR")
    assert early.scheduled_departure.astimezone(ZoneInfo("UTC")).date() == day - timedelta(days=1)

    # when the day is searched
    options = search(day, origin="NRT", destination="LHR")

    # then only the flight leaving on that Tokyo date is found, and the day before has the other
    assert [o.flight for o in options] == [early]
    assert [o.flight for o in search(day - timedelta(days=1), origin="NRT", destination="LHR")] == [late]


def test_a_flight_leaving_just_before_midnight_in_new_york_is_on_that_date(fares):
    day = soon()
    flight = flight_at(day, 23, 55, origin="JFK", destination="LHR")  # 04:55 UTC the next day

    assert [o.flight for o in search(day, origin="JFK", destination="LHR")] == [flight]
    assert search(day + timedelta(days=1), origin="JFK", destination="LHR") == []


# --- sorting -----------------------------------------------------------------------------------


@pytest.fixture
def three_flights(fares):
    """cheap: latest and slowest; middle: earliest; dear: quickest."""
    day = soon()
    cheap = flight_at(day, 18, minutes=120)
    middle = flight_at(day, 7, minutes=90)
    dear = flight_at(day, 12, minutes=60)
    load(middle, sold=600)  # O closed: Light in Q
    load(dear, sold=750)  # Q closed: Light in K
    return cheap, middle, dear


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["cheap", "middle", "dear"]),
        ("departure", ["middle", "dear", "cheap"]),
        ("duration", ["dear", "middle", "cheap"]),
    ],
)
def test_results_are_sorted_by_each_key(three_flights, sort, expected):
    names = dict(zip(three_flights, ["cheap", "middle", "dear"], strict=True))

    options = search(soon(), sort=sort)

    assert [names[o.flight] for o in options] == expected
    if sort == "price":
        totals = [o.lowest.total for o in options]
        assert totals == sorted(totals) and len(set(totals)) == 3


def test_sold_out_flights_come_last_by_price(three_flights):
    cheap, _middle, _dear = three_flights
    load(cheap, sold=1000)

    options = search(soon(), sort="price")

    assert options[-1].flight == cheap


def test_search_query_count_does_not_grow_with_flights(fares):
    flight_at(soon(), 6)
    with CaptureQueriesContext(connection) as one:
        assert len(search(soon())) == 1
    for hour in range(7, 19):
        flight_at(soon(), hour)
    with CaptureQueriesContext(connection) as many:
        assert len(search(soon(), adults=2, children=1, infants=1)) == 13

    assert len(many) == len(one) <= 6


# --- price calendar ----------------------------------------------------------------------------


def test_price_calendar_shows_the_lowest_total_per_day(fares):
    # given flights around day D: D-1 empty, D two part-full, D+2 sold out, D+3 late evening, D+4 outside
    day = soon(10)
    flight_at(day - timedelta(days=1), 9)
    load(flight_at(day, 8), sold=600)  # Light Q: 49.00
    load(flight_at(day, 15), sold=750)  # Light K: 59.00
    load(flight_at(day + timedelta(days=2), 9), sold=1000)
    flight_at(day + timedelta(days=3), 23, 30)
    flight_at(day + timedelta(days=4), 9)

    calendar = selectors.price_calendar(origin="LHR", destination="CDG", around=day, cabin="economy", adults=1)

    assert [d.date for d in calendar] == [day + timedelta(days=n) for n in range(-3, 4)]
    assert [d.lowest for d in calendar] == [
        None,
        None,
        Decimal("39.00") + LONDON_TAXES,
        Decimal("49.00") + LONDON_TAXES,
        None,
        None,
        Decimal("39.00") + LONDON_TAXES,
    ]
    assert {d.currency for d in calendar} == {"EUR"}


def test_price_calendar_totals_are_for_the_whole_party(fares):
    day = soon(10)
    flight_at(day, 9)

    (calendar_day,) = selectors.price_calendar(
        origin="LHR", destination="CDG", around=day, cabin="economy", adults=2, children=1, infants=1, days=0
    )

    assert calendar_day.lowest == search(day, adults=2, children=1, infants=1)[0].lowest.total


def test_price_calendar_days_already_past_have_no_price(fares):
    today = timezone.now().astimezone(ZoneInfo("Europe/London")).date()
    flight_at(today - timedelta(days=1), 9)

    calendar = selectors.price_calendar(origin="LHR", destination="CDG", around=today, cabin="economy", adults=1, days=1)

    assert calendar[0].date == today - timedelta(days=1)
    assert calendar[0].lowest is None


def test_price_calendar_query_count_does_not_grow_with_flights_or_days(fares):
    day = soon(10)
    flight_at(day, 9)
    with CaptureQueriesContext(connection) as few:
        selectors.price_calendar(origin="LHR", destination="CDG", around=day, cabin="economy", adults=1)
    for offset in range(-3, 4):
        for hour in (7, 11, 15, 19):
            flight_at(day + timedelta(days=offset), hour)
    with CaptureQueriesContext(connection) as many:
        calendar = selectors.price_calendar(origin="LHR", destination="CDG", around=day, cabin="economy", adults=1, days=3)

    assert all(d.lowest is not None for d in calendar)
    assert len(many) == len(few) <= 6


def test_price_calendar_refuses_too_wide_a_window(fares):
    with pytest.raises(ApplicationError) as refused:
        selectors.price_calendar(origin="LHR", destination="CDG", around=soon(), cabin="economy", adults=1, days=30)

    assert "days" in refused.value.fields


# --- return and multi-city ---------------------------------------------------------------------


def test_return_search_gives_options_for_each_way(fares):
    out_day, back_day = soon(10), soon(14)
    outbound = flight_at(out_day, 9)
    inbound = flight_at(back_day, 17, origin="CDG", destination="LHR")
    flight_at(back_day, 9)  # London-Paris on the return day is not a return flight

    legs = selectors.itinerary_search(
        legs=[("LHR", "CDG", out_day), ("CDG", "LHR", back_day)], cabin="economy", adults=2, infants=1
    )

    assert [[o.flight for o in leg] for leg in legs] == [[outbound], [inbound]]
    # taxes differ by the country each flight leaves from
    assert {t.code for t in legs[1][0].lowest.prices["ADT"].taxes} == {"YQ", "YR", "FR", "IZ"}


def test_multi_city_search_gives_options_per_leg_in_constant_queries(fares):
    day = soon(10)
    flight_at(day, 9)
    flight_at(day + timedelta(days=2), 10, origin="CDG", destination="FRA")
    flight_at(day + timedelta(days=4), 11, origin="FRA", destination="LHR")
    legs = [("LHR", "CDG", day), ("CDG", "FRA", day + timedelta(days=2)), ("FRA", "LHR", day + timedelta(days=4))]

    with CaptureQueriesContext(connection) as queries:
        found = selectors.itinerary_search(legs=legs, cabin="economy", adults=1)

    assert [len(leg) for leg in found] == [1, 1, 1]
    assert [leg[0].flight.origin.iata_code for leg in found] == ["LHR", "CDG", "FRA"]
    assert len(queries) <= 6


@pytest.mark.parametrize(
    ("legs", "field"),
    [
        ([], "legs"),
        ([("LHR", "CDG", 10 + n) for n in range(7)], "legs"),
        ([("LHR", "CDG", 12), ("CDG", "LHR", 11)], "legs.2.departure_date"),
        ([("LHR", "CDG", 12), ("CDG", "QQQ", 13)], "legs.2.destination"),
    ],
)
def test_itinerary_search_refuses_bad_legs(fares, legs, field):
    dated = [(o, d, soon(n)) for o, d, n in legs]

    with pytest.raises(ApplicationError) as refused:
        selectors.itinerary_search(legs=dated, cabin="economy", adults=1)

    assert field in refused.value.fields


# --- forms and flight status -------------------------------------------------------------------


def test_airport_choices_are_the_airports_the_network_serves(fares):
    services.airports_load(codes=["JFK", "NRT", "BRS"])
    RouteFactory(origin=airport("LHR"), destination=airport("JFK"))
    RouteFactory(origin=airport("NRT"), destination=airport("LHR"))

    choices = selectors.airport_choices()

    assert [code for code, _label in choices] == ["LHR", "JFK", "NRT"]  # London, New York, Tokyo
    assert choices[0][1] == "London (LHR)"


@pytest.mark.parametrize("code", ["AU111", "au 111", "111", " AU111 "])
def test_flight_status_lookup_finds_a_flight_by_its_code_and_date(fares, code):
    flight = flight_at(soon(), 9, flight_number=111)

    found = selectors.flight_status_lookup(flight_code=code, service_date=flight.service_date)

    assert found == flight
    assert found.origin.iata_code == "LHR"


@pytest.mark.parametrize("code", ["AU112", "BA111", "AU", "1234567", ""])
def test_flight_status_lookup_of_an_unknown_flight_is_not_found(fares, code):
    flight = flight_at(soon(), 9, flight_number=111)

    with pytest.raises(NotFound):
        selectors.flight_status_lookup(flight_code=code, service_date=flight.service_date)
    with pytest.raises(NotFound):
        selectors.flight_status_lookup(flight_code="AU111", service_date=flight.service_date + timedelta(days=1))


def test_search_finds_the_generated_schedule(fares):
    # given the real network for one day
    day = soon(5)
    services.schedule_generate(days=1, start=day)

    # when London-New York is searched in business
    options = selectors.flight_search(
        origin="LHR", destination="JFK", departure_date=day, cabin="business", adults=1, sort="departure"
    )

    # then the daily flight is offered in both business fares, cheaper Standard first
    assert len(options) == 1
    assert [o.fare_family.code for o in options[0].offers] == ["BUS_STANDARD", "BUS_FLEX"]
    assert options[0].flight.aircraft_type.code == "789"
