"""``{{ entry|entry_description }}``: a ledger line in the reader's language (``loyalty.texts``)."""

from __future__ import annotations

from django import template

from loyalty.models import MilesEntry
from loyalty.texts import entry_description as describe

register = template.Library()


@register.filter
def entry_description(entry: MilesEntry) -> str:
    return describe(entry)
