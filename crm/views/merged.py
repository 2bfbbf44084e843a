"""Office pages addressed by a customer number that was merged away open on the surviving record.

Any app's office view taking a ``customer_number`` in its URL gets this by mixing in
``FollowsMergedCustomers`` and loading the customer with ``customer_or_404``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from crm import selectors
from crm.errors import NotFound
from crm.forms import normalize_customer_number
from crm.models import Customer


class CustomerMergedAway(Exception):
    """The customer number asked for was merged into another record (``survivor``)."""

    def __init__(self, customer_number: str, survivor: Customer) -> None:
        super().__init__(customer_number)
        self.customer_number, self.survivor = customer_number, survivor


class FollowsMergedCustomers:
    """A view whose ``customer_number`` was merged away answers with the survivor instead of a 404."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except CustomerMergedAway as merged:
            return survivor_redirect(request, merged, kwargs)


def survivor_redirect(request: HttpRequest, merged: CustomerMergedAway, kwargs: dict[str, Any]) -> HttpResponse:
    """A merged-away number's page opens on the record it was merged into. A form sent to it saves nothing:
    the agent sees the surviving record first, since it may hold other values."""
    names = {"old": merged.customer_number, "new": merged.survivor.customer_number}
    match = request.resolver_match
    if request.method in ("GET", "HEAD") and match is not None and "customer_number" in kwargs:
        messages.info(request, _("Customer %(old)s was merged into %(new)s; this is the record now.") % names)
        url = reverse(match.view_name, kwargs={**kwargs, "customer_number": merged.survivor.customer_number})
        query = request.META.get("QUERY_STRING", "")
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    if request.method in ("GET", "HEAD"):
        messages.info(request, _("Customer %(old)s was merged into %(new)s; this is the record now.") % names)
    else:
        messages.warning(
            request, _("Customer %(old)s was merged into %(new)s; nothing was saved. Check this record and try again.") % names
        )
    return redirect("office:customer_detail", customer_number=merged.survivor.customer_number)


def customer_or_404(customer_number: str) -> Customer:
    """The customer with this number; a number merged away sends the agent to its survivor (CustomerMergedAway)."""
    number = normalize_customer_number(customer_number)
    if number is None:
        raise Http404("No customer with that number.")
    try:
        return selectors.customer_get(customer_number=number)
    except NotFound:
        survivor = selectors.customer_merged_into(customer_number=number)
        if survivor is not None:
            raise CustomerMergedAway(number, survivor) from None
        raise Http404("No customer with that number.") from None
