"""The passenger's marketing preferences page: consent per channel and language, and what we sent them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import ConsentEvent
from marketing import services
from marketing.models import CampaignRun, Delivery
from tests.marketing.campaign_support import campaign
from tests.marketing.support import consent

pytestmark = pytest.mark.django_db

URL = "/preferences/marketing/"
EVERYONE = {"all": [{"attribute": "language", "lookup": "exact", "value": "en"}]}


def _form(**overrides) -> dict[str, str]:
    """The page's form as the browser posts it: ticked boxes send "on", unticked ones nothing."""
    data = {"email": "on", "sms": "on", "push": "on", "preferred_language": "en", **overrides}
    return {k: v for k, v in data.items() if v is not None}


def _ticked(html: str) -> dict[str, bool]:
    return {name: " checked" in re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group() for name in ("email", "sms", "push")}


def _sent(customer, name: str, days_ago: int = 0) -> Delivery:  # noqa: ANN001
    run = CampaignRun.objects.create(campaign=campaign(name=name), occurrence=timezone.localdate() - timedelta(days=days_ago))
    return Delivery.objects.create(run=run, customer=customer, status="sent", sent_at=timezone.now() - timedelta(days=days_ago))


def test_a_passenger_who_withdraws_sms_consent_is_no_longer_in_sms_segments(passenger, passenger_client):
    # Given a passenger who agreed to marketing by e-mail and SMS, and is in an SMS segment
    _user, customer = passenger
    consent(customer, channel="email")
    consent(customer, channel="sms")
    assert customer in services.segment_compile(rules=EVERYONE, channel="sms")

    # When they untick SMS on their preferences page
    response = passenger_client.post(URL, _form(sms=None, push=None))

    # Then a withdrawal is recorded through the portal's preferences page, and SMS campaigns leave them out
    assert response.status_code == 302 and response["Location"] == URL
    event = ConsentEvent.objects.filter(customer=customer, channel="sms").order_by("-recorded_at", "-id").first()
    assert (event.granted, event.purpose, event.source, event.method) == (False, "marketing", "portal", "preferences page")
    assert customer not in services.segment_compile(rules=EVERYONE, channel="sms")
    # and e-mail (unchanged) and push (never given, still not given) record nothing new
    assert ConsentEvent.objects.filter(customer=customer, channel="email").count() == 1
    assert not ConsentEvent.objects.filter(customer=customer, channel="push").exists()
    assert customer in services.segment_compile(rules=EVERYONE, channel="email")


def test_the_page_shows_the_current_choices_and_changes_the_language(passenger, passenger_client):
    # Given a passenger who agreed to push notifications only
    _user, customer = passenger
    consent(customer, channel="push")

    # When they open the page
    html = passenger_client.get(URL).content.decode()

    # Then push is ticked and the others are not
    assert _ticked(html) == {"email": False, "sms": False, "push": True}

    # When they choose Chinese for our messages and e-mail too
    passenger_client.post(URL, _form(sms=None, preferred_language="zh-hans"))

    # Then both are recorded
    customer.refresh_from_db()
    assert customer.preferred_language == "zh-hans"
    assert services.marketing_consent_current(customer=customer) == {"email": True, "sms": False, "push": True}


def test_the_page_lists_the_last_ten_messages_sent_to_the_passenger_and_nobody_elses(
    passenger, passenger_client, make_passenger, django_assert_max_num_queries
):
    # Given twelve campaigns sent to the passenger (a skipped one too) and one sent to someone else
    _user, customer = passenger
    for n in range(12):
        _sent(customer, f"Spring news {n:02d}", days_ago=n)
    skipped = _sent(customer, "Never sent")
    Delivery.objects.filter(pk=skipped.pk).update(status="skipped", sent_at=None)
    _other_user, other = make_passenger("someone.else@example.com")
    _sent(other, "Someone else's offer")

    # When the passenger opens their preferences page
    with django_assert_max_num_queries(12):
        html = passenger_client.get(URL).content.decode()

    # Then the ten newest of their own sent messages are listed, with their channel, and nothing else
    for n in range(10):
        assert f"Spring news {n:02d}" in html
    assert "Spring news 10" not in html and "Spring news 11" not in html
    assert "Never sent" not in html
    assert "Someone else" not in html
    assert html.count("· E-mail") == 10


def test_the_query_count_does_not_grow_with_the_messages(passenger, passenger_client, django_assert_num_queries):
    _user, customer = passenger
    _sent(customer, "First")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        passenger_client.get(URL)
    for n in range(9):
        _sent(customer, f"More {n}", days_ago=n + 1)
    with django_assert_num_queries(len(one.captured_queries)):
        passenger_client.get(URL)


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/preferences/marketing/")
    assert client.post(URL, _form()).status_code == 302
    assert not ConsentEvent.objects.exists()


def test_a_staff_login_without_a_customer_record_gets_not_found(agent_client):
    assert agent_client.get(URL).status_code == 404


def test_a_bad_form_shows_the_error_and_records_nothing(passenger, passenger_client):
    # Given a passenger with e-mail consent
    _user, customer = passenger
    consent(customer, channel="email")

    # When a tampered form withdraws e-mail and asks for a language the portal does not offer
    response = passenger_client.post(URL, _form(email=None, preferred_language="tlh"))

    # Then the page says what is wrong, and nothing is recorded or changed
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert ConsentEvent.objects.filter(customer=customer).count() == 1
    customer.refresh_from_db()
    assert customer.preferred_language == "en"


def test_the_service_refuses_an_unknown_language_and_writes_nothing(passenger):
    _user, customer = passenger
    from crm.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        services.marketing_preferences_save(customer=customer, channels={"sms": True}, language="xx")
    assert "preferred_language" in refused.value.fields
    assert not ConsentEvent.objects.exists()


def test_the_unsubscribe_page_links_to_the_preferences(client, passenger):
    _user, customer = passenger
    token = services.unsubscribe_token(customer_id=customer.pk, email=customer.email)
    html = client.get(f"/unsubscribe/{token}/").content.decode()
    assert f'href="{URL}"' in html


def test_a_passenger_we_never_wrote_to_sees_an_empty_list_that_says_so(passenger_client):
    html = passenger_client.get(URL).content.decode()
    assert "We have not sent you any marketing messages yet." in html
    assert _ticked(html) == {"email": False, "sms": False, "push": False}
