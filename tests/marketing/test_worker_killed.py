"""A campaign worker killed (SIGKILL) in the middle of a run: a new worker and the sweep finish the run.

Real `celery -A crm worker` subprocesses on the campaigns queue only (as Procfile's ``worker-campaigns``),
a real Redis server of the test's own (``redis-server`` on a free port: a numbered database of a shared
Redis can be served by a worker another test run left behind, which would take our tasks) and a real SMTP
server (aiosmtpd) that takes a little while over each message, so the kill lands while most of the run is
still queued, however loaded the machine is.

Recovery is the documented design: with ``acks_late`` the send the dead worker was running stays unacked in
Redis until the visibility timeout (an hour), so the periodic ``deliveries_sweep`` is what queues it again.
The one send that can go twice is the one on the wire when the worker died (the MTA accepted it, the row
was not yet marked sent). No MTA can be asked whether it already has a message, so the resend carries the
Message-ID stamped before the first attempt, and the receiving side sees one message: each recipient has
exactly one distinct Message-ID, whatever moment the kill hit. Every wait polls a condition with a generous
deadline; no assertion depends on timing.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from email import policy
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.utils import timezone

from marketing import services
from marketing.models import Delivery, DeliveryStatus
from marketing.services.campaigns import DELIVERY_SEND_LOCK
from tests.crm import test_worker as real_worker
from tests.crm.factories import CustomerFactory
from tests.marketing.campaign_support import campaign
from tests.marketing.support import consent, reachable

RECIPIENTS = 300
SMTP_DELAY = 0.02  # seconds the SMTP server takes over each message: a run of 300 lasts at least 6 s


def wait_until(found, *, timeout: float, what: str):  # noqa: ANN001, ANN201
    """Poll ``found`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def start_worker(*, queues: str, smtp: tuple[str, int], broker: str, log: Path) -> tuple[subprocess.Popen, str]:
    """One `celery -A crm worker -P solo` (concurrency 1) on ``queues``, in a process group of its own."""
    host, port = smtp
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": real_worker._database_url(),
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": f"smtp://{host}:{port}",
        "CONN_MAX_AGE": "0",  # no connection left open when pytest drops the test database
    }
    name = f"pytest-{queues.replace(',', '-')}-{uuid.uuid4().hex[:8]}@localhost"
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "-P", "solo", "-Q", queues, "-n", name,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=real_worker.ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return process, name


def wait_ready(process: subprocess.Popen, name: str, log: Path) -> None:
    """Until the worker called ``name`` answers a ping (it then consumes its queues)."""
    from crm.celery import app

    deadline = time.monotonic() + real_worker.WORKER_START_TIMEOUT
    while True:
        try:
            if app.control.ping(destination=[name], timeout=1.0):
                return
        except Exception:  # noqa: BLE001, S110 - broker hiccup while starting: not ready yet
            pass
        if process.poll() is not None:
            pytest.fail(f"celery worker exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"celery worker did not answer within {real_worker.WORKER_START_TIMEOUT} s:\n{log.read_text()[-4000:]}")


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


class SlowInbox(real_worker.Inbox):
    """An SMTP server that takes ``delay`` seconds before it accepts each message, as a busy MTA does."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's hook name
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def parsed(self) -> list[email.message.EmailMessage]:
        with self._changed:
            raw = list(self.messages)
        return [email.message_from_bytes(m, policy=policy.default) for m in raw]


def _send_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s", [DELIVERY_SEND_LOCK])
        return cursor.fetchone()[0]


@pytest.fixture
def slow_smtp():
    from aiosmtpd.controller import Controller

    inbox = SlowInbox(SMTP_DELAY)
    controller = Controller(inbox, hostname="127.0.0.1", port=real_worker._free_port())
    controller.start()
    yield (controller.hostname, controller.port), inbox
    controller.stop()


@pytest.fixture
def private_broker(settings, tmp_path):
    """A `redis-server` of this test's own on a free port; Celery (here and in the workers) uses it."""
    from crm.celery import app

    port = real_worker._free_port()
    server = subprocess.Popen(  # noqa: S603
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    saved = (app.conf.broker_url, app.conf.result_backend)
    try:
        wait_until(answers, timeout=30, what="redis-server answers")
        real_worker._drop_connections(app)
        app.conf.broker_url = app.conf.result_backend = url
        settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
        yield url
    finally:
        real_worker._drop_connections(app)
        app.conf.broker_url, app.conf.result_backend = saved
        client.close()
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def on_the_broker(transactional_db, private_broker):
    """Tasks go to the test's own Redis (not run eagerly), for workers that see what the test committed."""
    from crm.celery import app

    app.conf.task_always_eager = False
    yield private_broker
    app.conf.task_always_eager = True


@pytest.mark.worker
@pytest.mark.timeout(420)
def test_a_run_whose_worker_is_killed_reaches_everyone_once(on_the_broker, slow_smtp, tmp_path):
    # Given a campaign for 300 consenting customers (and one who refused), with a campaign worker running
    smtp, inbox = slow_smtp
    broker = on_the_broker
    wanted = {reachable(email=f"killed{n}@example.com").email for n in range(RECIPIENTS)}
    consent(CustomerFactory(email="refused@example.com"), granted=False)
    c = campaign()
    first, first_name = start_worker(queues="campaigns", smtp=smtp, broker=broker, log=tmp_path / "first.log")
    replacement = None
    try:
        wait_ready(first, first_name, tmp_path / "first.log")
        run = services.campaign_run_start(campaign=c, occurrence=timezone.localdate())
        deliveries = Delivery.objects.filter(run=run)
        assert deliveries.count() == RECIPIENTS

        # When the worker is killed (SIGKILL, its whole process group: no clean shutdown) once e-mails go out
        wait_until(lambda: len(inbox.messages) >= 10, timeout=180, what="the first worker sends 10 e-mails")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        pending = deliveries.filter(status=DeliveryStatus.PENDING).count()
        assert pending > 0, "the run finished before the kill"
        # (PostgreSQL ends the dead worker's session, and with it its advisory lock, once it sees the socket closed)
        wait_until(lambda: not _send_locks_held(), timeout=60, what="the killed worker's send lock is released")

        # and the sweep queues every pending delivery again (the killed send is unacked until the visibility
        # timeout), and a new campaign worker starts
        assert services.deliveries_sweep(older_than_minutes=0) == pending
        replacement, replacement_name = start_worker(
            queues="campaigns", smtp=smtp, broker=broker, log=tmp_path / "replacement.log"
        )
        wait_ready(replacement, replacement_name, tmp_path / "replacement.log")

        # Then every delivery is sent
        wait_until(
            lambda: not deliveries.exclude(status=DeliveryStatus.SENT).exists(),
            timeout=300,
            what="every delivery is sent by the new worker",
        )
    finally:
        stop_worker(first)
        if replacement is not None:
            stop_worker(replacement)

    # and every consenting customer received the message, as one message (one Message-ID) each, the one stamped
    # on their delivery; nobody else received anything
    message_ids = defaultdict(set)
    for message in inbox.parsed():
        message_ids[str(message["To"])].add(message["Message-ID"].strip())
    assert set(message_ids) == wanted
    assert {to: len(ids) for to, ids in message_ids.items() if len(ids) != 1} == {}
    stamped = dict(deliveries.values_list("customer__email", "message_id"))
    assert {to: ids.pop() for to, ids in message_ids.items()} == stamped


@pytest.mark.django_db
def test_a_send_resumed_after_a_crash_reuses_the_message_id_it_stamped(mailoutbox):
    # Given a delivery whose send was cut short after it stamped its Message-ID (the row is still pending)
    reachable(email="resumed@example.com")
    c = campaign()
    run = services.campaign_run_start(campaign=c, occurrence=timezone.localdate())
    delivery = Delivery.objects.get(run=run)
    stamped = "<delivery-earlier-attempt@airline.example>"
    Delivery.objects.filter(pk=delivery.pk).update(message_id=stamped)

    # When it is sent again
    services.delivery_send(delivery_id=delivery.pk)

    # Then the message carries the same Message-ID, and the delivery is sent with it
    (message,) = mailoutbox
    assert message.extra_headers["Message-ID"] == stamped
    delivery.refresh_from_db()
    assert (delivery.status, delivery.message_id) == ("sent", stamped)
