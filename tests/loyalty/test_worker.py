"""The programme's asynchronous work through a real Celery worker, a real Redis broker and a real SMTP server.

The worker and the SMTP server are tests/crm/test_worker.py's: a `celery -A crm worker` subprocess against
the test database, on a Redis database of this pytest process's own.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty import selectors
from loyalty.models import EntryKind, Member, MilesEntry
from tests.crm import test_worker as real_worker
from tests.loyalty.factories import credit, member
from tests.loyalty.flights import checked_in_booking, land, long_haul_flight, traveller

# The worker's fixtures, shared with crm's worker tests.
celery_worker_process = real_worker.celery_worker_process
isolated_broker = real_worker.isolated_broker
live_celery = real_worker.live_celery
smtp_server = real_worker.smtp_server

pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]


def _wait(found, timeout: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_a_landed_flight_is_credited_by_the_worker_once(live_celery):
    # Given two members checked in on a flight
    a, b = member(family_name="Ames"), member(family_name="Bell")
    flight = long_haul_flight()
    checked_in_booking(flight=flight, passengers=[traveller(a), traveller(b)])

    # When it lands: flight_arrived -> the receiver queues loyalty.tasks.accrue_flight on the real broker
    land(flight)

    # Then the worker credits each traveller once, and their balances are their entries
    entries = _wait(lambda: list(MilesEntry.objects.filter(kind=EntryKind.ACCRUAL)) if MilesEntry.objects.count() >= 2 else [])
    assert sorted(e.member_id for e in entries) == sorted([a.pk, b.pk])
    for m in (a, b):
        m.refresh_from_db()
        assert m.award_balance == sum(e.award_miles for e in entries if e.member_id == m.pk) > 0
    # and landing again (a replayed arrival) credits nothing more
    from loyalty.tasks import accrue_flight

    accrue_flight.apply_async(kwargs={"flight_id": flight.pk}).get(timeout=60)
    assert MilesEntry.objects.count() == 2


def test_the_expiry_reminder_reaches_the_member_by_smtp(live_celery):
    # Given a member whose miles expire in less than the reminder's 30 days
    inbox = live_celery
    m = member(email="reminded@example.com", preferred_language="en")
    credit(m, 4000)
    months = selectors.programme().expiry_months
    Member.objects.filter(pk=m.pk).update(last_activity_at=timezone.now() - timedelta(days=months * 30 + 5))

    # When the daily expiry task runs on the worker
    from loyalty.tasks import miles_expire

    miles_expire.apply_async().get(timeout=60)

    # Then the reminder arrives once, as a mail client reads it
    messages = inbox.wait_for(1, timeout=60)
    assert [msg["To"] for msg in messages] == ["reminded@example.com"]
    body = messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "4,000" in body or "4000" in body
