"""A run's holdout and A/B split, the customer's timeline, and a send that keeps failing."""

from __future__ import annotations

import smtplib
from collections import Counter
from datetime import date

import pytest
from django.core import mail

from crm.models import TimelineEntry
from marketing import services
from marketing.models import Campaign, Delivery, DeliveryStatus
from tests.marketing.campaign_support import campaign
from tests.marketing.support import reachable

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)


def split(**fields) -> Campaign:  # noqa: ANN003
    """A scheduled campaign with its holdout and variant B settings."""
    c = campaign()
    Campaign.objects.filter(pk=c.pk).update(**fields)
    c.refresh_from_db()
    return c


def test_the_holdout_and_variant_b_shares_are_close_to_the_settings_and_stable_when_resumed(django_capture_on_commit_callbacks):
    # given 400 reachable customers and a campaign holding out 20% and sending variant B to 50%
    for _i in range(400):
        reachable()
    c = split(holdout_percent=20, variant_b_percent=50, subject_en_b="Hi {{ name }}, a B subject")
    # when the run starts
    with django_capture_on_commit_callbacks(execute=False):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    first = dict(Delivery.objects.filter(run=run).values_list("customer_id", "status"))
    statuses = Counter(first.values())
    variants = Counter(Delivery.objects.filter(run=run, status=DeliveryStatus.PENDING).values_list("variant", flat=True))
    # then about a fifth is held out (never to be sent) and about half of the rest gets B
    assert statuses[DeliveryStatus.HOLDOUT] + statuses[DeliveryStatus.PENDING] == 400
    assert 50 <= statuses[DeliveryStatus.HOLDOUT] <= 110
    assert 0.35 <= variants["b"] / sum(variants.values()) <= 0.65
    # and starting the same occurrence again changes nobody's group
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_run_start(campaign=c, occurrence=TODAY)
    assert dict(Delivery.objects.filter(run=run).values_list("customer_id", "status")) == first


def test_held_out_customers_get_nothing_and_variant_b_readers_get_b(django_capture_on_commit_callbacks):
    # given a campaign holding out half its audience and sending B to everyone it sends to
    for _i in range(40):
        reachable()
    c = split(holdout_percent=50, variant_b_percent=100, subject_en_b="B for {{ name }}")
    # when it runs and every send task is executed
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    held = Delivery.objects.filter(run=run, status=DeliveryStatus.HOLDOUT)
    sent = Delivery.objects.filter(run=run, status=DeliveryStatus.SENT)
    # then only the treated group received mail, all of it variant B
    assert held.exists() and sent.exists()
    assert len(mail.outbox) == sent.count() == 40 - held.count()
    assert all(m.subject.startswith("B for ") for m in mail.outbox)
    recipients = {m.to[0] for m in mail.outbox}
    assert not recipients & set(held.values_list("customer__email", flat=True))


def test_each_message_sent_is_on_the_customers_timeline(django_capture_on_commit_callbacks):
    # given one reachable customer
    customer = reachable()
    c = campaign(name="Summer sale")
    # when the campaign is sent to them
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    delivery = Delivery.objects.get(run=run)
    # then their timeline shows it, naming the campaign and pointing at the delivery
    entry = TimelineEntry.objects.get(customer=customer, kind="campaign.sent")
    assert entry.summary == "Summer sale"
    assert entry.data == {"campaign_id": c.pk, "delivery_id": delivery.pk, "channel": "email"}
    # and sending it again adds no second entry
    services.delivery_send(delivery_id=delivery.pk)
    assert TimelineEntry.objects.filter(customer=customer, kind="campaign.sent").count() == 1


class _RefusingBackend:
    """An e-mail backend whose server refuses every message, as a broken relay would."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        pass

    def send_messages(self, messages) -> int:  # noqa: ANN001
        raise smtplib.SMTPDataError(451, b"try again later")


def test_a_send_that_keeps_failing_is_given_up_after_the_set_attempts(settings, django_capture_on_commit_callbacks):
    # given a relay that refuses everything and a limit of three attempts
    settings.EMAIL_BACKEND = f"{__name__}._RefusingBackend"
    settings.MARKETING_SEND_ATTEMPTS = 3
    reachable()
    c = campaign()
    with django_capture_on_commit_callbacks(execute=False):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    delivery = Delivery.objects.get(run=run)
    # when the send is tried: the first two failures are raised for the task to retry
    for attempt in (1, 2):
        with pytest.raises(smtplib.SMTPDataError):
            services.delivery_send(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == attempt
    # then the third marks it failed with the reason, and raises no more (no endless retries)
    result = services.delivery_send(delivery_id=delivery.pk)
    assert result.status == DeliveryStatus.FAILED and result.attempts == 3
    assert "451" in result.last_error
    # and a later sweep does not queue it again
    assert services.deliveries_sweep(older_than_minutes=0) == 0
