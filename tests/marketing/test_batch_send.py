"""A campaign worker sends deliveries in batches: the same guarantees as one send, in far fewer statements."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import TimelineEntry
from marketing import services
from marketing.models import CampaignRun, Delivery, DeliveryStatus, Suppression
from marketing.services.campaigns import SEND_CONCURRENCY, BatchRateLimited
from tests.crm.factories import CustomerFactory
from tests.marketing.campaign_support import campaign
from tests.marketing.support import consent, reachable

TODAY = date(2026, 6, 15)


def pending(c, customers) -> list[int]:  # noqa: ANN001
    """Deliveries written as a run writes them, without its fan-out (which would send them at once)."""
    run = CampaignRun.objects.create(campaign=c, occurrence=TODAY)
    Delivery.objects.bulk_create(Delivery(run=run, customer=customer) for customer in customers)
    return list(Delivery.objects.filter(run=run).order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_batch_sends_each_consenting_customer_once_and_skips_the_others_with_their_reason():
    # Given consenting customers, one who refused, one who never answered and one without an address
    agreed = [reachable(email=f"batch{n}@example.com") for n in range(5)]
    refused = CustomerFactory(email="refused@example.com")
    consent(refused, granted=False)
    silent = CustomerFactory(email="silent@example.com")
    no_address = reachable(email="")
    ids = pending(campaign(), [*agreed, refused, silent, no_address])

    # When one batch sends them all, twice (a redelivered task)
    counts = services.deliveries_send_batch(delivery_ids=ids)
    again = services.deliveries_send_batch(delivery_ids=ids)

    # Then each consenting customer got one message, with their own Message-ID and unsubscribe header
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in agreed)
    assert len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 5
    assert all("List-Unsubscribe" in m.extra_headers for m in mail.outbox)
    assert counts["sent"] == 5 and counts["skipped"] == 3
    assert again["sent"] == 0 and again["passed"] == len(ids)
    rows = {d.customer_id: d for d in Delivery.objects.filter(pk__in=ids)}
    assert {rows[c.pk].status for c in agreed} == {DeliveryStatus.SENT}
    assert all(rows[c.pk].message_id and rows[c.pk].consent_event_id for c in agreed)
    assert (rows[refused.pk].status, rows[refused.pk].skip_reason) == ("skipped", "no_consent")
    assert rows[refused.pk].consent_event_id is not None  # the refusal it relied on, kept as proof
    assert (rows[silent.pk].status, rows[silent.pk].skip_reason) == ("skipped", "no_consent")
    assert (rows[no_address.pk].status, rows[no_address.pk].skip_reason) == ("skipped", "no_email")
    # and each send is on the customer's timeline once
    assert TimelineEntry.objects.filter(kind="campaign.sent").count() == 5


@pytest.mark.django_db
def test_a_batch_renders_each_readers_own_fields():
    # Given two customers with their names
    ann, bob = reachable(given_name="Ann", email="ann@example.com"), reachable(given_name="Bob", email="bob@example.com")
    ids = pending(campaign(), [ann, bob])
    # When sent in one batch
    services.deliveries_send_batch(delivery_ids=ids)
    # Then each message carries its reader's name
    assert {m.to[0]: m.subject for m in mail.outbox} == {"ann@example.com": "Hello Ann", "bob@example.com": "Hello Bob"}


def _statements(size: int, offset: int) -> int:
    c = campaign(name=f"Batch of {size}")
    ids = pending(c, [reachable(email=f"count{offset + n}@example.com", home_airport="LHR") for n in range(size)])
    with CaptureQueriesContext(connection) as queries:
        counts = services.deliveries_send_batch(delivery_ids=ids)
    assert counts["sent"] == size
    return len(queries.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_batchs_statements_are_a_constant_plus_one_mark_for_every_few_messages():
    # Given batches of 10 and of 50 deliveries (and the popular destinations cached by an earlier one, as a
    # worker's cache holds them)
    _statements(1, 1000)
    # When each is sent
    ten = _statements(10, 0)
    fifty = _statements(50, 100)
    # Then the forty more messages cost one statement (their marks) for every SEND_CONCURRENCY of them, give or
    # take the last group's, and nothing else grows with the batch
    extra = fifty - ten
    assert 40 // SEND_CONCURRENCY - 1 <= extra <= 40 // SEND_CONCURRENCY + 1
    assert fifty < 50


@pytest.mark.django_db
def test_the_frequency_cap_and_suppression_hold_inside_a_batch(settings):
    # Given a cap of one message a week, a customer sent to yesterday, and a suppressed address
    settings.MARKETING_FREQUENCY_CAP = 1
    capped = reachable(email="capped@example.com")
    earlier = CampaignRun.objects.create(campaign=campaign(name="Earlier"), occurrence=date(2026, 6, 1))
    Delivery.objects.create(run=earlier, customer=capped, status=DeliveryStatus.SENT, sent_at=timezone.now() - timedelta(days=1))
    suppressed = reachable(email="Bounced@Example.com")
    Suppression.objects.create(email="bounced@example.com", reason="bounced")
    free = reachable(email="free@example.com")
    ids = pending(campaign(), [capped, suppressed, free])

    # When the batch is sent
    services.deliveries_send_batch(delivery_ids=ids)

    # Then only the free customer got the message; the others are skipped with their reason
    assert [m.to[0] for m in mail.outbox] == ["free@example.com"]
    reasons = dict(Delivery.objects.filter(pk__in=ids).values_list("customer_id", "skip_reason"))
    assert reasons == {capped.pk: "frequency_cap", suppressed.pk: "suppressed", free.pk: ""}


@pytest.mark.django_db
def test_a_rate_limited_batch_leaves_the_rest_pending_and_names_them(settings):
    # Given a limit of 3 SMS a second and 6 pending SMS deliveries
    settings.MARKETING_RATE_LIMITS = {"sms": 3}
    settings.MARKETING_SMS_BACKEND = "locmem"
    from marketing import channels

    channels.outbox.clear()
    customers = []
    for n in range(6):
        customer = CustomerFactory(phone=f"+44770090{n:04d}")
        consent(customer, channel="sms")
        customers.append(customer)
    ids = pending(campaign(channel="sms"), customers)

    # When one batch sends them
    with pytest.raises(BatchRateLimited) as limited:
        services.deliveries_send_batch(delivery_ids=ids)

    # Then three went, the other three are pending with no attempt counted, and the exception names them
    assert len(channels.outbox) == 3
    left = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING)
    assert sorted(limited.value.remaining) == sorted(left.values_list("pk", flat=True))
    assert left.count() == 3 and not left.filter(attempts__gt=0).exists()
    assert 0 < limited.value.wait <= 1.0
    # and the locks were released: the rest goes as a batch of its own later
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 0


class SlowBackend(EmailBackend):
    """The locmem backend with an SMTP conversation that takes a while, so the senders overlap."""

    def send_messages(self, messages):  # noqa: ANN001, ANN201
        time.sleep(0.01)
        return super().send_messages(messages)


class FailingFor:
    """An SMS gateway that refuses one number."""

    refused = ""
    sent: list[str] = []

    def send(self, message) -> None:  # noqa: ANN001
        if message.to == self.refused:
            raise ConnectionError("gateway refused")
        FailingFor.sent.append(message.to)


@pytest.mark.django_db
def test_a_provider_error_counts_an_attempt_for_that_delivery_and_the_others_go(settings):
    # Given three SMS deliveries and a gateway that refuses the second number
    settings.MARKETING_SMS_BACKEND = f"{__name__}.FailingFor"
    FailingFor.refused, FailingFor.sent = "+447700900002", []
    customers = []
    for n in range(1, 4):
        customer = CustomerFactory(phone=f"+44770090000{n}")
        consent(customer, channel="sms")
        customers.append(customer)
    ids = pending(campaign(channel="sms"), customers)
    # When the batch is sent
    counts = services.deliveries_send_batch(delivery_ids=ids)
    # Then the others went, and the refused one is pending with one attempt and its error
    assert sorted(FailingFor.sent) == ["+447700900001", "+447700900003"]
    assert (counts["sent"], counts["errors"]) == (2, 1)
    refused = Delivery.objects.get(pk__in=ids, customer=customers[1])
    assert (refused.status, refused.attempts) == ("pending", 1)
    assert "gateway refused" in refused.last_error


@pytest.mark.django_db
def test_the_fan_out_queues_batches_not_single_sends(settings, django_capture_on_commit_callbacks):
    # Given a run of 5 consenting customers
    settings.MARKETING_FREQUENCY_CAP = 100
    for n in range(5):
        reachable(email=f"fan{n}@example.com")
    # When it starts (its fan-out runs the batch tasks in-process)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=campaign(), occurrence=TODAY)
    # Then everyone got one message
    assert len(mail.outbox) == 5
    assert not Delivery.objects.filter(run=run).exclude(status=DeliveryStatus.SENT).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_batch_and_single_sends_of_the_same_deliveries_at_once_send_each_once(settings):
    # Given 40 pending deliveries and a mail server that takes a little while over each message
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    settings.MARKETING_FREQUENCY_CAP = 100
    customers = [reachable(email=f"race{n}@example.com") for n in range(40)]
    ids = pending(campaign(), customers)
    barrier = threading.Barrier(4, timeout=30)
    errors: list[BaseException] = []

    def batch(part: list[int]) -> None:
        try:
            barrier.wait()
            services.deliveries_send_batch(delivery_ids=part)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    def singles(part: list[int]) -> None:
        try:
            barrier.wait()
            for pk in part:
                services.delivery_send(delivery_id=pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    # When two batches (overlapping by half) and two single senders (one forwards, one backwards) race
    threads = [
        threading.Thread(target=batch, args=(ids[:30],)),
        threading.Thread(target=batch, args=(ids[10:],)),
        threading.Thread(target=singles, args=(ids,)),
        threading.Thread(target=singles, args=(ids[::-1],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)

    # Then every recipient got exactly one message, and every delivery is sent
    assert errors == []
    received = sorted(m.to[0] for m in mail.outbox)
    assert received == sorted(c.email for c in customers)
    assert Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENT).count() == 40
