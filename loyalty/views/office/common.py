"""What every office page of the programme does the same way: find the member, log the look."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from crm import services as crm_services
from crm.errors import NotFound
from crm.models import Customer
from loyalty import numbers, selectors
from loyalty.models import Member


def member_or_404(number: str) -> Member:
    """The member with this number (typed with spaces or dashes, or not); 404 for a malformed or unknown one."""
    cleaned = numbers.clean(number)
    if not numbers.is_valid(cleaned):
        raise Http404("No member with that number.")
    try:
        return selectors.member_get_by_number(number=cleaned)
    except NotFound:
        raise Http404("No member with that number.") from None


def record_access(request: HttpRequest, customer: Customer | None) -> None:
    """A staff look at a member is a look at their customer record: it goes in the access log."""
    if customer is None:
        return
    match = request.resolver_match
    crm_services.customer_access_record(
        customer=customer,
        user=request.user,
        surface="office",
        path=request.get_full_path(),
        view_name=match.view_name if match else "",
        method=request.method,
    )
