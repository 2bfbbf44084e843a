"""A real Celery worker, a real Redis broker and a real SMTP server: e-mail leaves the building.

The worker runs as a subprocess (`celery -A crm worker`) against the pytest database and an SMTP
server run by the test (aiosmtpd). Each pytest process gets its own Redis database as broker, so a
developer's `make run` worker (or a parallel test process) never takes these tasks, nor answers
these pings.
"""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from email import policy
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm import services
from crm.models import OutboundEmail
from crm.tasks import send_email, sweep_pending_emails
from tests.crm.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT = 90  # seconds; generous, the CI machine has 2 cores shared with the test run


def _broker_url() -> str:
    """A Redis database of its own for this pytest process (15 for a serial run, 14, 13... for xdist workers)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = 15 - (int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0)
    parts = urlsplit(settings.REDIS_URL)
    auth = f"{parts.username or ''}:{parts.password}@" if parts.password else ""
    return f"{parts.scheme}://{auth}{parts.hostname or 'localhost'}:{parts.port or 6379}/{max(index, 1)}"


def _drop_connections(app) -> None:  # noqa: ANN001
    """Forget the app's broker and result connections so that a changed URL takes effect.

    kombu keeps its pools per URL, so nothing is closed: the next use picks the pool of the new URL.
    """
    app._pool = None
    app.amqp._producer_pool = None
    if hasattr(app._local, "backend"):
        del app._local.backend


@pytest.fixture
def isolated_broker(settings):
    """Celery (and /healthz) talk to this process's own Redis database, emptied first."""
    from crm.celery import app

    url = _broker_url()
    redis.Redis.from_url(url).flushdb()
    saved = (app.conf.broker_url, app.conf.result_backend)
    _drop_connections(app)
    app.conf.broker_url = app.conf.result_backend = url
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    yield url
    _drop_connections(app)
    app.conf.broker_url, app.conf.result_backend = saved


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler that keeps every message it receives, as bytes."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's hook name
        with self._changed:
            self.messages.append(envelope.original_content or envelope.content)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 30) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} e-mail(s) within {timeout} s, got {len(self.messages)}")
                self._changed.wait(remaining)
            return [email.message_from_bytes(raw, policy=policy.default) for raw in self.messages]

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.hostname, controller.port, inbox
    controller.stop()


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _ping(app, timeout: float = 1.0) -> list:  # noqa: ANN001
    try:
        return app.control.ping(timeout=timeout)
    except Exception:  # noqa: BLE001 - broker hiccup while starting: just not ready yet
        return []


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, smtp_server, tmp_path_factory):
    """`celery -A crm worker` on the default and campaigns queues, pointed at the test database and SMTP server."""
    from crm.celery import app

    host, port, _inbox = smtp_server
    broker = _broker_url()
    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": f"smtp://{host}:{port}",
        "CONN_MAX_AGE": "0",  # no connection left open when pytest drops the test database
    }
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the worker's lifetime
        prefix="celery-worker-", suffix=".log", dir=tmp_path_factory.mktemp("worker"), delete=False
    )
    name = f"pytest-{uuid.uuid4().hex[:8]}@%h"
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "-P", "solo", "-Q", "default,campaigns", "-n", name,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def output() -> str:
        log.flush()
        return Path(log.name).read_text(errors="replace")[-4000:]

    saved = (app.conf.broker_url, app.conf.result_backend)
    _drop_connections(app)
    app.conf.broker_url = app.conf.result_backend = broker
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not _ping(app):
            if process.poll() is not None:
                pytest.fail(f"celery worker exited with {process.returncode}:\n{output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"celery worker did not answer a ping within {WORKER_START_TIMEOUT} s:\n{output()}")
            time.sleep(0.5)
        yield process, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        log.close()
        _drop_connections(app)
        app.conf.broker_url, app.conf.result_backend = saved


@pytest.fixture
def live_celery(celery_worker_process, smtp_server, transactional_db, isolated_broker):
    """Tasks go to the real worker (not eager) and the inbox starts empty."""
    from crm.celery import app

    _host, _port, inbox = smtp_server
    inbox.clear()
    app.conf.task_always_eager = False
    yield inbox
    app.conf.task_always_eager = True


def _wait_for_status(email_id: int, status: str, timeout: float = 30) -> OutboundEmail:
    deadline = time.monotonic() + timeout
    while True:
        record = OutboundEmail.objects.get(pk=email_id)
        if record.status == status or time.monotonic() > deadline:
            return record
        time.sleep(0.2)


pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]


def test_queued_email_is_delivered_by_a_real_worker_as_text_and_html(live_celery):
    # given a customer who just joined
    customer = CustomerFactory(given_name="Mei", family_name="Lin", email="mei.lin@example.com")

    # when the welcome e-mail is queued inside a transaction that commits
    with transaction.atomic():
        queued = services.email_queue(
            to=customer.email,
            template="crm/welcome",
            context={"given_name": customer.given_name, "customer_number": customer.customer_number},
            customer=customer,
        )

    # then the SMTP server receives one message that a mail client can read
    (message,) = live_celery.wait_for(1)
    assert message["To"] == "mei.lin@example.com"
    assert message["Subject"] == f"Welcome to {settings.AIRLINE_NAME}"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Hello Mei," in text
    assert customer.customer_number in text
    assert "<html" in html
    assert f"<strong>{customer.customer_number}</strong>" in html
    # and the record says so, with its one-time context cleared
    record = _wait_for_status(queued.pk, OutboundEmail.Status.SENT)
    assert record.status == OutboundEmail.Status.SENT
    assert record.attempts == 1
    assert record.context == {}


def test_the_same_email_sent_twice_is_delivered_once(live_celery):
    # given a queued e-mail
    with transaction.atomic():
        queued = services.email_queue(to="twice@example.com", template="crm/welcome", context={"given_name": "Ana"})

    # when the task is delivered twice more (a broker redelivery, a retry racing the first run)
    first = send_email.delay(email_id=queued.pk)
    second = send_email.delay(email_id=queued.pk)

    # then every run reports the e-mail as sent, and only one message went out
    assert first.get(timeout=60) == OutboundEmail.Status.SENT
    assert second.get(timeout=60) == OutboundEmail.Status.SENT
    messages = live_celery.wait_for(1)
    time.sleep(0.5)
    assert len(live_celery.messages) == 1
    assert messages[0]["To"] == "twice@example.com"


def test_the_sweep_resends_an_email_whose_task_was_lost(live_celery):
    # given an e-mail recorded five minutes ago whose task never reached a worker
    lost = OutboundEmail.objects.create(
        to="lost@example.com",
        template="crm/welcome",
        context={"given_name": "Kenji"},
        created_at=timezone.now() - timedelta(minutes=5),
    )

    # when the periodic sweep runs on the worker, as beat starts it
    assert sweep_pending_emails.delay().get(timeout=60) == 1

    # then the e-mail is delivered after all
    (message,) = live_celery.wait_for(1)
    assert message["To"] == "lost@example.com"
    assert "Hello Kenji," in message.get_body(preferencelist=("plain",)).get_content()
    assert _wait_for_status(lost.pk, OutboundEmail.Status.SENT).status == OutboundEmail.Status.SENT


def test_healthz_is_ok_while_a_worker_runs(live_celery, client):
    # given a running worker (and PostgreSQL and Redis)
    # when the load balancer asks
    response = client.get("/healthz")

    # then every check passes
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok", "celery": "ok"}
