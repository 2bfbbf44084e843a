"""What a ledger entry says to the person reading it, rendered in their language from its code and data.

The ledger stores a reason code and its details (flight, route, partner...), never a sentence; this is
the one place that turns them into words. Unknown codes fall back to the entry's kind, so a new reason
never shows an empty line.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.models import EntryKind, MilesEntry

REASONS = {
    "welcome_bonus": gettext_lazy("Welcome bonus"),
    "flight": gettext_lazy("Flight"),
    "flown": gettext_lazy("Flight"),
    "partner": gettext_lazy("Partner"),
    "merge_in": gettext_lazy("Miles moved from a merged duplicate account"),
    "merge_out": gettext_lazy("Miles moved to the surviving account after a merge"),
    "account_closed": gettext_lazy("Account closed: remaining miles cancelled"),
    "goodwill": gettext_lazy("Goodwill"),
    "correction": gettext_lazy("Correction"),
}


def _flight(details: dict[str, Any]) -> str:
    parts = [str(details[k]) for k in ("flight", "date") if details.get(k)]
    route = "–".join(str(details[k]) for k in ("origin", "destination") if details.get(k))
    if route:
        parts.append(route)
    return " ".join(parts)


def entry_description(entry: MilesEntry) -> str:
    """One line for a statement: what the entry was for, with its flight or partner when it has one."""
    details = entry.details or {}
    label = REASONS.get(entry.reason)
    text = str(label) if label is not None else str(EntryKind(entry.kind).label if entry.kind in EntryKind.values else entry.kind)
    extra = _flight(details)
    partner = details.get("partner_name") or details.get("partner")
    if partner:
        extra = f"{extra} {partner}".strip()
    if entry.kind == EntryKind.REVERSAL:
        text = _("Reversal")
    return f"{text}: {extra}" if extra else text
