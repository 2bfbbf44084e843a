"""A booking's line on the customer's timeline is written in no language: each reader sees it in theirs."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from crm.models import TimelineEntry
from reservations import services
from reservations.models import Channel
from tests.reservations.api_support import bookable_flight, fares


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


def book(customer, flight):  # noqa: ANN001, ANN201
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Mei", family_name="Lin")],
        contact_email="mei@example.com",
        channel=Channel.PORTAL,
        customer=customer,
    )


def test_a_booking_made_in_chinese_reads_in_english_for_the_agent_and_in_chinese_for_a_chinese_reader(
    passenger, agent_client, flight
):
    # given a passenger who books while the portal speaks Chinese to them
    _, customer = passenger
    with translation.override("zh-hans"):
        booking = book(customer, flight)
    entry = TimelineEntry.objects.get(customer=customer, kind="booking.created")
    route = f"{flight.origin.iata_code} – {flight.destination.iata_code}"
    # then the line is stored as a message and its data, with an English summary for search
    assert entry.message == "Booking %(locator)s made: %(route)s"
    assert entry.message_params == {"locator": booking.record_locator, "route": route}
    assert entry.summary == f"Booking {booking.record_locator} made: {route}"
    # and the agent reads it in English on the customer 360
    page = agent_client.get(reverse("office:customer_detail", args=[customer.customer_number]), HTTP_ACCEPT_LANGUAGE="en")
    assert f"Booking {booking.record_locator} made: {route}" in page.content.decode()
    # and a Chinese reader reads it in Chinese
    with translation.override("zh-hans"):
        chinese = entry.text
    assert booking.record_locator in chinese and "Booking" not in chinese
    assert chinese == translation.trans_real.translation("zh-hans").gettext(entry.message) % entry.message_params


def test_a_cancellation_without_a_reason_gives_the_default_reason_in_the_readers_language(passenger, flight):
    # given a booking the passenger cancels in Chinese without saying why
    _, customer = passenger
    booking = book(customer, flight)
    with translation.override("zh-hans"):
        services.booking_cancel(booking=booking)
    entry = TimelineEntry.objects.get(customer=customer, kind="booking.cancelled")
    # then the default reason is kept as a phrase, not as Chinese text
    assert entry.message_params["reason"] == {"msgid": "Cancelled on request"}
    with translation.override("en"):
        assert entry.text == f"Booking {booking.record_locator} cancelled: Cancelled on request"
    with translation.override("zh-hans"):
        assert entry.text == f"预订 {booking.record_locator} 已取消：应要求取消"


def test_a_cancellation_reason_an_agent_typed_is_kept_as_written(passenger, agent, flight):
    _, customer = passenger
    booking = book(customer, flight)
    services.booking_cancel(booking=booking, by=agent, reason="Passenger unwell")
    entry = TimelineEntry.objects.get(customer=customer, kind="booking.cancelled")
    with translation.override("zh-hans"):
        assert entry.text == f"预订 {booking.record_locator} 已取消：Passenger unwell"
