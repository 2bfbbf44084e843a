"""What the member's pages show, in the portal, the office and the API alike: the progress to the next
tier, the filtered statement and its CSV, the card's QR code, and links to pages that may not exist yet.

Reads only; every figure comes from the member row and the tiers (no sum over the ledger), so each page
reads a fixed number of rows whatever the member's history.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty import selectors
from loyalty.models import EntryKind, Member, MilesEntry, Tier
from loyalty.texts import entry_description

STATEMENT_PAGE_SIZE = 25
PANEL_ENTRIES = 5


# --- Progress to the next tier ----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far the member's qualifying counters are from the next tier, by miles or by flights.

    ``percent`` is the better of the two (a tier is reached by miles *or* segments), and ``closer`` says
    which one it is, so the page can say "5,000 miles or 3 flights to Gold". A threshold of 0 is no way
    to the tier (a flights-only tier has 0 qualifying miles): its ``..._needed`` is None and it counts
    for nothing in ``percent``.
    """

    next_tier: Tier
    miles: int
    miles_needed: int | None
    segments: int
    segments_needed: int | None
    percent: int
    closer: str  # "miles" or "segments"


def tier_progress(*, member: Member, tiers: Iterable[Tier]) -> Progress | None:
    """Progress to the next tier the counters can reach (one with a positive threshold); None above it."""
    higher = [
        t
        for t in sorted(tiers, key=lambda t: t.rank)
        if t.rank > member.tier.rank and (t.qualifying_miles > 0 or t.qualifying_segments > 0)
    ]
    if not higher:
        return None
    target = higher[0]
    shares = {}
    if target.qualifying_miles > 0:
        shares["miles"] = member.qualifying_miles / target.qualifying_miles
    if target.qualifying_segments > 0:
        shares["segments"] = member.qualifying_segments / target.qualifying_segments
    closer = max(shares, key=lambda way: (shares[way], way == "miles"))
    return Progress(
        next_tier=target,
        miles=member.qualifying_miles,
        miles_needed=max(0, target.qualifying_miles - member.qualifying_miles) if "miles" in shares else None,
        segments=member.qualifying_segments,
        segments_needed=max(0, target.qualifying_segments - member.qualifying_segments) if "segments" in shares else None,
        percent=max(0, min(100, int(shares[closer] * 100))),
        closer=closer,
    )


def member_summary(*, member: Member, tiers: Iterable[Tier] | None = None) -> dict[str, Any]:
    """The membership as JSON-ready data (the 360 API section, the API's ``me``, the export)."""
    progress = tier_progress(member=member, tiers=selectors.tiers() if tiers is None else tiers)
    return {
        "number": member.number,
        "status": member.status,
        "tier": member.tier.code,
        "tier_name": member.tier.name,
        "tier_since": member.tier_since.isoformat(),
        "tier_valid_until": member.tier_valid_until.isoformat() if member.tier_valid_until else None,
        "award_balance": member.award_balance,
        "qualifying_miles": member.qualifying_miles,
        "qualifying_segments": member.qualifying_segments,
        "lifetime_miles": member.lifetime_miles,
        "qualification_start": member.qualification_start.isoformat(),
        "enrolled_at": member.enrolled_at.isoformat(),
        "enrolment_channel": member.enrolment_channel,
        "progress": None
        if progress is None
        else {
            "next_tier": progress.next_tier.code,
            "miles_needed": progress.miles_needed,
            "segments_needed": progress.segments_needed,
            "percent": progress.percent,
        },
    }


def entry_data(entry: MilesEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "posted_at": entry.created_at.isoformat(),
        "kind": entry.kind,
        "reason": entry.reason,
        "description": entry_description(entry),
        "award_miles": entry.award_miles,
        "qualifying_miles": entry.qualifying_miles,
        "qualifying_segments": entry.qualifying_segments,
        "details": entry.details,
    }


# --- Statement --------------------------------------------------------------------------------


class StatementFilterForm(forms.Form):
    """Filters of a statement; a bad value is an error on the form and the statement stays unfiltered."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), required=False, choices=[("", gettext_lazy("All"))] + list(EntryKind.choices)
    )
    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid form filters nothing)."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


def statement_filtered(
    *, member: Member, kind: str = "", date_from: date | None = None, date_to: date | None = None
) -> QuerySet[MilesEntry]:
    """The member's statement, newest first, narrowed by kind and by the day posted (the member's clock)."""
    entries = selectors.statement(member=member)
    if kind:
        entries = entries.filter(kind=kind)
    if date_from:
        entries = entries.filter(created_at__date__gte=date_from)
    if date_to:
        entries = entries.filter(created_at__date__lte=date_to)
    return entries


# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def statement_csv_rows(entries: QuerySet[MilesEntry]) -> Iterator[str]:
    """The statement as CSV lines, read in chunks so a long history is never held in memory."""
    writer = csv.writer(_Echo())
    yield writer.writerow([_("Posted at"), _("Kind"), _("Description"), _("Award miles"), _("Qualifying miles"), _("Flights")])
    for entry in entries.iterator(chunk_size=500):
        yield writer.writerow(
            [
                timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M"),
                csv_safe(str(entry.get_kind_display())),
                csv_safe(entry_description(entry)),
                entry.award_miles,
                entry.qualifying_miles,
                entry.qualifying_segments,
            ]
        )


# --- Links and the card -----------------------------------------------------------------------


def links(candidates: Iterable[tuple[str, str]], *args: Any) -> list[tuple[str, str]]:
    """(url, label) for each (url name, label) that exists: pages built elsewhere appear once they do."""
    found = []
    for name, label in candidates:
        try:
            found.append((reverse(name, args=args or None), str(label)))
        except NoReverseMatch:
            continue
    return found


def member_links(candidates: Iterable[tuple[str, str]], number: str) -> list[tuple[str, str]]:
    """Pages about one member: each with the member's number, or without it when that page takes none."""
    candidates = list(candidates)
    found = links(candidates, number)
    shown = {label for _url, label in found}
    return found + links([c for c in candidates if str(c[1]) not in shown])


def grouped_number(number: str) -> str:
    """``1234567897`` as printed on the card: ``123 456 789 7``."""
    return " ".join(number[i : i + 3] for i in range(0, len(number), 3))


def qr_svg(text: str, *, module: int = 4, border: int = 4) -> str:
    """A QR code of ``text`` as an inline SVG (one path), drawn with reportlab's encoder."""
    from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel

    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    count = code.getModuleCount()
    size = (count + 2 * border) * module
    path = "".join(
        f"M{(col + border) * module},{(row + border) * module}h{module}v{module}h-{module}z"
        for row in range(count)
        for col in range(count)
        if code.isDark(row, col)
    )
    label = escape(_("QR code of the membership number"))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" aria-label="{label}">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )
