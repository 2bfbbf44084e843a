"""Campaign delivery: recipients materialised in one statement, each sent once after send-time checks."""

from __future__ import annotations

import email
import re
from datetime import date, datetime, time, timedelta
from email import policy

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.errors import ApplicationError
from crm.models import ConsentEvent
from crm.selectors import consent_is_granted
from marketing import services
from marketing.models import Delivery, PromoCode, Suppression
from tests.marketing.campaign_support import campaign, segment
from tests.marketing.offers_support import offer
from tests.marketing.support import consent, reachable

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)


def _parsed(message) -> email.message.EmailMessage:  # noqa: ANN001
    return email.message_from_bytes(message.message().as_bytes(), policy=policy.default)


def _inserts(queries) -> list[str]:  # noqa: ANN001
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("INSERT INTO \"MARKETING_DELIVERY\"")
            or q["sql"].lstrip().upper().startswith("INSERT INTO MARKETING_DELIVERY")]  # fmt: skip


def test_materialising_is_one_insert_select_whatever_the_size_and_running_twice_adds_nothing(django_capture_on_commit_callbacks):
    # Given a campaign on a segment of three reachable customers (and one who never agreed)
    c = campaign()
    for _i in range(3):
        reachable()
    reachable_later: list = []

    # When the run starts (fan-out not executed: only the materialisation is measured)
    with CaptureQueriesContext(connection) as small, django_capture_on_commit_callbacks(execute=False):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    first = set(Delivery.objects.filter(run=run).values_list("pk", "customer_id"))
    # Then there is one delivery each, written by one INSERT ... SELECT
    assert Delivery.objects.filter(run=run).count() == 3
    assert len(_inserts(small.captured_queries)) == 1 and "SELECT" in _inserts(small.captured_queries)[0].upper()

    # And with ten times as many customers, another occurrence costs the same number of queries
    reachable_later += [reachable() for _i in range(27)]
    with CaptureQueriesContext(connection) as large, django_capture_on_commit_callbacks(execute=False):
        other = services.campaign_run_start(campaign=c, occurrence=TODAY + timedelta(days=1))
    assert Delivery.objects.filter(run=other).count() == 30
    assert len(large.captured_queries) == len(small.captured_queries)

    # And the same occurrence again is the same run: the first deliveries stay, newcomers are added,
    # and nobody has two
    with django_capture_on_commit_callbacks(execute=False):
        again = services.campaign_run_start(campaign=c, occurrence=TODAY)
    rows = set(Delivery.objects.filter(run=run).values_list("pk", "customer_id"))
    assert again.pk == run.pk and first <= rows and len(rows) == len({customer for _pk, customer in rows}) == 30


@pytest.mark.parametrize(
    ("occurrence", "expected"),
    [
        (date(2027, 2, 28), {"feb28", "feb29"}),  # common year: 29 February birthdays are kept on the 28th
        (date(2028, 2, 28), {"feb28"}),  # leap year: each on its own day
        (date(2028, 2, 29), {"feb29"}),
        (date(2027, 3, 1), {"mar1"}),
    ],
)
def test_a_birthday_campaign_is_for_the_customers_born_that_day(occurrence, expected):
    # Given customers born on 28 February, 29 February and 1 March
    born = {
        "feb28": reachable(date_of_birth=date(1990, 2, 28)),
        "feb29": reachable(date_of_birth=date(1992, 2, 29)),
        "mar1": reachable(date_of_birth=date(1985, 3, 1)),
    }
    c = campaign(kind="birthday")
    # When the recipients of the occurrence are selected
    ids = set(services.campaign_recipients(campaign=c, occurrence=occurrence).values_list("pk", flat=True))
    # Then they are exactly those celebrating that day
    assert ids == {born[k].pk for k in expected}


def test_sent_mail_is_multipart_with_one_click_unsubscribe_that_works(client, django_capture_on_commit_callbacks):
    # Given a consenting customer who reads Chinese, and a campaign with an offer
    customer = reachable(given_name="Mei", email="mei@example.com", preferred_language="zh-hans")
    c = campaign(offer=offer())

    # When the run starts and its deliveries are sent
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)

    # Then one message went out, in her language, with her own code, as a mail client reads it
    assert len(mail.outbox) == 1
    message = _parsed(mail.outbox[0])
    code = PromoCode.objects.get(offer=c.offer, customer=customer).code
    assert message["Subject"] == "你好 Mei"
    assert message["From"].addresses[0].display_name == settings.AIRLINE_NAME
    assert message.get_content_type() == "multipart/alternative"
    assert code in message.get_body(preferencelist=("plain",)).get_content()
    assert code in message.get_body(preferencelist=("html",)).get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = Delivery.objects.get(run=run)
    assert (delivery.status, delivery.promo_code.code, delivery.message_id) == ("sent", code, message["Message-ID"].strip())
    assert delivery.consent_event == ConsentEvent.objects.get(customer=customer)

    # And the unsubscribe link asks first on GET, then a one-click POST (no CSRF token) unsubscribes
    link = re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"]).group(1)
    assert "mailto:" in message["List-Unsubscribe"]
    path = "/" + link.split("/", 3)[3]
    page = client.get(path)
    assert page.status_code == 200 and b"<form" in page.content
    assert consent_is_granted(customer=customer, channel="email", purpose="marketing")
    from django.test import Client

    one_click = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert not consent_is_granted(customer=customer, channel="email", purpose="marketing")
    assert Suppression.objects.filter(email="mei@example.com", reason="unsubscribed").exists()
    # and a tampered token changes nothing and is no error page
    assert client.post(path[:-3] + "xx/").status_code == 404


def test_running_the_same_occurrence_again_sends_nothing_more(django_capture_on_commit_callbacks):
    # Given a run that has been sent to two customers
    reachable(), reachable()
    c = campaign()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    assert len(mail.outbox) == 2
    # When the same occurrence runs again and every delivery is sent again (a redelivered task, the sweep)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_run_start(campaign=c, occurrence=TODAY)
    for delivery in Delivery.objects.filter(run=run):
        services.delivery_send(delivery_id=delivery.pk)
    # Then nobody got a second message
    assert len(mail.outbox) == 2


def test_consent_withdrawn_after_materialising_skips_the_delivery(django_capture_on_commit_callbacks):
    # Given a delivery materialised while the customer consented
    customer = reachable()
    c = campaign()
    with django_capture_on_commit_callbacks(execute=False):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    delivery = Delivery.objects.get(run=run)
    # When she withdraws before the send
    consent(customer, granted=False, minutes_ago=0)
    sent = services.delivery_send(delivery_id=delivery.pk)
    # Then nothing is sent; the skip says why and names the withdrawal it relied on
    assert mail.outbox == []
    assert (sent.status, sent.skip_reason) == ("skipped", "no_consent")
    assert sent.consent_event.granted is False


def test_the_frequency_cap_stops_the_fourth_marketing_message_in_a_week(settings, django_capture_on_commit_callbacks):
    # Given a customer who already received the cap's worth of campaigns this week
    settings.MARKETING_FREQUENCY_CAP = 2
    reachable()
    seg = segment()
    for n in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.campaign_run_start(campaign=campaign(name=f"C{n}", segment=seg), occurrence=TODAY)
    assert len(mail.outbox) == 2
    # When a third campaign reaches her
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=campaign(name="C3", segment=seg), occurrence=TODAY)
    # Then it is skipped for the cap; a week later she can be written to again
    assert len(mail.outbox) == 2
    assert Delivery.objects.get(run=run).skip_reason == "frequency_cap"
    Delivery.objects.filter(status="sent").update(sent_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_run_start(campaign=campaign(name="C4", segment=seg), occurrence=TODAY)
    assert len(mail.outbox) == 3


def test_a_suppressed_address_is_skipped(django_capture_on_commit_callbacks):
    # Given a consenting customer whose address bounced
    reachable(email="Bounce@Example.com")
    Suppression.objects.create(email="bounce@example.com", reason="bounced")
    # When a campaign runs
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=campaign(), occurrence=TODAY)
    # Then nothing is sent to it
    assert mail.outbox == []
    assert Delivery.objects.get(run=run).skip_reason == "suppressed"


def test_a_template_error_is_refused_at_save_and_skipped_at_send(django_capture_on_commit_callbacks):
    # Given content with a broken tag, refused when saved, naming the field
    with pytest.raises(ApplicationError) as refused:
        campaign(html_zh="{% if %}")
    assert "html_zh" in refused.value.fields
    # and tags that would reach beyond the restricted context (other libraries, files, the server's state)
    for source in ("{% load static %}{% static 'x' %}", "{% include 'portal/base.html' %}", "{% debug %}"):
        with pytest.raises(ApplicationError):
            campaign(text_en=source)
    # while variables, filters and the plain tags are fine
    assert campaign(text_en="{% if offer_code %}{{ name|upper }}{% endif %}").pk
    # When a stored template still fails at send time (changed behind the service's back)
    reachable()
    c = campaign()
    type(c).objects.filter(pk=c.pk).update(text_en="{% debug %}")
    c.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_run_start(campaign=c, occurrence=TODAY)
    # Then the delivery is skipped as a render error and nothing is sent
    assert mail.outbox == []
    assert Delivery.objects.get(run=run).skip_reason == "render_error"


def test_a_draft_campaign_cannot_run():
    with pytest.raises(ApplicationError):
        services.campaign_run_start(campaign=campaign(status="draft"), occurrence=TODAY)


class FailingOnceBackend:
    """An SMTP server that drops the first conversation (as a worker killed mid-send would)."""

    failed = False

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        from django.core.mail.backends.locmem import EmailBackend

        self._inner = EmailBackend(*args, **kwargs)

    def send_messages(self, messages):  # noqa: ANN001, ANN201
        if not FailingOnceBackend.failed:
            FailingOnceBackend.failed = True
            raise ConnectionResetError("connection lost")
        return self._inner.send_messages(messages)


def test_a_send_cut_short_stays_pending_and_the_sweep_sends_it_once(settings, django_capture_on_commit_callbacks):
    # Given a delivery whose first SMTP conversation was cut short
    settings.EMAIL_BACKEND = f"{__name__}.FailingOnceBackend"
    FailingOnceBackend.failed = False
    reachable()
    with django_capture_on_commit_callbacks(execute=False):
        run = services.campaign_run_start(campaign=campaign(), occurrence=TODAY)
    delivery = Delivery.objects.get(run=run)
    with pytest.raises(ConnectionResetError):
        services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, mail.outbox) == ("pending", [])

    # When the sweep finds it (its task lost) and runs it again, twice
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert services.deliveries_sweep() == 1
    services.deliveries_sweep()

    # Then it was sent exactly once and the sweep has nothing left to do
    delivery.refresh_from_db()
    assert (delivery.status, len(mail.outbox)) == ("sent", 1)
    assert services.deliveries_sweep() == 0


def test_the_hourly_tick_starts_only_a_scheduled_birthday_campaign_once(django_capture_on_commit_callbacks):
    # Given a customer born on the day (no home airport: the site's time zone), a scheduled and a paused
    # birthday campaign sent at 09:00
    reachable(date_of_birth=date(1980, TODAY.month, TODAY.day))
    seg = segment()
    scheduled = campaign(kind="birthday", segment=seg, name="Birthday")
    paused = campaign(kind="birthday", segment=seg, name="Paused", status="paused")
    nine_thirty = timezone.make_aware(datetime.combine(TODAY, time(9, 30)))
    # When both tick at 09:30, twice
    with django_capture_on_commit_callbacks(execute=True):
        run = services.campaign_tick(campaign_id=scheduled.pk, now=nine_thirty)
        assert services.campaign_tick(campaign_id=paused.pk, now=nine_thirty) is None
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_tick(campaign_id=scheduled.pk, now=nine_thirty)
    # Then only the scheduled campaign ran, for the day, and she got one e-mail
    assert (run.campaign_id, run.occurrence) == (scheduled.pk, TODAY)
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.startswith("Hello")


def test_a_merge_moves_the_deliveries_keeping_one_per_run(django_capture_on_commit_callbacks):
    # Given two records of one person, both in one run (the duplicate's sent), the duplicate alone in another
    from crm import registry

    survivor, loser = reachable(), reachable()
    with django_capture_on_commit_callbacks(execute=True):
        both = services.campaign_run_start(campaign=campaign(), occurrence=TODAY)
    Delivery.objects.filter(run=both, customer=survivor).update(status="pending")
    with django_capture_on_commit_callbacks(execute=False):
        other = services.campaign_run_start(campaign=campaign(), occurrence=TODAY)
    Delivery.objects.filter(run=other, customer=survivor).delete()

    # When they are merged
    moved = registry.merge(survivor, loser)

    # Then the survivor has one delivery per run, the sent one kept, and nothing points at the duplicate
    assert moved["deliveries"] == {"deliveries": 2}
    rows = {(d.run_id, d.status) for d in Delivery.objects.filter(customer=survivor)}
    assert rows == {(both.pk, "sent"), (other.pk, "pending")}
    assert services.deliveries_export(customer=survivor)[0]["status"] in {"sent", "pending"}
