"""What the portal's trip pages share: finding the passenger's booking and customer, the check-in access marker, and small helpers."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import selectors as crm_selectors
from crm.errors import NotFound
from crm.http import client_ip
from crm.models import Customer
from reservations import selectors
from reservations.forms import (
    CheckInLookupForm,
)
from reservations.models import (
    Booking,
    PassengerType,
    Segment,
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
    ``request.check_in_by_login`` says whether the login reached it (rather than the reference and name).
    """
    locator = selectors.normalize_record_locator(record_locator)
    request.check_in_travellers = None
    request.check_in_by_login = False
    if request.user.is_authenticated:
        try:
            reach = selectors.booking_reach_for_passenger(user=request.user, record_locator=locator)
        except NotFound:
            pass
        else:
            if not reach.is_booker:
                request.check_in_travellers = reach.passenger_ids
            request.check_in_by_login = True
            return reach.booking
    if _check_in_granted(request, locator):
        try:
            return selectors.booking_get(record_locator=locator)
        except NotFound:
            return None
    return None


def _traveller_changes_by(request: HttpRequest) -> Any:
    """Who changes a traveller's details from the check-in pages, for the service's own check: the login that
    reached the booking, or None when the reference and family name did (they let the whole party in)."""
    return request.user if getattr(request, "check_in_by_login", False) else None


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


def _segment_of(booking: Booking, sequence: int) -> Segment:
    segment = next((s for s in booking.segments.all() if s.sequence == sequence), None)
    if segment is None:
        raise Http404(_("No such flight on this booking."))
    return segment
