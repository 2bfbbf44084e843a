"""Timeline lines are rendered when read, in the reader's language, from a message and its data."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from crm.models import TimelineEntry
from crm.services import consent_record, customer_update, timeline_record
from crm.timeline import label, phrase, register_timeline_param, render


def test_consent_line_renders_its_channel_and_purpose_in_the_readers_language(passenger):
    # given a consent given while the portal spoke Chinese
    _, customer = passenger
    with translation.override("zh-hans"):
        consent_record(customer=customer, channel="email", purpose="marketing", granted=True, source="portal")
    entry = TimelineEntry.objects.get(customer=customer, kind="consent.changed")
    # then the stored line holds codes, and each reader gets their language
    assert entry.message_params["channel"] == {"label": "crm.consent_channel", "value": "email"}
    assert entry.summary == "Consent granted: E-mail / Marketing"
    with translation.override("en"):
        assert entry.text == "Consent granted: E-mail / Marketing"
    with translation.override("zh-hans"):
        assert entry.text == "电子邮件 / 营销信息：已同意"


def test_profile_change_names_the_fields_in_the_readers_language(passenger):
    _, customer = passenger
    with translation.override("zh-hans"):
        customer_update(customer=customer, data={"given_name": "Mei"})
    entry = TimelineEntry.objects.get(customer=customer, kind="profile.changed")
    assert entry.message_params == {"fields": {"label": "crm.profile_fields", "value": ["given_name"]}}
    with translation.override("en"):
        assert entry.text == "Profile changed: given name"


def test_an_entry_written_before_messages_shows_its_summary(passenger):
    # given an entry from before lines were stored as messages
    _, customer = passenger
    entry = TimelineEntry.objects.create(customer=customer, kind="booking.created", summary="预订 ABC123 已创建")
    # then every reader sees what was written
    with translation.override("en"):
        assert TimelineEntry.objects.get(pk=entry.pk).text == "预订 ABC123 已创建"


def test_a_line_whose_params_no_longer_fit_shows_its_summary(passenger):
    _, customer = passenger
    # given a line whose message was later reworded to need a param it was not written with
    entry = timeline_record(
        customer=customer, kind="booking.created", message="Booking %(locator)s made", params={"locator": "X1"}
    )
    entry.message = "Booking %(locator)s made: %(route)s"
    # then readers see its summary rather than an error
    assert entry.text == "Booking X1 made"


def test_params_render_through_registered_labels_and_nested_phrases(db):
    register_timeline_param("tests.shout", lambda value: str(value).upper())
    with translation.override("en"):
        text = render("%(what)s: %(reason)s", {"what": phrase("Cancelled by the airline"), "reason": label("tests.shout", "fog")})
    assert text == "Cancelled by the airline: FOG"


def test_plural_lines_store_both_msgids_and_pick_by_count(db):
    params = {"_plural": "%(count)d bags", "count": 3}
    with translation.override("en"):
        assert render("%(count)d bag", params) == "3 bags"
        assert render("%(count)d bag", {**params, "count": 1}) == "1 bag"


def test_download_my_data_renders_the_timeline_in_the_downloaders_language(passenger):
    # given a consent recorded by an English-speaking agent
    user, customer = passenger
    with translation.override("en"):
        consent_record(customer=customer, channel="email", purpose="marketing", granted=True, source="office")
    # when the passenger downloads their data while reading the portal in Chinese
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.cookies["django_language"] = "zh-hans"
    response = client.get(reverse("portal:download_data"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    # then the line is in Chinese
    lines = [t["summary"] for t in json.loads(response.content)["crm"]["timeline"]]
    assert "电子邮件 / 营销信息：已同意" in lines


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_api_timeline_is_in_the_requests_language(passenger, supervisor, api_as, language):
    _, customer = passenger
    consent_record(customer=customer, channel="email", purpose="marketing", granted=True, source="office")
    response = api_as(supervisor).get(f"/api/v1/customers/{customer.customer_number}/timeline/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content
    summaries = [row["summary"] for row in response.json()["results"]]
    expected = "Consent granted: E-mail / Marketing" if language == "en" else "电子邮件 / 营销信息：已同意"
    assert expected in summaries
