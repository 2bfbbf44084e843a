"""SMS and push through their providers, and the per-channel rate limit every campaign worker shares (real Redis)."""

from __future__ import annotations

import os
import queue
import threading
import time
from datetime import date

import pytest
from django.db import connection

from marketing import channels, services
from marketing.channels import RateLimited, rate_limit_acquire, rate_limit_take
from marketing.models import Campaign, CampaignRun, Delivery, DeliveryStatus, Segment
from tests.crm import test_worker as real_worker
from tests.crm.factories import CustomerFactory, UserFactory
from tests.marketing.campaign_support import campaign
from tests.marketing.support import consent, reachable

TODAY = date(2026, 6, 15)


def on_channel(channel: str, **overrides) -> Campaign:  # noqa: ANN003
    """A scheduled campaign on ``channel``, to everyone who agreed to marketing on it."""
    everyone = Segment.objects.create(
        name=f"Everyone by {channel}",
        rules={"all": [{"attribute": f"{channel}_marketing_consent", "lookup": "exact", "value": True}]},
        consent_channel=channel,
    )
    c = campaign(segment=everyone, **overrides)
    Campaign.objects.filter(pk=c.pk).update(channel=channel)
    c.refresh_from_db()
    return c


def agreed(channel: str, **fields) -> object:  # noqa: ANN003
    customer = CustomerFactory(**fields)
    consent(customer, channel=channel)
    return customer


def windows_hold(moments: list[float], limit: int, window: float) -> bool:
    """No ``window`` seconds hold more than ``limit`` of ``moments``."""
    moments = sorted(moments)
    return all(moments[i + limit] - moments[i] >= window for i in range(len(moments) - limit))


# --- The limiter -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_acquire_lets_the_limit_through_then_says_how_long_to_wait(settings):
    # Given a limit of 5 SMS a second
    settings.MARKETING_RATE_LIMITS = {"sms": 5, "email": 0}
    # When six sends ask at once
    answers = [rate_limit_acquire(channel="sms") for _i in range(6)]
    # Then five may go now and the sixth is told to wait less than a second, but some time
    assert answers[:5] == [0.0] * 5
    assert 0 < answers[5] <= 1.0
    # And a channel without a limit is never held back
    assert all(rate_limit_acquire(channel="email") == 0.0 for _i in range(50))


@pytest.mark.django_db
def test_the_wait_frees_a_place(settings):
    # Given a limit of 2 a second, used up
    settings.MARKETING_RATE_LIMITS = {"push": 2}
    assert rate_limit_acquire(channel="push") == rate_limit_acquire(channel="push") == 0.0
    wait = rate_limit_acquire(channel="push")
    assert wait > 0
    # When the sender waits as long as it was told
    time.sleep(wait)
    # Then one more may go
    assert rate_limit_acquire(channel="push") == 0.0


@pytest.mark.django_db
def test_several_places_are_taken_at_once_but_never_more_than_are_free(settings):
    # Given a limit of 5 SMS a second
    settings.MARKETING_RATE_LIMITS = {"sms": 5, "email": 0}
    # When a worker asks for four places, then four more, then one
    first, second, third = (rate_limit_take(channel="sms", wanted=n) for n in (4, 4, 1))
    # Then it gets four, then the one left, then none with the time to wait
    assert first == (4, 0.0)
    assert second == (1, 0.0)
    assert third[0] == 0
    assert 0 < third[1] <= 1.0
    # And the single-place form agrees that the second is full
    assert rate_limit_acquire(channel="sms") > 0
    # And a channel without a limit grants whatever is asked
    assert rate_limit_take(channel="email", wanted=7) == (7, 0.0)


class TimedProvider:
    """An SMS gateway that notes when each message reached it."""

    received: list[tuple[float, str]] = []
    lock = threading.Lock()

    def send(self, message: channels.OutgoingMessage) -> None:
        with self.lock:
            self.received.append((time.monotonic(), message.to))


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_burst_from_several_workers_keeps_to_the_limit_and_sends_each_message_once(settings):
    # Given 20 pending SMS deliveries, a limit of 5 a second, and four workers sending at once
    settings.MARKETING_RATE_LIMITS = {"sms": 5}
    settings.MARKETING_SMS_BACKEND = "tests.marketing.test_channels.TimedProvider"
    settings.MARKETING_FREQUENCY_CAP = 100
    TimedProvider.received = []
    c = on_channel("sms")
    run = CampaignRun.objects.create(campaign=c, occurrence=TODAY)
    # Written as the run would write them, without its fan-out (which would send them here, one by one).
    Delivery.objects.bulk_create(Delivery(run=run, customer=agreed("sms", phone=f"+4477009000{n:02d}")) for n in range(20))
    work: queue.Queue[int] = queue.Queue()
    for pk in Delivery.objects.filter(run=run).values_list("pk", flat=True):
        work.put(pk)
    limited = []

    def worker() -> None:
        try:
            while True:
                try:
                    pk = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    services.delivery_send(delivery_id=pk)
                except RateLimited as exc:
                    # What the task does: the delivery stays pending and comes back after the wait.
                    limited.append(Delivery.objects.get(pk=pk).status)
                    time.sleep(exc.wait)
                    work.put(pk)
        finally:
            connection.close()

    # When they work through the queue
    threads = [threading.Thread(target=worker) for _i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)

    # Then every message went exactly once, never more than 5 in any second, and the rest waited their turn
    moments = [m for m, _to in TimedProvider.received]
    assert sorted(to for _m, to in TimedProvider.received) == sorted(f"+4477009000{n:02d}" for n in range(20))
    assert windows_hold(moments, limit=5, window=0.95)
    assert max(moments) - min(moments) >= 2.9  # 20 at 5 a second: four seconds' worth, at least three apart
    assert limited and set(limited) == {DeliveryStatus.PENDING}
    assert set(Delivery.objects.filter(run=run).values_list("status", "attempts")) == {(DeliveryStatus.SENT, 0)}


# --- SMS and push, end to end (locmem providers) -----------------------------------------------------


@pytest.mark.django_db
def test_an_sms_campaign_sends_the_text_alone_to_the_mobile_number(settings, django_capture_on_commit_callbacks):
    # Given an SMS campaign, a consenting customer with a mobile number and one without
    settings.MARKETING_SMS_BACKEND = "locmem"
    channels.outbox.clear()
    c = on_channel("sms", subject_en="Not in an SMS", text_en="Hi {{ name }}, fly with us.", html_en="<p>no</p>")
    ada = agreed("sms", given_name="Ada", phone="+447700900123")
    nobody = agreed("sms", given_name="Grace")
    # When the run goes out
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    # Then Ada's phone receives the text only; the other is skipped for having no number
    assert [(m.channel, m.to, m.subject, m.text, m.html) for m in channels.outbox] == [
        ("sms", "+447700900123", "", "Hi Ada, fly with us.", "")
    ]
    statuses = dict(Delivery.objects.filter(run=run).values_list("customer_id", "skip_reason"))
    assert statuses == {ada.pk: "", nobody.pk: "no_phone"}


@pytest.mark.django_db
def test_a_push_campaign_goes_to_the_portal_login_with_the_subject_as_title(settings, django_capture_on_commit_callbacks):
    # Given a push campaign, a consenting customer with a portal login and one without
    settings.MARKETING_PUSH_BACKEND = "locmem"
    channels.outbox.clear()
    c = on_channel("push", subject_en="Your trip, {{ name }}", text_en="Check in opens tomorrow.")
    user = UserFactory()
    ada = agreed("push", given_name="Ada", user=user)
    nobody = agreed("push", given_name="Grace")
    # When the run goes out
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    # Then the login is notified with the subject as title; the other is skipped for having no login
    assert [(m.channel, m.to, m.subject, m.text) for m in channels.outbox] == [
        ("push", str(user.pk), "Your trip, Ada", "Check in opens tomorrow.")
    ]
    statuses = dict(Delivery.objects.filter(run=run).values_list("customer_id", "skip_reason"))
    assert statuses == {ada.pk: "", nobody.pk: "no_login"}


# --- Through a real worker: the task retries after the wait, without counting an attempt ---

celery_worker_process = real_worker.celery_worker_process
isolated_broker = real_worker.isolated_broker
live_celery = real_worker.live_celery
smtp_server = real_worker.smtp_server


@pytest.fixture(scope="module", autouse=True)
def _worker_rate(request):
    """The worker this module starts reads its e-mail limit from the environment: 5 a second."""
    saved = os.environ.get("MARKETING_EMAIL_RATE")
    os.environ["MARKETING_EMAIL_RATE"] = "5"
    yield
    if saved is None:
        os.environ.pop("MARKETING_EMAIL_RATE", None)
    else:
        os.environ["MARKETING_EMAIL_RATE"] = saved


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_a_worker_holds_a_burst_to_the_limit_and_retries_the_rest_later(live_celery):
    # Given 20 consenting customers and an e-mail campaign, the worker allowed 5 e-mails a second
    inbox = live_celery
    for n in range(20):
        reachable(email=f"burst{n}@example.com")
    c = campaign(subject_en="Burst")

    # When the run starts (its fan-out queues 20 sends at once)
    run = services.campaign_run_start(campaign=c, occurrence=TODAY)

    # Then all 20 arrive, each once, never more than 5 sent in any second, no attempt counted for waiting
    messages = inbox.wait_for(20, timeout=120)
    assert sorted(str(m["To"]) for m in messages) == sorted(f"burst{n}@example.com" for n in range(20))
    deadline = time.monotonic() + 30
    while Delivery.objects.filter(run=run, status=DeliveryStatus.SENT).count() < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = list(Delivery.objects.filter(run=run).values_list("status", "attempts", "sent_at"))
    assert {(status, attempts) for status, attempts, _at in rows} == {(DeliveryStatus.SENT, 0)}
    moments = [at.timestamp() for _s, _a, at in rows]
    assert windows_hold(moments, limit=5, window=0.9)
    assert max(moments) - min(moments) >= 2.9
