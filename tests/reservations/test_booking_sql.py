"""The booking's hot path reads and writes by hand-written SQL (services.rows): what it builds and writes
must be exactly what the ORM reads back, and the answers it writes follow each request's own login."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from reservations import services
from reservations.models import (
    Booking,
    BookingCharge,
    BookingClass,
    BookingPassenger,
    Channel,
    FlightCabin,
    Segment,
    TaxRule,
)
from reservations.services.booking import _fare_classes, _tax_rules
from reservations.services.inventory import FLIGHT_RELATIONS, _lock_inventory
from tests.reservations.api_support import BOOKINGS, bookable_flight, booking_body, fares


def values(obj) -> dict:  # noqa: ANN001
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


@pytest.fixture
def flight(db):
    fares()
    return bookable_flight()


def test_the_rows_a_booking_writes_are_the_rows_read_back(flight):
    # given a party of an adult with a passport and assistance, a child and an infant
    party = [
        services.PassengerRequest(
            passenger_type="ADT", given_name="Charles", family_name="Babbage", document_type="P",
            document_number="X1234567", nationality="GB", assistance=["WCHR"],
        ),
        services.PassengerRequest(
            passenger_type="CHD", given_name="Ada", family_name="King", date_of_birth=timezone.localdate() - timedelta(days=365 * 7)
        ),
        services.PassengerRequest(
            passenger_type="INF", given_name="Byron", family_name="King", date_of_birth=timezone.localdate() - timedelta(days=300)
        ),
    ]  # fmt: skip

    # when it is booked
    booking = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=party,
        contact_email="charles@example.com",
        channel=Channel.AGENT,
    )

    # then every field of every row it hands back to show at once (ids, generated names, time stamps
    # included) is as stored
    assert services.booking_as_written(booking)
    assert values(booking) == values(Booking.objects.get(pk=booking.pk))
    written = {
        BookingPassenger: list(booking.passengers.all()),
        Segment: list(booking.segments.all()),
        BookingCharge: list(booking.charges.all()),
    }
    for model, rows in written.items():
        stored = {row.pk: values(row) for row in model.objects.filter(booking=booking)}
        assert rows and {row.pk: values(row) for row in rows} == stored, model.__name__
    infant = next(p for p in written[BookingPassenger] if p.passenger_type == "INF")
    assert infant.search_name == "byron king" and infant.travelling_with.given_name == "Charles"
    assert all(c.passenger.booking is booking for c in written[BookingCharge])  # the objects, not read again


def test_the_cabins_locked_with_their_flights_are_the_cabins_the_orm_reads(flight):
    # given a flight with its cabins
    wanted = [(cabin.flight_id, cabin.cabin) for cabin in FlightCabin.objects.filter(flight=flight)]

    # when its cabins are locked with their flights
    with transaction.atomic():
        locked = _lock_inventory(wanted=wanted, with_flights=True)

    # then each cabin, its flight, the flight's airports, route and aircraft are what the ORM reads
    orm = {(c.flight_id, c.cabin): c for c in FlightCabin.objects.select_related(*FLIGHT_RELATIONS).filter(flight=flight)}
    assert locked.keys() == orm.keys() and len(locked) == len(wanted) > 0
    for key, cabin in locked.items():
        expected = orm[key]
        assert values(cabin) == values(expected)
        assert values(cabin.flight) == values(expected.flight)
        for relation in ("origin", "destination", "route", "aircraft_type"):
            assert values(getattr(cabin.flight, relation)) == values(getattr(expected.flight, relation)), relation


def test_fare_classes_and_tax_rules_come_in_the_models_order(flight):
    # given the fare classes and tax rules of the reference data
    # when the booking reads them by SQL
    classes = _fare_classes({"economy", "business"})
    rules = _tax_rules()

    # then they are the ORM's, in the same order, each class with its fare family
    expected = list(BookingClass.objects.select_related("fare_family").filter(fare_family__cabin__in=["economy", "business"]))
    assert [values(c) for c in classes] == [values(c) for c in expected] and classes
    assert [values(c.fare_family) for c in classes] == [values(c.fare_family) for c in expected]
    assert [values(r) for r in rules] == [values(r) for r in TaxRule.objects.all()]


def test_answers_in_a_row_each_follow_their_own_login(agent, passenger, api_as, flight):
    # given an agent and a passenger booking one after the other on the same thread, each with a passport number
    user, _customer = passenger
    traveller = {"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace", "document_type": "P"}

    # when each books
    by_agent = api_as(agent).post(
        BOOKINGS, booking_body(flight, passengers=[{**traveller, "document_number": "P9988776"}]), format="json"
    )
    by_passenger = api_as(user).post(
        BOOKINGS, booking_body(flight, passengers=[{**traveller, "document_number": "P1234567"}]), format="json"
    )
    by_agent_again = api_as(agent).post(
        BOOKINGS, booking_body(flight, passengers=[{**traveller, "document_number": "P5555521"}]), format="json"
    )

    # then the agent reads the number and the passenger sees it masked, whoever was answered before
    assert (by_agent.status_code, by_passenger.status_code, by_agent_again.status_code) == (201, 201, 201)
    assert by_agent.json()["passengers"][0]["document_number"] == "P9988776"
    assert by_passenger.json()["passengers"][0]["document_number"] == "••••••67"
    assert by_agent_again.json()["passengers"][0]["document_number"] == "P5555521"
    assert by_agent.json()["access"] == "staff" and by_passenger.json()["access"] == "booker"
