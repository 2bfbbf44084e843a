#!/usr/bin/env python
"""A campaign at scale: materialising a run's deliveries for a million customers, and sending them.

    .venv/bin/python bench/campaign.py --customers 1000000
    .venv/bin/python bench/campaign.py --customers 1000000 --sends 5000 --runs 3
    .venv/bin/python bench/campaign.py --sends-only --profile

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@localhost:5432/airline_crm_bench_campaign),
creates and migrates it if needed, tops it up to --customers with `generate_scale`, and gives 70% of the
customers a marketing e-mail consent (bulk SQL, once). The segment is "preferred language English" on the
e-mail channel. Celery's broker is an in-memory transport here, so the fan-out tasks a run queues go nowhere.
Each figure is printed beside a reference measured in the same run:

* (a) materialisation: ``campaign_run_start`` for the whole segment (the run row, the one INSERT ... SELECT
  with holdout and variant, the bounds, the commit with its deferred foreign-key checks, the fan-out tasks
  queued), beside the very same INSERT ... SELECT (captured from the service) run directly with psycopg2
  into a scratch table of the same shape (LIKE marketing_delivery INCLUDING ALL, the same two foreign
  keys). Median of --runs runs of each, interleaved; target: at most 2x.
* (b) sending: ``deliveries_send_batch`` over --sends pending deliveries in batches of BATCH_SIZE, one after
  another in this one process (as a campaign worker with concurrency 1 runs the fan-out's tasks), to a local
  SMTP server (aiosmtpd's Sink, in a subprocess), beside as many plain ``EmailMultiAlternatives(...).send()``
  of a message of the same size through the same EMAIL_URL. Messages per second and the SQL statements per
  message (a whole batch's, divided); target: at least 500 msgs/s.

Not a test; not part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from _support import free_port, setup_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@localhost:5432/airline_crm_bench_campaign"
CONSENT_METHOD = "bench consent"
SEGMENT_NAME = "bench: English speakers"
SCRATCH = "bench_delivery_scratch"
SEND_OCCURRENCE = date(2001, 1, 1)  # the send bench's run: far from the materialisation runs' days
TARGET_MATERIALISE_RATIO = 2.0
TARGET_SENDS_PER_SECOND = 500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="minimum customers in the bench database")
    parser.add_argument("--runs", type=int, default=3, help="timed materialisations of each kind")
    parser.add_argument("--sends", type=int, default=5000, help="deliveries sent (and reference messages)")
    parser.add_argument("--profile", action="store_true", help="print where the sends spend their time (cProfile)")
    parser.add_argument("--sends-only", action="store_true", help="measure (b) only (skip the materialisation)")
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args()


# --- Data -----------------------------------------------------------------------------------------


def top_up(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from crm.models import Customer

    have = Customer.objects.count()
    if have < args.customers:
        print(f"  {have:,} customers; generating {args.customers - have:,} more ...", flush=True)
        call_command("generate_scale", customers=args.customers - have, seed=args.seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(customer_id) FROM crm_consentevent WHERE method = %s", [CONSENT_METHOD])
        (done_up_to,) = cursor.fetchone()
        # Seven in ten agree to marketing e-mail (the append-only table keeps earlier runs' events: only new
        # customers get one).
        with transaction.atomic():
            cursor.execute(
                """
                INSERT INTO crm_consentevent (customer_id, channel, purpose, granted, source, method, recorded_at)
                SELECT id, 'email', 'marketing', (hashtext(id::text) & 1023) < 717, 'import', %s,
                       now() - interval '30 days'
                FROM crm_customer WHERE id > %s
                """,
                [CONSENT_METHOD, done_up_to or 0],
            )
            added = cursor.rowcount
        if added:
            print(f"  {added:,} consent events added", flush=True)
            cursor.execute("VACUUM ANALYZE crm_consentevent")


def bench_campaign(name: str):  # noqa: ANN201
    from django.utils import timezone

    from marketing import services
    from marketing.models import Campaign, Segment

    segment, _ = Segment.objects.get_or_create(
        name=SEGMENT_NAME,
        defaults={"rules": {"all": [{"attribute": "language", "lookup": "exact", "value": "en"}]}, "consent_channel": "email"},
    )
    campaign = Campaign.objects.filter(name=name).first()
    if campaign is None:
        campaign = services.campaign_create(
            name=name, segment=segment, status="scheduled", send_at=timezone.now() + timedelta(days=1),
            subject_en="{{ name }}, spring fares to {{ destination|default:'Europe' }}",
            text_en=(
                "Dear {{ name }} {{ family_name }},\n\nSpring is here and so are our fares. Fly from {{ home_airport }} "
                "to {{ destination|default:'Europe' }} this season and earn miles on every flight.\n\n"
                "Book at https://www.airline.example/book?utm_source=spring\n\nYour tier: {{ tier|default:'member' }}; "
                "your miles: {{ miles }}.\n\nKind regards,\nAurora Air"
            ),
            html_en=(
                "<p>Dear {{ name }} {{ family_name }},</p><p>Spring is here and so are our fares. Fly from "
                "<b>{{ home_airport }}</b> to {{ destination|default:'Europe' }} this season and earn miles on every "
                "flight.</p><p><a href=\"https://www.airline.example/book?utm_source=spring\">Book now</a></p>"
                "<p>Your tier: {{ tier|default:'member' }}; your miles: {{ miles }}.</p><p>Kind regards,<br>Aurora Air</p>"
            ),
        )  # fmt: skip
    return campaign


def clear_runs(campaign) -> None:  # noqa: ANN001
    """Earlier runs of a bench campaign go, so each measure starts from the same table."""
    from django.db import connection

    from marketing.models import CampaignRun, Delivery

    Delivery.objects.filter(run__campaign=campaign)._raw_delete(Delivery.objects.db)  # nothing refers to a delivery
    CampaignRun.objects.filter(campaign=campaign).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE marketing_delivery")


# --- (a) Materialisation --------------------------------------------------------------------------


def measure_materialise(args: argparse.Namespace, database_url: str) -> dict:
    import psycopg2
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from marketing import services
    from marketing.models import Delivery

    campaign = bench_campaign("bench: materialise")
    clear_runs(campaign)
    raw = psycopg2.connect(database_url)
    with raw.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        cursor.execute(f"CREATE TABLE {SCRATCH} (LIKE marketing_delivery INCLUDING ALL)")
        cursor.execute(
            f"ALTER TABLE {SCRATCH} ADD FOREIGN KEY (customer_id) REFERENCES crm_customer (id) DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (run_id) REFERENCES marketing_campaignrun (id) DEFERRABLE INITIALLY DEFERRED"
        )
    raw.commit()
    service_s, raw_s, rows = [], [], 0
    insert = None
    for n in range(args.runs):
        occurrence = date(2000, 1, 1) + timedelta(days=n)
        # The first run also captures its statements (the INSERT ... SELECT for the reference).
        with CaptureQueriesContext(connection) if insert is None else contextlib.nullcontext() as queries:
            started = time.perf_counter()
            run = services.campaign_run_start(campaign=campaign, occurrence=occurrence)
            service_s.append(time.perf_counter() - started)
        if insert is None:
            insert = next(
                q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith("INSERT INTO marketing_delivery")
            )
            keep_run = run  # the scratch rows name this run (their foreign key needs it to exist)
        rows = Delivery.objects.filter(run=run).count()
        if run != keep_run:
            Delivery.objects.filter(run=run)._raw_delete(Delivery.objects.db)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE marketing_delivery")

        scratch_sql = insert.replace("INSERT INTO marketing_delivery", f"INSERT INTO {SCRATCH}", 1)
        with raw.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(scratch_sql)
            raw.commit()
            raw_s.append(time.perf_counter() - started)
            scratch_rows = cursor.rowcount
            cursor.execute(f"DELETE FROM {SCRATCH}")
            raw.commit()
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {SCRATCH}")
        raw.autocommit = False
        assert scratch_rows == rows, (scratch_rows, rows)
    with raw.cursor() as cursor:
        cursor.execute(f"DROP TABLE {SCRATCH}")
    raw.commit()
    raw.close()
    clear_runs(campaign)
    return {"service": service_s, "raw": raw_s, "rows": rows}


# --- (b) Sending ----------------------------------------------------------------------------------


class SmtpSink:
    """aiosmtpd's Sink handler (accepts and drops every message) in a subprocess of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}", "-c", "aiosmtpd.handlers.Sink"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    sys.exit("the SMTP sink did not start")
                time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def measure_sends(args: argparse.Namespace) -> dict:
    from django.core.mail import EmailMultiAlternatives
    from django.db import connection
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    from crm.models import Customer
    from marketing import services
    from marketing.models import Delivery, DeliveryStatus
    from marketing.services.campaigns import BATCH_SIZE

    campaign = bench_campaign("bench: send")
    clear_runs(campaign)
    # --sends customers of the segment, one in every few hundred through the table, none sent to lately
    # (the frequency cap counts the last 7 days).
    audience = services.campaign_recipients(campaign=campaign, occurrence=SEND_OCCURRENCE).order_by("pk")
    stride = max(1, audience.count() // args.sends)
    picked = list(audience.values_list("pk", flat=True)[: args.sends * stride : stride])
    run = services.campaign_run_start(campaign=campaign, occurrence=SEND_OCCURRENCE, only=Q(pk__in=picked))
    pending = list(Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING).order_by("pk").values_list("pk", flat=True))

    # The statements per message of a batch (the first BATCH_SIZE deliveries, as one batch).
    size = BATCH_SIZE
    with CaptureQueriesContext(connection) as queries:
        services.deliveries_send_batch(delivery_ids=pending[:size])
    per_send = len(queries.captured_queries) / size

    profiler = cProfile.Profile() if args.profile else None
    cpu = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    # As a campaign worker runs the fan-out's tasks: one batch of BATCH_SIZE after another.
    rest = pending[size:]
    for first in range(0, len(rest), size):
        services.deliveries_send_batch(delivery_ids=rest[first : first + size])
    if profiler is not None:
        profiler.disable()
    send_s = time.perf_counter() - started
    send_cpu = time.process_time() - cpu
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(os.environ.get("PROF_SORT", "cumulative")).print_stats(45)
    sent = Delivery.objects.filter(run=run, status=DeliveryStatus.SENT).count()
    assert sent == len(pending), (
        f"only {sent} of {len(pending)} sent: {Delivery.objects.filter(run=run).exclude(status='sent').values('status', 'skip_reason', 'last_error')[:3]}"
    )

    # The reference: the same number of plain sends of a message of the same size.
    customer = Customer.objects.get(pk=picked[0])
    rendered = services.message_render(
        campaign=campaign, language="en", variant="a", values=services.message_values(customer=customer)
    )
    count = len(pending) - size
    cpu = time.process_time()
    started = time.perf_counter()
    for n in range(count):
        email = EmailMultiAlternatives(
            subject=rendered.subject, body=rendered.text, to=[f"reference{n}@example.com"],
            headers={"List-Unsubscribe": "<https://www.airline.example/unsubscribe/x/>"},
        )  # fmt: skip
        email.attach_alternative(rendered.html, "text/html")
        email.send()
    reference_s = time.perf_counter() - started
    reference_cpu = time.process_time() - cpu
    clear_runs(campaign)
    return {
        "count": count, "send": send_s, "reference": reference_s, "per_send": per_send,
        "send_cpu": send_cpu, "reference_cpu": reference_cpu,
    }  # fmt: skip


# --- Main -----------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    sink = SmtpSink()
    settings_env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DEBUG": "false",
        "LOG_LEVEL": "ERROR",
        "CELERY_BROKER_URL": "memory://",  # the fan-out tasks a run queues go nowhere
        "CELERY_RESULT_BACKEND": "cache+memory://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
    }
    env = {**os.environ, **settings_env}
    os.environ.update(settings_env)
    sys.path.insert(0, str(ROOT))
    try:
        setup_database(env)
        import django

        django.setup()
        from django.db import connection

        print("Preparing customers and consent ...", flush=True)
        top_up(args)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM crm_customer")
            (customers,) = cursor.fetchone()
            cursor.execute("SELECT current_setting('server_version')")
            (pg_version,) = cursor.fetchone()
        materialise = None
        if not args.sends_only:
            print("Measuring (a) materialisation ...", flush=True)
            materialise = measure_materialise(args, database_url)
        print("Measuring (b) sending ...", flush=True)
        sends = measure_sends(args)
    finally:
        sink.close()

    load_1, load_5, _ = os.getloadavg()
    print()
    if materialise is not None:
        print(
            f"Campaign: {customers:,} customers; segment '{SEGMENT_NAME}' with e-mail consent: {materialise['rows']:,} deliveries"
        )
    else:
        print(f"Campaign: {customers:,} customers (materialisation not measured: --sends-only)")
    print(
        f"PostgreSQL {pg_version}; {os.cpu_count()} CPUs shared by Python, the SMTP sink and the database; "
        f"load average {load_1:.1f} (1 min), {load_5:.1f} (5 min) at the end"
    )
    print()
    b_ours = sends["count"] / sends["send"]
    b_ref = sends["count"] / sends["reference"]
    header = f"{'measure':<66} {'ours':>10} {'reference':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    checks = {}
    if materialise is not None:
        a_ours, a_ref = statistics.median(materialise["service"]), statistics.median(materialise["raw"])
        label = f"(a) campaign_run_start, {materialise['rows']:,} deliveries (s, median of {args.runs})"
        print(f"{label:<66} {a_ours:>10.2f} {a_ref:>10.2f} {a_ours / a_ref:>5.2f}x")
        print(
            f"{'    each run (s)':<66} {' '.join(f'{s:.2f}' for s in materialise['service']):>10}   {' '.join(f'{s:.2f}' for s in materialise['raw'])}"
        )
        checks[f"(a) materialisation <= {TARGET_MATERIALISE_RATIO:g}x the raw INSERT ... SELECT"] = (
            a_ours / a_ref <= TARGET_MATERIALISE_RATIO
        )
    label = f"(b) deliveries_send_batch, {sends['count']:,} messages, one process (msgs/s)"
    print(f"{label:<66} {b_ours:>10.0f} {b_ref:>10.0f} {b_ref / b_ours:>5.2f}x")
    cpu_ours, cpu_ref = sends["count"] / sends["send_cpu"], sends["count"] / sends["reference_cpu"]
    print(
        f"{'    the same per CPU-second of this process (msgs/s of its own CPU)':<66} {cpu_ours:>10.0f} {cpu_ref:>10.0f} {cpu_ref / cpu_ours:>5.2f}x"
    )
    print(f"{'    SQL statements per message, batch included (reference: 0)':<66} {sends['per_send']:>10.2f}")
    print()
    if materialise is not None:
        print("(a) reference: the same INSERT ... SELECT with psycopg2 into a scratch table of the same shape")
    print("(b) reference: plain EmailMultiAlternatives(...).send() of a same-size message to the same SMTP sink")
    print()
    checks[f"(b) at least {TARGET_SENDS_PER_SECOND} messages per second per worker process"] = b_ours >= TARGET_SENDS_PER_SECOND
    for label, ok in checks.items():
        print(f"{label}: {'yes' if ok else 'NO'}")
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
