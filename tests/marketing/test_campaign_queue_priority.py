"""A booking confirmation is not held up by a campaign: 100,000 sends queued, the confirmation goes first.

As Procfile and docker-compose run them: one `celery -A crm worker` on the default queue and one on the
campaigns queue (CELERY_TASK_ROUTES sends marketing.tasks.* there), each with concurrency 1, on a real
Redis server of the test's own (see tests/marketing/test_worker_killed.py) and a real SMTP server (aiosmtpd).

The 100,000 sends are built the way Celery builds a ``marketing.tasks.delivery_send`` message (one is
captured from the app's producer) and pushed with pipelined LPUSHes, so that queueing them takes seconds;
they name deliveries that do not exist, which the task answers with "missing".
"""

from __future__ import annotations

import base64
import email
import json
import time
import uuid
from email import policy

import pytest
import redis
from django.db import transaction

from crm.models import OutboundEmail
from tests.crm import test_worker as real_worker
from tests.marketing.test_worker_killed import on_the_broker, private_broker, start_worker, stop_worker, wait_ready, wait_until
from tests.reservations.test_payments import book, pay

smtp_server = real_worker.smtp_server
on_the_broker = on_the_broker
private_broker = private_broker

QUEUED = 100_000


def queue_campaign_sends(count: int) -> str:
    """Queue ``count`` delivery_send messages on the campaigns queue; returns the Redis key of the queue."""
    from crm.celery import app, task_get

    task = task_get("marketing.tasks.delivery_send")
    captured = []
    with app.producer_or_acquire() as producer:
        producer.channel._put = lambda queue, message, **kwargs: captured.append((queue, message))
        try:
            task.apply_async(kwargs={"delivery_id": 0}, producer=producer)
        finally:
            del producer.channel._put
    ((queue, template),) = captured
    args, _kwargs, embed = json.loads(base64.b64decode(template["body"]))
    client = redis.Redis.from_url(app.conf.broker_url)
    pipe = client.pipeline(transaction=False)
    for n in range(1, count + 1):
        task_id = str(uuid.uuid4())
        kwargs = {"delivery_id": 2_000_000_000 + n}
        body = base64.b64encode(json.dumps([args, kwargs, embed]).encode()).decode()
        headers = {**template["headers"], "id": task_id, "root_id": task_id, "kwargsrepr": repr(kwargs)}
        properties = {**template["properties"], "correlation_id": task_id, "delivery_tag": str(uuid.uuid4())}
        pipe.lpush(queue, json.dumps({**template, "body": body, "headers": headers, "properties": properties}))
        if n % 10_000 == 0:
            pipe.execute()
    pipe.execute()
    return queue


@pytest.mark.worker
@pytest.mark.timeout(300)
def test_a_booking_confirmation_goes_out_while_100000_campaign_sends_wait(on_the_broker, smtp_server, tmp_path):
    host, port, inbox = smtp_server
    inbox.clear()
    broker = on_the_broker
    campaigns, campaigns_name = start_worker(queues="campaigns", smtp=(host, port), broker=broker, log=tmp_path / "campaigns.log")
    default, default_name = start_worker(queues="default", smtp=(host, port), broker=broker, log=tmp_path / "default.log")
    client = redis.Redis.from_url(broker)
    queue = "campaigns"
    try:
        wait_ready(campaigns, campaigns_name, tmp_path / "campaigns.log")
        wait_ready(default, default_name, tmp_path / "default.log")
        booking = book()

        # Given 100,000 campaign sends queued, and the campaign worker busy with them
        started = time.monotonic()
        queue = queue_campaign_sends(QUEUED)
        queued_in = time.monotonic() - started
        assert queued_in < 60, f"queueing took {queued_in:.0f} s"
        wait_until(lambda: client.llen(queue) < QUEUED, timeout=60, what="the campaign worker takes sends")

        # When the passenger pays and the booking is ticketed: its confirmation (the e-ticket receipt) is queued
        with transaction.atomic():
            pay(booking)
        paid_at = time.monotonic()

        # Then the receipt reaches the passenger within seconds, while most of the campaign still waits its turn
        message = wait_until(lambda: _receipt(inbox, booking.record_locator), timeout=30, what="the receipt arrives")
        received_in = time.monotonic() - paid_at
        still_queued = client.llen(queue)
        assert message["To"] == booking.contact_email
        record = wait_until(
            lambda: OutboundEmail.objects.filter(to=booking.contact_email, status=OutboundEmail.Status.SENT).first(),
            timeout=30,
            what="the e-mail record is marked sent",
        )
        assert record.template == "reservations/eticket_receipt"
        assert received_in < 15, f"the confirmation took {received_in:.1f} s"
        assert still_queued > QUEUED // 2, f"only {still_queued} campaign sends were still queued"
    finally:
        stop_worker(campaigns)
        stop_worker(default)
        # The campaign sends left behind (and their unacked copies) go with the queue (and the server).
        client.delete(queue, "unacked", "unacked_index")
        client.close()


def _receipt(inbox, record_locator: str):  # noqa: ANN001, ANN202
    with inbox._changed:
        raw = list(inbox.messages)
    for message in (email.message_from_bytes(m, policy=policy.default) for m in raw):
        if record_locator in str(message["Subject"]):
            return message
    return None
