"""Seats, check-in and boarding passes through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.permissions import ANALYST
from reservations import services
from reservations.models import Booking, Channel, CheckIn, CouponStatus, SeatAssignment
from tests.reservations.api_support import BOOKINGS, assert_error, bookable_flight, fares


@pytest.fixture
def fare_codes(db):
    return fares()


def book(customer, flight, *, infant: bool = False) -> Booking:  # noqa: ANN001
    party = [
        services.PassengerRequest(passenger_type="ADT", given_name="Ada", family_name="Lovelace"),
        services.PassengerRequest(passenger_type="ADT", given_name="Charles", family_name="Babbage"),
    ]
    if infant:
        born = timezone.localdate() - timedelta(days=200)
        party.append(
            services.PassengerRequest(passenger_type="INF", given_name="Byron", family_name="Lovelace", date_of_birth=born)
        )
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=party,
        contact_email="ada@example.com",
        channel=Channel.PORTAL,
        customer=customer,
    )


def ticketed(customer, flight, **kwargs) -> Booking:  # noqa: ANN001, ANN003
    booking = book(customer, flight, **kwargs)
    services.payment_take(booking=booking, method="counter", idempotency_key=f"t-{booking.pk}", by=_counter_agent())
    booking.refresh_from_db()
    return booking


def _counter_agent():  # noqa: ANN202
    from crm.permissions import AGENT
    from tests.crm.factories import StaffFactory

    return StaffFactory(roles=[AGENT], password=None)


@pytest.fixture
def soon(fare_codes):
    """A flight leaving in 5 hours: check-in is open."""
    return bookable_flight(scheduled_departure=(timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0))


def url(booking: Booking, action: str) -> str:
    return f"{BOOKINGS}{booking.record_locator}/{action}/"


# --- Seats ----------------------------------------------------------------------------------------


def test_passenger_chooses_a_seat(passenger, api_as, fare_codes):
    booking = book(passenger[1], bookable_flight())

    response = api_as(passenger[0]).post(url(booking, "seats"), {"segment": 1, "passenger": 2, "seat": "4c"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["segments"][0]["seats"] == [{"passenger": 2, "seat": "4C"}]
    assert SeatAssignment.objects.get().passenger.sequence == 2


def test_a_seat_someone_else_holds_is_409_seat_taken(passenger, make_passenger, api_as, fare_codes):
    flight = bookable_flight()
    other = book(make_passenger("other@example.com")[1], flight)
    services.seat_assign(segment=other.segments.get(), passenger=other.passengers.get(sequence=1), seat="4C")
    mine = book(passenger[1], flight)

    assert_error(
        api_as(passenger[0]).post(url(mine, "seats"), {"segment": 1, "passenger": 1, "seat": "4C"}, format="json"),
        409,
        "seat_taken",
    )

    assert SeatAssignment.objects.get(seat="4C").segment.booking == other


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"segment": 2, "passenger": 1, "seat": "4C"}, "segment"),
        ({"segment": 1, "passenger": 7, "seat": "4C"}, "passenger"),
        ({"segment": 1, "passenger": 1, "seat": "40C"}, "seat"),
        ({"segment": 1, "passenger": 1, "seat": "1A"}, "seat"),  # business, not this cabin
        ({"segment": 1, "passenger": 1, "seat": "C4"}, "seat"),
        ({"segment": 1, "passenger": 1}, "seat"),
    ],
)
def test_a_seat_that_cannot_be_had_is_a_400_naming_the_field(passenger, api_as, fare_codes, body, field):
    booking = book(passenger[1], bookable_flight())

    error = assert_error(api_as(passenger[0]).post(url(booking, "seats"), body, format="json"), 400)

    assert field in error["fields"], error
    assert not SeatAssignment.objects.exists()


def test_an_infant_gets_no_seat(passenger, api_as, fare_codes):
    booking = book(passenger[1], bookable_flight(), infant=True)

    assert_error(
        api_as(passenger[0]).post(url(booking, "seats"), {"segment": 1, "passenger": 3, "seat": "4C"}, format="json"),
        400,
        "infant_no_seat",
    )


def test_analyst_cannot_assign_seats(make_staff, passenger, api_as, fare_codes):
    booking = book(passenger[1], bookable_flight())

    assert_error(
        api_as(make_staff(ANALYST)).post(url(booking, "seats"), {"segment": 1, "passenger": 1, "seat": "4C"}, format="json"), 403
    )


# --- Check-in -------------------------------------------------------------------------------------


def test_passenger_checks_in_with_a_seat_and_a_bag_and_gets_boarding_passes(passenger, api_as, soon):
    # given a paid booking on a flight leaving in 5 hours
    booking = ticketed(passenger[1], soon)
    client = api_as(passenger[0])
    body = {
        "segment": 1,
        "passengers": [1, 2],
        "seats": [{"passenger": 1, "seat": "4A"}],
        "bags": [{"passenger": 1, "weights_kg": ["20.5"], "hand_carry": 1}],
    }

    # when both travellers check in, one choosing 4A and checking a bag
    response = client.post(url(booking, "check-in"), body, format="json")

    # then both are accepted, the second given a seat near the first
    assert response.status_code == 201, response.content
    first, second = response.json()
    assert (first["passenger"], first["seat"], first["bags"], first["bag_weights_kg"], first["hand_carry"]) == (
        1,
        "4A",
        1,
        ["20.5"],
        1,
    )
    assert second["passenger"] == 2 and second["seat"].startswith("4")
    assert CheckIn.objects.filter(segment__booking=booking).count() == 2
    assert set(booking.tickets.values_list("coupons__status", flat=True)) == {CouponStatus.CHECKED_IN}

    # and the boarding passes carry a Resolution 792 barcode string each
    passes = client.get(url(booking, "boarding-passes")).json()
    assert [(p["passenger"], p["seat"]) for p in passes] == [(1, "4A"), (2, second["seat"])]
    bcbp = passes[0]["bcbp"]
    assert bcbp.startswith("M1LOVELACE/ADA")
    assert booking.record_locator in bcbp and "LHRCDGAU" in bcbp
    assert passes[0]["ticket_number"] == booking.tickets.get(passenger__sequence=1).number


def test_boarding_passes_are_empty_before_check_in(passenger, api_as, soon):
    booking = ticketed(passenger[1], soon)

    response = api_as(passenger[0]).get(url(booking, "boarding-passes"))

    assert response.status_code == 200
    assert response.json() == []


def test_check_in_before_the_window_opens_is_refused(passenger, api_as, fare_codes):
    booking = ticketed(passenger[1], bookable_flight())  # leaves in 10 days

    assert_error(
        api_as(passenger[0]).post(url(booking, "check-in"), {"segment": 1, "passengers": [1]}, format="json"),
        400,
        "check_in_not_open",
    )

    assert not CheckIn.objects.exists()


def test_an_unpaid_booking_cannot_check_in(passenger, api_as, soon):
    booking = book(passenger[1], soon)

    assert_error(
        api_as(passenger[0]).post(url(booking, "check-in"), {"segment": 1, "passengers": [1]}, format="json"), 400, "not_ticketed"
    )


def test_a_bag_over_the_limit_is_named_by_its_entry(passenger, api_as, soon):
    booking = ticketed(passenger[1], soon)
    body = {"segment": 1, "passengers": [1, 2], "bags": [{"passenger": 2, "weights_kg": ["45"]}]}

    error = assert_error(api_as(passenger[0]).post(url(booking, "check-in"), body, format="json"), 400)

    assert list(error["fields"]) == ["bags.0.weights_kg"]
    assert not CheckIn.objects.exists()


def test_checking_in_twice_names_the_passenger(passenger, api_as, soon):
    booking = ticketed(passenger[1], soon)
    client = api_as(passenger[0])
    assert client.post(url(booking, "check-in"), {"segment": 1, "passengers": [1]}, format="json").status_code == 201

    error = assert_error(client.post(url(booking, "check-in"), {"segment": 1, "passengers": [2, 1]}, format="json"), 400)

    assert list(error["fields"]) == ["passengers.1"]
    assert CheckIn.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"segment": 3, "passengers": [1]}, "segment"),
        ({"segment": 1, "passengers": [5]}, "passengers.0"),
        ({"segment": 1, "passengers": []}, "passengers"),
        ({"segment": 1, "passengers": [1], "bags": [{"passenger": 9, "weights_kg": []}]}, "bags.0.passenger"),
        ({"segment": 1, "passengers": [1], "seats": [{"passenger": 1, "seat": "ZZ"}]}, "seats.0.seat"),
    ],
)
def test_check_in_naming_what_the_booking_does_not_have_is_a_400(passenger, api_as, soon, body, field):
    booking = ticketed(passenger[1], soon)

    error = assert_error(api_as(passenger[0]).post(url(booking, "check-in"), body, format="json"), 400)

    assert field in error["fields"], error
    assert not CheckIn.objects.exists()


def test_agent_checks_a_passenger_in(agent, passenger, api_as, soon):
    booking = ticketed(passenger[1], soon)

    response = api_as(agent).post(url(booking, "check-in"), {"segment": 1, "passengers": [2]}, format="json")

    assert response.status_code == 201, response.content
    check_in = CheckIn.objects.get()
    assert (check_in.checked_in_by, check_in.channel) == (agent, "api")


def test_boarding_pass_queries_stay_bounded(passenger, api_as, soon, django_assert_max_num_queries):
    booking = ticketed(passenger[1], soon)
    client = api_as(passenger[0])
    client.post(url(booking, "check-in"), {"segment": 1, "passengers": [1, 2]}, format="json")

    with django_assert_max_num_queries(40):
        assert len(client.get(url(booking, "boarding-passes")).json()) == 2


# --- Fees before the boarding pass ------------------------------------------------------------------


def test_a_check_in_with_bag_fees_is_402_until_paid_then_201_with_the_payment(passenger, api_as, soon):
    # Given a ticketed booking and a traveller with three bags (more than the fare includes)
    booking = ticketed(passenger[1], soon)
    body = {"segment": 1, "passengers": [1], "bags": [{"passenger": 1, "weights_kg": ["20", "20", "20"], "hand_carry": 1}]}
    client = api_as(passenger[0])
    # When it is sent without a payment, then it is refused and nobody is checked in
    assert_error(client.post(url(booking, "check-in"), body, format="json"), 402, "payment_required")
    assert not CheckIn.objects.exists()
    # When it is sent with a card payment
    card = {"number": "4242 4242 4242 4242", "expiry_month": 12, "expiry_year": 2099, "cvv": "737", "holder": "Ada"}
    paid = client.post(
        url(booking, "check-in"),
        {**body, "payment": {"method": "card", "card": card, "idempotency_key": "bags-1"}},
        format="json",
    )
    # Then the traveller is checked in and the card paid exactly the bag fees
    assert paid.status_code == 201, paid.content
    fee = paid.json()[0]["excess_baggage_fee"]
    assert float(fee) > 0
    payment = booking.payments.get(idempotency_key="bags-1")
    assert str(payment.amount) == fee and payment.status == "succeeded"


def test_a_passenger_cannot_pay_check_in_fees_at_the_counter(passenger, api_as, soon):
    # Given a ticketed booking and a traveller with three bags
    booking = ticketed(passenger[1], soon)
    body = {
        "segment": 1,
        "passengers": [1],
        "bags": [{"passenger": 1, "weights_kg": ["20", "20", "20"]}],
        "payment": {"method": "counter", "idempotency_key": "desk"},
    }
    # When the passenger claims to pay at the counter, then it is refused and nothing is left owed
    assert_error(api_as(passenger[0]).post(url(booking, "check-in"), body, format="json"), 403, "forbidden")
    assert not CheckIn.objects.exists()
    booking.refresh_from_db()
    assert booking.balance_due == 0


def test_a_paid_check_in_whose_seat_is_taken_charges_nothing(passenger, make_passenger, api_as, soon):
    # Given a ticketed booking, three bags (fees due), and seat 4C already held by a traveller of another booking
    other = book(make_passenger("other@example.com")[1], soon)
    services.seat_assign(segment=other.segments.get(), passenger=other.passengers.get(sequence=1), seat="4C")
    booking = ticketed(passenger[1], soon)
    paid_before = booking.paid_amount
    card = {"number": "4242 4242 4242 4242", "expiry_month": 12, "expiry_year": 2099, "cvv": "737", "holder": "Ada"}
    body = {
        "segment": 1,
        "passengers": [1],
        "seats": [{"passenger": 1, "seat": "4C"}],
        "bags": [{"passenger": 1, "weights_kg": ["20", "20", "20"]}],
        "payment": {"method": "card", "card": card, "idempotency_key": "taken-seat"},
    }
    # When the passenger checks in choosing that seat and paying the fees by card
    response = api_as(passenger[0]).post(url(booking, "check-in"), body, format="json")
    # Then it is the documented 409 seat_taken, and nothing changed: no payment, no fee left owed, nobody checked in
    assert_error(response, 409, "seat_taken")
    booking.refresh_from_db()
    assert not booking.payments.filter(idempotency_key="taken-seat").exists()
    assert (booking.paid_amount, booking.balance_due) == (paid_before, 0)
    assert not CheckIn.objects.exists()
