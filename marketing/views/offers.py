"""Offers at the office (Marketers): the list, a new offer, one offer with its codes, issuing codes and
downloading them as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from crm.errors import ApplicationError, NotFound
from crm.permissions import StaffPermissionRequiredMixin
from marketing import selectors, services
from marketing.forms import IssueCodesForm, OfferForm
from marketing.models import Offer

SEE = ("marketing.view_offer",)
CREATE = (*SEE, "marketing.add_offer")
ISSUE = (*SEE, "marketing.add_promocode")
PAGE_SIZE = 50


def _offer_or_404(offer_id: int) -> Offer:
    try:
        return selectors.offer_get(offer_id=offer_id)
    except NotFound:
        raise Http404("No such offer.") from None


class OfferListView(StaffPermissionRequiredMixin, View):
    permission_required = SEE

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.offers(), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "office/marketing/offer_list.html", {"page_obj": page, "now": timezone.now()})


class OfferCreateView(StaffPermissionRequiredMixin, View):
    permission_required = CREATE

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "office/marketing/offer_new.html", {"form": OfferForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = OfferForm(request.POST)
        if form.is_valid():
            try:
                offer = services.offer_create(**form.cleaned_for_service(), by=request.user)
            except ApplicationError as error:
                for field, problems in error.fields.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
                if not error.fields:
                    form.add_error(None, error.message)
            else:
                messages.success(request, _("Offer created."))
                return redirect("marketing_office:offer", offer_id=offer.pk)
        return render(request, "office/marketing/offer_new.html", {"form": form}, status=400)


class OfferDetailView(StaffPermissionRequiredMixin, View):
    permission_required = SEE

    def get(self, request: HttpRequest, offer_id: int) -> HttpResponse:
        offer = _offer_or_404(offer_id)
        page = Paginator(selectors.offer_codes(offer=offer), PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"offer": offer, "page_obj": page, "issue_form": IssueCodesForm()}
        return render(request, "office/marketing/offer_detail.html", context)


class OfferIssueCodesView(StaffPermissionRequiredMixin, View):
    permission_required = ISSUE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, offer_id: int) -> HttpResponse:
        offer = _offer_or_404(offer_id)
        form = IssueCodesForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return redirect("marketing_office:offer", offer_id=offer.pk)
        issued = services.promo_codes_issue(offer=offer, count=form.cleaned_data["count"])
        count = len(issued)
        messages.success(request, ngettext("%(count)d code issued.", "%(count)d codes issued.", count) % {"count": count})
        return redirect("marketing_office:offer", offer_id=offer.pk)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula is kept as text."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _rows(offer: Offer) -> Iterator[list[str]]:
    yield ["code", "customer_number", "status", "issued_at", "redeemed_booking", "redeemed_at"]
    for code in selectors.offer_codes(offer=offer).iterator(chunk_size=2000):
        yield [
            code.code, code.customer.customer_number if code.customer else "", code.status,
            timezone.localtime(code.issued_at).isoformat(), code.redeemed_record_locator,
            timezone.localtime(code.redeemed_at).isoformat() if code.redeemed_at else "",
        ]  # fmt: skip


class OfferCodesCsvView(StaffPermissionRequiredMixin, View):
    """Every code of the offer as CSV (for a mailing tool), streamed."""

    permission_required = SEE

    def get(self, request: HttpRequest, offer_id: int) -> StreamingHttpResponse:
        offer = _offer_or_404(offer_id)
        writer = csv.writer(_Echo())
        lines = (writer.writerow([_safe(cell) for cell in row]) for row in _rows(offer))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="offer-{offer.pk}-codes.csv"'
        return response
