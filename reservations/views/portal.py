"""The passengers' trips in the portal: search, book, pay, my trips, manage, check in, boarding pass,
flight status.

Every booking page finds the booking by record locator through a passenger-scoped selector, so someone
else's booking is a 404. Checking in without logging in is allowed once the reference and a traveller's
family name match, for that one booking and for a short while (a signed, time-limited marker).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import BooleanField, Case, F, OuterRef, Subquery, Value, When, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from crm import selectors as crm_selectors
from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from crm.http import client_ip
from crm.models import Customer
from crm.templatetags.airline_format import money as format_money
from reservations import selectors, services
from reservations.forms import (
    BookingContactForm,
    CancelBookingForm,
    CardPaymentForm,
    ChangeDateForm,
    CheckInLookupForm,
    CheckInPassengerForm,
    DangerousGoodsForm,
    FlightSearchForm,
    FlightStatusForm,
    PassengerForm,
    SeatChoiceForm,
    new_payment_key,
    passenger_initial,
)
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    CheckIn,
    PassengerType,
    PaymentMethod,
    PaymentStatus,
    Segment,
    SegmentStatus,
)

# Seats left at or under which the results say how few remain.
FEW_SEATS = 5
TRIPS_PAGE_SIZE = 10
# The gateway's reasons, in the passenger's language.
DECLINE_REASONS = {
    "card declined": gettext_lazy("the card was declined"),
    "insufficient funds": gettext_lazy("insufficient funds"),
}
# The gateway names card fields "card.number"; the payment form names them "number".
CARD_FIELDS = {"card.number": "number", "card.expiry": "expiry", "card.cvv": "cvv", "card.holder": "holder", "card": "number"}
CHECK_IN_SESSION_KEY = "reservations.check_in"
CHECK_IN_SALT = "reservations.portal.check_in"
CHECK_IN_ACCESS_SECONDS = 30 * 60
# Wrong reference/name pairs one address may try before it has to wait: guessing references stays slow.
CHECK_IN_LOOKUP_LIMIT = 10
CHECK_IN_LOOKUP_WINDOW_SECONDS = 15 * 60


# --- Shared by the pages ---------------------------------------------------------------------


def _customer_or_none(request: HttpRequest) -> Customer | None:
    if not request.user.is_authenticated:
        return None
    try:
        return crm_selectors.customer_get_for_user(user=request.user)
    except NotFound:
        return None


def _own_customer(request: HttpRequest) -> Customer:
    customer = _customer_or_none(request)
    if customer is None:
        raise Http404(_("You have no customer record."))
    return customer


def _reach(request: HttpRequest, record_locator: str, *, detail: bool = False) -> selectors.PassengerBooking:
    """The logged-in passenger's part of a booking they made or travel on; anyone else's (or none) is a 404."""
    try:
        return selectors.booking_reach_for_passenger(user=request.user, record_locator=record_locator, detail=detail)
    except NotFound:
        raise Http404(_("No booking with this reference.")) from None


def _own_booking(request: HttpRequest, record_locator: str, *, detail: bool = False) -> Booking:
    """A booking the logged-in passenger made, to pay, cancel or change: a co-traveller is refused (403)."""
    return _reach(request, record_locator, detail=detail).require_booker()


def _posted(request: HttpRequest) -> QueryDict | None:
    """The form data of a POST, even an empty one (so a missing tick is an error, not a fresh form)."""
    return request.POST if request.method == "POST" else None


def _with_params(url: str, params: QueryDict | dict, **changes: Any) -> str:
    query = params.copy() if isinstance(params, QueryDict) else QueryDict(mutable=True)
    if not isinstance(params, QueryDict):
        query.update(params)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"{url}?{encoded}" if encoded else url


def _airport_choices() -> list[tuple[str, str]]:
    return [(code, label) for code, label in selectors.airport_choices()]


def _tickets(booking: Booking) -> list[Any]:
    return list(booking.tickets.select_related("passenger").order_by("passenger__sequence", "issued_at", "id"))


def _party_types(adults: int, children: int, infants: int) -> list[str]:
    return [PassengerType.ADULT] * adults + [PassengerType.CHILD] * children + [PassengerType.INFANT] * infants


# --- Search ----------------------------------------------------------------------------------


@dataclass
class ResultRow:
    option: Any
    cells: list[Any]


@dataclass
class LegResults:
    """One part of the trip as the results page shows it."""

    number: int
    origin: str
    destination: str
    date: dt.date
    origin_name: str = ""
    destination_name: str = ""
    families: list[Any] = field(default_factory=list)
    rows: list[ResultRow] = field(default_factory=list)
    calendar: list[tuple[Any, str | None, bool]] = field(default_factory=list)
    sort_links: list[tuple[str, str, str, bool]] = field(default_factory=list)


def _leg_results(number: int, leg: tuple[str, str, dt.date], options: list[Any]) -> LegResults:
    """Rows of flights with one column per fare family (cheapest family first)."""
    origin, destination, day = leg
    families = {}
    for option in options:
        for offer in option.offers:
            families.setdefault(offer.fare_family.code, offer.fare_family)
    ordered = sorted(families.values(), key=lambda f: (f.rank, f.code))
    rows = []
    for option in options:
        by_family = {offer.fare_family.code: offer for offer in option.offers}
        rows.append(ResultRow(option=option, cells=[by_family.get(f.code) for f in ordered]))
    return LegResults(number=number, origin=origin, destination=destination, date=day, families=ordered, rows=rows)


def _search_initial(customer: Customer | None, airports: list[tuple[str, str]]) -> dict[str, Any]:
    today = timezone.localdate()
    initial: dict[str, Any] = {
        "departure_date": today + dt.timedelta(days=7),
        "return_date": today + dt.timedelta(days=14),
    }
    if customer is not None:
        if customer.home_airport and customer.home_airport in dict(airports):
            initial["origin"] = customer.home_airport
        if customer.preferred_cabin:
            initial["cabin"] = customer.preferred_cabin
    return initial


def _search_field_map(form: FlightSearchForm) -> dict[str, str]:
    """The selector names legs 'legs.2.origin'; the form names them 'origin_2' (or return_date)."""
    mapping = {"departure_date": "departure_date", "legs": "origin"}
    for index in range(1, len(form.legs())):
        n = index + 1
        date_field = form.leg_date_field(index)
        mapping[f"legs.{n}.departure_date"] = date_field
        if date_field == "return_date":
            mapping[f"legs.{n}.origin"], mapping[f"legs.{n}.destination"] = "destination", "origin"
        else:
            suffix = date_field.removeprefix("date_")
            mapping[f"legs.{n}.origin"], mapping[f"legs.{n}.destination"] = f"origin_{suffix}", f"destination_{suffix}"
    mapping.update({"legs.1.origin": "origin", "legs.1.destination": "destination", "legs.1.departure_date": "departure_date"})
    return mapping


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Flights for one-way, return and multi-city trips, a ±3-day price calendar per flight, sortable."""
    airports = _airport_choices()
    bound = "origin" in request.GET
    form = FlightSearchForm(
        request.GET if bound else None, airports=airports, initial=_search_initial(_customer_or_none(request), airports)
    )
    legs: list[LegResults] = []
    if bound and form.is_valid():
        data = form.cleaned_data
        party = {"adults": data["adults"], "children": data["children"], "infants": data["infants"]}
        sort = data.get("sort") or "price"
        wanted = form.legs()
        try:
            results = selectors.itinerary_search(legs=wanted, cabin=data["cabin"], sort=sort, **party)
            calendars = [
                selectors.price_calendar(origin=o, destination=d, around=day, cabin=data["cabin"], days=3, **party)
                for o, d, day in wanted
            ]
        except ApplicationError as exc:
            add_application_error(form, exc, field_map=_search_field_map(form))
            results, calendars = [], []
        today = timezone.localdate()
        names = dict(airports)
        here = reverse("reservations_portal:search")
        for index, (leg, options, days) in enumerate(zip(wanted, results, calendars, strict=False)):
            result = _leg_results(index + 1, leg, options)
            result.origin_name, result.destination_name = names.get(leg[0], leg[0]), names.get(leg[1], leg[1])
            date_field = form.leg_date_field(index)
            result.calendar = [
                (
                    day,
                    _with_params(here, request.GET, **{date_field: day.date.isoformat()}) + f"#leg-{index + 1}"
                    if day.lowest is not None and day.date >= today and day.date != leg[2]
                    else None,
                    day.date == leg[2],
                )
                for day in days
            ]
            result.sort_links = [
                (key, label, _with_params(here, request.GET, sort=key) + f"#leg-{index + 1}", key == sort)
                for key, label in form.fields["sort"].choices
            ]
            legs.append(result)
    return render(
        request,
        "portal/reservations/search.html",
        {
            "form": form,
            "legs": legs,
            "searched": bound and form.is_valid() and not form.errors,
            "few_seats": FEW_SEATS,
            "search_params": request.GET if bound else QueryDict(),
            "currency": settings.BOOKING_CURRENCY,
        },
    )


# --- Book ------------------------------------------------------------------------------------


@dataclass
class ChosenFlight:
    number: int
    option: Any
    offer: Any


def _chosen_itinerary(request: HttpRequest) -> tuple[FlightSearchForm, list[ChosenFlight]] | None:
    """The search and the fare chosen for each of its flights, priced afresh from live inventory.

    None when the query string does not name a fare for every flight or the fare is no longer sold.
    """
    form = FlightSearchForm(request.GET, airports=_airport_choices())
    if not form.is_valid():
        return None
    data = form.cleaned_data
    wanted = form.legs()
    try:
        results = selectors.itinerary_search(
            legs=wanted,
            cabin=data["cabin"],
            adults=data["adults"],
            children=data["children"],
            infants=data["infants"],
            sort="price",
        )
    except ApplicationError:
        return None
    chosen = []
    for number, options in enumerate(results, start=1):
        flight_id, _sep, family = request.GET.get(f"leg{number}", "").partition(":")
        option = next((o for o in options if str(o.flight.pk) == flight_id), None)
        offer = next((o for o in option.offers if o.fare_family.code == family), None) if option else None
        if offer is None:
            return None
        chosen.append(ChosenFlight(number=number, option=option, offer=offer))
    return form, chosen


def _passenger_forms(data: QueryDict | None, types: list[str], customer: Customer | None) -> list[PassengerForm]:
    forms = []
    for number, passenger_type in enumerate(types, start=1):
        initial = passenger_initial(customer, with_passport=True) if number == 1 and customer is not None else {}
        forms.append(PassengerForm(data, prefix=f"p{number}", passenger_type=passenger_type, number=number, initial=initial))
    return forms


def _passenger_request(form: PassengerForm) -> services.PassengerRequest:
    data = form.cleaned_data
    return services.PassengerRequest(
        passenger_type=form.passenger_type,
        given_name=data["given_name"],
        family_name=data["family_name"],
        title=data.get("title") or "",
        date_of_birth=data.get("date_of_birth"),
        nationality=data.get("nationality") or "",
        document_type=data.get("document_type") or "",
        document_number=data.get("document_number") or "",
        document_expiry=data.get("document_expiry"),
        document_country=data.get("document_country") or "",
        meal=data.get("meal") or "",
        assistance=list(data.get("assistance") or []),
        frequent_flyer_number=data.get("frequent_flyer_number") or "",
    )


def _place_booking_errors(exc: ApplicationError, passenger_forms: list[PassengerForm], contact: BookingContactForm) -> list[str]:
    """Put 'passengers.2.given_name' on the second traveller's field; return what belongs to no field."""

    def target(key: str) -> tuple[Any, str] | None:
        parts = key.split(".")
        if parts[0] == "passengers" and len(parts) == 3 and parts[1].isdigit() and 1 <= int(parts[1]) <= len(passenger_forms):
            return passenger_forms[int(parts[1]) - 1], parts[2]
        return (contact, key) if key in contact.fields else None

    return add_application_error(None, exc, place=target)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    """Travellers' details for the chosen fares, then a held booking (paid on the next page)."""
    customer = _own_customer(request)
    itinerary = _chosen_itinerary(request)
    search_url = _with_params(reverse("reservations_portal:search"), request.GET)
    if itinerary is None:
        messages.error(request, _("Choose an available flight and fare for each part of the trip."))
        return redirect(search_url)
    search_form, chosen = itinerary
    data = search_form.cleaned_data
    types = _party_types(data["adults"], data["children"], data["infants"])
    posted = request.POST if request.method == "POST" else None
    passenger_forms = _passenger_forms(posted, types, customer)
    contact = BookingContactForm(
        posted,
        initial={"contact_email": customer.email or request.user.email, "contact_phone": str(customer.phone or "")},
    )
    page_errors: list[str] = []
    if posted is not None and all([f.is_valid() for f in passenger_forms] + [contact.is_valid()]):
        try:
            booking = services.booking_create(
                segments=[
                    services.SegmentRequest(
                        flight_id=c.option.flight.pk, cabin=c.offer.cabin, fare_family=c.offer.fare_family.code
                    )
                    for c in chosen
                ],
                passengers=services.passengers_link_booker(
                    passengers=[_passenger_request(f) for f in passenger_forms], booker=customer
                ),
                contact_email=contact.cleaned_data["contact_email"],
                contact_phone=contact.cleaned_data["contact_phone"],
                purpose=contact.cleaned_data["purpose"],
                channel=Channel.PORTAL,
                customer=customer,
                by=request.user,
                language=translation.get_language() or "en",
                discount_code=contact.cleaned_data["discount_code"],
            )
        except ApplicationError as exc:
            page_errors = _place_booking_errors(exc, passenger_forms, contact)
        else:
            return redirect("reservations_portal:pay", record_locator=booking.record_locator)
    total = sum((c.offer.total for c in chosen), 0)
    adults = [f for f in passenger_forms if f.passenger_type == PassengerType.ADULT]
    infants = [f for f in passenger_forms if f.passenger_type == PassengerType.INFANT]
    for adult, infant in zip(adults, infants, strict=False):
        # booking_create seats the first infant on the first adult's lap, and so on.
        infant.carrier = adult.number
    return render(
        request,
        "portal/reservations/book.html",
        {
            "chosen": chosen,
            "passenger_forms": passenger_forms,
            "contact": contact,
            "page_errors": page_errors,
            "has_errors": bool(page_errors) or any(f.errors for f in passenger_forms) or bool(contact.errors),
            "total": total,
            "currency": chosen[0].offer.currency,
            "search_url": search_url,
            "party": data,
        },
    )


# --- Pay -------------------------------------------------------------------------------------


def _payable(booking: Booking) -> bool:
    return booking.status in (BookingStatus.HELD, BookingStatus.TICKETED) and booking.balance_due > 0


@login_required
@never_cache
@sensitive_post_parameters("number", "cvv", "expiry")
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Card details go straight to the gateway; the hidden key makes a double submit charge once."""
    booking = _own_booking(request, record_locator)
    locator = booking.record_locator
    if not _payable(booking):
        if booking.status == BookingStatus.TICKETED:
            return redirect("reservations_portal:confirmation", record_locator=locator)
        return redirect("reservations_portal:trip", record_locator=locator)
    hold_over = booking.status == BookingStatus.HELD and booking.hold_expires_at and booking.hold_expires_at <= timezone.now()
    declined = ""
    form = CardPaymentForm(_posted(request), record_locator=locator, initial={"idempotency_key": new_payment_key(locator)})
    if request.method == "POST" and not hold_over and form.is_valid():
        data = form.cleaned_data
        month, year = data["expiry"]
        card = services.CardDetails(
            number=data["number"], expiry_month=month, expiry_year=year, cvv=data["cvv"], holder=data["holder"]
        )
        refusal = ""
        try:
            payment = services.payment_take(
                booking=booking,
                method=PaymentMethod.CARD,
                idempotency_key=data["idempotency_key"],
                card=card,
                by=request.user,
            )
        except services.PaymentDeclined as exc:
            refusal = exc.payment.decline_reason or _("The card was declined.")
        except ApplicationError as exc:
            if exc.code == "card_invalid":
                # Nothing was charged: the same form (and key) can be sent again once corrected.
                add_application_error(form, exc, field_map=CARD_FIELDS)
            elif exc.code in ("request_in_progress", "payment_in_progress"):
                # A double submit while the first is at the gateway: the trip page shows how it ends.
                messages.info(request, exc.message)
                return redirect("reservations_portal:trip", record_locator=locator)
            elif _payable(_own_booking(request, record_locator)):
                refusal = exc.message
            else:
                messages.error(request, exc.message)
                return redirect("reservations_portal:trip", record_locator=locator)
        else:
            if payment.status == PaymentStatus.SUCCEEDED:
                messages.success(request, _("Thank you: your payment was received."))
                if booking.status == BookingStatus.TICKETED and booking.balance_due <= 0:
                    return redirect("reservations_portal:confirmation", record_locator=locator)
                return redirect("reservations_portal:trip", record_locator=locator)
            refusal = payment.decline_reason or _("The card was declined.")
        if refusal:
            # A fresh key: the next attempt is a new payment, not a replay of the refused one.
            form = CardPaymentForm(
                record_locator=locator, initial={"idempotency_key": new_payment_key(locator), "holder": data["holder"]}
            )
            declined = _("The payment did not go through (%(reason)s). Nothing was charged; please try another card.") % {
                "reason": DECLINE_REASONS.get(refusal, refusal)
            }
        booking = _own_booking(request, record_locator)
    return render(
        request,
        "portal/reservations/pay.html",
        {"booking": booking, "form": form, "hold_over": hold_over, "amount": booking.balance_due, "declined": declined},
    )


@login_required
@never_cache
@require_GET
def confirmation(request: HttpRequest, record_locator: str) -> HttpResponse:
    booking = _own_booking(request, record_locator)
    if booking.status != BookingStatus.TICKETED:
        if _payable(booking):
            return redirect("reservations_portal:pay", record_locator=booking.record_locator)
        return redirect("reservations_portal:trip", record_locator=booking.record_locator)
    tickets = _tickets(booking)
    return render(request, "portal/reservations/confirmation.html", {"booking": booking, "tickets": tickets})


# --- My trips --------------------------------------------------------------------------------


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
        },
    )


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


# --- Check-in access -------------------------------------------------------------------------


def _grant_check_in(request: HttpRequest, record_locator: str) -> None:
    request.session[CHECK_IN_SESSION_KEY] = signing.dumps({"locator": record_locator}, salt=CHECK_IN_SALT)


def _check_in_granted(request: HttpRequest, record_locator: str) -> bool:
    token = request.session.get(CHECK_IN_SESSION_KEY)
    if not token:
        return False
    try:
        data = signing.loads(token, salt=CHECK_IN_SALT, max_age=CHECK_IN_ACCESS_SECONDS)
    except signing.BadSignature:
        return False
    return data.get("locator") == record_locator


def _check_in_booking(request: HttpRequest, record_locator: str) -> Booking | None:
    """The booking if the passenger made it or travels on it, or found it by reference and name a short while ago.

    ``request.check_in_travellers`` holds who may be checked in, seated and shown a boarding pass: a
    logged-in co-traveller only themselves (and the infant on their lap), otherwise everyone.
    """
    locator = selectors.normalize_record_locator(record_locator)
    request.check_in_travellers = None
    if request.user.is_authenticated:
        try:
            reach = selectors.booking_reach_for_passenger(user=request.user, record_locator=locator)
        except NotFound:
            pass
        else:
            if not reach.is_booker:
                request.check_in_travellers = reach.passenger_ids
            return reach.booking
    if _check_in_granted(request, locator):
        try:
            return selectors.booking_get(record_locator=locator)
        except NotFound:
            return None
    return None


def _may_check_in(request: HttpRequest, passenger_id: int) -> bool:
    allowed = getattr(request, "check_in_travellers", None)
    return allowed is None or passenger_id in allowed


def _check_in_denied(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/reservations/check_in_denied.html", {"form": CheckInLookupForm()}, status=404)


def _lookup_throttled(request: HttpRequest) -> bool:
    return (cache.get(_lookup_key(request)) or 0) >= CHECK_IN_LOOKUP_LIMIT


def _lookup_key(request: HttpRequest) -> str:
    return f"reservations:check-in-lookup:{client_ip(request)}"


def _lookup_failed(request: HttpRequest) -> None:
    key = _lookup_key(request)
    if not cache.add(key, 1, timeout=CHECK_IN_LOOKUP_WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=CHECK_IN_LOOKUP_WINDOW_SECONDS)


@never_cache
@require_http_methods(["GET", "POST"])
def check_in_lookup(request: HttpRequest) -> HttpResponse:
    """Find a booking by reference and family name, no login needed."""
    form = CheckInLookupForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        if _lookup_throttled(request):
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
        else:
            data = form.cleaned_data
            try:
                booking = selectors.booking_get_for_check_in(
                    record_locator=data["record_locator"], family_name=data["family_name"]
                )
            except NotFound:
                _lookup_failed(request)
                form.add_error(
                    None,
                    _("We found no booking with this reference and family name. Check both and try again."),
                )
            else:
                _grant_check_in(request, booking.record_locator)
                return redirect("reservations_portal:check_in", record_locator=booking.record_locator)
    return render(request, "portal/reservations/check_in_lookup.html", {"form": form})


# --- Flight status ---------------------------------------------------------------------------


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


# --- Change and cancel -----------------------------------------------------------------------


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


def _segment_of(booking: Booking, sequence: int) -> Segment:
    segment = next((s for s in booking.segments.all() if s.sequence == sequence), None)
    if segment is None:
        raise Http404(_("No such flight on this booking."))
    return segment


@never_cache
@require_GET
def check_in(request: HttpRequest, record_locator: str) -> HttpResponse:
    """Each flight of the booking: whether check-in is open, who is checked in, their boarding passes."""
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    prefetch_related_objects([booking], "segments__check_ins__passenger")
    now = timezone.now()
    flights = []
    for segment in booking.segments.all():
        if segment.status != SegmentStatus.CONFIRMED:
            continue
        opens, closes = services.check_in_window(flight=segment.flight)
        checked = sorted(
            (c for c in segment.check_ins.all() if _may_check_in(request, c.passenger_id)), key=lambda c: c.passenger.sequence
        )
        done = {c.passenger_id for c in checked}
        flights.append(
            {
                "segment": segment,
                "opens": opens,
                "closes": closes,
                "open": booking.status == BookingStatus.TICKETED and services.check_in_is_open(flight=segment.flight, at=now),
                "not_yet": now < opens,
                "check_ins": checked,
                "waiting": [
                    p for p in booking.passengers.all() if p.holds_seat and p.pk not in done and _may_check_in(request, p.pk)
                ],
            }
        )
    return render(
        request,
        "portal/reservations/check_in.html",
        {"booking": booking, "flights": flights, "ticketed": booking.status == BookingStatus.TICKETED},
    )


def _check_in_errors(exc: ApplicationError, forms: dict[int, CheckInPassengerForm], page: Any) -> None:
    """'bags.12' and 'hand_carry.12' belong beside traveller 12's fields; the rest above the form."""

    def traveller(key: str) -> tuple[CheckInPassengerForm, str | None] | None:
        kind, _sep, pid = key.partition(".")
        form = forms.get(int(pid)) if pid.isdigit() else None
        return (form, "hand_carry" if kind == "hand_carry" else None) if form is not None else None

    add_application_error(page, exc, place=traveller)


@never_cache
@require_http_methods(["GET", "POST"])
def check_in_flight(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    """Check in the chosen travellers for one flight, with their bags and cabin bags."""
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    segment = _segment_of(booking, sequence)
    flight = segment.flight
    overview = redirect("reservations_portal:check_in", record_locator=booking.record_locator)
    if booking.status != BookingStatus.TICKETED:
        messages.error(request, _("Check-in opens for a booking once it is paid and ticketed."))
        return overview
    if segment.status != SegmentStatus.CONFIRMED or not services.check_in_is_open(flight=flight):
        messages.error(request, _("Online check-in is not open for this flight."))
        return overview
    done = {c.passenger_id for c in selectors.check_ins_for_booking(booking=booking) if c.segment_id == segment.pk}
    party = {p.pk for p in booking.passengers.all()}
    seated = {
        seat.passenger_id: seat.code
        for row in selectors.seat_map(flight=flight, cabin=segment.cabin).rows
        for seat in row.seats
        if seat.passenger_id in party
    }
    travellers = [p for p in booking.passengers.all() if p.holds_seat and p.pk not in done and _may_check_in(request, p.pk)]
    if not travellers:
        messages.info(request, _("Everyone on this booking is checked in for this flight."))
        return overview
    posted = request.POST if request.method == "POST" else None
    forms = {p.pk: CheckInPassengerForm(posted, prefix=f"p{p.pk}", passenger=p) for p in travellers}
    declaration = DangerousGoodsForm(posted)
    if posted is not None and all([f.is_valid() for f in forms.values()] + [declaration.is_valid()]):
        chosen = [f.passenger for f in forms.values() if f.cleaned_data["selected"]]
        if not chosen:
            declaration.add_error(None, _("Choose at least one traveller to check in."))
        else:
            try:
                services.check_in(
                    booking=booking,
                    segment=segment,
                    passengers=chosen,
                    bags={p.pk: forms[p.pk].bag_weights() for p in chosen},
                    hand_carry={p.pk: forms[p.pk].cleaned_data["hand_carry"] for p in chosen},
                    channel=Channel.PORTAL,
                    by=request.user if request.user.is_authenticated else None,
                )
            except ApplicationError as exc:
                _check_in_errors(exc, forms, declaration)
            else:
                messages.success(request, _("You are checked in. Your boarding passes are ready below."))
                return overview
    infants = {p.travelling_with_id: p for p in booking.passengers.all() if not p.holds_seat}
    rows = [{"form": forms[p.pk], "seat": seated.get(p.pk, ""), "infant": infants.get(p.pk)} for p in travellers]
    return render(
        request,
        "portal/reservations/check_in_flight.html",
        {
            "booking": booking,
            "segment": segment,
            "flight": flight,
            "rows": rows,
            "declaration": declaration,
            "fare": segment.fare_family,
            "has_errors": bool(declaration.errors) or any(f.errors for f in forms.values()),
        },
    )


# --- Seats -----------------------------------------------------------------------------------


def _seat_page(request: HttpRequest, booking: Booking, sequence: int, *, url_name: str, back_url: str) -> HttpResponse:
    """The drawn seat map of one flight: the traveller picks a free seat, one traveller at a time."""
    segment = _segment_of(booking, sequence)
    if booking.status not in (BookingStatus.HELD, BookingStatus.TICKETED) or segment.status != SegmentStatus.CONFIRMED:
        messages.error(request, _("Seats can only be chosen on an active booking."))
        return redirect(back_url)
    here = reverse(url_name, kwargs={"record_locator": booking.record_locator, "sequence": sequence})
    travellers = [p for p in booking.passengers.all() if p.holds_seat and _may_check_in(request, p.pk)]
    seat_map = selectors.seat_map(flight=segment.flight, cabin=segment.cabin)
    ours = {p.pk: p for p in travellers}
    seat_of = {seat.passenger_id: seat.code for row in seat_map.rows for seat in row.seats if seat.passenger_id in ours}
    waiting = next((p.pk for p in travellers if p.pk not in seat_of), travellers[0].pk if travellers else None)
    form = SeatChoiceForm(
        _posted(request),
        passengers=[(p.pk, p.full_name) for p in travellers],
        seats=seat_map.free_seats(cabin=segment.cabin),
        initial={"passenger": waiting},
    )
    if request.method == "POST" and form.is_valid():
        passenger = ours[form.cleaned_data["passenger"]]
        try:
            assignment = services.seat_assign(
                segment=segment,
                passenger=passenger,
                seat=form.cleaned_data["seat"],
                by=request.user if request.user.is_authenticated else None,
            )
        except ApplicationError as exc:
            add_application_error(form, exc, field_map={"seat": "seat"})
        else:
            messages.success(
                request,
                _("Seat %(seat)s is now %(name)s's seat.") % {"seat": assignment.seat, "name": passenger.full_name},
            )
            return redirect(here)
    rows_by_cabin: list[tuple[str, list[Any]]] = []
    for row in seat_map.rows:
        if not rows_by_cabin or rows_by_cabin[-1][0] != row.cabin:
            rows_by_cabin.append((row.cabin, []))
        rows_by_cabin[-1][1].append(row)
    return render(
        request,
        "portal/reservations/seats.html",
        {
            "booking": booking,
            "segment": segment,
            "flight": segment.flight,
            "form": form,
            "cabins": rows_by_cabin,
            "owners": {pk: p.full_name for pk, p in ours.items()},
            "seat_of": [(p, seat_of.get(p.pk, "")) for p in travellers],
            "fee": segment.fare_family.seat_selection_fee,
            "currency": segment.fare_family.currency,
            "action": here,
            "back_url": back_url,
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def seats(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    reach = _reach(request, record_locator)
    booking = reach.booking
    request.check_in_travellers = None if reach.is_booker else reach.passenger_ids
    back = reverse("reservations_portal:trip", kwargs={"record_locator": booking.record_locator})
    return _seat_page(request, booking, sequence, url_name="reservations_portal:seats", back_url=back)


@never_cache
@require_http_methods(["GET", "POST"])
def check_in_seats(request: HttpRequest, record_locator: str, sequence: int) -> HttpResponse:
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return _check_in_denied(request)
    back = reverse("reservations_portal:check_in_flight", kwargs={"record_locator": booking.record_locator, "sequence": sequence})
    return _seat_page(request, booking, sequence, url_name="reservations_portal:check_in_seats", back_url=back)


# --- Boarding pass ---------------------------------------------------------------------------


def _boarding_check_in(request: HttpRequest, record_locator: str, check_in_id: int) -> CheckIn | None:
    booking = _check_in_booking(request, record_locator)
    if booking is None:
        return None
    try:
        found = selectors.check_in_get_for_booking(booking=booking, check_in_id=check_in_id)
    except NotFound:
        found = None
    if found is None or not _may_check_in(request, found.passenger_id):
        raise Http404(_("No such boarding pass on this booking."))
    return found


@never_cache
@require_GET
def boarding_pass(request: HttpRequest, record_locator: str, check_in_id: int) -> HttpResponse:
    """The printable boarding pass, with the PDF417 barcode the gate scans."""
    check_in_row = _boarding_check_in(request, record_locator, check_in_id)
    if check_in_row is None:
        return _check_in_denied(request)
    return render(request, "portal/reservations/boarding_pass.html", {"bp": selectors.boarding_pass(check_in=check_in_row)})


@never_cache
@require_GET
def boarding_pass_pdf(request: HttpRequest, record_locator: str, check_in_id: int) -> HttpResponse:
    from reservations.boarding import boarding_pass_pdf as render_pdf

    check_in_row = _boarding_check_in(request, record_locator, check_in_id)
    if check_in_row is None:
        return _check_in_denied(request)
    response = HttpResponse(render_pdf(check_in=check_in_row), content_type="application/pdf")
    name = f"boarding-pass-{check_in_row.flight.flight_code}-{check_in_row.passenger.family_name}".lower()
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}.pdf"'
    return response


@never_cache
@require_GET
def boarding_pass_barcode(request: HttpRequest, record_locator: str, check_in_id: int) -> HttpResponse:
    check_in_row = _boarding_check_in(request, record_locator, check_in_id)
    if check_in_row is None:
        return _check_in_denied(request)
    return HttpResponse(selectors.boarding_pass(check_in=check_in_row).barcode_png, content_type="image/png")
