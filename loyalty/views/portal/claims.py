"""Missing miles: a member claims a flown flight by its e-ticket number, and sees their past claims."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from crm import selectors as crm_selectors
from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from loyalty import selectors, services
from loyalty.models import Member

CLAIMS_PAGE_SIZE = 10


class RetroClaimForm(forms.Form):
    ticket_number = forms.CharField(
        label=gettext_lazy("E-ticket number"),
        max_length=20,
        help_text=gettext_lazy("13 digits, on your booking confirmation (e.g. 878 1234567890)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


def _own_member(request: HttpRequest) -> Member | None:
    try:
        customer = crm_selectors.customer_get_for_user(user=request.user)
    except NotFound:
        return None
    return selectors.member_for_customer(customer_id=customer.pk)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def claims(request: HttpRequest) -> HttpResponse:
    """The claim form and the member's claims, newest first; a passenger who is not a member is told so."""
    member = _own_member(request)
    if member is None:
        return render(request, "portal/loyalty/claims.html", {"member": None})
    form = RetroClaimForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            claim = services.retro_claim_submit(member=member, ticket_number=form.cleaned_data["ticket_number"], by=request.user)
        except ApplicationError as error:
            add_application_error(form, error)
        else:
            messages.success(
                request,
                _("Thank you: %(miles)s miles were credited to your account.") % {"miles": _miles(claim.miles)},
            )
            return redirect(reverse("loyalty_portal:claims"))
    page = Paginator(selectors.retro_claims(member=member), CLAIMS_PAGE_SIZE).get_page(request.GET.get("page"))
    for claim in page.object_list:
        claim.refusal_text = services.refusal_message(claim.refusal)
        claim.miles_text = _miles(claim.miles)
    context = {"member": member, "form": form, "page": page, "claim_months": selectors.programme().retro_claim_months}
    return render(request, "portal/loyalty/claims.html", context)


def _miles(value: int) -> str:
    return formats.number_format(value, force_grouping=True)
