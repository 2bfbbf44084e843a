"""The back-office for reservations: find a booking and see it whole, book for a customer, take payment,
change, cancel, rebook, check in; the day's flights with their status, manifests and disruptions.

Every page that shows a booking linked to a customer writes a ``CustomerAccess`` row for each linked
customer. Travel document numbers are masked unless the user may see identity documents.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm import services as crm_services
from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from crm.models import Customer
from crm.permissions import StaffPermissionRequiredMixin, can_see_identity_documents, mask
from crm.templatetags.airline_format import money as format_money
from crm.views.merged import FollowsMergedCustomers, customer_or_404
from reservations import hooks, selectors, services
from reservations.forms import (
    CheckInPassengerForm,
    FlightSearchForm,
    FrequentFlyerNumbersForm,
    OfficeAlternativeDayForm,
    OfficeBookForCustomerForm,
    OfficeBookingSearchForm,
    OfficeCancelBookingForm,
    OfficeCardPaymentForm,
    OfficeChangeFlightForm,
    OfficeCheckInFeesForm,
    OfficeCounterPaymentForm,
    OfficeFlightDayForm,
    OfficeFlightStatusForm,
    OfficeItineraryForm,
    OfficeRebookForm,
    PassengerForm,
    new_office_payment_key,
    passenger_initial,
)
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    FareFamily,
    Flight,
    PassengerType,
    PaymentMethod,
    Segment,
    SegmentStatus,
)

BOOKING_PAGE_SIZE = 25
DISRUPTION_PAGE_SIZE = 50
MAX_LEGS = 4

SEE_BOOKINGS = selectors.SEE_BOOKINGS
WAIVE = "reservations.waive_fees"


# --- Helpers --------------------------------------------------------------------------------


class ReservationsOfficeView(FollowsMergedCustomers, StaffPermissionRequiredMixin, View):
    """Logged in at the office, a staff member, holding every listed permission (bookings by default); a
    customer number merged away opens the same page for the surviving record."""

    permission_required: tuple[str, ...] = SEE_BOOKINGS


def _page(request: HttpRequest, queryset: QuerySet | list, per_page: int) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _all_valid(forms_: list[forms.Form]) -> bool:
    """Validate every form (so each shows its errors), not only up to the first invalid one."""
    results = [f.is_valid() for f in forms_]
    return all(results)


def _booking_or_404(record_locator: str) -> Booking:
    try:
        return selectors.booking_get_for_office(record_locator=record_locator)
    except NotFound:
        raise Http404("No booking with this reference.") from None


def _segment_or_404(booking: Booking, sequence: int) -> Segment:
    segment = next((s for s in booking.segments.all() if s.sequence == sequence), None)
    if segment is None:
        raise Http404("No such flight in this booking.")
    return segment


def _flight_or_404(flight_id: int) -> Flight:
    try:
        return selectors.flight_get(flight_id=flight_id)
    except NotFound:
        raise Http404("No such flight.") from None


def _customer_or_404(customer_number: str) -> Customer:
    """The customer with this number; a number merged away sends the agent to the survivor's same page."""
    return customer_or_404(customer_number)


def _record_access(request: HttpRequest, customers: list[Customer | None]) -> None:
    """Audit one staff look at each customer record this page shows."""
    match = request.resolver_match
    for customer in {c.pk: c for c in customers if c is not None}.values():
        crm_services.customer_access_record(
            customer=customer,
            user=request.user,
            surface="office",
            path=request.path,
            view_name=match.view_name if match else "",
            method=request.method,
        )


def _record_booking_access(request: HttpRequest, booking: Booking) -> None:
    _record_access(request, [booking.customer, *(p.customer for p in booking.passengers.all())])


def _refuse_unauthorised_waiver(request: HttpRequest) -> None:
    """Only Supervisors waive fees; anyone else who sends a waiver reason is refused outright."""
    if request.POST.get("waive_reason", "").strip() and not request.user.has_perm(WAIVE):
        raise PermissionDenied


def _waiver_form(form: forms.Form, request: HttpRequest) -> forms.Form:
    if not request.user.has_perm(WAIVE):
        form.fields.pop("waive_reason", None)
    return form


def _booking_url(booking: Booking) -> str:
    return reverse("reservations_office:booking_detail", args=[booking.record_locator])


# --- Finding and showing a booking ------------------------------------------------------------


class BookingSearchView(ReservationsOfficeView):
    """One box: a booking reference or e-ticket number opens the booking; a name lists its bookings."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = OfficeBookingSearchForm(request.GET or None)
        query = ""
        if form.is_bound and form.is_valid():
            query = " ".join(form.cleaned_data["q"].split())
        bookings = selectors.booking_search(query=query)
        if query and (selectors.looks_like_record_locator(query) or selectors.looks_like_ticket_number(query)):
            found = list(bookings[:2])
            if len(found) == 1:
                return redirect(_booking_url(found[0]))
        page = _page(request, bookings, BOOKING_PAGE_SIZE)
        return render(request, "office/reservations/booking_search.html", {"form": form, "query": query, "page_obj": page})


def _passenger_rows(booking: Booking, *, documents_visible: bool) -> list[dict[str, Any]]:
    segments = list(booking.segments.all())
    check_ins = {(c.passenger_id, c.segment_id): c for s in segments for c in s.check_ins.all()}
    seats = {(a.passenger_id, a.segment_id): a.seat for s in segments for a in s.seat_assignments.all()}
    rows = []
    for p in booking.passengers.all():
        number = p.document_number or ""
        rows.append(
            {
                "passenger": p,
                "document": number if documents_visible else mask(number),
                "per_segment": [
                    {"segment": s, "check_in": check_ins.get((p.pk, s.pk)), "seat": seats.get((p.pk, s.pk), "")} for s in segments
                ],
            }
        )
    return rows


def _frequent_flyer_form(booking: Booking, actions: selectors.TripActions, data: Any = None) -> FrequentFlyerNumbersForm | None:
    """The travellers whose number the agent may change now (infants have none, as when booking)."""
    travellers = [
        p for p in booking.passengers.all() if p.pk in actions.frequent_flyer and p.passenger_type != PassengerType.INFANT
    ]
    return FrequentFlyerNumbersForm(data, passengers=travellers) if travellers else None


def _booking_context(
    request: HttpRequest, booking: Booking, *, frequent_flyer: FrequentFlyerNumbersForm | None = None
) -> dict[str, Any]:
    user = request.user
    documents_visible = can_see_identity_documents(user)
    open_booking = booking.status in (BookingStatus.HELD, BookingStatus.TICKETED)
    actions = selectors.trip_actions(booking=booking, user=user)
    return {
        "booking": booking,
        "passengers": _passenger_rows(booking, documents_visible=documents_visible),
        "documents_visible": documents_visible,
        "segments": list(booking.segments.all()),
        "charges": list(booking.charges.all()),
        "payments": list(booking.payments.all()),
        "refunds": list(booking.refunds.all()),
        "tickets": list(booking.tickets.all()),
        "owed_to_customer": -booking.balance_due if booking.balance_due < 0 else None,
        "can_pay": actions.pay,
        "can_change": {a.segment.pk for a in actions.segments if a.change},
        "can_rebook": open_booking and booking.disrupted_at and user.has_perm("reservations.change_booking"),
        "can_cancel": actions.cancel,
        "can_check_in": booking.status == BookingStatus.TICKETED and user.has_perm("reservations.add_checkin"),
        "confirmed": SegmentStatus.CONFIRMED,
        "panels": hooks.booking_panels_for(request, booking),
        "frequent_flyer_form": frequent_flyer or _frequent_flyer_form(booking, actions),
    }


class BookingDetailView(ReservationsOfficeView):
    def get(self, request: HttpRequest, record_locator: str) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        _record_booking_access(request, booking)
        return render(request, "office/reservations/booking_detail.html", _booking_context(request, booking))


class BookingFrequentFlyerView(ReservationsOfficeView):
    """Add, correct or remove travellers' frequent flyer numbers from the booking page, checked as at booking;
    on the customers' timelines with the agent's name."""

    permission_required = (*SEE_BOOKINGS, "reservations.change_booking")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, record_locator: str) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        _record_booking_access(request, booking)
        form = _frequent_flyer_form(booking, selectors.trip_actions(booking=booking, user=request.user), request.POST)
        if form is None:
            messages.error(request, _("The frequent flyer numbers on this booking can no longer be changed."))
            return redirect(_booking_url(booking))
        if form.is_valid():
            try:
                services.passengers_frequent_flyer_set(
                    booking=booking, numbers=form.changes(), by=request.user, channel=Channel.AGENT
                )
            except ApplicationError as exc:
                add_application_error(form, exc, place=form.place)
            else:
                messages.success(request, _("Frequent flyer numbers saved."))
                return redirect(_booking_url(booking))
        context = _booking_context(request, booking, frequent_flyer=form)
        return render(request, "office/reservations/booking_detail.html", context)


# --- Booking for a customer ------------------------------------------------------------------


def _legs_count(request: HttpRequest) -> int:
    return sum(1 for n in range(1, MAX_LEGS + 1) if f"leg_{n}" in request.GET or f"leg_{n}" in request.POST)


class BookForCustomerSearchView(ReservationsOfficeView):
    """Step 1 of booking for a customer from their 360: search flights and pick a fare for each leg."""

    permission_required = ("crm.view_customer", "reservations.add_booking", *SEE_BOOKINGS)

    def get(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, [customer])
        initial = {"origin": customer.home_airport or "", "cabin": customer.preferred_cabin or "economy", "adults": 1}
        form = FlightSearchForm(request.GET or None, airports=selectors.airport_choices(), initial=initial)
        legs: list[dict[str, Any]] = []
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            results = selectors.itinerary_search(
                legs=form.legs(),
                cabin=data["cabin"],
                adults=data["adults"],
                children=data["children"] or 0,
                infants=data["infants"] or 0,
                sort=data.get("sort") or "price",
            )
            legs = [
                {"number": n, "origin": leg[0], "destination": leg[1], "day": leg[2], "options": options}
                for n, (leg, options) in enumerate(zip(form.legs(), results, strict=True), start=1)
            ]
        context = {"customer": customer, "form": form, "legs": legs}
        return render(request, "office/reservations/book_search.html", context)


class BookForCustomerPassengersView(ReservationsOfficeView):
    """Step 2: the travellers (passenger 1 pre-filled from the customer), contact details, and the hold."""

    permission_required = ("crm.view_customer", "reservations.add_booking", *SEE_BOOKINGS)
    template_name = "office/reservations/book_passengers.html"

    def _itinerary(self, request: HttpRequest) -> OfficeItineraryForm:
        legs = _legs_count(request)
        itinerary = OfficeItineraryForm(request.GET if request.method == "GET" else request.POST, legs=legs)
        if not legs or not itinerary.is_valid():
            raise Http404("Choose the flights first.")
        return itinerary

    def _passenger_forms(self, request: HttpRequest, itinerary: OfficeItineraryForm, customer: Customer) -> list[PassengerForm]:
        data = request.POST if request.method == "POST" else None
        forms_ = []
        for n, ptype in enumerate(itinerary.passenger_types(), start=1):
            initial = passenger_initial(customer, with_passport=False) if n == 1 else {}
            forms_.append(PassengerForm(data, prefix=f"p{n}", passenger_type=ptype, number=n, initial=initial))
        return forms_

    def _flights(self, itinerary: OfficeItineraryForm) -> list[tuple[Flight, str]]:
        chosen = itinerary.cleaned_data["chosen"]
        flights = Flight.objects.select_related("origin", "destination").in_bulk([flight_id for flight_id, _f in chosen])
        if len(flights) != len({flight_id for flight_id, _f in chosen}):
            raise Http404("No such flight.")
        names = dict(FareFamily.objects.filter(code__in=[family for _f, family in chosen]).values_list("code", "name"))
        return [(flights[flight_id], names.get(family, family)) for flight_id, family in chosen]

    def _render(self, request, customer, itinerary, passenger_forms, contact_form, duplicate=None) -> HttpResponse:  # noqa: ANN001
        context = {
            "customer": customer,
            "itinerary": itinerary,
            "flights": self._flights(itinerary),
            "passenger_forms": passenger_forms,
            "contact_form": contact_form,
            "documents_on_file": bool(customer.passport_number),
            "duplicate": duplicate,
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        itinerary = self._itinerary(request)
        _record_access(request, [customer])
        contact = OfficeBookForCustomerForm(
            initial={"contact_email": customer.email, "contact_phone": str(customer.phone or ""), "customer_travels": True}
        )
        return self._render(request, customer, itinerary, self._passenger_forms(request, itinerary, customer), contact)

    def post(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        itinerary = self._itinerary(request)
        _record_access(request, [customer])
        passenger_forms = self._passenger_forms(request, itinerary, customer)
        contact = OfficeBookForCustomerForm(request.POST)
        valid = _all_valid([contact, *passenger_forms])
        duplicate = None
        if valid and not request.POST.get("book_again"):
            # The same trip already held or ticketed for this customer or one of these travellers: ask first.
            duplicate = selectors.booking_identical_active(
                flight_ids=[flight_id for flight_id, _family in itinerary.cleaned_data["chosen"]],
                customer=customer,
                traveller_names=[(f.cleaned_data["given_name"], f.cleaned_data["family_name"]) for f in passenger_forms],
            )
        if valid and duplicate is None:
            data = itinerary.cleaned_data
            requests_ = []
            for n, form in enumerate(passenger_forms, start=1):
                values = {k: v for k, v in form.cleaned_data.items() if k in services.PassengerRequest.__dataclass_fields__}
                values["nationality"] = str(values.get("nationality") or "")
                values["document_country"] = str(values.get("document_country") or "")
                linked = n == 1 and contact.cleaned_data["customer_travels"]
                requests_.append(
                    services.PassengerRequest(passenger_type=form.passenger_type, customer=customer if linked else None, **values)
                )
            try:
                booking = services.booking_create(
                    segments=[
                        services.SegmentRequest(flight_id=flight_id, cabin=data["cabin"], fare_family=family)
                        for flight_id, family in data["chosen"]
                    ],
                    passengers=requests_,
                    contact_email=contact.cleaned_data["contact_email"],
                    contact_phone=contact.cleaned_data["contact_phone"],
                    purpose=contact.cleaned_data["purpose"],
                    channel=Channel.AGENT,
                    customer=customer,
                    by=request.user,
                    language=customer.preferred_language or "en",
                    discount_code=contact.cleaned_data["discount_code"],
                )
            except ApplicationError as exc:
                self._place_error(exc, passenger_forms, contact)
            else:
                messages.success(
                    request,
                    _("Booking %(locator)s is held for %(customer)s. Take the payment to issue the e-tickets.")
                    % {"locator": booking.record_locator, "customer": customer.full_name},
                )
                return redirect("reservations_office:booking_pay", record_locator=booking.record_locator)
        return self._render(request, customer, itinerary, passenger_forms, contact, duplicate)

    @staticmethod
    def _place_error(exc: ApplicationError, passenger_forms: list[PassengerForm], contact: forms.Form) -> None:
        """'passengers.2.given_name' goes on passenger 2's field; anything else on the contact form."""

        def traveller(key: str) -> tuple[forms.Form, str] | None:
            parts = key.split(".")
            if parts[0] == "passengers" and len(parts) == 3 and parts[1].isdigit() and 1 <= int(parts[1]) <= len(passenger_forms):
                return passenger_forms[int(parts[1]) - 1], parts[2]
            return None

        add_application_error(contact, exc, place=traveller)


# --- Payment ----------------------------------------------------------------------------------


def _card_form_again(refused: OfficeCardPaymentForm, locator: str) -> OfficeCardPaymentForm:
    """The refused form's errors on an empty form: card details are never written back into the page,
    and a new key lets the retry reach the gateway instead of replaying the declined attempt."""
    fresh = OfficeCardPaymentForm(
        record_locator=locator,
        initial={"idempotency_key": new_office_payment_key(locator), "holder": refused.data.get("holder", "")},
    )
    fresh._errors = refused.errors
    return fresh


class BookingPayView(ReservationsOfficeView):
    """Take the balance by card (through the gateway) or record it as paid at the counter."""

    permission_required = (*SEE_BOOKINGS, "reservations.add_payment")
    template_name = "office/reservations/booking_pay.html"

    def _render(self, request: HttpRequest, booking: Booking, card_form=None, counter_form=None) -> HttpResponse:  # noqa: ANN001
        locator = booking.record_locator
        context = {
            "booking": booking,
            "card_form": card_form
            or OfficeCardPaymentForm(record_locator=locator, initial={"idempotency_key": new_office_payment_key(locator)}),
            "counter_form": counter_form
            or OfficeCounterPaymentForm(record_locator=locator, initial={"idempotency_key": new_office_payment_key(locator)}),
            "payable": booking.status in (BookingStatus.HELD, BookingStatus.TICKETED) and booking.balance_due > 0,
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest, record_locator: str) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        _record_booking_access(request, booking)
        return self._render(request, booking)

    def post(self, request: HttpRequest, record_locator: str) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        _record_booking_access(request, booking)
        method = request.POST.get("method")
        locator = booking.record_locator
        if method == PaymentMethod.COUNTER:
            form: forms.Form = OfficeCounterPaymentForm(request.POST, record_locator=locator)
        elif method == PaymentMethod.CARD:
            form = OfficeCardPaymentForm(request.POST, record_locator=locator)
        else:
            messages.error(request, _("Choose card or counter payment."))
            return self._render(request, booking)
        if form.is_valid():
            card = None
            if method == PaymentMethod.CARD:
                month, year = form.cleaned_data["expiry"]
                card = services.CardDetails(
                    number=form.cleaned_data["number"],
                    expiry_month=month,
                    expiry_year=year,
                    cvv=form.cleaned_data["cvv"],
                    holder=form.cleaned_data["holder"],
                )
            try:
                payment = services.payment_take(
                    booking=booking,
                    method=method,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    card=card,
                    by=request.user,
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                if payment.status == "succeeded":
                    messages.success(request, _("Payment received; the e-tickets are issued."))
                    return redirect(_booking_url(booking))
                form.add_error(None, payment.decline_reason or _("The payment was declined."))
        if method == PaymentMethod.CARD:
            return self._render(request, _booking_or_404(locator), card_form=_card_form_again(form, locator))
        return self._render(request, _booking_or_404(locator), counter_form=form)


# --- Change, cancel, rebook -------------------------------------------------------------------


def _alternatives(request: HttpRequest, segment: Segment, *, min_seats: int = 0) -> tuple[OfficeAlternativeDayForm, list[Flight]]:
    form = OfficeAlternativeDayForm(request.GET or None, initial={"day": segment.flight.service_date})
    day = None
    if form.is_bound and form.is_valid():
        day = form.cleaned_data["day"]
    return form, selectors.flight_alternatives(segment=segment, day=day, min_seats=min_seats)


class SegmentChangeView(ReservationsOfficeView):
    """Change one flight: pick another on the route, see the fare difference and fee, then confirm."""

    permission_required = (*SEE_BOOKINGS, "reservations.change_booking")
    template_name = "office/reservations/segment_change.html"

    def _render(self, request, booking, segment, form=None, new_flight=None) -> HttpResponse:  # noqa: ANN001
        day_form, alternatives = _alternatives(request, segment)
        quote = error = None
        if new_flight is None and request.GET.get("flight"):
            try:
                new_flight = selectors.flight_get(flight_id=request.GET["flight"])
            except NotFound:
                error = _("No such flight.")
        if new_flight is not None:
            try:
                quote = services.booking_change_quote(booking=booking, segment=segment, new_flight=new_flight)
            except ApplicationError as exc:
                error = exc.message
        if form is None and quote is not None:
            form = _waiver_form(OfficeChangeFlightForm(initial={"new_flight": new_flight.pk}), request)
        context = {
            "booking": booking,
            "segment": segment,
            "day_form": day_form,
            "alternatives": alternatives,
            "new_flight": new_flight,
            "quote": quote,
            "quote_error": error,
            "form": form,
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        segment = _segment_or_404(booking, sequence)
        _record_booking_access(request, booking)
        return self._render(request, booking, segment)

    def post(self, request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
        _refuse_unauthorised_waiver(request)
        booking = _booking_or_404(record_locator)
        segment = _segment_or_404(booking, sequence)
        _record_booking_access(request, booking)
        form = _waiver_form(OfficeChangeFlightForm(request.POST), request)
        new_flight = None
        if form.is_valid():
            try:
                new_flight = selectors.flight_get(flight_id=form.cleaned_data["new_flight"])
                changed = services.booking_change_flight(
                    booking=booking,
                    segment=segment,
                    new_flight_id=new_flight.pk,
                    by=request.user,
                    waive_reason=form.cleaned_data.get("waive_reason", ""),
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(
                    request,
                    _("Flight changed to %(flight)s.") % {"flight": f"{new_flight.flight_code} {new_flight.service_date}"},
                )
                if changed.balance_due > 0 and request.user.has_perm("reservations.add_payment"):
                    return redirect("reservations_office:booking_pay", record_locator=changed.record_locator)
                return redirect(_booking_url(booking))
        return self._render(request, _booking_or_404(record_locator), segment, form=form, new_flight=new_flight)


class BookingCancelView(ReservationsOfficeView):
    """Cancel the whole booking: the refund the fare rules give is shown before the agent confirms."""

    permission_required = (*SEE_BOOKINGS, "reservations.change_booking", "reservations.add_refund")
    template_name = "office/reservations/booking_cancel.html"

    def _render(self, request: HttpRequest, booking: Booking, form: forms.Form | None = None) -> HttpResponse:
        quote = error = None
        try:
            quote = services.booking_cancel_quote(booking=booking, by=request.user)
        except ApplicationError as exc:
            error = exc.message
        form = form or _waiver_form(OfficeCancelBookingForm(), request)
        return render(request, self.template_name, {"booking": booking, "quote": quote, "quote_error": error, "form": form})

    def get(self, request: HttpRequest, record_locator: str) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        _record_booking_access(request, booking)
        return self._render(request, booking)

    def post(self, request: HttpRequest, record_locator: str) -> HttpResponse:
        _refuse_unauthorised_waiver(request)
        booking = _booking_or_404(record_locator)
        _record_booking_access(request, booking)
        form = _waiver_form(OfficeCancelBookingForm(request.POST), request)
        if form.is_valid():
            try:
                services.booking_cancel(
                    booking=booking,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    waive_reason=form.cleaned_data.get("waive_reason", ""),
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Booking %(locator)s cancelled.") % {"locator": booking.record_locator})
                return redirect(_booking_url(booking))
        return self._render(request, _booking_or_404(record_locator), form)


class SegmentRebookView(ReservationsOfficeView):
    """Move a disrupted flight's passengers to another flight, free of charge."""

    permission_required = (*SEE_BOOKINGS, "reservations.change_booking")
    template_name = "office/reservations/segment_rebook.html"

    def _render(self, request, booking, segment, form=None) -> HttpResponse:  # noqa: ANN001
        day_form, alternatives = _alternatives(request, segment, min_seats=booking.seats)
        context = {
            "booking": booking,
            "segment": segment,
            "day_form": day_form,
            "alternatives": alternatives,
            "form": form or OfficeRebookForm(),
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        segment = _segment_or_404(booking, sequence)
        _record_booking_access(request, booking)
        return self._render(request, booking, segment)

    def post(self, request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        segment = _segment_or_404(booking, sequence)
        _record_booking_access(request, booking)
        form = OfficeRebookForm(request.POST)
        if form.is_valid():
            try:
                services.booking_rebook(
                    booking=booking,
                    segment=segment,
                    new_flight_id=form.cleaned_data["new_flight"],
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Booking %(locator)s rebooked.") % {"locator": booking.record_locator})
                return redirect(_booking_url(booking))
        return self._render(request, _booking_or_404(record_locator), segment, form)


class RefundPaidOutView(ReservationsOfficeView):
    """A refund of a counter payment stays pending until an agent hands the money over and records it."""

    permission_required = (*SEE_BOOKINGS, "reservations.add_refund")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, record_locator: str, refund_id: int) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        refund = next((r for r in booking.refunds.all() if r.pk == refund_id), None)
        if refund is None or refund.payment.method != PaymentMethod.COUNTER:
            raise Http404("No such counter refund on this booking.")
        _record_booking_access(request, booking)
        try:
            services.refund_complete(
                refund=refund, succeeded=True, reference=f"counter:{request.user.get_username()}", by=request.user
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Refund recorded as paid out."))
        return redirect(_booking_url(booking))


# --- Check-in by an agent ---------------------------------------------------------------------


def _place_check_in_error(exc: ApplicationError, rows: list[dict[str, Any]]) -> None:
    """'bags.<passenger id>' and the like go on that traveller's form (the page shows the refusal itself)."""
    forms_by_passenger = {r["passenger"].pk: r["form"] for r in rows if r["form"] is not None}

    def traveller(key: str) -> tuple[forms.Form, str | None] | None:
        name, _dot, passenger_id = key.partition(".")
        form = forms_by_passenger.get(int(passenger_id)) if passenger_id.isdigit() else None
        if form is None:
            return None
        return form, {"bags": "bag_1", "hand_carry": "hand_carry", "seats": "seat"}.get(name)

    add_application_error(None, exc, place=traveller)


class SegmentCheckInView(ReservationsOfficeView):
    """Check travellers in at the desk: who, their seat, bags and hand-carry items."""

    permission_required = (*SEE_BOOKINGS, "reservations.add_checkin")
    template_name = "office/reservations/segment_check_in.html"

    def _forms(self, request: HttpRequest, booking: Booking, segment: Segment) -> list[dict[str, Any]]:
        data = request.POST if request.method == "POST" else None
        done = {c.passenger_id: c for c in segment.check_ins.all()}
        seats = {a.passenger_id: a.seat for a in segment.seat_assignments.all()}
        rows = []
        for p in booking.passengers.all():
            if p.pk in done:
                rows.append({"passenger": p, "check_in": done[p.pk], "form": None})
                continue
            form = CheckInPassengerForm(data, prefix=f"p{p.pk}", passenger=p)
            form.fields["seat"] = forms.CharField(
                label=_("Seat"), max_length=4, required=False, initial=seats.get(p.pk, ""), disabled=not p.holds_seat
            )
            if not p.holds_seat:
                for name in [n for n in form.fields if n.startswith("bag_")]:
                    form.fields.pop(name)
            rows.append({"passenger": p, "check_in": None, "form": form})
        return rows

    def _render(self, request, booking, segment, rows, error="", quote=None, fees=None) -> HttpResponse:  # noqa: ANN001
        context = {
            "booking": booking,
            "segment": segment,
            "rows": rows,
            "pending": any(r["form"] is not None for r in rows),
            "window": services.check_in_window(flight=segment.flight),
            "error": error,
            "quote": quote,
            "fees": fees,
        }
        return render(request, self.template_name, context)

    def _fees_form(self, request: HttpRequest, booking: Booking, quote: Any = None) -> OfficeCheckInFeesForm:
        """Bound once the agent saw the fees; a fresh one (with the quoted total and a new key) otherwise."""
        if quote is None:
            return _waiver_form(OfficeCheckInFeesForm(request.POST, record_locator=booking.record_locator), request)
        initial = {"total": quote.total_due, "idempotency_key": new_office_payment_key(booking.record_locator)}
        return _waiver_form(OfficeCheckInFeesForm(initial=initial, record_locator=booking.record_locator), request)

    def get(self, request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        segment = _segment_or_404(booking, sequence)
        _record_booking_access(request, booking)
        return self._render(request, booking, segment, self._forms(request, booking, segment))

    def post(self, request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
        booking = _booking_or_404(record_locator)
        segment = _segment_or_404(booking, sequence)
        _record_booking_access(request, booking)
        rows = self._forms(request, booking, segment)
        pending = [r for r in rows if r["form"] is not None]
        if _all_valid([r["form"] for r in pending]):
            chosen = [r for r in pending if r["form"].cleaned_data["selected"]]
            if not chosen:
                return self._render(request, booking, segment, rows, error=_("Choose at least one traveller to check in."))
            seats = {
                r["passenger"].pk: r["form"].cleaned_data["seat"].upper() for r in chosen if r["form"].cleaned_data.get("seat")
            }
            args = {
                "booking": booking,
                "segment": segment,
                "passengers": [r["passenger"] for r in chosen],
                "seats": seats or None,
                "bags": {r["passenger"].pk: r["form"].bag_weights() for r in chosen if r["passenger"].holds_seat},
                "hand_carry": {r["passenger"].pk: r["form"].cleaned_data["hand_carry"] for r in chosen},
                "channel": Channel.AGENT,
            }
            # The same rule as online: the fees are quoted, then taken at the counter or waived, then check-in.
            fees = self._fees_form(request, booking) if "settle" in request.POST else None
            try:
                quote = services.check_in_quote(**args)
                if quote.total_due > 0 and (fees is None or not fees.is_valid()):
                    return self._render(
                        request, booking, segment, rows, quote=quote, fees=fees or self._fees_form(request, booking, quote),
                        error=_("%(amount)s is due for this check-in. Take it at the counter or waive it before the boarding passes are issued.")
                        % {"amount": format_money(quote.total_due, quote.currency)},
                    )  # fmt: skip
                if quote.total_due <= 0:
                    services.check_in(by=request.user, **args)
                elif fees.cleaned_data["settle"] == "waive":
                    services.check_in(by=request.user, waive_reason=fees.cleaned_data["waive_reason"], **args)
                else:
                    services.check_in_with_payment(
                        method=PaymentMethod.COUNTER, idempotency_key=fees.cleaned_data["idempotency_key"],
                        expected_total=fees.cleaned_data["total"], by=request.user, **args,
                    )  # fmt: skip
            except ApplicationError as exc:
                _place_check_in_error(exc, rows)
                if fees is not None and exc.code in ("quote_changed", "waiver_reason_required"):
                    add_application_error(fees, exc, field_map={"waive_reason": "waive_reason"})
                return self._render(request, booking, segment, rows, error=exc.message)
            messages.success(
                request, _("Checked in: %(names)s.") % {"names": ", ".join(r["passenger"].full_name for r in chosen)}
            )
            return redirect(_booking_url(booking))
        return self._render(request, booking, segment, rows)


# --- Flights ----------------------------------------------------------------------------------


class FlightListView(ReservationsOfficeView):
    """One day's departures (local date), optionally from one airport, with status, gate and seats sold."""

    permission_required = ("reservations.view_flight",)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = OfficeFlightDayForm(request.GET or None)
        day, origin = timezone.localdate(), ""
        if form.is_bound and form.is_valid():
            day = form.cleaned_data["day"] or day
            origin = form.cleaned_data["origin"]
        flights = list(selectors.flights_for_day(day=day, origin=origin))
        rows = []
        for flight in flights:
            cabins = list(flight.cabins.all())
            rows.append(
                {
                    "flight": flight,
                    "sold": sum(c.sold for c in cabins),
                    "capacity": sum(c.capacity for c in cabins),
                    "cabins": cabins,
                }
            )
        context = {
            "form": form,
            "day": day,
            "origin": origin,
            "rows": rows,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
        }
        return render(request, "office/reservations/flight_list.html", context)


class FlightDetailView(ReservationsOfficeView):
    """A flight's times, status and seats; operations staff update its status here."""

    permission_required = ("reservations.view_flight",)
    template_name = "office/reservations/flight_detail.html"

    def _render(self, request: HttpRequest, flight: Flight, form: forms.Form | None = None) -> HttpResponse:
        context: dict[str, Any] = {"flight": flight, "cabins": list(flight.cabins.all())}
        if request.user.has_perm("reservations.change_flight"):
            context["status_form"] = form or OfficeFlightStatusForm(flight=flight)
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest, flight_id: int) -> HttpResponse:
        return self._render(request, _flight_or_404(flight_id))


class FlightStatusView(ReservationsOfficeView):
    permission_required = ("reservations.view_flight", "reservations.change_flight")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, flight_id: int) -> HttpResponse:
        flight = _flight_or_404(flight_id)
        if request.POST.get("action") == "arrived":
            try:
                services.flight_arrive(flight=flight, by=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("%(flight)s marked arrived.") % {"flight": flight.flight_code})
            return redirect("reservations_office:flight_detail", flight_id=flight.pk)
        form = OfficeFlightStatusForm(request.POST, flight=flight)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.flight_status_update(
                    flight=flight,
                    by=request.user,
                    status=data["status"],
                    estimated_departure=data["estimated_departure"],
                    gate=data["gate"],
                    reason=data["reason"],
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("%(flight)s updated.") % {"flight": flight.flight_code})
                return redirect("reservations_office:flight_detail", flight_id=flight.pk)
        return FlightDetailView()._render(request, _flight_or_404(flight_id), form)


class FlightManifestView(ReservationsOfficeView):
    """Who is on the flight: seat, check-in status, bags and special service requests."""

    permission_required = ("reservations.view_flight", *SEE_BOOKINGS, "reservations.view_checkin")

    def get(self, request: HttpRequest, flight_id: int) -> HttpResponse:
        flight = _flight_or_404(flight_id)
        rows = selectors.flight_manifest(flight=flight)
        context = {"flight": flight, "rows": rows, "totals": selectors.manifest_totals(rows)}
        return render(request, "office/reservations/flight_manifest.html", context)


class DisruptionListView(ReservationsOfficeView):
    """Bookings on cancelled or badly delayed flights, waiting to be rebooked."""

    def get(self, request: HttpRequest) -> HttpResponse:
        page = _page(request, selectors.disrupted_bookings(), DISRUPTION_PAGE_SIZE)
        return render(request, "office/reservations/disruption_list.html", {"page_obj": page})
