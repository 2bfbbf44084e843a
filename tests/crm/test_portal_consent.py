"""Consent in the portal: a channel × purpose grid over the append-only history."""

import pytest
from django.urls import reverse

from crm.models import ConsentChannel, ConsentEvent, ConsentPurpose
from crm.services import consent_record

CONSENT = reverse("portal:consent")
ALL_SWITCHES = [f"{c}__{p}" for c in ConsentChannel.values for p in ConsentPurpose.values]


def switches_on(response) -> set[str]:
    form = response.context["form"]
    return {name for name in ALL_SWITCHES if form[name].value()}


def test_the_grid_shows_the_current_state_and_never_answered_is_off(passenger, passenger_client):
    # given a passenger who granted e-mail marketing, then SMS service, then withdrew e-mail marketing at the desk
    _, customer = passenger
    consent_record(customer=customer, channel="email", purpose="marketing", granted=True, source="office")
    consent_record(customer=customer, channel="sms", purpose="service", granted=True, source="office")
    consent_record(customer=customer, channel="email", purpose="marketing", granted=False, source="office")
    # when they open their preferences
    response = passenger_client.get(CONSENT)
    # then only SMS service is on; everything never answered is off
    assert response.status_code == 200
    assert switches_on(response) == {"sms__service"}
    page = response.content.decode()
    for channel in ConsentChannel:
        assert f"<legend>{channel.label}</legend>" in page
    assert page.count('type="checkbox"') == len(ALL_SWITCHES)
    for name in ALL_SWITCHES:
        assert f'for="id_{name}"' in page


def test_saving_appends_an_event_only_for_what_changed_and_keeps_the_history(passenger, passenger_client):
    # given SMS service messages granted earlier by an agent
    user, customer = passenger
    consent_record(customer=customer, channel="sms", purpose="service", granted=True, source="office")
    # when the passenger ticks e-mail marketing and push service, and unticks SMS service
    response = passenger_client.post(CONSENT, {"email__marketing": "on", "push__service": "on"})
    # then exactly those three changes are recorded, from the portal, by the passenger
    assert response.status_code == 302 and response.url == CONSENT
    events = list(ConsentEvent.objects.filter(customer=customer).order_by("id"))
    assert len(events) == 4
    new = events[1:]
    assert {(e.channel, e.purpose, e.granted) for e in new} == {
        ("email", "marketing", True),
        ("push", "service", True),
        ("sms", "service", False),
    }
    assert all(e.source == "portal" and e.method == "portal preferences form" and e.recorded_by == user for e in new)
    # and the earlier grant is still in the history
    assert events[0].granted is True and events[0].source == "office"
    # and the page shows the new state and the whole history
    response = passenger_client.get(CONSENT)
    assert switches_on(response) == {"email__marketing", "push__service"}
    assert len(response.context["history"].object_list) == 4
    page = response.content.decode()
    assert "Your communication preferences are saved." in page
    assert page.count("Consent withdrawn") == 1 and page.count("Consent given") == 3
    assert "Self-service portal" in page and "Back-office agent" in page


def test_saving_the_same_choices_again_records_nothing(passenger, passenger_client):
    _, customer = passenger
    passenger_client.post(CONSENT, {"phone__marketing": "on"})
    assert ConsentEvent.objects.filter(customer=customer).count() == 1
    response = passenger_client.post(CONSENT, {"phone__marketing": "on"}, follow=True)
    assert ConsentEvent.objects.filter(customer=customer).count() == 1
    assert "Nothing changed." in response.content.decode()
    # an empty form means "no" to all, which is what never answered means already
    passenger_client.post(CONSENT, {"phone__marketing": "on", "unknown__field": "on", "email__marketing": "yes-please"})
    assert ConsentEvent.objects.filter(customer=customer).count() == 2


def test_consent_is_only_ever_recorded_on_the_passengers_own_record(passenger, make_passenger, passenger_client):
    _, other = make_passenger("other@example.com")
    passenger_client.post(CONSENT, {"email__marketing": "on", "customer": other.pk, "customer_id": other.pk})
    assert not ConsentEvent.objects.filter(customer=other).exists()
    assert ConsentEvent.objects.filter(customer=passenger[1]).count() == 1


def test_the_history_is_paginated_and_never_answers_500_to_a_bad_page(passenger, passenger_client):
    _, customer = passenger
    for i in range(45):
        consent_record(customer=customer, channel="email", purpose="marketing", granted=bool(i % 2), source="office")
    first = passenger_client.get(CONSENT)
    assert len(first.context["history"].object_list) == 20
    assert "Page 1 of 3" in first.content.decode()
    for page in ("3", "99", "-1", "abc", "1e9"):
        assert passenger_client.get(CONSENT, {"page": page}).status_code == 200


@pytest.mark.parametrize("events", [1, 40])
def test_the_preferences_page_query_count_does_not_grow_with_the_history(
    passenger, passenger_client, django_assert_max_num_queries, events
):
    _, customer = passenger
    for i in range(events):
        consent_record(customer=customer, channel="sms", purpose="marketing", granted=bool(i % 2), source="office")
    with django_assert_max_num_queries(10):
        assert passenger_client.get(CONSENT).status_code == 200
