"""Partners at the office: last month's figures per partner, monthly clearing statements (page and CSV)
and a new API key, shown once."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm.errors import NotFound
from crm.permissions import StaffPermissionRequiredMixin
from loyalty import selectors, services
from loyalty.models import EntryKind, Partner

SEE_PARTNERS = ("loyalty.view_partner",)
ISSUE_KEY = ("loyalty.view_partner", "loyalty.issue_partner_key")
STATEMENT_PAGE_SIZE = 50
_MONTH = re.compile(r"^(\d{4})-(\d{2})\Z")


def _month_or_404(text: str) -> date:
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        raise Http404("A month is written YYYY-MM.")
    return date(int(match[1]), int(match[2]), 1)


def _partner_or_404(code: str) -> Partner:
    try:
        return selectors.partner_get_by_code(code=code)
    except NotFound:
        raise Http404("No partner with this code.") from None


class PartnerListView(StaffPermissionRequiredMixin, View):
    """Every partner with last month's clearing figures (one query for all of them)."""

    permission_required = SEE_PARTNERS

    def get(self, request: HttpRequest) -> HttpResponse:
        last_month = selectors.previous_month()
        rows = selectors.partners_with_month(month=last_month)
        context = {"rows": rows, "last_month": last_month, "this_month": timezone.localdate().replace(day=1)}
        return render(request, "office/loyalty/partners_list.html", context)


class PartnerStatementView(StaffPermissionRequiredMixin, View):
    """One partner's month: what it owes for the miles issued less those reversed, and every entry."""

    permission_required = SEE_PARTNERS

    def get(self, request: HttpRequest, code: str, month: str) -> HttpResponse:
        partner, first = _partner_or_404(code), _month_or_404(month)
        statement = selectors.partner_statement(partner=partner, month=first)
        page = Paginator(statement.entries, STATEMENT_PAGE_SIZE).get_page(request.GET.get("page"))
        previous = selectors.previous_month(first)
        following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        context = {
            "partner": partner,
            "statement": statement,
            "page_obj": page,
            "previous": previous,
            "following": following if following <= timezone.localdate() else None,
        }
        return render(request, "office/loyalty/partners_statement.html", context)


def _csv_rows(statement: selectors.PartnerStatement) -> Iterator[list[str]]:
    totals = statement.totals
    yield ["posted_at", "entry_id", "kind", "member_number", "transaction_reference", "miles", "occurred_on", "description"]
    for entry in statement.entries.iterator(chunk_size=2000):
        details = selectors.partner_entry_details(entry)
        yield [
            timezone.localtime(entry.created_at).isoformat(), str(entry.pk),
            "reversed" if entry.kind == EntryKind.REVERSAL else "issued", entry.member.number, details.get("reference", ""),
            str(entry.award_miles), details.get("occurred_on", ""), details.get("description", ""),
        ]  # fmt: skip
    yield []
    yield ["issued", str(totals.issued)]
    yield ["reversed", str(totals.reversed)]
    yield ["net", str(totals.net)]
    yield ["price_per_mile", str(totals.price_per_mile), totals.currency]
    yield ["amount_due", str(totals.amount), totals.currency]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (a partner's description) is kept as text."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(cell) else cell


_NUMBER = re.compile(r"^-?\d+(\.\d+)?\Z")


class PartnerStatementCsvView(StaffPermissionRequiredMixin, View):
    """The month's statement as CSV for clearing, streamed (a busy partner has many thousand entries)."""

    permission_required = SEE_PARTNERS

    def get(self, request: HttpRequest, code: str, month: str) -> StreamingHttpResponse:
        partner, first = _partner_or_404(code), _month_or_404(month)
        statement = selectors.partner_statement(partner=partner, month=first)
        writer = csv.writer(_Echo())
        lines = (writer.writerow([_safe(cell) for cell in row]) for row in _csv_rows(statement))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="statement-{partner.code}-{first:%Y-%m}.csv"'
        return response


class PartnerKeyIssueView(StaffPermissionRequiredMixin, View):
    """A new API key for the partner, shown on this one page and never again; the old key stops working."""

    permission_required = ISSUE_KEY
    http_method_names = ["post"]

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        partner = _partner_or_404(code)
        key = services.partner_key_issue(partner=partner, by=request.user)
        messages.warning(request, _("The partner's previous key no longer works."))
        response = render(request, "office/loyalty/partners_key.html", {"partner": partner, "key": key})
        response["Cache-Control"] = "no-store"
        return response
