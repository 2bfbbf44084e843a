"""A ledger entry in words: its reason code and details rendered in the reader's language when shown.

The ledger stores codes and data (``reason="flight"``, ``details={"flight": "AU12", ...}``), never
sentences, so a statement reads in whoever's language looks at it. ``entry_description`` knows every
reason the programme posts; a reason it does not know still reads sensibly from the entry's kind.
Add a reason here when a service starts posting it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Cabin
from loyalty.models import EntryKind, MilesEntry


def _date(value: Any) -> str:
    """An ISO date from the details, in the reader's locale (left as it is if it is not a date)."""
    try:
        return formats.date_format(date.fromisoformat(str(value)), "DATE_FORMAT")
    except (TypeError, ValueError):
        return str(value or "")


def _cabin(code: str) -> str:
    return str(dict(Cabin.choices).get(code, code or ""))


def _flight(d: Mapping[str, Any]) -> str:
    text = _(
        "Flight %(flight)s %(origin)s–%(destination)s on %(date)s, %(cabin)s (class %(booking_class)s), %(distance)s miles"
    ) % {
        "flight": d.get("flight", ""),
        "origin": d.get("origin", ""),
        "destination": d.get("destination", ""),
        "date": _date(d.get("date")),
        "cabin": _cabin(d.get("cabin", "")),
        "booking_class": d.get("booking_class", ""),
        "distance": formats.number_format(d.get("distance", 0), force_grouping=True),
    }
    if d.get("bonus_percent"):
        text += _(", tier bonus %(percent)s%%") % {"percent": d["bonus_percent"]}
    via = {"claim": _("missing miles claim"), "sweep": _("credited late")}.get(d.get("via", ""))
    return f"{text} ({via})" if via else text


def _reversal(d: Mapping[str, Any]) -> str:
    """The reversed entry is named by its number (its own line on the statement says what it was)."""
    base = _("Reversal of entry %(entry)s") % {"entry": d.get("reverses", "")}
    why = _REVERSAL_WHY.get(d.get("reason", ""))
    return f"{base} ({why})" if why else base


_REVERSAL_WHY = {
    "ticket_refunded": gettext_lazy("ticket refunded"),
    "booking_cancelled": gettext_lazy("booking cancelled"),
    "award_refund": gettext_lazy("award ticket refunded"),
    "partner_reversal": gettext_lazy("cancelled by the partner"),
    "fraud": gettext_lazy("fraud confirmed"),
    "correction": gettext_lazy("correction"),
}


def _pooled(d: Mapping[str, Any]) -> str:
    """A household member's miles the head spent: said on the member's own statement, whatever was bought."""
    return _("Miles spent by the household head (member %(number)s) for booking %(locator)s") % {
        "number": d.get("pooled_by", ""),
        "locator": d.get("record_locator", ""),
    }


def _partner(d: Mapping[str, Any]) -> str:
    return _("Partner %(partner)s, transaction %(reference)s") % {
        "partner": d.get("partner_name") or d.get("partner", ""),
        "reference": d.get("reference", ""),
    }


# reason code -> renderer of the entry's details
REASONS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "flight": _flight,
    "welcome_bonus": lambda d: _("Welcome bonus"),
    "enrolment_bonus": lambda d: _("Welcome bonus"),
    "promotion": lambda d: _("Promotion bonus %(name)s") % {"name": d.get("name", "")},
    "partner": _partner,
    "award_ticket": lambda d: _("Miles used to pay for booking %(locator)s") % {"locator": d.get("record_locator", "")},
    "redemption": lambda d: _("Miles used to pay for booking %(locator)s") % {"locator": d.get("record_locator", "")},
    "upgrade": lambda d: (
        _("Upgrade on flight %(flight)s to %(cabin)s") % {"flight": d.get("flight", ""), "cabin": _cabin(d.get("to_cabin", ""))}
        if d.get("flight")
        else _("Cabin upgrade paid with miles")
    ),
    "award_refund": lambda d: _("Miles returned for booking %(locator)s") % {"locator": d.get("record_locator", "")},
    "redemption_refund": lambda d: _("Miles returned for booking %(locator)s") % {"locator": d.get("record_locator", "")},
    "inactivity": lambda d: _("Miles expired after a period without activity"),
    "expiry": lambda d: _("Miles expired after a period without activity"),
    "account_closed": lambda d: _("Account closed: remaining miles cancelled"),
    "goodwill": lambda d: _("Goodwill miles"),
    "adjustment_goodwill": lambda d: _("Goodwill miles"),
    "correction": lambda d: _("Correction"),
    "adjustment_correction": lambda d: _("Correction"),
    "transfer_sent": lambda d: _("Miles transferred to member %(number)s") % {"number": d.get("recipient", "")},
    "transfer_received": lambda d: _("Miles received from member %(number)s") % {"number": d.get("sender", "")},
    "transfer_fee": lambda d: _("Transfer fee"),
    "merge_in": lambda d: _("Miles moved from a merged duplicate account"),
    "merge_out": lambda d: _("Miles moved to the surviving account after a merge"),
    "pooling": lambda d: _("Miles pooled in the household"),
    "status_match": lambda d: _("Status match"),
}

_KIND_FALLBACK = {
    EntryKind.ACCRUAL: gettext_lazy("Flight"),
    EntryKind.BONUS: gettext_lazy("Bonus miles"),
    EntryKind.PARTNER: gettext_lazy("Partner miles"),
    EntryKind.REDEMPTION: gettext_lazy("Miles used"),
    EntryKind.REVERSAL: gettext_lazy("Reversal"),
    EntryKind.EXPIRY: gettext_lazy("Miles expired"),
    EntryKind.ADJUSTMENT: gettext_lazy("Adjustment"),
    EntryKind.TRANSFER: gettext_lazy("Transfer"),
    EntryKind.POOLING: gettext_lazy("Household pooling"),
}


def reason_description(*, kind: str, reason: str, details: Mapping[str, Any] | None) -> str:
    """What ``entry_description`` says, from the raw columns (for rows read with ``values()``)."""
    details = details or {}
    if kind == EntryKind.REVERSAL:
        return _reversal({**details, "reason": reason})
    if kind == EntryKind.POOLING and details.get("pooled_by"):
        return _pooled(details)
    render = REASONS.get(reason)
    if render is not None:
        try:
            return render(details)
        except (KeyError, TypeError, ValueError):  # details of an older shape: say what we can
            pass
    return str(_KIND_FALLBACK.get(kind, kind))


def entry_description(entry: MilesEntry) -> str:
    """One sentence for a statement line, in the active language; an agent's note is added as written."""
    text = reason_description(kind=entry.kind, reason=entry.reason, details=entry.details)
    return f"{text}: {entry.note}" if entry.note else text
