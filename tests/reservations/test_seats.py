"""Seat selection: the drawn seat map, the rules of who may sit where, and one passenger per seat."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from crm.errors import ApplicationError, Conflict
from crm.models import AssistanceCode
from reservations import selectors, services
from reservations.models import BookingCharge, ChargeKind, PassengerType, SeatAssignment
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.factories import AircraftTypeFactory, BookingClassFactory, FareFamilyFactory


@pytest.fixture
def flight(db):
    """The test A320: business rows 1-2 (AC DF), economy rows 3-6 (ABC DEF) with exit row 5, seat 6F blocked."""
    aircraft = AircraftTypeFactory(
        code="32B",
        sections=[
            {"cabin": "business", "first_row": 1, "last_row": 2, "layout": "AC DF"},
            {"cabin": "economy", "first_row": 3, "last_row": 6, "layout": "ABC DEF", "exit_rows": [5], "blocked_seats": ["6F"]},
        ],
    )
    return flight_in(30, aircraft_type=aircraft)


def one_traveller(flight, **passenger):
    booking = ticketed_booking(flight=flight, passengers=[{"given_name": "Ann", "family_name": "Lee", **passenger}])
    return booking.segments.get(), booking.passengers.get()


def test_the_seat_map_draws_rows_aisles_exit_rows_blocked_and_taken_seats(flight):
    # Given 3A is held by a passenger
    segment, passenger = one_traveller(flight)
    services.seat_assign(segment=segment, passenger=passenger, seat="3A")

    # When the seat map is drawn
    plan = selectors.seat_map(flight=flight)

    # Then rows follow the layout with the aisle between blocks, and each seat has its status
    assert [r.number for r in plan.rows] == [1, 2, 3, 4, 5, 6]
    assert [[s.letter for s in block] for block in plan.rows[2].blocks] == [["A", "B", "C"], ["D", "E", "F"]]
    assert [[s.letter for s in block] for block in plan.rows[0].blocks] == [["A", "C"], ["D", "F"]]
    assert plan.seat("3A").status == "taken" and plan.seat("3A").passenger_id == passenger.pk
    assert plan.seat("5B").status == "exit" and plan.seat("5B").exit_row
    assert plan.seat("6F").status == "blocked"
    assert plan.seat("4B").status == "available"
    assert plan.seat("3A").window and plan.seat("3C").aisle and not plan.seat("3B").aisle
    assert plan.rows[0].cabin == "business" and plan.cabins == ["business", "economy"]
    assert "6F" not in plan.free_seats(cabin="economy") and "3A" not in plan.free_seats(cabin="economy")
    assert len(plan.free_seats(cabin="economy")) == 24 - 2


def test_drawing_the_seat_map_takes_the_same_queries_for_one_or_twenty_passengers(flight, django_assert_num_queries):
    # Given a flight with one seated passenger
    segment, passenger = one_traveller(flight)
    services.seat_assign(segment=segment, passenger=passenger, seat="3A")
    with django_assert_num_queries(2):
        selectors.seat_map(flight=flight)

    # When nineteen more passengers take seats
    for seat in [
        "3B",
        "3C",
        "3D",
        "3E",
        "3F",
        "4A",
        "4B",
        "4C",
        "4D",
        "4E",
        "4F",
        "5A",
        "5B",
        "5C",
        "6A",
        "6B",
        "6C",
        "6D",
        "6E",
    ]:
        segment, passenger = one_traveller(flight)
        services.seat_assign(segment=segment, passenger=passenger, seat=seat)

    # Then the seat map is still two queries
    with django_assert_num_queries(2):
        plan = selectors.seat_map(flight=flight)
    assert plan.free_seats(cabin="economy") == ["5D", "5E", "5F"]


def test_choosing_a_seat_replaces_the_previous_one(flight):
    # Given a passenger on 4A
    segment, passenger = one_traveller(flight)
    services.seat_assign(segment=segment, passenger=passenger, seat="4A")

    # When they choose 4 d instead (any spelling)
    assignment = services.seat_assign(segment=segment, passenger=passenger, seat=" 4d ")

    # Then they hold 4D only, and 4A is free again
    assert assignment.seat == "4D"
    assert list(SeatAssignment.objects.filter(passenger=passenger).values_list("seat", flat=True)) == ["4D"]
    assert selectors.seat_map(flight=flight).seat("4A").status == "available"


@pytest.mark.parametrize(
    ("seat", "code"),
    [("9A", "no_such_seat"), ("3G", "no_such_seat"), ("XX", "no_such_seat"), ("1A", "wrong_cabin"), ("6F", "seat_blocked")],
)
def test_a_seat_must_exist_be_in_the_passengers_cabin_and_not_be_blocked(flight, seat, code):
    # Given an economy passenger
    segment, passenger = one_traveller(flight)

    # When they ask for a seat that is not theirs to take
    with pytest.raises(ApplicationError) as refused:
        services.seat_assign(segment=segment, passenger=passenger, seat=seat)

    # Then it is refused with a reason and nothing is assigned
    assert refused.value.code == code
    assert not SeatAssignment.objects.filter(passenger=passenger).exists()


def test_an_infant_holds_no_seat(flight):
    # Given an adult travelling with an infant
    booking = ticketed_booking(
        flight=flight,
        passengers=[{"family_name": "Park"}, {"family_name": "Park", "passenger_type": PassengerType.INFANT}],
    )
    infant = booking.passengers.get(passenger_type=PassengerType.INFANT)

    # When a seat is chosen for the infant, then it is refused
    with pytest.raises(ApplicationError) as refused:
        services.seat_assign(segment=booking.segments.get(), passenger=infant, seat="4A")
    assert refused.value.code == "infant_no_seat"


@pytest.mark.parametrize(
    ("party", "traveller"),
    [
        ([{"family_name": "Parent"}, {"family_name": "Kid", "passenger_type": PassengerType.CHILD}], 1),
        ([{"family_name": "Wheel", "assistance": [AssistanceCode.WCHR]}], 0),
        ([{"family_name": "Lap"}, {"family_name": "Lap", "passenger_type": PassengerType.INFANT}], 0),
    ],
    ids=["child", "needs-assistance", "carries-an-infant"],
)
def test_exit_row_seats_are_refused_to_children_those_needing_assistance_and_adults_with_an_infant(flight, party, traveller):
    # Given a traveller who could not help open the emergency exit
    booking = ticketed_booking(flight=flight, passengers=party)
    passenger = booking.passengers.order_by("sequence")[traveller]

    # When they ask for an exit-row seat, then it is refused and they have no seat
    with pytest.raises(ApplicationError) as refused:
        services.seat_assign(segment=booking.segments.get(), passenger=passenger, seat="5A")
    assert refused.value.code == "exit_row_restricted"
    assert not SeatAssignment.objects.filter(passenger=passenger).exists()


def test_an_able_adult_may_take_an_exit_row_seat(flight):
    segment, passenger = one_traveller(flight)
    assert services.seat_assign(segment=segment, passenger=passenger, seat="5A").seat == "5A"


def test_a_seat_held_by_someone_else_is_a_conflict_and_the_loser_keeps_their_seat(flight):
    # Given 4A is held by one passenger and another sits in 3F
    first_segment, first = one_traveller(flight)
    services.seat_assign(segment=first_segment, passenger=first, seat="4A")
    segment, second = one_traveller(flight)
    services.seat_assign(segment=segment, passenger=second, seat="3F")

    # When the second asks for 4A
    with pytest.raises(Conflict) as refused:
        services.seat_assign(segment=segment, passenger=second, seat="4A")

    # Then it is a 409 seat_taken, and they still hold 3F
    assert refused.value.code == "seat_taken" and refused.value.status == 409
    assert SeatAssignment.objects.get(passenger=second).seat == "3F"
    assert SeatAssignment.objects.get(seat="4A").passenger == first


def test_the_seat_selection_fee_is_charged_once_per_passenger_and_flight(flight):
    # Given a fare whose seat selection costs 12.50
    family = FareFamilyFactory(code="ECO_LIGHT_SEATFEE", seat_selection_fee=Decimal("12.50"))
    booking = ticketed_booking(flight=flight, booking_class=BookingClassFactory(code="Q", fare_family=family))
    BookingCharge.objects.create(booking=booking, kind=ChargeKind.FARE, description="fare", amount=Decimal("100.00"))
    segment, passenger = booking.segments.get(), booking.passengers.get()

    # When the passenger chooses a seat, then changes their mind
    services.seat_assign(segment=segment, passenger=passenger, seat="4A")
    services.seat_assign(segment=segment, passenger=passenger, seat="4B")

    # Then one SEAT charge is on the booking and the total includes it
    charges = BookingCharge.objects.filter(booking=booking, kind=ChargeKind.SEAT)
    assert [(c.amount, c.passenger_id, c.segment_id) for c in charges] == [(Decimal("12.50"), passenger.pk, segment.pk)]
    booking.refresh_from_db()
    assert booking.total_amount == Decimal("112.50")


def test_a_free_seat_selection_adds_no_charge(flight):
    segment, passenger = one_traveller(flight)
    services.seat_assign(segment=segment, passenger=passenger, seat="4A")
    assert not BookingCharge.objects.filter(booking=segment.booking, kind=ChargeKind.SEAT).exists()


@pytest.mark.django_db(transaction=True)
def test_two_passengers_grabbing_the_same_seat_at_once_one_wins_one_gets_a_conflict():
    # Given two passengers on different bookings on the same flight
    flight = flight_in(30)
    travellers = [one_traveller(flight) for _ in range(2)]
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def grab(segment, passenger) -> None:
        try:
            barrier.wait()
            services.seat_assign(segment=segment, passenger=passenger, seat="4C")
            result = "seated"
        except Conflict as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    # When both ask for 4C at the same moment, each on its own connection
    threads = [threading.Thread(target=grab, args=t) for t in travellers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then exactly one holds it and the other got seat_taken
    assert sorted(outcomes) == ["seat_taken", "seated"]
    assert SeatAssignment.objects.filter(flight=flight, seat="4C").count() == 1
