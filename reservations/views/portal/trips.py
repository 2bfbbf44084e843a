"""My trips: the list, one trip, its receipt and calendar, changing a flight and cancelling."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import BooleanField, Case, F, OuterRef, Subquery, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from crm.models import Customer
from crm.templatetags.airline_format import money as format_money
from reservations import selectors, services
from reservations.forms import (
    CancelBookingForm,
    ChangeDateForm,
    FrequentFlyerNumbersForm,
)
from reservations.models import (
    BookingStatus,
    Channel,
    PassengerType,
    Segment,
)
from reservations.views.portal.common import FEW_SEATS, TRIPS_PAGE_SIZE, _own_booking, _own_customer, _posted, _reach, _segment_of
from reservations.views.portal.search import _leg_results


def _trips_in_order(customer: Customer):  # noqa: ANN202
    """Trips not yet over first (soonest first), then past ones (latest first)."""
    segments = Segment.objects.filter(booking=OuterRef("pk"))
    now = timezone.now()
    return (
        selectors.bookings_for_customer(customer=customer)
        .annotate(
            first_departure=Subquery(segments.order_by("flight__scheduled_departure").values("flight__scheduled_departure")[:1]),
            last_arrival=Subquery(segments.order_by("-flight__scheduled_arrival").values("flight__scheduled_arrival")[:1]),
        )
        .annotate(
            upcoming=Case(When(last_arrival__gte=now, then=Value(True)), default=Value(False), output_field=BooleanField()),
            upcoming_departure=Case(When(last_arrival__gte=now, then=F("first_departure")), default=Value(None)),
        )
        .order_by("-upcoming", F("upcoming_departure").asc(nulls_last=True), F("first_departure").desc(nulls_last=True), "-pk")
    )


@login_required
@never_cache
@require_GET
def trips(request: HttpRequest) -> HttpResponse:
    customer = _own_customer(request)
    page = Paginator(_trips_in_order(customer), TRIPS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/reservations/trips.html", {"page": page, "customer": customer})


@login_required
@never_cache
@require_GET
def trip(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Manage booking: the itinerary, travellers, what was charged and paid, and what can be done next.

    A co-traveller sees the flights, themselves and their own e-tickets, check-in and seats; the booker's
    payments and the actions on the whole booking are the booker's.
    """
    reach = _reach(request, record_locator, detail=True)
    return _trip_page(request, reach)


def _frequent_flyer_form(reach: selectors.PassengerBooking, actions: selectors.TripActions, data: Any = None) -> Any:
    """The travellers this passenger reaches whose number may change now; infants have none, as when booking."""
    travellers = [p for p in reach.passengers if p.pk in actions.frequent_flyer and p.passenger_type != PassengerType.INFANT]
    return FrequentFlyerNumbersForm(data, passengers=travellers) if travellers else None


def _trip_page(
    request: HttpRequest, reach: selectors.PassengerBooking, *, frequent_flyer: FrequentFlyerNumbersForm | None = None
) -> HttpResponse:
    booking, booker = reach.booking, reach.is_booker
    tickets = [t for t in booking.tickets.all() if reach.shows(t.passenger_id)]
    actions = selectors.trip_actions(booking=booking, user=request.user)
    return render(
        request,
        "portal/reservations/trip.html",
        {
            "booking": booking,
            "is_booker": booker,
            "passengers": reach.passengers,
            "segments": actions.segments,
            "tickets": tickets,
            "payable": actions.pay,
            "ticketed": booking.status == BookingStatus.TICKETED,
            "cancellable": actions.cancel,
            "charges": booking.charges.all() if booker else [],
            "payments": booking.payments.all() if booker else [],
            "refunds": booking.refunds.all() if booker else [],
            "frequent_flyer_form": frequent_flyer or _frequent_flyer_form(reach, actions),
        },
    )


@login_required
@never_cache
@require_POST
def trip_frequent_flyer(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Add, correct or remove the travellers' frequent flyer numbers from the trip page; a refused number is
    shown beside its traveller's field and none is saved."""
    reach = _reach(request, record_locator, detail=True)
    trip_url = reverse("reservations_portal:trip", kwargs={"record_locator": reach.booking.record_locator})
    form = _frequent_flyer_form(reach, selectors.trip_actions(booking=reach.booking, user=request.user), request.POST)
    if form is None:
        messages.error(request, _("The frequent flyer numbers on this booking can no longer be changed."))
        return redirect(trip_url)
    if form.is_valid():
        try:
            services.passengers_frequent_flyer_set(
                booking=reach.booking, numbers=form.changes(), by=request.user, channel=Channel.PORTAL
            )
        except ApplicationError as exc:
            add_application_error(form, exc, place=form.place)
        else:
            messages.success(request, _("Frequent flyer numbers saved."))
            return redirect(trip_url)
    return _trip_page(request, reach, frequent_flyer=form)


@login_required
@require_GET
def receipt_pdf(request: HttpRequest, record_locator: str) -> HttpResponse:
    from reservations import documents

    booking = _own_booking(request, record_locator)
    if booking.status != BookingStatus.TICKETED:
        raise Http404(_("The receipt is ready once the booking is paid."))
    response = HttpResponse(documents.eticket_receipt_pdf(booking=booking), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="e-ticket-receipt-{booking.record_locator}.pdf"'
    return response


@login_required
@require_GET
def trip_ics(request: HttpRequest, record_locator: str) -> HttpResponse:
    from reservations import documents

    booking = _reach(request, record_locator).booking
    if booking.status != BookingStatus.TICKETED:
        raise Http404(_("The calendar file is ready once the booking is paid."))
    response = HttpResponse(documents.trip_calendar_ics(booking=booking), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="trip-{booking.record_locator}.ics"'
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Cancel the whole booking; the refund by the fare rules is shown before the passenger confirms."""
    booking = _own_booking(request, record_locator)
    trip_url = reverse("reservations_portal:trip", kwargs={"record_locator": booking.record_locator})
    form = CancelBookingForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            booking = services.booking_cancel(booking=booking, by=request.user, reason=_("Cancelled by the passenger online"))
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(trip_url)
        refunded = sum((r.amount for r in booking.refunds.all()), Decimal(0))
        if refunded:
            messages.success(
                request,
                _("Booking %(locator)s is cancelled. %(amount)s goes back to how you paid.")
                % {"locator": booking.record_locator, "amount": format_money(refunded, booking.currency)},
            )
        else:
            messages.success(request, _("Booking %(locator)s is cancelled.") % {"locator": booking.record_locator})
        return redirect(trip_url)
    try:
        preview = services.booking_cancel_quote(booking=booking, by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(trip_url)
    return render(
        request,
        "portal/reservations/cancel.html",
        {"booking": booking, "preview": preview, "form": form, "trip_url": trip_url},
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    """Move one flight to another flight or day: choose, see the fare difference and fee, confirm."""
    booking = _own_booking(request, record_locator)
    segment = _segment_of(booking, sequence)
    trip_url = reverse("reservations_portal:trip", kwargs={"record_locator": booking.record_locator})
    here = reverse("reservations_portal:change", kwargs={"record_locator": booking.record_locator, "sequence": sequence})
    flight = segment.flight
    refusal = selectors.segment_change_refusal(booking=booking, segment=segment)
    if refusal is not None:
        messages.error(request, refusal.message)
        return redirect(trip_url)
    form = ChangeDateForm(request.GET if "date" in request.GET else None, initial={"date": flight.service_date})
    day = form.cleaned_data["date"] if form.is_bound and form.is_valid() else flight.service_date
    choice = request.POST.get("choice") if request.method == "POST" else request.GET.get("choice")
    new_flight, family = _change_choice(choice)
    quote = None
    if new_flight is not None:
        try:
            quote = services.booking_change_quote(booking=booking, segment=segment, new_flight=new_flight, fare_family=family)
        except ApplicationError as exc:
            if exc.code == "change_not_allowed":
                messages.error(request, exc.message)
                return redirect(trip_url)
            form.add_error(None, exc.message)
            new_flight = None
    if request.method == "POST" and quote is not None:
        try:
            booking = services.booking_change_flight(
                booking=booking, segment=segment, new_flight_id=new_flight.pk, fare_family=family, by=request.user
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            quote = None
        else:
            if booking.balance_due > 0:
                messages.success(request, _("Your flight is changed. Please pay the difference to keep the new flight."))
                return redirect("reservations_portal:pay", record_locator=booking.record_locator)
            messages.success(request, _("Your flight is changed. New e-tickets are on their way by e-mail."))
            return redirect(trip_url)
    elif request.method == "POST":
        form.add_error(None, _("Choose a new flight and fare."))
    options = []
    if quote is None:
        try:
            options = selectors.flight_search(
                origin=flight.origin.iata_code,
                destination=flight.destination.iata_code,
                departure_date=day,
                cabin=segment.cabin,
                adults=booking.adults,
                children=booking.children,
                infants=booking.infants,
                sort="departure",
            )
        except ApplicationError as exc:
            add_application_error(form, exc, field_map={"legs.1.departure_date": "date", "departure_date": "date"})
    leg = _leg_results(1, (flight.origin.iata_code, flight.destination.iata_code, day), options)
    return render(
        request,
        "portal/reservations/change.html",
        {
            "booking": booking,
            "segment": segment,
            "form": form,
            "leg": leg,
            "quote": quote,
            "new_flight": new_flight,
            "choice": choice,
            "few_seats": FEW_SEATS,
            "here": here,
            "trip_url": trip_url,
            "ticketed": booking.status == BookingStatus.TICKETED,
        },
    )


def _change_choice(choice: str | None) -> tuple[Any, str | None]:
    """'<flight id>:<fare family code>' as the change page's radios send it; anything else is no choice."""
    flight_id, _sep, family = (choice or "").partition(":")
    if not flight_id.isdigit() or not family:
        return None, None
    try:
        return selectors.flight_get(flight_id=flight_id), family
    except NotFound:
        return None, None
