"""Campaigns for the delivery tests: a segment of everyone reachable by e-mail and a campaign on it."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.utils import timezone

from marketing import services
from marketing.models import Campaign, Segment

_numbers = itertools.count(1)
EVERYONE = {"all": [{"attribute": "email_marketing_consent", "lookup": "exact", "value": True}]}


def segment(name: str = "") -> Segment:
    return Segment.objects.create(name=name or f"Everyone {next(_numbers)}", rules=EVERYONE, consent_channel="email")


def campaign(**overrides: Any) -> Campaign:
    fields = {
        "name": "Spring news",
        "segment": overrides.pop("segment", None) or segment(),
        "subject_en": "Hello {{ name }}",
        "text_en": "Dear {{ name }}, your code is {{ offer_code }}.",
        "html_en": "<p>Dear {{ name }}, your code is <b>{{ offer_code }}</b>.</p>",
        "subject_zh": "你好 {{ name }}",
        "text_zh": "{{ name }}，您的优惠码是 {{ offer_code }}。",
        "html_zh": "<p>{{ name }}，您的优惠码是 {{ offer_code }}。</p>",
        "status": "scheduled",
        **overrides,
    }
    if fields.get("kind", "one_off") == "one_off":
        fields.setdefault("send_at", timezone.now() + timedelta(days=1))
    return services.campaign_create(**fields)
