"""Journeys with one change of plane through the hub: built by search within each airport's minimum
connecting time and the longest layover, priced as one journey with each flight's taxes, booked as one
booking and one ticket, checked in flight by flight, offered in the portal, the office and the API."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.errors import ApplicationError
from reservations import selectors, services
from reservations.models import Airport, Booking, BookingCharge, Channel, ChargeKind, CheckIn, FlightCabin, TripType
from reservations.services.reference import NETWORK, PLACE_NAMES
from tests.reservations.factories import FlightFactory, RouteFactory, airport

AMS_TAXES = Decimal("40.00")  # YQ 35 + YR 5: no Dutch departure tax in the airline's rules
LONDON_TAXES = Decimal("83.50")  # YQ 35 + YR 5 + GB 15 + UB 28.50 per seat from the UK
DISTANCES = {("AMS", "LHR"): 371, ("LHR", "JFK"): 5540, ("AMS", "JFK"): 5860}


@pytest.fixture
def fares(db):
    services.fares_ensure()


def soon(days: int = 10) -> date:
    return timezone.localdate() + timedelta(days=days)


def leaving(origin: str, destination: str, day: date, clock: time, *, minutes: int = 75, **kwargs):
    """A flight leaving ``origin`` at this local time, on a route with its real distance."""
    route = RouteFactory(
        origin=airport(origin),
        destination=airport(destination),
        distance_km=DISTANCES.get((origin, destination), 500),
        block_minutes=minutes,
    )
    leaves = datetime.combine(day, clock, tzinfo=ZoneInfo(route.origin.time_zone))
    return FlightFactory(route=route, scheduled_departure=leaves, scheduled_arrival=leaves + timedelta(minutes=minutes), **kwargs)


def to_london(day: date, clock: time = time(7, 0)):
    """Amsterdam 07:00 (06:00 in London), 75 minutes: lands at Heathrow at 07:15 London time."""
    return leaving("AMS", "LHR", day, clock)


def to_new_york(day: date, clock: time = time(11, 0)):
    return leaving("LHR", "JFK", day, clock, minutes=480)


def search(day: date, **kwargs):
    query = {"origin": "AMS", "destination": "JFK", "departure_date": day, "cabin": "economy", "adults": 1, **kwargs}
    return selectors.itinerary_search(
        legs=[(query.pop("origin"), query.pop("destination"), query.pop("departure_date"))], **query
    )[0]


# --- building connections ---------------------------------------------------------------------


def test_a_spoke_to_spoke_search_offers_the_journey_through_the_hub(fares):
    # given Amsterdam-London in the morning and London-New York before noon, and no direct flight
    day = soon()
    first, second = to_london(day), to_new_york(day)

    # when a passenger searches Amsterdam to New York
    options = search(day)

    # then one journey with a change in London is offered: both flights, one stop, the wait at Heathrow
    assert len(options) == 1
    journey = options[0]
    assert [f.pk for f in journey.flights] == [first.pk, second.pk]
    assert journey.stops == 1 and journey.key == f"{first.pk}-{second.pk}"
    assert [(stop.airport.iata_code, stop.minutes) for stop in journey.layovers] == [("LHR", 225)]
    assert journey.duration_minutes == 75 + 225 + 480
    assert {o.fare_family.code for o in journey.offers} == {"ECO_LIGHT", "ECO_STANDARD", "ECO_FLEX"}


@pytest.mark.parametrize(("leaves", "offered"), [(time(8, 10), False), (time(8, 15), True)])
def test_a_connection_shorter_than_the_hubs_minimum_connecting_time_is_not_offered(fares, leaves, offered):
    # given Heathrow's minimum connecting time of 60 minutes and a flight landing there at 07:15
    day = soon()
    to_london(day)
    assert Airport.objects.get(iata_code="LHR").minimum_connection_minutes == 60
    # and the onward flight leaving 55 or 60 minutes later
    to_new_york(day, leaves)

    # when Amsterdam to New York is searched
    options = search(day)

    # then only the change of at least 60 minutes is offered
    assert bool(options) is offered


def test_the_minimum_connecting_time_is_the_airports_own(fares):
    # given a 55-minute change at Heathrow, too short for its 60 minutes
    day = soon()
    to_london(day)
    to_new_york(day, time(8, 10))
    assert search(day) == []

    # when the airport's minimum connecting time is set to 50 minutes
    Airport.objects.filter(iata_code="LHR").update(minimum_connection_minutes=50)

    # then the same change is offered
    assert len(search(day)) == 1


@pytest.mark.parametrize(("leaves", "offered"), [(time(10, 15), True), (time(10, 16), False)])
def test_a_layover_longer_than_the_longest_allowed_is_not_offered(fares, settings, leaves, offered):
    # given a longest layover of 3 hours and a flight landing at Heathrow at 07:15
    settings.CONNECTION_MAX_LAYOVER_MINUTES = 180
    day = soon()
    to_london(day)
    # and the onward flight leaving exactly 3 hours, or 3 hours and a minute, later
    to_new_york(day, leaves)

    # when Amsterdam to New York is searched
    options = search(day)

    # then only the wait within the limit is offered
    assert bool(options) is offered


def test_the_onward_flight_may_leave_the_next_day_within_the_longest_layover(fares):
    # given an evening flight to London and the only flight to New York the next morning, 11 hours later
    day = soon()
    first = to_london(day, time(20, 0))  # lands 20:15 London time
    second = to_new_york(day + timedelta(days=1), time(7, 15))

    # when Amsterdam to New York is searched for the evening's date
    options = search(day)

    # then the overnight journey is offered under the day it leaves Amsterdam
    assert [o.key for o in options] == [f"{first.pk}-{second.pk}"]
    assert search(day + timedelta(days=1)) == []


def test_a_direct_flight_and_journeys_are_offered_together_and_sorted(fares):
    # given a direct Amsterdam-New York flight and a journey through London the same day
    day = soon()
    direct = leaving("AMS", "JFK", day, time(13, 0), minutes=500)
    to_london(day)
    to_new_york(day)

    # when searched by departure time
    options = search(day, sort="departure")

    # then both are there, the journey (leaving at 07:00) first, the direct flight with no stop
    assert [o.stops for o in options] == [1, 0]
    assert options[1].flight.pk == direct.pk and options[1].flights == (direct,)


def test_a_return_search_offers_journeys_with_a_change_both_ways(fares):
    # given Amsterdam-London-New York, and a week later New York-London overnight and London-Amsterdam next day
    day, back_day = soon(), soon(17)
    out = [to_london(day), to_new_york(day)]
    back = [
        leaving("JFK", "LHR", back_day, time(18, 0), minutes=420),
        leaving("LHR", "AMS", back_day + timedelta(days=1), time(12, 0)),
    ]

    # when the return trip is searched
    outbound, inbound = selectors.itinerary_search(
        legs=[("AMS", "JFK", day), ("JFK", "AMS", back_day)], cabin="economy", adults=1
    )

    # then each way offers its journey through London
    assert [o.key for o in outbound] == ["-".join(str(f.pk) for f in out)]
    assert [o.key for o in inbound] == ["-".join(str(f.pk) for f in back)]


def test_a_fare_family_closed_on_either_flight_is_not_offered_for_the_journey(fares):
    # given the Light classes closed on the London-New York flight (95 % of economy sold)
    day = soon()
    first = to_london(day)
    second = to_new_york(day)
    FlightCabin.objects.filter(flight=second, cabin="economy").update(capacity=1000, available=50)
    # and 200 seats left of 300 on the Amsterdam flight, where every class is still open
    FlightCabin.objects.filter(flight=first, cabin="economy").update(capacity=300, available=200)

    # when Amsterdam to New York is searched
    (journey,) = search(day)

    # then the journey is sold in Standard and Flex only: one fare family for the whole journey
    assert {o.fare_family.code for o in journey.offers} == {"ECO_STANDARD", "ECO_FLEX"}
    # and the seats left are those of the fuller flight
    assert journey.seats_left == 50


def test_a_journey_sold_out_on_one_flight_is_shown_sold_out(fares):
    # given no economy seat left on the London-New York flight
    day = soon()
    to_london(day)
    second = to_new_york(day)
    FlightCabin.objects.filter(flight=second, cabin="economy").update(available=0)

    # when searched
    (journey,) = search(day)

    # then the journey has no fare to choose
    assert journey.sold_out and journey.lowest is None


def test_search_loads_the_days_flights_in_a_fixed_number_of_queries(fares):
    # given one possible journey
    day = soon()
    to_london(day)
    to_new_york(day)
    with CaptureQueriesContext(connection) as few:
        assert len(search(day)) == 1

    # when there are three flights to London and two onward flights that day
    to_london(day, time(9, 0))
    to_london(day, time(12, 0))
    to_new_york(day, time(16, 0))
    with CaptureQueriesContext(connection) as many:
        options = search(day)

    # then there are more journeys but not more queries
    assert len(options) == 5
    assert len(many.captured_queries) == len(few.captured_queries)


# --- one price for the journey ------------------------------------------------------------------


def test_a_journey_has_one_price_made_of_each_flights_fare_and_its_own_departure_taxes(fares):
    # given the journey Amsterdam-London-New York for two adults
    day = soon()
    first, second = to_london(day), to_new_york(day)

    # when it is searched, and each flight on its own
    (journey,) = search(day, adults=2)
    (alone_first,) = selectors.flight_search(origin="AMS", destination="LHR", departure_date=day, cabin="economy", adults=2)
    (alone_second,) = selectors.flight_search(origin="LHR", destination="JFK", departure_date=day, cabin="economy", adults=2)

    # then each fare family has one total for the journey: the two flights' fares and taxes together
    standard = next(o for o in journey.offers if o.fare_family.code == "ECO_STANDARD")
    first_standard = next(o for o in alone_first.offers if o.fare_family.code == "ECO_STANDARD")
    second_standard = next(o for o in alone_second.offers if o.fare_family.code == "ECO_STANDARD")
    assert standard.total == first_standard.total + second_standard.total
    # and each flight carries the taxes of its own departure: none British on the Amsterdam flight
    assert [o.flight_id for o in standard.segments] == [first.pk, second.pk]
    assert {t.code for t in standard.segments[0].prices["ADT"].taxes} == {"YQ", "YR"}
    assert {t.code for t in standard.segments[1].prices["ADT"].taxes} == {"GB", "UB", "YQ", "YR"}
    assert standard.taxes_total == 2 * (AMS_TAXES + LONDON_TAXES)
    assert standard.prices["ADT"].fare == first_standard.prices["ADT"].fare + second_standard.prices["ADT"].fare
    assert standard.total == standard.fare_total + standard.taxes_total
    # and the cheapest journey is the option's lowest
    assert journey.lowest.total == min(o.total for o in journey.offers)


def test_the_miles_of_a_journey_are_every_flights_distance_at_the_fare_familys_rate(fares):
    # given the journey through London (371 km and 5,540 km: 231 and 3,442 miles)
    day = soon()
    to_london(day)
    to_new_york(day)
    (journey,) = search(day)
    flex = next(o for o in journey.offers if o.fare_family.code == "ECO_FLEX")

    # when its base miles are counted for Flex (150 %)
    miles = selectors.base_miles(flights=journey.flights, fare_family=flex.fare_family)

    # then each flight earns on its own distance, rounded down per flight
    assert miles == 231 * 150 // 100 + 3442 * 150 // 100


def test_the_price_calendar_shows_the_cheapest_journey_of_each_day(fares):
    # given journeys through London on the day and two days later, and nothing on the other days
    day = soon()
    to_london(day)
    to_new_york(day)
    later = day + timedelta(days=2)
    to_london(later)
    expensive = to_new_york(later)
    FlightCabin.objects.filter(flight=expensive, cabin="economy").update(capacity=1000, available=200)

    # when the calendar around the day is asked for
    calendar = selectors.price_calendar(origin="AMS", destination="JFK", around=day, cabin="economy", adults=1)

    # then the days with a journey show its lowest total, the others nothing
    by_day = {d.date: d.lowest for d in calendar}
    assert by_day[day] == search(day)[0].lowest.total
    assert by_day[later] == search(later)[0].lowest.total
    assert by_day[later] > by_day[day]  # the cheap classes have closed on the fuller flight
    assert [d for d, lowest in by_day.items() if lowest is None] == [day + timedelta(days=n) for n in (-3, -2, -1, 1, 3)]


def test_a_pair_with_no_journey_has_no_options_and_no_calendar_price(fares):
    # given the only flight to New York leaving Heathrow before the Amsterdam flight lands
    day = soon()
    to_london(day, time(9, 0))
    to_new_york(day, time(8, 0))

    # when Amsterdam to New York is searched
    options = search(day)
    calendar = selectors.price_calendar(origin="AMS", destination="JFK", around=day, cabin="economy", adults=1)

    # then nothing is offered, and no day of the calendar has a price
    assert options == []
    assert all(d.lowest is None for d in calendar)


# --- one booking, one ticket, check-in on both flights --------------------------------------------


def _book(journey, offer, **kwargs) -> Booking:
    return services.booking_create(
        segments=[
            services.SegmentRequest(flight_id=flight.pk, cabin=part.cabin, fare_family=part.fare_family.code)
            for flight, part in zip(journey.flights, selectors.offer_segments(offer), strict=True)
        ],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Anna", family_name="de Vries")],
        contact_email="anna@example.com",
        channel=Channel.API,
        **kwargs,
    )


def test_a_journey_is_one_booking_at_the_searched_price_with_taxes_per_segment(fares):
    # given the journey through London, searched
    day = soon()
    to_london(day)
    to_new_york(day)
    (journey,) = search(day)
    standard = next(o for o in journey.offers if o.fare_family.code == "ECO_STANDARD")

    # when it is booked
    booking = _book(journey, standard)

    # then it is one one-way booking of two segments at the price the search showed
    assert booking.trip_type == TripType.ONE_WAY
    assert [s.flight_id for s in booking.segments.order_by("sequence")] == [f.pk for f in journey.flights]
    assert booking.total_amount == standard.total
    # and each segment carries its own departure's taxes
    taxes = {
        s.sequence: sum(c.amount for c in BookingCharge.objects.filter(segment=s, kind=ChargeKind.TAX))
        for s in booking.segments.all()
    }
    assert taxes == {1: AMS_TAXES, 2: LONDON_TAXES}


def test_booking_refuses_a_change_shorter_than_the_airports_minimum_connecting_time(fares):
    # given a 55-minute change at Heathrow (60 minutes needed), put together by hand
    day = soon()
    first = to_london(day)
    second = to_new_york(day, time(8, 10))
    before = Booking.objects.count()

    # when it is booked
    with pytest.raises(ApplicationError) as refused:
        services.booking_create(
            segments=[
                services.SegmentRequest(flight_id=first.pk, cabin="economy", fare_family="ECO_STANDARD"),
                services.SegmentRequest(flight_id=second.pk, cabin="economy", fare_family="ECO_STANDARD"),
            ],
            passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Anna", family_name="de Vries")],
            contact_email="anna@example.com",
            channel=Channel.API,
        )

    # then it is refused on the second flight, naming the 60 minutes, and nothing is booked
    assert "60 minutes" in refused.value.fields["segments.2"][0]
    assert Booking.objects.count() == before


def test_a_return_journey_with_changes_both_ways_is_a_return_trip(fares):
    # given journeys Amsterdam-London-New York and, a week later, New York-London-Amsterdam
    day = soon()
    out = [to_london(day), to_new_york(day)]
    back_day = day + timedelta(days=7)
    back = [
        leaving("JFK", "LHR", back_day, time(18, 0), minutes=420),
        leaving("LHR", "AMS", back_day + timedelta(days=1), time(12, 0)),
    ]

    # when the four flights are booked together
    booking = services.booking_create(
        segments=[services.SegmentRequest(flight_id=f.pk, cabin="economy", fare_family="ECO_STANDARD") for f in [*out, *back]],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Anna", family_name="de Vries")],
        contact_email="anna@example.com",
        channel=Channel.API,
    )

    # then the booking is a return trip, not a multi-city one
    assert booking.trip_type == TripType.ROUND_TRIP


def test_a_paid_journey_has_one_ticket_with_a_coupon_per_flight_and_a_boarding_pass_for_each(fares):
    # given a journey through London leaving in four hours (check-in is open), booked and paid
    from tests.reservations.test_api_check_in import _counter_agent

    start = (timezone.now() + timedelta(hours=4)).replace(second=0, microsecond=0)
    first = FlightFactory(
        route=RouteFactory(origin=airport("AMS"), destination=airport("LHR"), distance_km=371, block_minutes=75),
        scheduled_departure=start,
        scheduled_arrival=start + timedelta(minutes=75),
    )
    onward = start + timedelta(minutes=75 + 90)
    FlightFactory(
        route=RouteFactory(origin=airport("LHR"), destination=airport("JFK"), distance_km=5540, block_minutes=480),
        scheduled_departure=onward,
        scheduled_arrival=onward + timedelta(minutes=480),
    )
    (journey,) = search(first.service_date)
    booking = _book(journey, journey.lowest)
    services.payment_take(booking=booking, method="counter", idempotency_key=f"t-{booking.pk}", by=_counter_agent())
    booking.refresh_from_db()

    # then there is one e-ticket, with a coupon for each flight
    (ticket,) = booking.tickets.all()
    assert [c.segment.flight_id for c in ticket.coupons.order_by("number")] == [f.pk for f in journey.flights]

    # when the traveller checks in on both flights
    anna = booking.passengers.get()
    for segment in booking.segments.order_by("sequence"):
        services.check_in(booking=booking, segment=segment, passengers=[anna], channel=Channel.PORTAL)

    # then there are two boarding passes, one per flight
    passes = selectors.boarding_passes(booking=booking)
    assert CheckIn.objects.filter(passenger=anna).count() == 2
    assert sorted(p.check_in.flight_id for p in passes) == sorted(f.pk for f in journey.flights)


# --- the portal, the office and the API ----------------------------------------------------------


def _portal_params(day: date) -> dict[str, str]:
    return {
        "trip_type": "one_way", "origin": "AMS", "destination": "JFK", "departure_date": day.isoformat(),
        "adults": "1", "children": "0", "infants": "0", "cabin": "economy", "sort": "price",
    }  # fmt: skip


def test_the_portal_offers_the_journey_with_its_change_and_continues_to_booking(fares, passenger_client):
    # given the journey through London
    day = soon()
    first, second = to_london(day), to_new_york(day)

    # when the passenger searches Amsterdam to New York
    page = passenger_client.get("/flights/", _portal_params(day)).content.decode()

    # then the journey is offered with its change in London, a price on the day, and Continue
    assert f'value="{first.pk}-{second.pk}:ECO_STANDARD"' in page
    assert "Change in London (LHR), 3 h 45 min" in page
    assert "Continue to traveller details" in page

    # and choosing it leads to a booking of both flights
    url = "/book/?" + urlencode({**_portal_params(day), "leg1": f"{first.pk}-{second.pk}:ECO_STANDARD"})
    response = passenger_client.post(
        url, {"p1-given_name": "Anna", "p1-family_name": "de Vries", "contact_email": "anna@example.com"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # (the booking flow goes on to the first flight's seat map, before payment)
    locator = re.search(r"/trips/([A-Z0-9]{6})/flights/1/seats/", response["Location"]).group(1)
    booking = Booking.objects.get(record_locator=locator)
    assert [s.flight_id for s in booking.segments.order_by("sequence")] == [first.pk, second.pk]


def test_the_portal_says_why_nothing_is_offered_and_offers_no_continue(fares, passenger_client):
    # given Amsterdam and New York served, but no change at London that works in the week
    day = soon()
    to_london(day, time(9, 0))
    to_new_york(day, time(8, 0))

    # when the passenger searches Amsterdam to New York
    page = passenger_client.get("/flights/", _portal_params(day)).content.decode()

    # then the page says there is no journey, and offers no Continue
    assert "We have no flight from Amsterdam (AMS) to New York (JFK) on these days" in page
    assert "Continue to traveller details" not in page
    assert 'name="leg1"' not in page


def test_the_portal_offers_no_continue_on_a_day_without_a_journey(fares, passenger_client):
    # given a journey the day after the one searched
    day = soon()
    to_london(day + timedelta(days=1))
    to_new_york(day + timedelta(days=1))

    # when the day before is searched
    page = passenger_client.get("/flights/", _portal_params(day)).content.decode()

    # then the calendar links the next day, and the day itself offers nothing to continue with
    assert "No flights with seats on this day. Try a nearby day above." in page
    assert "Continue to traveller details" not in page
    assert (day + timedelta(days=1)).isoformat() in page


def test_the_office_books_a_journey_for_a_customer(fares, agent_client):
    # given a customer and the journey through London
    from tests.crm.factories import CustomerFactory

    customer = CustomerFactory()
    day = soon()
    first, second = to_london(day), to_new_york(day)
    search_url = f"/office/reservations/customers/{customer.customer_number}/book/"

    # when the agent searches Amsterdam to New York
    page = agent_client.get(search_url, _portal_params(day))

    # then the journey is offered with its change
    assert page.status_code == 200, page.content.decode()[:1000]
    text = page.content.decode()
    assert f'value="{first.pk}-{second.pk}:ECO_STANDARD"' in text
    assert "Change in London (LHR)" in text

    # and the passengers step shows both flights of the chosen journey
    chosen = {"cabin": "economy", "adults": 1, "children": 0, "infants": 0, "leg_1": f"{first.pk}-{second.pk}:ECO_STANDARD"}
    step = agent_client.get(f"/office/reservations/customers/{customer.customer_number}/book/passengers/", chosen)
    assert step.status_code == 200
    assert first.flight_code in step.content.decode() and second.flight_code in step.content.decode()


def test_the_api_search_returns_journeys_with_their_flights_segments_and_miles(fares, api_client):
    # given the journey through London
    day = soon()
    first, second = to_london(day), to_new_york(day)

    # when the API searches Amsterdam to New York
    response = api_client.get("/api/v1/flights/search/", {"origin": "AMS", "destination": "JFK", "date": day.isoformat()})

    # then one result with both flights, the change, and offers priced for the journey per segment
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    assert result["key"] == f"{first.pk}-{second.pk}" and result["stops"] == 1
    assert [f["id"] for f in result["flights"]] == [first.pk, second.pk]
    assert result["layovers"] == [{"airport": result["layovers"][0]["airport"], "minutes": 225}]
    assert result["layovers"][0]["airport"]["iata_code"] == "LHR"
    standard = next(o for o in result["offers"] if o["fare_family"]["code"] == "ECO_STANDARD")
    assert [s["flight_id"] for s in standard["segments"]] == [first.pk, second.pk]
    assert Decimal(standard["total"]) == sum(Decimal(s["total"]) for s in standard["segments"])
    assert Decimal(standard["segments"][1]["taxes_total"]) == LONDON_TAXES
    assert standard["base_miles"] == 231 + 3442
    assert standard["booking_class"] == "/".join(s["booking_class"] for s in standard["segments"])

    # and direct flights only when asked
    direct = api_client.get(
        "/api/v1/flights/search/", {"origin": "AMS", "destination": "JFK", "date": day.isoformat(), "connections": "false"}
    )
    assert direct.json()["results"] == []


def test_the_api_books_a_searched_journey_as_one_booking_at_its_price(fares, passenger, api_as):
    # given the journey through London, found by the API search
    day = soon()
    to_london(day)
    to_new_york(day)
    found = api_as(passenger[0]).get("/api/v1/flights/search/", {"origin": "AMS", "destination": "JFK", "date": day.isoformat()})
    (result,) = found.json()["results"]
    standard = next(o for o in result["offers"] if o["fare_family"]["code"] == "ECO_STANDARD")

    # when the passenger books one segment per flight of the journey
    body = {
        "segments": [
            {"flight_id": flight["id"], "cabin": "economy", "fare_family": "ECO_STANDARD"} for flight in result["flights"]
        ],
        "passengers": [{"passenger_type": "ADT", "given_name": "Anna", "family_name": "de Vries"}],
        "contact_email": "anna@example.com",
    }
    response = api_as(passenger[0]).post("/api/v1/bookings/", body, format="json")

    # then it is one one-way booking of both flights, at the journey's price
    assert response.status_code == 201, response.content
    booking = Booking.objects.get(record_locator=response.json()["record_locator"])
    assert booking.trip_type == TripType.ONE_WAY
    assert [s["flight"]["id"] for s in response.json()["segments"]] == [f["id"] for f in result["flights"]]
    assert booking.total_amount == Decimal(standard["total"])


# --- the names people use -----------------------------------------------------------------------


def test_every_served_airport_is_loaded_with_the_city_people_use(db):
    # given the network's airports (the package calls Toronto Pearson's city Mississauga)
    codes = ["LHR", *NETWORK]
    assert set(codes) <= set(PLACE_NAMES)

    # when they are loaded from the package
    services.airports_load(codes=codes)

    # then the cities are those on the tickets, and the hub's minimum connecting time is an hour
    cities = dict(Airport.objects.filter(iata_code__in=codes).values_list("iata_code", "city"))
    assert cities["YYZ"] == "Toronto" and cities["IST"] == "Istanbul" and cities["FRA"] == "Frankfurt"
    assert not {code for code, city in cities.items() if "," in city or city != PLACE_NAMES[code][0]}
    assert Airport.objects.get(iata_code="LHR").minimum_connection_minutes == 60
    assert Airport.objects.get(iata_code="AMS").minimum_connection_minutes == 45
    # and, once served, the search forms name them so
    RouteFactory(origin=airport("LHR"), destination=Airport.objects.get(iata_code="YYZ"))
    assert dict(selectors.airport_choices())["YYZ"] == "Toronto (YYZ)"


# --- changing one flight of a journey keeps the connection booking would accept ---------------------


def _journey_booked(day: date) -> Booking:
    """Amsterdam 07:00, Heathrow 07:15 (60 minutes needed to change there), New York at 11:00."""
    return services.booking_create(
        segments=[
            services.SegmentRequest(flight_id=f.pk, cabin="economy", fare_family="ECO_STANDARD")
            for f in [to_london(day), to_new_york(day)]
        ],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Anna", family_name="de Vries")],
        contact_email="anna@example.com",
        channel=Channel.API,
    )


def test_a_change_to_a_connection_shorter_than_the_airports_minimum_is_refused(fares):
    # given a journey through Heathrow, whose minimum connecting time is 60 minutes
    day = soon()
    booking = _journey_booked(day)
    onward = booking.segments.get(sequence=2)
    # when the onward flight is changed to one 50 minutes after landing (more than the general 45, less than 60)
    too_soon = to_new_york(day, time(8, 5))
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_quote(booking=booking, segment=onward, new_flight=too_soon)
    # then it is refused naming Heathrow's 60 minutes, and the flight is unchanged
    assert refused.value.code == "invalid_flight"
    assert "60 minutes" in refused.value.fields["new_flight_id"][0]
    # and changing the first flight to land 55 minutes before the onward one leaves is refused the same way
    late_arrival = to_london(day, time(10, 50))  # lands 10:05 London time
    with pytest.raises(ApplicationError) as refused_first:
        services.booking_change_quote(booking=booking, segment=booking.segments.get(sequence=1), new_flight=late_arrival)
    assert "60 minutes" in refused_first.value.fields["new_flight_id"][0]
    onward.refresh_from_db()
    assert onward.flight.scheduled_departure.astimezone(ZoneInfo("Europe/London")).time() == time(11, 0)


def test_a_change_that_would_wait_longer_than_the_longest_layover_is_refused(fares, settings):
    # given a journey through Heathrow and connections of at most 12 hours
    settings.CONNECTION_MAX_LAYOVER_MINUTES = 12 * 60
    day = soon()
    booking = _journey_booked(day)
    onward = booking.segments.get(sequence=2)
    # when the onward flight is changed to one leaving 12 h 15 min after the landing (07:15 -> 19:30)
    too_late = to_new_york(day, time(19, 30))
    with pytest.raises(ApplicationError) as refused:
        services.booking_change_quote(booking=booking, segment=onward, new_flight=too_late)
    # then it is refused: the journey would become a stopover the fare was not sold for
    assert refused.value.code == "invalid_flight"
    assert "within 12 h" in refused.value.fields["new_flight_id"][0]
    # when the first flight is changed to the day before, the wait at Heathrow would be a day: refused too
    day_before = to_london(day - timedelta(days=1))
    with pytest.raises(ApplicationError):
        services.booking_change_quote(booking=booking, segment=booking.segments.get(sequence=1), new_flight=day_before)
    # but a flight within the layover and after the minimum is quoted
    in_time = to_new_york(day, time(19, 0))  # 11 h 45 min after landing
    quote = services.booking_change_quote(booking=booking, segment=onward, new_flight=in_time)
    assert quote.change_fee >= 0
    # and so is one exactly the minimum connecting time after landing
    just_in_time = to_new_york(day, time(8, 15))
    assert services.booking_change_quote(booking=booking, segment=onward, new_flight=just_in_time) is not None


def test_flights_that_were_never_one_journey_have_no_longest_layover(fares):
    # given a return trip: out to London, back a week later
    day = soon()
    booking = services.booking_create(
        segments=[
            services.SegmentRequest(flight_id=f.pk, cabin="economy", fare_family="ECO_STANDARD")
            for f in [to_london(day), leaving("LHR", "AMS", day + timedelta(days=7), time(12, 0))]
        ],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Anna", family_name="de Vries")],
        contact_email="anna@example.com",
        channel=Channel.API,
    )
    # when the way back is moved two days later
    later = leaving("LHR", "AMS", day + timedelta(days=9), time(12, 0))
    quote = services.booking_change_quote(booking=booking, segment=booking.segments.get(sequence=2), new_flight=later)
    # then it is quoted: a stay is not a layover
    assert quote is not None
