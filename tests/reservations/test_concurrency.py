"""No oversell, ever: many clients at once competing for the last seats, on real PostgreSQL.

The clients are real threads and real processes, each with its own database connection, released
together by a barrier so they really do meet at the inventory row. Exactly the available number of
bookings succeed; everyone else gets a 409 ``sold_out``; the inventory ends at zero, never below.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.errors import ApplicationError
from crm.permissions import PASSENGER
from reservations import services
from reservations.models import Booking, BookingStatus, FlightCabin, Payment
from tests.crm.factories import CustomerFactory, UserFactory
from tests.reservations.factories import BookingClassFactory, FlightFactory, TaxRuleFactory

CLIENTS = 50
SEATS_LEFT = 3
BARRIER_TIMEOUT = 120


@pytest.fixture
def one_at_a_time():
    """Fifty connections per test: never two such tests at once on this machine (parallel test workers)."""
    with (Path(tempfile.gettempdir()) / "airline-crm-concurrency-tests.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def last_seats(one_at_a_time):
    """A flight with exactly three economy seats left, and a fare to sell them at."""
    booking_class = BookingClassFactory()
    TaxRuleFactory()
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    return flight, booking_class.fare_family.code


def book_one_seat(flight_id: int, fare_family: str, n: int) -> tuple[str, str]:
    """What one client does: book one adult; ("booked", locator) or ("refused", error code)."""
    try:
        booking = services.booking_create(
            segments=[services.SegmentRequest(flight_id=flight_id, cabin="economy", fare_family=fare_family)],
            passengers=[services.PassengerRequest(passenger_type="ADT", given_name=f"Client{n}", family_name="Racer")],
            contact_email=f"client{n}@example.com",
            channel="api",
        )
    except ApplicationError as error:
        return ("refused", f"{error.status} {error.code}")
    return ("booked", booking.record_locator)


def inventory_of(flight) -> FlightCabin:  # noqa: ANN001
    return FlightCabin.objects.get(flight=flight, cabin="economy")


def assert_exactly_three_sold(flight, outcomes: list[tuple[str, str]]) -> None:  # noqa: ANN001
    booked = [value for kind, value in outcomes if kind == "booked"]
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(outcomes) == CLIENTS
    assert len(booked) == SEATS_LEFT, outcomes
    assert refused == ["409 sold_out"] * (CLIENTS - SEATS_LEFT), outcomes
    assert sorted(Booking.objects.values_list("record_locator", flat=True)) == sorted(booked)
    assert inventory_of(flight).available == 0


@pytest.mark.django_db(transaction=True)
def test_last_three_seats_are_sold_once_to_fifty_threads(last_seats):
    # given a flight with 3 economy seats left and 50 threads, each with its own connection
    flight, fare_family = last_seats
    barrier = threading.Barrier(CLIENTS, timeout=BARRIER_TIMEOUT)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            outcome = book_one_seat(flight.pk, fare_family, n)
        except Exception as error:  # noqa: BLE001 - a crash is an outcome the assertions must see
            outcome = ("crashed", repr(error))
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]

    # when they all book one seat at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT)

    # then exactly 3 are booked, 47 are told "sold out", and the cabin is at zero
    assert_exactly_three_sold(flight, outcomes)


def _process_client(flight_id: int, fare_family: str, n: int, barrier, out: int) -> None:  # noqa: ANN001
    """Runs in a forked child with a fresh connection of its own (the parent closed its before forking);
    writes its outcome as one JSON line (shorter than PIPE_BUF, so lines never interleave)."""
    try:
        connection.ensure_connection()
        barrier.wait(BARRIER_TIMEOUT)
        outcome = book_one_seat(flight_id, fare_family, n)
    except Exception as error:  # noqa: BLE001
        outcome = ("crashed", repr(error))
    finally:
        connections.close_all()
    os.write(out, (json.dumps(outcome) + "\n").encode())


@pytest.mark.django_db(transaction=True)
def test_last_three_seats_are_sold_once_to_fifty_processes(last_seats):
    # given a flight with 3 economy seats left and 50 separate processes. They are forked with os.fork,
    # not multiprocessing, so no inherited after-fork hook (a broker connection pool) runs in them.
    flight, fare_family = last_seats
    barrier = multiprocessing.get_context("fork").Barrier(CLIENTS)
    connections.close_all()  # a forked child must never share the parent's socket
    read_end, write_end = os.pipe()

    # when they all book one seat at the same moment
    children = []
    for n in range(CLIENTS):
        pid = os.fork()
        if pid == 0:  # the child: book, report, and leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read_end)
                _process_client(flight.pk, fare_family, n, barrier, write_end)
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    os.close(write_end)
    with os.fdopen(read_end) as reports:
        outcomes = [tuple(json.loads(line)) for line in reports]
    exit_codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]

    # then exactly 3 are booked, 47 are told "sold out", and the cabin is at zero
    assert exit_codes == [0] * CLIENTS
    assert_exactly_three_sold(flight, outcomes)


@pytest.mark.django_db(transaction=True)
def test_last_three_seats_are_sold_once_to_fifty_api_clients(last_seats):
    # given 50 API clients, each a passenger with a token, each in its own thread and connection
    flight, fare_family = last_seats
    tokens = [
        Token.objects.create(user=CustomerFactory(user=UserFactory(roles=[PASSENGER], password=None)).user).key
        for _ in range(CLIENTS)
    ]
    barrier = threading.Barrier(CLIENTS, timeout=BARRIER_TIMEOUT)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()
    body = {
        "segments": [{"flight_id": flight.pk, "cabin": "economy", "fare_family": fare_family}],
        "passengers": [{"passenger_type": "ADT", "given_name": "Api", "family_name": "Racer"}],
        "contact_email": "racer@example.com",
    }

    def client(token: str) -> None:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            connection.ensure_connection()
            barrier.wait()
            response = api.post("/api/v1/bookings/", body, format="json")
            data = response.json()
            if response.status_code == 201:
                outcome = ("booked", data["record_locator"])
            else:
                outcome = ("refused", f"{response.status_code} {data['error']['code']}")
        except Exception as error:  # noqa: BLE001
            outcome = ("crashed", repr(error))
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]

    # when they all POST /api/v1/bookings/ for one seat at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT)

    # then 3 answers are 201 and 47 are 409 sold_out; the cabin is at zero
    assert_exactly_three_sold(flight, outcomes)


@pytest.mark.django_db
def test_database_refuses_a_direct_update_below_zero_seats():
    # given a cabin with 3 seats left
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})

    # when something bypasses the services and sets it negative
    with pytest.raises(IntegrityError, match="flight_cabin_available_not_negative"), transaction.atomic():
        FlightCabin.objects.filter(flight=flight, cabin="economy").update(available=-1)

    # then the CHECK constraint refused it and the count is unchanged
    assert inventory_of(flight).available == SEATS_LEFT


@pytest.mark.django_db
def test_database_refuses_more_seats_than_the_cabin_has():
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    cabin = inventory_of(flight)

    with pytest.raises(IntegrityError, match="flight_cabin_available_within_capacity"), transaction.atomic():
        FlightCabin.objects.filter(pk=cabin.pk).update(available=cabin.capacity + 1)

    assert inventory_of(flight).available == SEATS_LEFT


# --- Holds ------------------------------------------------------------------------------------


def _book(flight, fare_family: str, seats: int = 1) -> Booking:  # noqa: ANN001
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=flight.pk, cabin="economy", fare_family=fare_family)],
        passengers=[
            services.PassengerRequest(passenger_type="ADT", given_name=f"Holder{i}", family_name="Waiting") for i in range(seats)
        ],
        contact_email="holder@example.com",
        channel="api",
    )


def _overdue(booking: Booking) -> None:
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))


@pytest.mark.django_db
def test_unpaid_hold_past_its_expiry_gives_its_seats_back():
    # given a 2-seat hold on a flight with 3 left, whose payment time is up
    booking_class = BookingClassFactory()
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    booking = _book(flight, booking_class.fare_family.code, seats=2)
    assert inventory_of(flight).available == 1
    _overdue(booking)

    # when the periodic sweep runs
    expired = services.booking_expire_holds()

    # then the booking is expired and its seats are for sale again
    booking.refresh_from_db()
    assert expired == 1
    assert booking.status == BookingStatus.EXPIRED
    assert inventory_of(flight).available == SEATS_LEFT


@pytest.mark.django_db
def test_hold_still_within_its_time_keeps_its_seats():
    booking_class = BookingClassFactory()
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    booking = _book(flight, booking_class.fare_family.code)

    assert services.booking_expire_holds() == 0

    booking.refresh_from_db()
    assert booking.status == BookingStatus.HELD
    assert inventory_of(flight).available == SEATS_LEFT - 1


@pytest.mark.django_db
def test_running_the_sweep_twice_releases_the_seats_once():
    booking_class = BookingClassFactory()
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    _overdue(_book(flight, booking_class.fare_family.code))
    other = _book(flight, booking_class.fare_family.code)

    assert services.booking_expire_holds() == 1
    assert services.booking_expire_holds() == 0

    assert inventory_of(flight).available == SEATS_LEFT - 1
    other.refresh_from_db()
    assert other.status == BookingStatus.HELD


@pytest.mark.django_db(transaction=True)
def test_booking_paid_while_the_sweep_runs_is_not_expired(one_at_a_time):
    # given an overdue hold, and a payment that has locked the booking and is about to ticket it
    booking_class = BookingClassFactory()
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    booking = _book(flight, booking_class.fare_family.code)
    _overdue(booking)
    paying = threading.Event()
    finish_payment = threading.Event()

    def payment() -> None:
        try:
            with transaction.atomic():
                row = Booking.objects.select_for_update().get(pk=booking.pk)
                paying.set()
                finish_payment.wait(30)
                row.status = BookingStatus.TICKETED
                row.paid_amount = row.total_amount
                row.save(update_fields=["status", "paid_amount", "updated_at"])
        finally:
            connection.close()

    swept: list[int] = []

    def sweep() -> None:
        try:
            swept.append(services.booking_expire_holds())
        finally:
            connection.close()

    payer = threading.Thread(target=payment)
    payer.start()
    assert paying.wait(30)

    # when the sweep picks the booking as overdue and waits for the payment's lock
    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    _wait_until_blocked_on_a_lock()
    finish_payment.set()
    payer.join(30)
    sweeper.join(30)

    # then the sweep sees the ticketed booking and leaves it and its seat alone
    booking.refresh_from_db()
    assert swept == [0]
    assert booking.status == BookingStatus.TICKETED
    assert inventory_of(flight).available == SEATS_LEFT - 1


def _wait_until_blocked_on_a_lock(timeout: float = 30) -> None:
    """Until another connection to this database waits on a row lock."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the sweep never waited for the payment's lock")


# --- Payments ---------------------------------------------------------------------------------

RETRIES = 10


@pytest.mark.django_db(transaction=True)
def test_the_same_payment_sent_ten_times_at_once_charges_once(one_at_a_time):
    # given a passenger's held booking and ten copies of one payment request (same idempotency key)
    booking_class = BookingClassFactory()
    flight = FlightFactory(inventory={"economy": SEATS_LEFT})
    customer = CustomerFactory(user=UserFactory(roles=[PASSENGER], password=None))
    token = Token.objects.create(user=customer.user).key
    booking = _book(flight, booking_class.fare_family.code)
    Booking.objects.filter(pk=booking.pk).update(customer=customer)
    body = {
        "method": "card",
        "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2099, "cvv": "123", "holder": "A Payer"},
    }
    barrier = threading.Barrier(RETRIES, timeout=BARRIER_TIMEOUT)
    answers: list[tuple[int, int | str]] = []
    lock = threading.Lock()

    def client() -> None:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            connection.ensure_connection()
            barrier.wait()
            response = api.post(
                f"/api/v1/bookings/{booking.record_locator}/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="once"
            )
            data = response.json()
            answer = (response.status_code, data["payment"]["id"] if "payment" in data else data["error"]["code"])
        except Exception as error:  # noqa: BLE001
            answer = (0, repr(error))
        finally:
            connection.close()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(RETRIES)]

    # when they all arrive at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT)

    # then one answer created the payment, the others repeat it or say it is still in progress,
    # and the booking was charged exactly its total
    booking.refresh_from_db()
    payment = Payment.objects.get()
    assert len(answers) == RETRIES
    assert [status for status, _ in answers].count(201) == 1, answers
    assert set(answers) <= {(201, payment.pk), (200, payment.pk), (409, "request_in_progress")}, answers
    assert payment.amount == booking.total_amount == booking.paid_amount
    assert booking.status == BookingStatus.TICKETED
