"""A disrupted trip's options: the alternatives the office would offer, a refund, or keeping a delayed flight.

The disruption e-mail links straight to the confirmation of each choice; the passenger logs in (only
the booker reaches the booking) and confirms there: opening a link changes nothing by itself.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from crm.errors import ApplicationError
from reservations import selectors, services
from reservations.views.portal.common import _own_booking


def _option_links(booking, disruption) -> dict:  # noqa: ANN001
    locator = booking.record_locator
    return {
        "alternatives": [
            (f, services.disruption_choice_path(record_locator=locator, choice="rebook", flight_id=f.pk))
            for f in disruption.alternatives
        ],
        "refund_path": services.disruption_choice_path(record_locator=locator, choice="refund"),
        "keep_path": services.disruption_choice_path(record_locator=locator, choice="keep") if disruption.may_keep else "",
    }


@login_required
@never_cache
@require_GET
def disruption(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Every option for the disrupted flight, each a link to its confirmation."""
    booking = _own_booking(request, record_locator, detail=True)
    found = selectors.booking_disruption(booking=booking)
    context = {"booking": booking, "disruption": found}
    if found is not None:
        context.update(_option_links(booking, found))
    return render(request, "portal/reservations/disruption.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def disruption_choice(request: HttpRequest, record_locator: str) -> HttpResponse:
    """One choice, as a signed link offered it: shown, then applied once the passenger confirms."""
    booking = _own_booking(request, record_locator, detail=True)
    trip_url = reverse("reservations_portal:trip", kwargs={"record_locator": booking.record_locator})
    token = request.POST.get("choice", "") if request.method == "POST" else request.GET.get("choice", "")
    try:
        choice = services.disruption_choice_read(token=token)
    except ApplicationError as exc:
        return render(
            request, "portal/reservations/disruption_choice.html", {"booking": booking, "error": exc.message}, status=400
        )
    if choice.record_locator != booking.record_locator:
        error = _("This link is not valid or has expired; see your options on your trip page.")
        return render(request, "portal/reservations/disruption_choice.html", {"booking": booking, "error": error}, status=400)
    found = selectors.booking_disruption(booking=booking)
    if found is None:
        messages.info(request, _("Your choice for this disruption is already recorded; nothing more was changed."))
        return redirect(trip_url)
    flight = next((f for f in found.alternatives if f.pk == choice.flight_id), None) if choice.choice == "rebook" else None
    error = ""
    if choice.choice == "rebook" and flight is None:
        error = _("This flight is no longer available; choose another from your options.")
    elif choice.choice == "keep" and not found.may_keep:
        error = _("A cancelled flight cannot be kept; choose another flight or a refund.")
    refund = None
    if not error and choice.choice == "refund":
        try:
            refund = services.booking_cancel_quote(booking=booking, by=request.user, involuntary=True)
        except ApplicationError as exc:
            error = exc.message
    if request.method == "POST" and not error:
        try:
            if choice.choice == "rebook":
                services.booking_disruption_rebook(booking=booking, new_flight_id=flight.pk, by=request.user)
                messages.success(
                    request,
                    _("You are now on flight %(flight)s. Your new e-tickets are on their way by e-mail.")
                    % {"flight": flight.flight_code},
                )
            elif choice.choice == "refund":
                services.booking_disruption_refund(booking=booking, by=request.user)
                messages.success(
                    request,
                    _("Your booking is cancelled and everything you paid for the unflown flights goes back to how you paid."),
                )
            else:
                services.booking_disruption_keep(booking=booking, by=request.user)
                messages.success(request, _("You keep your delayed flight. We will tell you if anything changes again."))
        except ApplicationError as exc:
            if exc.code != "disruption_settled":
                error = exc.message
            else:
                messages.info(request, exc.message)
                return redirect(trip_url)
        else:
            return redirect(trip_url)
    return render(
        request,
        "portal/reservations/disruption_choice.html",
        {
            "booking": booking,
            "disruption": found,
            "choice": choice.choice,
            "flight": flight,
            "refund": refund,
            "token": token,
            "error": error,
            "options_url": reverse("reservations_portal:disruption", kwargs={"record_locator": booking.record_locator}),
        },
        status=400 if error and request.method == "GET" and choice.choice == "rebook" and flight is None else 200,
    )
