#!/usr/bin/env python
"""The miles ledger at scale: accrual of a full flight, a long statement, balances among 10M entries.

    .venv/bin/python bench/loyalty.py                 # --entries 10000000
    .venv/bin/python bench/loyalty.py --entries 1000000

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@localhost:5432/airline_crm_bench_loyalty),
creates and migrates it if needed, and tops the ledger up to ``--entries`` entries with bulk SQL
(generate_series, in batches; the append-only trigger refuses only updates and deletes). Each figure is
printed beside a reference measured in the same run:

* (a) accrual of a landed flight with 300 travellers who are all members (``miles_accrue_for_flight``):
  wall time and SQL statements, beside one raw ``INSERT ... SELECT`` of the same entries that also adds
  them to the balances (a CTE: the least SQL that could do the same). Statement counts for 30 and 300
  travellers (targets: the same count; time at most 3x the raw SQL).
* (b) a member's statement at 10,000 entries: the first page of 25 the way the portal reads it
  (``selectors.statement`` through Django's Paginator, each line's sentence rendered with
  ``loyalty.texts``), beside the same two statements (count and page) run raw (targets: p95 <= 50 ms and
  <= 3x raw).
* (c) the balance of 1,000 random members (``selectors.member_get_by_number``: one row, whatever the
  ledger holds), beside the raw row read, and for scale the sum of each member's entries the balance row
  saves (targets: p95 <= 5 ms).

Not a test; not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

from _support import percentile, setup_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@localhost:5432/airline_crm_bench_loyalty"
BULK_PREFIX = "5"  # bulk members' numbers: 5 and nine digits (accrual members get real Luhn numbers)
BULK_CHANNEL = "api"  # and this enrolment channel, which no other member made here has
STATEMENT_KEY = "bench-statement"
BULK_DETAILS = (
    '{"flight": "AU117", "date": "2026-03-14", "origin": "LHR", "destination": "JFK", "cabin": "economy", '
    '"booking_class": "M", "fare_family": "ECO_STANDARD", "distance": 3442, "earn_percent": 100, "bonus_percent": 0}'
)
BATCH = 500_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000_000, help="ledger entries in all (topped up, never removed)")
    parser.add_argument("--members", type=int, default=200_000, help="members the bulk entries are spread over")
    parser.add_argument("--statement-entries", type=int, default=10_000, help="entries of the member whose statement is read")
    parser.add_argument("--passengers", type=int, default=300, help="travellers on the accrued flight")
    parser.add_argument("--runs", type=int, default=9, help="accruals timed (each on a flight of its own)")
    parser.add_argument("--reads", type=int, default=300, help="statement pages read")
    parser.add_argument("--balances", type=int, default=1000, help="random members whose balance is read")
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args()


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


# --- Data -----------------------------------------------------------------------------------------


def reference_data() -> None:
    from loyalty.selectors import programme
    from reservations.services import reference

    reference.airports_load(codes=["LHR", "JFK"])
    reference.aircraft_types_ensure()
    reference.fares_ensure()
    programme()


def top_up_ledger(*, entries: int, members: int, statement_entries: int) -> tuple[int, float]:
    """Bulk members and entries up to the wanted counts; returns (entries added, seconds).

    The statement member (the first bulk member) gets exactly ``statement_entries``; the bulk entries are
    spread over the other bulk members.
    """
    from django.db import connection, transaction

    started = time.perf_counter()
    added = 0
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # Bulk rows name only members that exist (their ids are read from the table), so the foreign-key
        # triggers are skipped while loading: the load is the bench's set-up, not what it measures.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "SELECT count(*) FROM loyalty_member WHERE number LIKE %s AND enrolment_channel = %s",
            [BULK_PREFIX + "%", BULK_CHANNEL],
        )
        (have_members,) = cursor.fetchone()
        if have_members < members:
            cursor.execute(
                """
                INSERT INTO loyalty_member (number, status, tier_id, tier_since, qualification_start, award_balance,
                    qualifying_miles, qualifying_segments, lifetime_miles, last_activity_at, enrolled_at, enrolment_channel,
                    login_change)
                SELECT %s || lpad(g::text, 9, '0'), 'active', (SELECT id FROM loyalty_tier WHERE rank = 0),
                    current_date, current_date, 0, 0, 0, 0, now(), now(), %s, ''
                FROM generate_series(%s::bigint, %s::bigint) g
                """,
                [BULK_PREFIX, BULK_CHANNEL, have_members + 1, members],
            )
        # The statement member: the first bulk member, with exactly ``statement_entries`` of its own.
        # By the statement member (its index), not by a key prefix: the ledger's key index serves equality only.
        cursor.execute(
            "SELECT count(*) FROM loyalty_milesentry e JOIN loyalty_member m ON m.id = e.member_id "
            "WHERE m.number = %s AND e.reason = 'flight'",
            [BULK_PREFIX + "000000001"],
        )
        (have_statement,) = cursor.fetchone()
        if have_statement < statement_entries:
            with transaction.atomic():
                cursor.execute(
                    f"""
                    INSERT INTO loyalty_milesentry (member_id, kind, award_miles, qualifying_miles, qualifying_segments,
                        reason, details, note, idempotency_key, created_at)
                    SELECT (SELECT id FROM loyalty_member WHERE number = %s), 'accrual', 500 + (g * 7919) %% 3000,
                        500 + (g * 7919) %% 3000, 1, 'flight',
                        jsonb_build_object('flight', 'AU' || (100 + g %% 800), 'date', (current_date - (g %% 3000)::int)::text,
                            'origin', 'LHR', 'destination', 'JFK', 'cabin', 'economy', 'booking_class', 'M',
                            'fare_family', 'ECO_STANDARD', 'distance', 3442, 'earn_percent', 100, 'bonus_percent', 0),
                        '', '{STATEMENT_KEY}:' || g, now() - (g * interval '37 minutes')
                    FROM generate_series(%s::bigint, %s::bigint) g
                    """,
                    [BULK_PREFIX + "000000001", have_statement + 1, statement_entries],
                )
                added += cursor.rowcount
        cursor.execute("SELECT count(*) FROM loyalty_milesentry")
        (have,) = cursor.fetchone()
        last = have  # bulk keys are numbered past every entry there was: never taken (the ledger only grows)
        missing = entries - have
        while missing > 0:
            n = min(BATCH, missing)
            with transaction.atomic():
                cursor.execute(
                    """
                    WITH ids AS (SELECT array_agg(id ORDER BY id) AS a FROM loyalty_member WHERE number LIKE %s AND enrolment_channel = %s)
                    INSERT INTO loyalty_milesentry (member_id, kind, award_miles, qualifying_miles, qualifying_segments,
                        reason, details, note, idempotency_key, created_at)
                    SELECT ids.a[2 + (g * 2654435761) %% (cardinality(ids.a) - 1)], 'accrual', 500 + (g * 7919) %% 3000,
                        500 + (g * 7919) %% 3000, 1, 'flight', %s::jsonb, '', 'bulk:' || g,
                        now() - ((g %% 1000000) * interval '1 minute')
                    FROM generate_series(%s::bigint, %s::bigint) g, ids
                    """,
                    [BULK_PREFIX + "%", BULK_CHANNEL, BULK_DETAILS, last + 1, last + n],
                )
            added += n
            last += n
            missing -= n
            print(f"  ... {entries - missing:,} entries", flush=True)
        cursor.execute("SET session_replication_role = DEFAULT")
        if added:
            # The member rows are what the ledger adds up to, as the services keep them.
            with transaction.atomic():
                cursor.execute(
                    """
                    UPDATE loyalty_member m SET award_balance = t.award, qualifying_miles = t.qualifying,
                        qualifying_segments = t.segments, lifetime_miles = t.award
                    FROM (SELECT member_id, sum(award_miles) AS award, sum(qualifying_miles) AS qualifying,
                          sum(qualifying_segments) AS segments FROM loyalty_milesentry GROUP BY member_id) t
                    WHERE m.id = t.member_id AND m.enrolment_channel = %s
                    """,
                    [BULK_CHANNEL],
                )
            # What autovacuum does in the background of a live database, at once.
            cursor.execute("VACUUM ANALYZE loyalty_milesentry")
            cursor.execute("VACUUM ANALYZE loyalty_member")
    return added, time.perf_counter() - started


def flown_flight(passengers: int, n: int) -> int:
    """A landed LHR-JFK flight whose ``passengers`` travellers (bookings of three) all carry a member's number."""
    from datetime import timedelta

    from django.utils import timezone

    from loyalty import numbers
    from loyalty.models import Member, Tier
    from reservations.models import (
        AircraftType,
        Airport,
        Booking,
        BookingClass,
        BookingPassenger,
        BookingStatus,
        Coupon,
        CouponStatus,
        Flight,
        FlightStatus,
        Route,
        Segment,
        Ticket,
    )
    from reservations.services.reference import great_circle_km

    lhr, jfk = Airport.objects.get(iata_code="LHR"), Airport.objects.get(iata_code="JFK")
    km = great_circle_km(float(lhr.latitude), float(lhr.longitude), float(jfk.latitude), float(jfk.longitude))
    route, _ = Route.objects.get_or_create(origin=lhr, destination=jfk, defaults={"distance_km": km, "block_minutes": 480})
    departure = (timezone.now() - timedelta(days=1, minutes=n)).replace(microsecond=0)
    number = (
        Flight.objects.filter(service_date=departure.date())
        .order_by("-flight_number")
        .values_list("flight_number", flat=True)
        .first()
        or 7000
    ) + 1
    flight = Flight.objects.create(
        flight_number=number, service_date=departure.date(), route=route, origin=lhr, destination=jfk,
        aircraft_type=AircraftType.objects.order_by("-code").first(), scheduled_departure=departure,
        scheduled_arrival=departure + timedelta(hours=8), status=FlightStatus.ARRIVED,
    )  # fmt: skip
    entry_tier = Tier.objects.get(rank=0)
    fresh: set[str] = set()
    while len(fresh) < passengers:  # new numbers, none taken by an earlier run
        drawn = {numbers.new_number() for _ in range(passengers - len(fresh))} - fresh
        fresh |= drawn - set(Member.objects.filter(number__in=drawn).values_list("number", flat=True))
    members = Member.objects.bulk_create([Member(number=n, tier=entry_tier, enrolment_channel="office") for n in sorted(fresh)])
    booking_class = BookingClass.objects.select_related("fare_family").filter(fare_family__cabin="economy").first()
    parties = [members[i : i + 3] for i in range(0, passengers, 3)]
    bookings = Booking.objects.bulk_create(
        [
            Booking(
                status=BookingStatus.TICKETED,
                trip_type="one_way",
                channel="portal",
                contact_email="bench@example.com",
                adults=len(p),
            )
            for p in parties
        ]
    )
    segments = Segment.objects.bulk_create(
        [
            Segment(
                booking=b,
                flight=flight,
                sequence=1,
                cabin="economy",
                booking_class=booking_class,
                fare_family=booking_class.fare_family,
            )
            for b in bookings
        ]
    )
    people = BookingPassenger.objects.bulk_create(
        [
            BookingPassenger(booking=b, sequence=i + 1, passenger_type="ADT", given_name="Bench", family_name=f"Flyer{m.pk}",
                             frequent_flyer_number=m.number)
            for b, party in zip(bookings, parties, strict=True)
            for i, m in enumerate(party)
        ]
    )  # fmt: skip
    segment_of = {s.booking_id: s for s in segments}
    tickets = Ticket.objects.bulk_create(
        [Ticket(number=f"878{7_000_000_000 + p.pk:010d}", booking_id=p.booking_id, passenger=p) for p in people]
    )
    Coupon.objects.bulk_create(
        [Coupon(ticket=t, segment=segment_of[t.booking_id], number=1, status=CouponStatus.FLOWN) for t in tickets]
    )
    return flight.pk


# The least SQL that credits the same entries: one statement inserting them and adding them to the balances.
RAW_ACCRUAL = """
WITH rows AS (
    SELECT c.id AS coupon_id, t.booking_id, m.id AS member_id,
           GREATEST(%(distance)s * ff.miles_earn_percent / 100, %(minimum)s) AS base, tr.bonus_percent
    FROM reservations_coupon c
    JOIN reservations_segment s ON s.id = c.segment_id
    JOIN reservations_farefamily ff ON ff.id = s.fare_family_id
    JOIN reservations_ticket t ON t.id = c.ticket_id
    JOIN reservations_bookingpassenger p ON p.id = t.passenger_id
    JOIN loyalty_member m ON m.number = p.frequent_flyer_number AND m.status = 'active'
    JOIN loyalty_tier tr ON tr.id = m.tier_id
    WHERE s.flight_id = %(flight)s AND c.status = 'flown'
), inserted AS (
    INSERT INTO loyalty_milesentry (member_id, kind, award_miles, qualifying_miles, qualifying_segments, reason, details,
        note, idempotency_key, coupon_id, booking_id, created_at)
    SELECT member_id, 'accrual', base + base * bonus_percent / 100, base, 1, 'flight',
        jsonb_build_object('flight', 'AU1', 'distance', %(distance)s), '', %(prefix)s || coupon_id, coupon_id, booking_id, now()
    FROM rows
    ON CONFLICT DO NOTHING
    RETURNING member_id, award_miles, qualifying_miles, qualifying_segments
)
UPDATE loyalty_member m SET award_balance = m.award_balance + i.award, qualifying_miles = m.qualifying_miles + i.q,
    qualifying_segments = m.qualifying_segments + i.s, lifetime_miles = m.lifetime_miles + i.award, last_activity_at = now()
FROM (SELECT member_id, sum(award_miles) AS award, sum(qualifying_miles) AS q, sum(qualifying_segments) AS s
      FROM inserted GROUP BY member_id) i
WHERE m.id = i.member_id
"""


# --- Measures -------------------------------------------------------------------------------------


def measure_accrual(args: argparse.Namespace) -> dict:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from loyalty import services
    from loyalty.models import MilesEntry
    from loyalty.selectors import programme

    counts = {}
    for size in (30, args.passengers):
        flight_id = flown_flight(size, n=size)
        with CaptureQueriesContext(connection) as queries:
            credited = services.miles_accrue_for_flight(flight_id=flight_id)
        assert len(credited) == size, (len(credited), size)
        counts[size] = len([q for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))])
    service_ms, raw_ms = [], []
    minimum, distance = (
        programme().minimum_miles_per_segment,
        services.distance_miles(lat1=51.4706, lon1=-0.461941, lat2=40.639751, lon2=-73.778925),
    )
    for run in range(args.runs):
        ours, theirs = flown_flight(args.passengers, n=1000 + run), flown_flight(args.passengers, n=2000 + run)
        service_ms.append(timed(lambda ours=ours: services.miles_accrue_for_flight(flight_id=ours)))

        def raw(theirs: int = theirs) -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(RAW_ACCRUAL, {"distance": distance, "minimum": minimum, "flight": theirs, "prefix": "raw:coupon:"})

        raw_ms.append(timed(raw))
        assert MilesEntry.objects.filter(coupon__segment__flight_id=theirs).count() == args.passengers
    return {"counts": counts, "service": service_ms, "raw": raw_ms}


def measure_statement(args: argparse.Namespace) -> dict:
    from django.core.paginator import Paginator
    from django.db import connection

    from loyalty import selectors
    from loyalty.texts import entry_description

    member = selectors.member_get_by_number(number=BULK_PREFIX + "000000001")

    def page() -> None:
        lines = Paginator(selectors.statement(member=member), 25).page(1)
        [entry_description(e) for e in lines.object_list]

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM loyalty_milesentry WHERE member_id = %s", [member.pk])
            cursor.fetchone()
            cursor.execute(
                "SELECT * FROM loyalty_milesentry WHERE member_id = %s ORDER BY created_at DESC, id DESC LIMIT 25", [member.pk]
            )
            cursor.fetchall()

    for _ in range(20):
        page(), raw()
    ours, theirs = [], []
    for _ in range(args.reads):
        ours.append(timed(page))
        theirs.append(timed(raw))
    entries = selectors.statement(member=member).count()
    return {"entries": entries, "service": ours, "raw": theirs}


def measure_balances(args: argparse.Namespace) -> dict:
    from django.db import connection

    from loyalty import selectors

    rng = random.Random(args.seed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM loyalty_member WHERE number LIKE %s AND enrolment_channel = %s",
            [BULK_PREFIX + "%", BULK_CHANNEL],
        )
        (bulk,) = cursor.fetchone()
    numbers = [f"{BULK_PREFIX}{rng.randint(2, bulk):09d}" for _ in range(args.balances)]
    ours, theirs, sums = [], [], []
    for number in numbers[:50]:  # warm
        selectors.member_get_by_number(number=number)
    for number in numbers:
        ours.append(timed(lambda number=number: selectors.member_get_by_number(number=number).award_balance))

        def raw(number: str = number) -> None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT award_balance FROM loyalty_member WHERE number = %s", [number])
                cursor.fetchone()

        theirs.append(timed(raw))
    for number in numbers[:200]:

        def summed(number: str = number) -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT sum(e.award_miles) FROM loyalty_milesentry e JOIN loyalty_member m ON m.id = e.member_id "
                    "WHERE m.number = %s",
                    [number],
                )
                cursor.fetchone()

        sums.append(timed(summed))
    return {"service": ours, "raw": theirs, "sums": sums}


# --- Main -----------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    settings_env = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "crm.settings", "DEBUG": "false"}
    env = {**os.environ, **settings_env}
    os.environ.update(settings_env)
    sys.path.insert(0, str(ROOT))
    setup_database(env)
    import django

    django.setup()
    from django.db import connection

    print("Preparing reference data and the ledger ...", flush=True)
    reference_data()
    added, seconds = top_up_ledger(entries=args.entries, members=args.members, statement_entries=args.statement_entries)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), pg_size_pretty(pg_total_relation_size('loyalty_milesentry')) FROM loyalty_milesentry")
        total, size = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM loyalty_member")
        (members,) = cursor.fetchone()
        cursor.execute("SELECT current_setting('server_version')")
        (pg_version,) = cursor.fetchone()
    print(f"  {added:,} entries added in {seconds:.0f} s" if added else "  ledger already at size")

    print("Measuring ...", flush=True)
    accrual = measure_accrual(args)
    statement = measure_statement(args)
    balances = measure_balances(args)

    load_1, load_5, _ = os.getloadavg()
    print()
    print(f"Miles ledger: {total:,} entries ({size} with indexes), {members:,} members")
    print(
        f"PostgreSQL {pg_version}; {os.cpu_count()} CPUs shared by Python and the database; "
        f"load average {load_1:.1f} (1 min), {load_5:.1f} (5 min) at the end"
    )
    print()
    header = f"{'measure':<56} {'p50 ms':>7} {'p95 ms':>7} {'raw p50':>8} {'raw p95':>8} {'x p50':>6} {'x p95':>6}"
    print(header)
    print("-" * len(header))

    def row(label: str, ours: list[float], theirs: list[float]) -> tuple[float, float]:
        """Prints the line; returns the ratios to the raw SQL (at the median, at p95)."""
        at50 = percentile(ours, 50) / max(percentile(theirs, 50), 1e-9)
        at95 = percentile(ours, 95) / max(percentile(theirs, 95), 1e-9)
        print(
            f"{label:<56} {percentile(ours, 50):>7.1f} {percentile(ours, 95):>7.1f} "
            f"{percentile(theirs, 50):>8.1f} {percentile(theirs, 95):>8.1f} {at50:>5.1f}x {at95:>5.1f}x"
        )
        return at50, at95

    a_ratio, _ = row(f"(a) accrual, {args.passengers} travellers ({args.runs} flights)", accrual["service"], accrual["raw"])
    _, b_ratio = row(f"(b) statement page 1 of 25, {statement['entries']:,} entries", statement["service"], statement["raw"])
    row(f"(c) balance of {args.balances:,} random members", balances["service"], balances["raw"])
    print(
        f"{'    the sum of their entries instead (200 of them, raw)':<56} {percentile(balances['sums'], 50):>7.1f} "
        f"{percentile(balances['sums'], 95):>7.1f}"
    )
    print()
    counts = accrual["counts"]
    print(
        "SQL statements of one accrual (savepoints aside): "
        + ", ".join(f"{n} travellers: {c}" for n, c in counts.items())
        + "; raw reference: 1"
    )
    checks = {
        "(a) statement count does not grow with travellers": len(set(counts.values())) == 1,
        "(a) accrual time (median of the flights) <= 3x the raw INSERT ... SELECT": a_ratio <= 3,
        "(b) statement page p95 <= 50 ms": percentile(statement["service"], 95) <= 50,
        "(b) statement page p95 <= 3x raw": b_ratio <= 3,
        "(c) balance p95 <= 5 ms": percentile(balances["service"], 95) <= 5,
    }
    for label, ok in checks.items():
        print(f"{label}: {'yes' if ok else 'NO'}")
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
