"""POST/GET /api/v1/bookings/: booking through the API, who sees which booking, and bad input."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.permissions import ANALYST, MARKETER, PASSENGER
from crm.services import customer_update
from reservations import services
from reservations.models import Booking, BookingCharge, Channel, FlightCabin
from tests.crm.factories import CustomerFactory, UserFactory
from tests.reservations.api_support import BOOKINGS, assert_error, bookable_flight, booking_body, fares


@pytest.fixture
def fare_codes(db):
    return fares()


@pytest.fixture
def flight(fare_codes):
    return bookable_flight()


def seats_left(flight) -> int:  # noqa: ANN001
    return FlightCabin.objects.get(flight=flight, cabin="economy").available


def book_for(customer, flight, *, given_name: str = "Grace") -> Booking:  # noqa: ANN001
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name=given_name, family_name="Hopper")],
        contact_email="grace@example.com",
        channel=Channel.PORTAL,
        customer=customer,
    )


# --- Booking ------------------------------------------------------------------------------------


def test_passenger_books_two_adults_and_an_infant(passenger, api_as, flight):
    # given a passenger with a token and a flight with seats
    user, customer = passenger
    before = seats_left(flight)
    party = [
        {"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace", "customer_number": customer.customer_number},
        {"passenger_type": "ADT", "given_name": "Charles", "family_name": "Babbage", "meal": "VGML"},
        {"passenger_type": "INF", "given_name": "Byron", "family_name": "Lovelace", "date_of_birth": str(timezone.localdate() - timedelta(days=300))},
    ]  # fmt: skip

    # when they POST the booking
    response = api_as(user).post(BOOKINGS, booking_body(flight, passengers=party, purpose="leisure"), format="json")

    # then it is held for them, priced, and two seats (not three) are taken
    assert response.status_code == 201, response.content
    body = response.json()
    booking = Booking.objects.get(record_locator=body["record_locator"])
    assert response["Location"].endswith(f"/api/v1/bookings/{booking.record_locator}/")
    assert (booking.customer, booking.channel, booking.status, booking.created_by) == (customer, "api", "held", user)
    assert (body["adults"], body["children"], body["infants"]) == (2, 0, 1)
    assert [p["given_name"] for p in body["passengers"]] == ["Ada", "Charles", "Byron"]
    assert body["passengers"][2]["infant_of"] == 1
    assert body["passengers"][1]["meal"] == "VGML"
    assert booking.passengers.get(sequence=1).customer == customer
    assert body["segments"][0]["flight"]["id"] == flight.pk
    assert body["segments"][0]["fare_family"]["code"] == "ECO_STANDARD"
    charged = sum(c.amount for c in BookingCharge.objects.filter(booking=booking))
    assert body["total_amount"] == str(charged) == str(booking.total_amount)
    assert body["balance_due"] == body["total_amount"]
    assert seats_left(flight) == before - 2


def test_flight_times_are_shown_in_each_airports_local_time(passenger, api_as, flight):
    response = api_as(passenger[0]).post(BOOKINGS, booking_body(flight), format="json")

    shown = response.json()["segments"][0]["flight"]
    assert (shown["origin"]["time_zone"], shown["destination"]["time_zone"]) == ("Europe/London", "Europe/Paris")
    assert shown["scheduled_departure"] == flight.scheduled_departure.astimezone(ZoneInfo("Europe/London")).isoformat()
    assert shown["scheduled_arrival"] == flight.scheduled_arrival.astimezone(ZoneInfo("Europe/Paris")).isoformat()
    # the same instant, written with Paris' offset: one hour ahead of London
    assert shown["scheduled_arrival"][-6:] != shown["scheduled_departure"][-6:]


def test_last_seats_gone_answers_409_sold_out_and_holds_nothing(passenger, api_as, fare_codes):
    # given a flight with one economy seat left
    flight = bookable_flight(inventory={"economy": 1})
    party = [
        {"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace"},
        {"passenger_type": "ADT", "given_name": "Charles", "family_name": "Babbage"},
    ]

    # when two seats are asked for
    response = api_as(passenger[0]).post(BOOKINGS, booking_body(flight, passengers=party), format="json")

    # then 409 sold_out, and the seat is still for sale
    error = assert_error(response, 409, "sold_out")
    assert "Sold out" in error["message"]
    assert not Booking.objects.exists()
    assert seats_left(flight) == 1


def test_service_refusals_point_at_the_api_field(passenger, api_as, flight):
    # given a child without a date of birth (the service requires one)
    party = [
        {"passenger_type": "ADT", "given_name": "Ada", "family_name": "Lovelace"},
        {"passenger_type": "CHD", "given_name": "Ann", "family_name": "Lovelace"},
    ]

    response = api_as(passenger[0]).post(BOOKINGS, booking_body(flight, passengers=party), format="json")

    # then the field is named as in every serializer error: counted from 0
    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["passengers.1.date_of_birth"]
    assert not Booking.objects.exists()


def test_unknown_flight_is_a_field_error_on_that_segment(passenger, api_as, flight):
    body = booking_body(flight)
    body["segments"][0]["flight_id"] = flight.pk + 1000

    error = assert_error(api_as(passenger[0]).post(BOOKINGS, body, format="json"), 400, "invalid")

    assert error["fields"] == {"segments.0": ["No such flight."]}


def test_a_cabin_the_flight_does_not_have_is_a_field_error_and_holds_nothing(passenger, api_as, flight):
    # given a flight without a first class cabin (its cabins are locked and read with the flight)
    assert not FlightCabin.objects.filter(flight=flight, cabin="first").exists()
    before = seats_left(flight)
    body = booking_body(flight)
    body["segments"][0]["cabin"] = "first"

    # when a passenger asks for first class on it
    error = assert_error(api_as(passenger[0]).post(BOOKINGS, body, format="json"), 400, "invalid")

    # then the segment's cabin is refused and no seat is taken
    assert error["fields"] == {"segments.0.cabin": ["This flight has no such cabin."]}
    assert not Booking.objects.exists()
    assert seats_left(flight) == before


def test_closed_fare_family_answers_409_fare_unavailable(passenger, api_as, flight):
    error = assert_error(
        api_as(passenger[0]).post(BOOKINGS, booking_body(flight, fare_family="ECO_FLEX"), format="json"), 409, "fare_unavailable"
    )

    assert "ECO_FLEX" in error["message"]
    assert not Booking.objects.exists()


def test_unknown_keys_are_refused_top_level_and_nested(passenger, api_as, flight):
    body = booking_body(flight, channel="agent")
    body["passengers"][0]["is_vip"] = True

    error = assert_error(api_as(passenger[0]).post(BOOKINGS, body, format="json"), 400, "invalid")

    assert set(error["fields"]) == {"channel", "passengers.0.is_vip"}
    assert not Booking.objects.exists()


def test_nested_unknown_key_is_named_with_its_position(passenger, api_as, flight):
    body = booking_body(flight)
    body["passengers"][0]["is_vip"] = True

    error = assert_error(api_as(passenger[0]).post(BOOKINGS, body, format="json"), 400, "invalid")

    assert error["fields"] == {"passengers.0.is_vip": ["Unknown or read-only field."]}


def test_passenger_cannot_put_someone_elses_customer_number_on_a_booking(passenger, api_as, flight):
    stranger = CustomerFactory()
    body = booking_body(flight)
    body["passengers"][0]["customer_number"] = stranger.customer_number

    error = assert_error(api_as(passenger[0]).post(BOOKINGS, body, format="json"), 400, "invalid")

    assert "passengers.0.customer_number" in error["fields"]
    assert not Booking.objects.exists()


def test_passenger_cannot_book_on_someone_elses_account(passenger, api_as, flight):
    stranger = CustomerFactory()

    error = assert_error(
        api_as(passenger[0]).post(BOOKINGS, booking_body(flight, customer=stranger.customer_number), format="json"), 400
    )

    assert "customer" in error["fields"]
    assert not Booking.objects.exists()


def test_login_without_a_customer_record_cannot_book(api_as, flight):
    user = UserFactory(roles=[PASSENGER])

    assert_error(api_as(user).post(BOOKINGS, booking_body(flight), format="json"), 403)

    assert not Booking.objects.exists()


def test_anonymous_cannot_book(api_client, flight):
    assert_error(api_client.post(BOOKINGS, booking_body(flight), format="json"), 401)
    assert not Booking.objects.exists()


def test_agent_books_for_a_customer_by_customer_number(agent, api_as, flight):
    customer = CustomerFactory(passport_number="P9988776")

    body = booking_body(flight, customer=customer.customer_number)
    body["passengers"][0]["customer_number"] = customer.customer_number
    response = api_as(agent).post(BOOKINGS, body, format="json")

    assert response.status_code == 201, response.content
    booking = Booking.objects.get()
    assert (booking.customer, booking.created_by, booking.channel) == (customer, agent, "api")
    # the traveller's passport came from the customer record, and an agent may read it
    assert response.json()["passengers"][0]["document_number"] == "P9988776"


def test_agent_booking_for_an_unknown_customer_number_is_a_field_error(agent, api_as, flight):
    error = assert_error(api_as(agent).post(BOOKINGS, booking_body(flight, customer="NOSUCH12"), format="json"), 400)

    assert error["fields"] == {"customer": ["No customer with that number."]}


@pytest.mark.parametrize("role", [MARKETER, ANALYST])
def test_staff_without_the_booking_permission_cannot_book(role, make_staff, api_as, flight):
    assert_error(api_as(make_staff(role)).post(BOOKINGS, booking_body(flight), format="json"), 403)
    assert not Booking.objects.exists()


# --- Reading bookings ---------------------------------------------------------------------------


def test_passenger_lists_only_bookings_they_made_or_travel_on(passenger, make_passenger, api_as, flight):
    # given one booking of theirs, one they travel on that someone else made, and a stranger's
    user, customer = passenger
    _other_user, other = make_passenger("other@example.com")
    mine = book_for(customer, flight)
    travelling = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Me", family_name="Too", customer=customer)],
        contact_email="other@example.com",
        channel=Channel.PORTAL,
        customer=other,
    )
    book_for(other, flight)

    # when they list their bookings
    response = api_as(user).get(BOOKINGS)

    # then they see exactly their two
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {b["record_locator"] for b in body["results"]} == {mine.record_locator, travelling.record_locator}


def test_passenger_gets_404_for_someone_elses_booking_everywhere(passenger, make_passenger, api_as, flight):
    # given a booking that is not theirs
    _other_user, other = make_passenger("other@example.com")
    theirs = book_for(other, flight)
    client = api_as(passenger[0])
    url = f"{BOOKINGS}{theirs.record_locator}/"

    # when they try to reach it in any way, then it does not exist for them
    assert_error(client.get(url), 404, "not_found")
    assert_error(client.get(f"{url}boarding-passes/"), 404, "not_found")
    for path, body in [
        ("payments/", {"method": "card", "idempotency_key": "k1"}),
        ("cancel/", {}),
        ("seats/", {"segment": 1, "passenger": 1, "seat": "3A"}),
        ("check-in/", {"segment": 1, "passengers": [1]}),
    ]:
        assert_error(client.post(f"{url}{path}", body, format="json"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.status == "held"
    assert not theirs.payments.exists()


def test_passenger_reads_their_own_booking_with_documents_masked(passenger, api_as, flight):
    user, customer = passenger
    customer = customer_update(customer=customer, data={"passport_number": "P1234567"})
    booking = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name="Me", family_name="Self", customer=customer)],
        contact_email="me@example.com",
        channel=Channel.PORTAL,
        customer=customer,
    )

    response = api_as(user).get(f"{BOOKINGS}{booking.record_locator.lower()}/")

    assert response.status_code == 200
    body = response.json()
    assert body["record_locator"] == booking.record_locator
    assert body["passengers"][0]["document_number"] == "••••••67"
    assert body["charges"] and body["payments"] == [] and body["tickets"] == []


def test_agent_sees_every_booking(agent, api_as, passenger, flight):
    booking = book_for(passenger[1], flight)

    assert api_as(agent).get(BOOKINGS).json()["count"] == 1
    assert api_as(agent).get(f"{BOOKINGS}{booking.record_locator}/").status_code == 200


def test_marketer_may_not_read_bookings(marketer, api_as, passenger, flight):
    booking = book_for(passenger[1], flight)

    assert_error(api_as(marketer).get(BOOKINGS), 403)
    assert_error(api_as(marketer).get(f"{BOOKINGS}{booking.record_locator}/"), 403)


def test_anonymous_may_not_list_bookings(api_client):
    assert_error(api_client.get(BOOKINGS), 401)


def test_bookings_filter_by_status(agent, api_as, passenger, flight):
    held = book_for(passenger[1], flight)
    expired = book_for(passenger[1], flight)
    Booking.objects.filter(pk=expired.pk).update(status="expired")

    body = api_as(agent).get(BOOKINGS, {"status": "held"}).json()

    assert [b["record_locator"] for b in body["results"]] == [held.record_locator]
    assert_error(api_as(agent).get(BOOKINGS, {"status": "lost"}), 400, "invalid")


def test_booking_list_queries_do_not_grow_with_bookings(passenger, api_as, fare_codes, django_assert_max_num_queries):
    # given one passenger with one booking, measured
    user, customer = passenger
    client = api_as(user)
    book_for(customer, bookable_flight())
    with django_assert_max_num_queries(50) as few:
        assert client.get(BOOKINGS).json()["count"] == 1

    # when they have many bookings on many flights
    for _ in range(8):
        book_for(customer, bookable_flight())

    # then the list costs the same number of queries
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(BOOKINGS).json()["count"] == 9


# One booking for one adult through the API, token included: the budget the booking benchmark holds to.
# In a test the transaction is a savepoint (SAVEPOINT/RELEASE in place of BEGIN/COMMIT): the same count.
BOOKING_QUERY_BUDGET = 15


def test_one_adult_booking_costs_at_most_fifteen_queries(passenger, api_as, flight, django_assert_max_num_queries):
    # given a passenger with a token (read once, as every request does) and a flight with seats
    client = api_as(passenger[0])
    before = seats_left(flight)

    # when they book one adult, counting every query of the request
    with django_assert_max_num_queries(BOOKING_QUERY_BUDGET) as counted:
        response = client.post(BOOKINGS, booking_body(flight), format="json")

    # then it is booked within the budget, and the booking is not read back after it is written
    assert response.status_code == 201, response.content
    assert seats_left(flight) == before - 1
    reads_back = [q["sql"] for q in counted.captured_queries if q["sql"].startswith('SELECT "reservations_booking"."id"')]
    assert reads_back == []


def test_a_party_of_nine_costs_the_queries_of_one(passenger, api_as, flight, django_assert_max_num_queries):
    # given the queries of a booking for one adult
    client = api_as(passenger[0])
    client.post(BOOKINGS, booking_body(flight), format="json")  # the token's first use is not what is measured
    with django_assert_max_num_queries(BOOKING_QUERY_BUDGET) as one:
        assert client.post(BOOKINGS, booking_body(flight), format="json").status_code == 201
    party = [{"passenger_type": "ADT", "given_name": f"Traveller{n}", "family_name": "Many"} for n in range(8)]
    party.append(
        {
            "passenger_type": "INF",
            "given_name": "Baby",
            "family_name": "Many",
            "date_of_birth": str(timezone.localdate() - timedelta(days=200)),
        }
    )

    # when nine travellers (an infant among them) are booked
    with django_assert_max_num_queries(len(one.captured_queries) + 1) as nine:  # the infants' own insert
        response = client.post(BOOKINGS, booking_body(flight, passengers=party), format="json")

    # then it costs the same, but for the one insert of the infants, who point at their adult
    assert response.status_code == 201, response.content
    assert len(nine.captured_queries) == len(one.captured_queries) + 1
    assert [p["infant_of"] for p in response.json()["passengers"]] == [None] * 8 + [1]


def test_the_booking_answer_is_the_booking_as_read_afterwards(passenger, api_as, flight):
    # given a passenger booking for themselves, a traveller with a passport, a child and an infant
    user, customer = passenger
    client = api_as(user)
    party = [
        {"passenger_type": "ADT", "given_name": customer.given_name, "family_name": customer.family_name, "customer_number": customer.customer_number},
        {"passenger_type": "ADT", "given_name": "Charles", "family_name": "Babbage", "document_type": "P", "document_number": "X1234567", "nationality": "GB", "assistance": ["WCHR"]},
        {"passenger_type": "CHD", "given_name": "Ada", "family_name": "King", "date_of_birth": str(timezone.localdate() - timedelta(days=365 * 7))},
        {"passenger_type": "INF", "given_name": "Byron", "family_name": "King", "date_of_birth": str(timezone.localdate() - timedelta(days=300))},
    ]  # fmt: skip

    # when they book, answered from what was written rather than read back
    made = client.post(
        BOOKINGS, booking_body(flight, passengers=party, purpose="leisure", contact_phone="+442079460958"), format="json"
    )

    # then the answer is exactly what reading the booking gives afterwards
    assert made.status_code == 201, made.content
    read = client.get(f"{BOOKINGS}{made.json()['record_locator']}/")
    assert read.status_code == 200
    assert made.json() == read.json()
    assert made.json()["passengers"][1]["document_number"] == "••••••67"  # masked for a passenger, as on the read


def test_booking_detail_queries_do_not_grow_with_passengers(agent, api_as, flight, django_assert_max_num_queries):
    client = api_as(agent)
    small = book_for(None, flight)
    with django_assert_max_num_queries(50) as few:
        assert client.get(f"{BOOKINGS}{small.record_locator}/").status_code == 200
    large = services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family="ECO_STANDARD")],
        passengers=[services.PassengerRequest(passenger_type="ADT", given_name=f"P{i}", family_name="Many") for i in range(9)],
        contact_email="many@example.com",
        channel=Channel.AGENT,
    )

    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(f"{BOOKINGS}{large.record_locator}/").json()

    assert len(body["passengers"]) == 9
