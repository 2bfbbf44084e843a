"""My trips, public flight status, and the trip pages in Simplified Chinese."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reservations.models import BookingStatus, FlightStatus
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.portal_support import SEARCH, departure_in, fares_fixture, make_flight, search_params  # noqa: F401

TRIPS = "/trips/"
STATUS = "/flight-status/"


def test_my_trips_lists_upcoming_trips_soonest_first_then_past_ones(passenger, passenger_client):
    # given a past trip, a trip next month and one next week, and someone else's
    _, customer = passenger
    past = ticketed_booking(flight=flight_in(-72), customer=customer)
    later = ticketed_booking(flight=flight_in(24 * 30), customer=customer)
    soon = ticketed_booking(flight=flight_in(24 * 7), customer=customer)
    theirs = ticketed_booking(flight=flight_in(24 * 2))

    # when the passenger opens My trips
    page = passenger_client.get(TRIPS).content.decode()

    # then their trips are listed soonest first, the past one last, nobody else's
    positions = [page.index(b.record_locator) for b in (soon, later, past)]
    assert positions == sorted(positions)
    assert theirs.record_locator not in page
    assert "Past trip" in page


def test_a_trip_where_the_passenger_only_travels_is_listed_too(passenger, passenger_client):
    _, customer = passenger
    booking = ticketed_booking(flight=flight_in(48), passengers=[{"given_name": "Ann", "family_name": "Lee"}])
    booking.passengers.update(customer=customer)
    assert booking.record_locator in passenger_client.get(TRIPS).content.decode()


def test_my_trips_takes_the_same_number_of_queries_for_more_trips(passenger, passenger_client, django_assert_max_num_queries):
    _, customer = passenger
    ticketed_booking(flight=flight_in(48), customer=customer)
    with CaptureQueriesContext(connection) as one:
        passenger_client.get(TRIPS)
    for hours in (60, 72, 96, 120, 150, 200):
        ticketed_booking(
            flight=flight_in(hours),
            customer=customer,
            passengers=[{"given_name": "A", "family_name": "B"}, {"given_name": "C", "family_name": "D"}],
        )
    with django_assert_max_num_queries(len(one)):
        response = passenger_client.get(TRIPS)
    assert len(response.context["page"].object_list) == 7


def test_my_trips_is_paginated(passenger, passenger_client):
    _, customer = passenger
    for hours in range(30, 30 + 12 * 5, 5):
        ticketed_booking(flight=flight_in(hours), customer=customer)
    first = passenger_client.get(TRIPS)
    second = passenger_client.get(TRIPS, {"page": 2})
    assert len(first.context["page"].object_list) == 10 and len(second.context["page"].object_list) == 2
    assert "Page 1 of 2" in first.content.decode()


def test_manage_booking_shows_flights_travellers_tickets_and_money(passenger, passenger_client):
    _, customer = passenger
    booking = ticketed_booking(flight=flight_in(48), customer=customer)
    page = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    ticket = booking.tickets.get()
    assert booking.record_locator in page and ticket.number in page
    assert "Choose seats" in page and "Cancel booking" in page
    assert f"/trips/{booking.record_locator}/receipt.pdf" in page and f"/trips/{booking.record_locator}/trip.ics" in page


def test_manage_booking_offers_check_in_when_the_window_is_open(passenger, passenger_client):
    _, customer = passenger
    booking = ticketed_booking(flight=flight_in(3), customer=customer)
    page = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    assert f"/check-in/{booking.record_locator}/flights/1/" in page


def test_flight_status_is_public_and_shows_local_times_gate_and_delay(client, db):
    flight = flight_in(5)
    flight.status, flight.gate = FlightStatus.DELAYED, "B32"
    flight.estimated_departure = flight.scheduled_departure + timedelta(minutes=50)
    flight.status_reason = "Late inbound aircraft"
    flight.save()

    page = client.get(STATUS, {"flight_code": flight.flight_code.lower(), "service_date": flight.service_date}).content.decode()

    assert "Delayed" in page and "B32" in page and "Late inbound aircraft" in page
    assert "Expected departure" in page


def test_an_unknown_flight_is_explained(client, db):
    page = client.get(STATUS, {"flight_code": "AU9999", "service_date": timezone.localdate()}).content.decode()
    assert "We have no flight with this number on this date." in page
    bad = client.get(STATUS, {"flight_code": "??", "service_date": "yesterday"}).content.decode()
    assert "Enter the airline code and number" in bad and "Enter a valid date." in bad


def switch_to_chinese(client) -> None:
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})


def test_the_search_and_results_read_in_chinese(client, fares):
    flight = make_flight(at=departure_in(5))
    switch_to_chinese(client)
    page = client.get(SEARCH, search_params(flight)).content.decode()
    assert '<html lang="zh-hans">' in page
    for text in ("预订航班", "出发日期", "经济舱", "最低价格", "轻便", "标准", "灵活", "继续填写旅客信息", "1小时15分钟"):
        assert text in page, text
    assert "Book a flight" not in page


def test_booking_check_in_and_status_pages_read_in_chinese(passenger, passenger_client, fares):
    _, customer = passenger
    booking = ticketed_booking(flight=flight_in(3), customer=customer)
    switch_to_chinese(passenger_client)
    trips = passenger_client.get(TRIPS).content.decode()
    manage = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    check_in = passenger_client.get(f"/check-in/{booking.record_locator}/flights/1/").content.decode()
    status = passenger_client.get(STATUS).content.decode()
    lookup = passenger_client.get("/check-in/").content.decode()
    assert "我的行程" in trips
    assert "管理预订" in manage and "选择座位" in manage
    assert "办理登机" in check_in and "危险品" in check_in
    assert "航班动态" in status
    assert "预订编号" in lookup


def test_the_traveller_name_header_never_reads_as_a_task_name(passenger, passenger_client, fares):
    # given a trip, and a task scheduler installed whose Chinese catalogue calls a "Name" 任务名 (task name)
    _, customer = passenger
    booking = ticketed_booking(flight=flight_in(3), customer=customer)
    switch_to_chinese(passenger_client)
    # when the passenger opens it in Chinese
    manage = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    # then the travellers' table never borrows the scheduler's word: our header has its own context
    assert "管理预订" in manage
    assert "任务名" not in manage


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.EXPIRED])
def test_a_closed_booking_offers_no_actions(passenger, passenger_client, status):
    _, customer = passenger
    booking = ticketed_booking(flight=flight_in(48), customer=customer)
    booking.status = status
    booking.save(update_fields=["status"])
    page = passenger_client.get(f"/trips/{booking.record_locator}/").content.decode()
    assert "Cancel booking" not in page and "Choose seats" not in page and "receipt.pdf" not in page
