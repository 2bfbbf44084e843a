#!/usr/bin/env python
"""Booking throughput through the API beside a minimal JSON endpoint, and SQL queries per booking, in one run.

    .venv/bin/python bench/booking.py            # --clients 8 --seconds 10

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@localhost:5432/airline_crm_bench_booking),
creates and migrates it if needed, builds the network schedule with `generate_schedule`, and then, each run,
deletes the bookings of earlier runs and puts every cabin back to full (the database is the bench's alone).

* Throughput: gunicorn on 127.0.0.1 (gthread workers, so HTTP keep-alive works) in a subprocess; N client
  threads, each with its own keep-alive connection and a passenger's token, for M seconds:
  - reference: GET /api/v1/ (the router's root: the same middleware, token authentication, throttling and
    JSON rendering as any endpoint, no SQL beyond the token) -> requests per second, p50/p95;
  - bookings: POST /api/v1/bookings/ for one adult on a random flight of the schedule (the whole path:
    validation, row locks on the seat inventory, pricing, the PNR rows, the timeline) -> bookings per
    second, p50/p95; the ratio of the two.
  Afterwards every cabin's seats taken are checked against the seats of the bookings made.
* SQL queries per booking, captured with CaptureQueriesContext around the same POST through Django's
  test Client with the same token (and around services.booking_create alone), for 1, 3 and 9
  passengers, on an empty A320 and on a 787-9 with hundreds of seats already sold: the count may grow
  with the party, never with the flight.
* Where a booking's time goes: a few hundred bookings in this process through the test Client under
  cProfile (CPU time, so waiting on PostgreSQL does not count), the project's own functions by
  cumulative time per booking: the top 10, or the top 20 with --profile.

Not a test; not part of `make test`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

from _support import Gunicorn, percentile, setup_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@localhost:5432/airline_crm_bench_booking"
FARE_FAMILY = "ECO_FLEX"  # its top class never closes, so a filling flight never turns a request away
BENCH_EMAIL = "bench-passenger@example.com"
SALES_MARGIN_HOURS = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per endpoint (after a warm-up)")
    parser.add_argument("--warm-up", type=float, default=2.0, help="seconds of warm-up per endpoint")
    parser.add_argument("--days", type=int, default=14, help="days of schedule to book on")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--profile", action="store_true", help="print the top 20 entries of the booking profile instead of the top 10"
    )
    parser.add_argument("--profile-bookings", type=int, default=200, help="bookings made under the profiler")
    parser.add_argument(
        "--profile-out", metavar="FILE", help="also save the whole booking profile there (pstats; e.g. python -m pstats FILE)"
    )
    return parser.parse_args()


# --- Data -----------------------------------------------------------------------------------------


def reset_and_schedule(days: int) -> None:
    """A schedule to book on, every cabin full again, no bookings from earlier runs."""
    from django.core.management import call_command
    from django.db.models import F

    from crm.models import TimelineEntry
    from reservations.models import Booking, FlightCabin

    call_command("generate_schedule", days=days, verbosity=0)
    Booking.objects.all().delete()
    TimelineEntry.objects.filter(kind="booking.created").delete()
    FlightCabin.objects.update(available=F("capacity"))
    # Statistics for the tables just filled and emptied, as autovacuum would have them by the time people book.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def bench_passenger() -> tuple[object, str]:
    """A portal login with its own customer record, and its API token."""
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from crm import services
    from crm.models import Customer, User
    from crm.permissions import PASSENGER

    user, created = User.objects.get_or_create(username=BENCH_EMAIL, defaults={"email": BENCH_EMAIL})
    if created:
        user.set_unusable_password()
        user.save()
    if user.email_verified_at is None:  # the API takes tokens of verified passengers only
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    user.groups.add(Group.objects.get(name=PASSENGER))
    if not Customer.objects.filter(user=user).exists():
        Customer.objects.create(user=user, email=BENCH_EMAIL, given_name="Bench", family_name="Passenger")
    return user, services.api_token_issue(user=user).key


def bookable_flights() -> list[int]:
    from datetime import timedelta

    from django.utils import timezone

    from reservations.models import Flight

    return list(
        Flight.objects.filter(
            scheduled_departure__gt=timezone.now() + timedelta(hours=SALES_MARGIN_HOURS), cabins__cabin="economy"
        ).values_list("pk", flat=True)
    )


def booking_body(flight_id: int, passengers: int = 1) -> dict:
    return {
        "segments": [{"flight_id": flight_id, "cabin": "economy", "fare_family": FARE_FAMILY}],
        "passengers": [
            {"passenger_type": "ADT", "given_name": f"Traveller{n}", "family_name": "Bench"} for n in range(passengers)
        ],
        "contact_email": BENCH_EMAIL,
        "purpose": "business",
    }


# --- Through gunicorn -----------------------------------------------------------------------------


class Result:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures: list[str] = []
        self.locators: list[str] = []
        self.elapsed = 0.0
        self.lock = threading.Lock()

    def add(self, status: int, ms: float, body: bytes, expected: int) -> None:
        with self.lock:
            self.latencies_ms.append(ms)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == expected == 201:
                self.locators.append(json.loads(body)["record_locator"])
            elif status != expected and len(self.failures) < 3:
                self.failures.append(f"{status} {body[:200]!r}")

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in (200, 201))


def load(port: int, token: str, *, clients: int, seconds: float, request: callable, expected: int, seed: int) -> Result:
    """``clients`` threads, each on its own keep-alive connection, sending ``request(rng)`` until time is up."""
    result = Result()
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()
    headers = {"Authorization": f"Token {token}", "Host": "127.0.0.1", "Content-Type": "application/json"}

    def client(n: int) -> None:
        rng = random.Random(seed + n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        while not stop.is_set():
            method, path, body = request(rng)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with result.lock:
                    result.failures.append(repr(error))
                continue
            result.add(response.status, (time.perf_counter() - started) * 1000, data, expected)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    return result


# --- SQL queries per booking ----------------------------------------------------------------------


def queries_per_booking(user, token: str) -> tuple[list[tuple[int, dict[str, tuple[int, int]]]], set[int]]:  # noqa: ANN001
    """(passengers, {flight label: (queries through the API, queries in booking_create)}), and the flights used.

    Through the API with the passenger's token, as the load authenticates (one query for the token and
    its login)."""
    from datetime import timedelta

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from reservations import services
    from reservations.models import Flight

    later = Flight.objects.filter(scheduled_departure__gt=timezone.now() + timedelta(hours=SALES_MARGIN_HOURS))
    small = later.filter(aircraft_type__code="320").order_by("scheduled_departure").first()
    large = later.filter(aircraft_type__code="789").order_by("-scheduled_departure").first()
    # Fill the large one (240 economy seats): 90 bookings of 2, leaving room for the ones measured.
    for _ in range(90):
        services.booking_create(
            segments=[services.SegmentRequest(flight_id=large.pk, cabin="economy", fare_family=FARE_FAMILY)],
            passengers=[
                services.PassengerRequest(passenger_type="ADT", given_name=f"P{i}", family_name="Fill") for i in range(2)
            ],
            contact_email=BENCH_EMAIL,
            channel="agent",
        )
    sold = {f.pk: sum(c.capacity - c.available for c in f.cabins.all()) for f in (small, large)}
    flights = {
        f"{small.aircraft_type.name}, {sold[small.pk]} seats sold": small,
        f"{large.aircraft_type.name}, {sold[large.pk]} seats sold": large,
    }
    customer = user.customer
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    rows = []
    for passengers in (1, 3, 9):
        counts = {}
        for label, flight in flights.items():
            client.post("/api/v1/bookings/", booking_body(flight.pk, passengers), content_type="application/json")  # warm
            with CaptureQueriesContext(connection) as api:
                response = client.post("/api/v1/bookings/", booking_body(flight.pk, passengers), content_type="application/json")
            if response.status_code != 201:
                sys.exit(f"booking for the query count failed: {response.status_code} {response.content[:300]!r}")
            body = booking_body(flight.pk, passengers)
            with CaptureQueriesContext(connection) as service:
                services.booking_create(
                    segments=[services.SegmentRequest(**s) for s in body["segments"]],
                    passengers=[services.PassengerRequest(**p) for p in body["passengers"]],
                    contact_email=BENCH_EMAIL,
                    channel="api",
                    customer=customer,
                    by=user,
                )
            counts[label] = (len(api.captured_queries), len(service.captured_queries))
        rows.append((passengers, counts))
    return rows, {small.pk, large.pk}


def booking_profile(
    token: str, pool: list[int], *, bookings: int, seed: int, save_to: str | None = None
) -> tuple[float, float, list[tuple]]:
    """(CPU ms per booking, CPU ms per reference request, the project's functions by cumulative CPU time).

    The bookings go through Django's test Client with the token, in this process, under cProfile with a
    CPU-time clock; each row is (cumulative ms per booking, own ms per booking, calls per booking, name).
    """
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    rng = random.Random(seed)

    def book() -> None:
        body = json.dumps(booking_body(rng.choice(pool)))
        response = client.post("/api/v1/bookings/", body, content_type="application/json")
        if response.status_code != 201:
            sys.exit(f"booking under the profiler failed: {response.status_code} {response.content[:300]!r}")

    def reference() -> None:
        client.get("/api/v1/")

    for _ in range(5):  # imports, first queries, the serializers' fields built once
        book()
        reference()
    started = time.process_time()
    for _ in range(bookings):
        reference()
    reference_ms = (time.process_time() - started) * 1000 / bookings
    started = time.process_time()
    for _ in range(bookings):
        book()
    booking_ms = (time.process_time() - started) * 1000 / bookings

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(bookings):
        book()
    profiler.disable()
    if save_to:
        profiler.dump_stats(save_to)
    stats = pstats.Stats(profiler).stats
    root, bench = str(ROOT) + os.sep, str(ROOT / "bench") + os.sep
    rows = []
    for (path, line, name), (_primitive, calls, own, cumulative, _callers) in stats.items():
        if path.startswith(root) and not path.startswith(bench) and "site-packages" not in path:
            label = f"{name} ({os.path.relpath(path, ROOT)}:{line})"
            rows.append((cumulative * 1000 / bookings, own * 1000 / bookings, calls / bookings, label))
    rows.sort(reverse=True)
    return booking_ms, reference_ms, rows


def inventory_consistent() -> tuple[bool, int, int]:
    """Seats taken out of every cabin == seats held by the bookings made (nothing lost, nothing oversold)."""
    from django.db.models import F, Sum

    from reservations.models import FlightCabin, Segment

    taken = FlightCabin.objects.aggregate(n=Sum(F("capacity") - F("available")))["n"] or 0
    booked = Segment.objects.aggregate(n=Sum(F("booking__adults") + F("booking__children")))["n"] or 0
    negative = FlightCabin.objects.filter(available__lt=0).count()
    return taken == booked and negative == 0, taken, booked


# --- Main -----------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    settings_env = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "crm.settings", "DEBUG": "false"}
    env = {**os.environ, **settings_env}
    os.environ.update(settings_env)
    os.environ["API_THROTTLE_USER"] = "100000000/minute"
    sys.path.insert(0, str(ROOT))
    setup_database(env)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import override_settings

    print("Preparing the schedule ...", flush=True)
    reset_and_schedule(args.days)
    user, token = bench_passenger()
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        sql, measured = queries_per_booking(user, token)
    pool = [pk for pk in bookable_flights() if pk not in measured]
    if not pool:
        sys.exit("no bookable flights in the bench schedule")
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        profile = booking_profile(token, pool, bookings=args.profile_bookings, seed=args.seed + 200, save_to=args.profile_out)

    def reference(rng: random.Random) -> tuple[str, str, None]:
        return "GET", "/api/v1/", None

    def booking(rng: random.Random) -> tuple[str, str, bytes]:
        return "POST", "/api/v1/bookings/", json.dumps(booking_body(rng.choice(pool))).encode()

    server = Gunicorn(env, workers=args.workers, threads=args.threads)
    try:
        server.wait_ready(token)
        runs = {}
        for label, request, expected in (
            ("GET /api/v1/ (reference)", reference, 200),
            ("POST /api/v1/bookings/ (1 adult)", booking, 201),
        ):
            load(
                server.port, token, clients=args.clients, seconds=args.warm_up, request=request, expected=expected, seed=args.seed
            )
            runs[label] = load(
                server.port,
                token,
                clients=args.clients,
                seconds=args.seconds,
                request=request,
                expected=expected,
                seed=args.seed + 100,
            )
    finally:
        server.close()

    consistent, taken, booked = inventory_consistent()

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        (pg_version,) = cursor.fetchone()
    print()
    print(
        f"Booking through the API: {args.clients} concurrent clients x {args.seconds:.0f} s per endpoint (after {args.warm_up:.0f} s warm-up)"
    )
    print(f"Server: {server.label}")
    print(
        f"Schedule: {len(pool):,} bookable flights over {args.days} days; each booking 1 adult, economy {FARE_FAMILY}, random flight"
    )
    load_1, load_5, _load_15 = os.getloadavg()
    print(
        f"PostgreSQL {pg_version}; {os.cpu_count()} CPUs shared by server, clients and database; "
        f"load average {load_1:.1f} (1 min), {load_5:.1f} (5 min) at the end"
    )
    print()
    header = f"{'endpoint':<36} {'requests':>8} {'per second':>11} {'p50 ms':>8} {'p95 ms':>8} {'not 2xx':>8}"
    print(header)
    print("-" * len(header))
    for label, result in runs.items():
        bad = sum(n for status, n in result.statuses.items() if status not in (200, 201)) + len(
            [f for f in result.failures if not f[:3].isdigit()]
        )
        print(
            f"{label:<36} {result.ok:>8,} {result.ok / result.elapsed:>11.1f} "
            f"{percentile(result.latencies_ms, 50):>8.1f} {percentile(result.latencies_ms, 95):>8.1f} {bad:>8}"
        )
    ref, book = runs.values()
    ratio = (book.ok / book.elapsed) / max(ref.ok / ref.elapsed, 1e-9)
    print(
        f"Bookings per second / reference requests per second: {ratio:.2f} (a booking costs {1 / max(ratio, 1e-9):.1f}x the minimal request)"
    )
    print(
        f"Inventory after the run: {taken:,} seats taken from the cabins, {booked:,} seats in bookings: {'consistent' if consistent else 'INCONSISTENT'}"
    )
    print()
    labels = list(sql[0][1])
    print(
        "SQL queries per booking: POST /api/v1/bookings/ through the test Client, token included (services.booking_create alone)"
    )
    header = f"{'passengers':<12}" + "".join(f"{label:>34}" for label in labels)
    print(header)
    print("-" * len(header))
    for passengers, counts in sql:
        print(f"{passengers:<12}" + "".join(f"{f'{counts[label][0]} ({counts[label][1]})':>34}" for label in labels))
    same = all(len(set(counts.values())) == 1 for _, counts in sql)
    print(f"Same count on the empty small flight and the busy large one, for every party size: {'yes' if same else 'NO'}")
    booking_ms, reference_ms, entries = profile
    top = 20 if args.profile else 10
    print()
    print(
        f"Where a booking's time goes: {args.profile_bookings} bookings in one process through the test Client, "
        f"{booking_ms:.1f} ms CPU each beside {reference_ms:.2f} ms for the reference request ({reference_ms / booking_ms:.2f}); "
        f"under cProfile (CPU time; its own overhead inflates the figures), the project's functions, top {top} by cumulative time"
    )
    header = f"{'cumulative ms':>13} {'own ms':>8} {'calls':>6}  function"
    print(header)
    print("-" * 100)
    for cumulative, own, calls, label in entries[:top]:
        print(f"{cumulative:>13.2f} {own:>8.2f} {calls:>6.1f}  {label}")
    for label, result in runs.items():
        if result.failures:
            print(f"{label}: e.g. {result.failures[0]}")
    if not consistent or not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
