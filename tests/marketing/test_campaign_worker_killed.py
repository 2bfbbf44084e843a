"""A campaign worker killed in the middle of a run: a new worker and the sweep finish it, nobody is skipped.

Its own module, so the worker it kills is its own (tests/crm/test_worker.py's fixtures are per module).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from marketing import services
from marketing.models import Delivery
from tests.crm import test_worker as real_worker
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable

celery_worker_process = real_worker.celery_worker_process
isolated_broker = real_worker.isolated_broker
live_celery = real_worker.live_celery
smtp_server = real_worker.smtp_server

pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]
RECIPIENTS = 120


def _replacement_worker(smtp_server, log_path) -> subprocess.Popen:  # noqa: ANN001
    """A second `celery -A crm worker` on the campaigns queue only, as the dedicated campaign worker runs."""
    host, port, _inbox = smtp_server
    broker = real_worker._broker_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": real_worker._database_url(),
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": f"smtp://{host}:{port}",
        "CONN_MAX_AGE": "0",
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "-P", "solo", "-Q", "campaigns",
         "-n", f"pytest-replacement-{uuid.uuid4().hex[:8]}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=real_worker.ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def test_a_run_survives_its_worker_being_killed(live_celery, celery_worker_process, smtp_server, tmp_path):
    # Given a campaign for 120 consenting customers, started on the real worker
    inbox = live_celery
    process, _output = celery_worker_process
    wanted = {reachable(email=f"killed{n}@example.com").email for n in range(RECIPIENTS)}
    c = campaign()
    services.campaign_run_start(campaign=c, occurrence=timezone.localdate())

    # When the worker is killed (SIGKILL: no clean shutdown) once the first e-mails are out
    inbox.wait_for(2, timeout=60)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)
    assert Delivery.objects.filter(run__campaign=c, status="pending").exists(), "the run finished before the kill"

    # and a new campaign worker starts, and the sweep re-queues what the dead one left
    from crm.celery import app

    replacement = _replacement_worker(smtp_server, tmp_path / "replacement.log")
    try:
        deadline = time.monotonic() + real_worker.WORKER_START_TIMEOUT
        while not real_worker._ping(app):
            assert replacement.poll() is None and time.monotonic() < deadline, (tmp_path / "replacement.log").read_text()
            time.sleep(0.5)
        assert services.deliveries_sweep(older_than_minutes=0) > 0

        # Then every delivery is sent and everyone has the message
        deadline = time.monotonic() + 90
        while Delivery.objects.filter(run__campaign=c, status="pending").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not Delivery.objects.filter(run__campaign=c).exclude(status="sent").exists()
        received = Counter(str(m["To"]) for m in inbox.wait_for(RECIPIENTS, timeout=60))
        assert set(received) == wanted
        # and at most the one message that was on the wire when the worker died went twice
        assert sum(n - 1 for n in received.values()) <= 1
    finally:
        os.killpg(replacement.pid, signal.SIGTERM)
        try:
            replacement.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(replacement.pid, signal.SIGKILL)
            replacement.wait(timeout=15)
