"""Booking the chosen flights, paying for them and the confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from crm.errors import ApplicationError
from crm.forms import add_application_error
from crm.models import Customer
from reservations import hooks, selectors, services
from reservations.forms import (
    BookingContactForm,
    BookingOptionsForm,
    CardPaymentForm,
    FlightSearchForm,
    MethodPaymentForm,
    PassengerForm,
    new_payment_key,
    passenger_initial,
)
from reservations.gateway import sample_cards
from reservations.models import (
    Booking,
    BookingStatus,
    Channel,
    ChargeKind,
    PassengerType,
    PaymentMethod,
    PaymentStatus,
)
from reservations.views.portal.common import (
    CARD_FIELDS,
    DECLINE_REASONS,
    _airport_choices,
    _own_booking,
    _own_customer,
    _party_types,
    _posted,
    _tickets,
    _with_params,
)


@dataclass
class ChosenFlight:
    """The option (a flight, or a journey with a change) and fare chosen for one part of the trip."""

    number: int
    option: Any
    offer: Any

    @property
    def miles(self) -> int:
        return selectors.base_miles(flights=self.option.flights, fare_family=self.offer.fare_family)


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
        key, _sep, family = request.GET.get(f"leg{number}", "").partition(":")
        option = next((o for o in options if o.key == key), None)
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
    """Travellers' details for the chosen fares, then a held booking: seats may be chosen, then it is paid."""
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
    options = BookingOptionsForm(posted, options=hooks.booking_options_for(customer=customer))
    page_errors: list[str] = []
    duplicate = None
    valid = posted is not None and all([f.is_valid() for f in passenger_forms] + [contact.is_valid(), options.is_valid()])
    if valid and not posted.get("book_again"):
        # The same flights already held or ticketed by or for this passenger: ask before booking them again.
        duplicate = selectors.booking_identical_active(flight_ids=[c.option.flight.pk for c in chosen], customer=customer)
    if valid and duplicate is None:
        try:
            booking = services.booking_create(
                segments=[
                    services.SegmentRequest(flight_id=flight.pk, cabin=offer.cabin, fare_family=offer.fare_family.code)
                    for c in chosen
                    for flight, offer in zip(c.option.flights, selectors.offer_segments(c.offer), strict=True)
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
                options=options.ticked(),
            )
        except ApplicationError as exc:
            page_errors = _place_booking_errors(exc, passenger_forms, contact)
        else:
            # Next, the seats (a step the passenger may skip), then payment.
            return redirect("reservations_portal:seats", record_locator=booking.record_locator, sequence=1)
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
            "options": options,
            "page_errors": page_errors,
            "duplicate": duplicate,
            "has_errors": bool(page_errors) or any(f.errors for f in passenger_forms) or bool(contact.errors),
            "total": total,
            "currency": chosen[0].offer.currency,
            "search_url": search_url,
            "party": data,
        },
    )


# What each of the gateway's test cards does when charged, in the reader's language.
SAMPLE_CARD_OUTCOMES = {
    "succeeds": gettext_lazy("the payment goes through"),
    "declined": gettext_lazy("the card is declined"),
    "insufficient_funds": gettext_lazy("the card is declined for insufficient funds"),
}


def _sample_card_hints() -> list[dict[str, str]]:
    """The payment gateway's test cards with what they do: a developer's hint, only with DEBUG on."""
    if not settings.DEBUG:
        return []
    return [
        {
            "number": " ".join(card.number[i : i + 4] for i in range(0, len(card.number), 4)),
            "outcome": SAMPLE_CARD_OUTCOMES.get(card.outcome, card.outcome),
        }
        for card in sample_cards()
    ]


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
    method = request.POST.get("method", PaymentMethod.CARD) if request.method == "POST" else PaymentMethod.CARD
    if method != PaymentMethod.CARD and not hold_over:
        return _pay_with_method(request, booking, method)
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
    offers = [] if hold_over else hooks.payment_offers(booking=booking, user=request.user)
    return render(
        request,
        "portal/reservations/pay.html",
        {
            "booking": booking,
            "form": form,
            "hold_over": hold_over,
            "amount": booking.balance_due,
            # The codes' discounts, one line per code: the passenger sees the price already lowered.
            "discounts": list(
                booking.charges.filter(kind=ChargeKind.DISCOUNT)
                .values("code")
                .annotate(total=Sum("amount"), description=Max("description"))
                .order_by("code")
            ),
            "declined": declined,
            "sample_cards": [] if hold_over else _sample_card_hints(),
            "offers": [
                {"method": code, "label": label, "offer": offer, "key": new_payment_key(locator)} for code, label, offer in offers
            ],
        },
    )


def _pay_with_method(request: HttpRequest, booking: Booking, method: str) -> HttpResponse:
    """A method hooked in by another app (miles): one button, its own one-time key; card pays the rest."""
    locator = booking.record_locator
    offered = {code for code, _label, offer in hooks.payment_offers(booking=booking, user=request.user) if offer.available}
    if method not in offered:
        messages.error(request, _("This way of paying is not available for this booking."))
        return redirect("reservations_portal:pay", record_locator=locator)
    form = MethodPaymentForm(request.POST, record_locator=locator)
    if not form.is_valid():
        messages.error(request, _("This payment form is out of date; please try again."))
        return redirect("reservations_portal:pay", record_locator=locator)
    try:
        payment = services.payment_take(
            booking=booking, method=method, idempotency_key=form.cleaned_data["idempotency_key"], by=request.user
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("reservations_portal:pay", record_locator=locator)
    booking = _own_booking(request, record_locator=locator)
    if booking.status == BookingStatus.TICKETED and booking.balance_due <= 0:
        messages.success(request, _("Thank you: your payment was received."))
        return redirect("reservations_portal:confirmation", record_locator=locator)
    messages.success(
        request,
        _("%(amount)s %(currency)s paid with %(method)s. Please pay the rest by card.")
        % {"amount": payment.amount, "currency": payment.currency, "method": payment.get_method_display().lower()},
    )
    return redirect("reservations_portal:pay", record_locator=locator)


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
