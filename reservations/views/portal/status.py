"""Public flight status."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.errors import NotFound
from reservations import selectors
from reservations.forms import (
    FlightStatusForm,
)


@require_GET
def flight_status(request: HttpRequest) -> HttpResponse:
    """Public: the latest times, gate and status of a flight on a date."""
    bound = "flight_code" in request.GET
    form = FlightStatusForm(request.GET if bound else None, initial={"service_date": timezone.localdate()})
    flight = None
    if bound and form.is_valid():
        try:
            flight = selectors.flight_status_lookup(
                flight_code=form.cleaned_data["flight_code"], service_date=form.cleaned_data["service_date"]
            )
        except NotFound:
            form.add_error(None, _("We have no flight with this number on this date."))
    return render(request, "portal/reservations/flight_status.html", {"form": form, "flight": flight})
