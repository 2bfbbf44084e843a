"""The member's household and miles transfers in the portal, for their own membership only.

``/miles/household/`` shows the household (the members, and to the head each balance and the pool),
the invitations waiting for an answer and, for the head, those sent; every change is a POST of its own.
``/miles/transfer/`` sends miles to another member: "Preview" shows the fee and what is left of the
year's allowance, "Send" posts it (the form's ``transfer_id`` makes a second submission harmless).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from crm import selectors as crm_selectors
from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from loyalty import selectors, services
from loyalty.forms import HouseholdInviteForm, TransferForm
from loyalty.models import Member

HOUSEHOLD = "loyalty_portal:household"


def _own_member(request: HttpRequest) -> Member | None:
    """The passenger's membership; None if they are not a member; 404 for a login without a customer record."""
    try:
        customer = crm_selectors.customer_get_for_user(user=request.user)
    except NotFound:
        raise Http404(_("You have no customer record.")) from None
    return selectors.member_for_customer(customer_id=customer.pk)


def _not_a_member(request: HttpRequest, title: str) -> HttpResponse:
    return render(request, "portal/loyalty/household_not_member.html", {"title": title})


def _household_page(
    request: HttpRequest, member: Member, invite_form: HouseholdInviteForm | None = None, status: int = 200
) -> HttpResponse:
    overview = selectors.household_overview(member=member)
    context = {
        "overview": overview,
        "invite_form": invite_form or HouseholdInviteForm(),
        "max_members": selectors.programme().household_max_members,
    }
    return render(request, "portal/loyalty/household.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET"])
def household(request: HttpRequest) -> HttpResponse:
    member = _own_member(request)
    if member is None:
        return _not_a_member(request, _("My household"))
    return _household_page(request, member)


def _act(request: HttpRequest, action: Any, success: str, **kwargs: Any) -> HttpResponse:
    """Run a household service for the passenger's membership, then back to the household page."""
    member = _own_member(request)
    if member is None:
        raise Http404(_("You are not a member of the frequent flyer programme."))
    try:
        action(member, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(HOUSEHOLD)


@login_required
@require_POST
def household_create(request: HttpRequest) -> HttpResponse:
    return _act(
        request, lambda m: services.household_create(member=m), _("Your household is ready: invite the members of your family.")
    )


@login_required
@never_cache
@require_POST
def household_invite(request: HttpRequest) -> HttpResponse:
    member = _own_member(request)
    if member is None:
        raise Http404(_("You are not a member of the frequent flyer programme."))
    form = HouseholdInviteForm(request.POST)
    if form.is_valid():
        try:
            services.household_invite(
                head=member, number=form.cleaned_data["frequent_flyer_number"], family_name=form.cleaned_data["family_name"]
            )
        except ApplicationError as exc:
            add_application_error(form, exc)
        else:
            messages.success(request, _("Invitation sent: the member accepts it from their own account."))
            return redirect(HOUSEHOLD)
    return _household_page(request, member, invite_form=form, status=400)


@login_required
@require_POST
def invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _act(
        request,
        lambda m: services.household_invitation_accept(invitation_id=invitation_id, member=m),
        _("You joined the household."),
    )


@login_required
@require_POST
def invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _act(
        request,
        lambda m: services.household_invitation_decline(invitation_id=invitation_id, member=m),
        _("Invitation declined."),
    )


@login_required
@require_POST
def invitation_cancel(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _act(
        request,
        lambda m: services.household_invitation_cancel(head=m, invitation_id=invitation_id),
        _("Invitation withdrawn."),
    )


@login_required
@require_POST
def household_leave(request: HttpRequest) -> HttpResponse:
    return _act(request, lambda m: services.household_leave(member=m), _("You left the household."))


@login_required
@require_POST
def household_remove(request: HttpRequest, number: str) -> HttpResponse:
    def remove(head: Member) -> None:
        target = Member.objects.filter(number=number, household__head=head).only("pk").first()
        if target is None:
            raise NotFound(_("This member is not in your household."))
        services.household_remove(head=head, member_id=target.pk)

    return _act(request, remove, _("The member was removed from your household."))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def transfer(request: HttpRequest) -> HttpResponse:
    """Send miles: preview the fee and the allowance, then send."""
    member = _own_member(request)
    if member is None:
        return _not_a_member(request, _("Send miles"))
    form = TransferForm(request.POST if request.method == "POST" else None)
    quote, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            quote = services.transfer_quote(member=member, miles=form.cleaned_data["miles"])
            if "send" in request.POST:
                try:
                    done = services.miles_transfer(
                        sender=member,
                        recipient_number=form.cleaned_data["frequent_flyer_number"],
                        recipient_family_name=form.cleaned_data["family_name"],
                        miles=form.cleaned_data["miles"],
                        transfer_id=form.cleaned_data["transfer_id"],
                        by=request.user,
                    )
                except ApplicationError as exc:
                    add_application_error(form, exc)
                    status = exc.status if exc.status < 500 else 400
                else:
                    messages.success(
                        request,
                        _("%(miles)s miles sent to member %(number)s; the fee was %(fee)s miles.")
                        % {"miles": f"{done.miles:,}", "number": done.recipient_number, "fee": f"{done.fee:,}"},
                    )
                    return redirect("loyalty_portal:transfer")
        else:
            status = 400
    member.refresh_from_db(fields=["award_balance"])
    settings_row = selectors.programme()
    allowance = services.transfer_quote(member=member, miles=0)
    context = {
        "member": member,
        "form": form,
        "quote": quote,
        "allowance": allowance,
        "fee_percent": settings_row.transfer_fee_percent,
        "minimum": settings_row.transfer_minimum_miles,
    }
    return render(request, "portal/loyalty/transfer.html", context, status=status)
