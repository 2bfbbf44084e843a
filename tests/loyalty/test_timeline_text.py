"""Loyalty's timeline lines are rendered in the reader's language: an adjustment's kind is a code until shown."""

from __future__ import annotations

from django.utils import translation

from crm.models import TimelineEntry
from loyalty import services
from tests.loyalty.factories import member


def test_an_adjustment_made_by_a_chinese_speaking_agent_reads_in_english_and_chinese(agent):
    # given a goodwill adjustment posted while the office spoke Chinese to the agent
    m = member()
    with translation.override("zh-hans"):
        services.adjustment_request(
            member=m, kind="goodwill", award_miles=500, qualifying_miles=0, reason="Delayed bag", by=agent
        )
    entry = TimelineEntry.objects.get(customer=m.customer, kind="miles.adjusted")
    # then it stores the kind as a code and reads in each reader's language
    assert entry.message_params["kind"] == {"label": "loyalty.adjustment_kind", "value": "goodwill"}
    assert entry.summary == "Goodwill adjustment posted: +500 miles (Delayed bag)"
    with translation.override("en"):
        assert entry.text == "Goodwill adjustment posted: +500 miles (Delayed bag)"
    with translation.override("zh-hans"):
        assert entry.text == "里程调整（善意补偿）已入账：+500 里程（Delayed bag）"


def test_joining_the_programme_reads_in_the_readers_language(passenger):
    _, customer = passenger
    with translation.override("zh-hans"):
        member_row, _created = services.member_join(customer=customer, channel="portal")
    entry = TimelineEntry.objects.get(customer=customer, kind="loyalty.enrolled")
    with translation.override("en"):
        assert entry.text.startswith("Joined ") and member_row.number in entry.text
    with translation.override("zh-hans"):
        assert "Joined" not in entry.text and member_row.number in entry.text
