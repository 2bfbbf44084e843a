"""Every page of the portal and the office and every GET endpoint of the API, with who looks at it and
which objects of the world it shows; the URL patterns no baseline measures, and why.

A URL pattern that answers GET must appear here, as a page or as an exclusion: the test fails otherwise,
so a new page gets its baseline the day it is added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode

from tests.query_counts.world import FARE, World

ANONYMOUS, PASSENGER, AGENT, SUPERVISOR, MARKETER = "anonymous", "passenger", "agent", "supervisor", "marketer"


@dataclass(frozen=True)
class Page:
    """One GET to measure: the URL name, who asks (``api:<who>`` for a token client), and what for."""

    name: str
    who: str
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}
    query: Callable[[World], dict[str, Any]] = lambda w: {}
    variant: str = ""
    # Run before the two requests, for a page that is reached only after another one (a one-time link).
    prepare: Callable[[Client, World], None] | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.name} [{self.variant}]" if self.variant else self.name

    def url(self, world: World) -> str:
        path = reverse(self.name, kwargs=self.kwargs(world))
        query = self.query(world)
        return f"{path}?{urlencode(query)}" if query else path


def _trip(w: World) -> dict[str, Any]:
    return {"record_locator": w.trip.record_locator}


def _ticketed(w: World) -> dict[str, Any]:
    return {"record_locator": w.ticketed.record_locator}


def _customer(w: World) -> dict[str, Any]:
    return {"customer_number": w.customer.customer_number}


def _search(w: World) -> dict[str, Any]:
    """The trip's first flight's route and day: one flight in the small world, a dozen in the large one."""
    return {
        "trip_type": "one_way",
        "origin": "LHR",
        "destination": "CDG",
        "departure_date": w.flight.service_date.isoformat(),
        "adults": w.party,
        "children": 0,
        "infants": 0,
        "cabin": "economy",
        "sort": "price",
    }


def _connecting_search(w: World) -> dict[str, Any]:
    """Amsterdam to Paris: no direct flight, one journey per Amsterdam flight and onward London flight."""
    return {**_search(w), "origin": "AMS"}


def _first_offer() -> int:
    from marketing.models import Offer

    return Offer.objects.order_by("pk").values_list("pk", flat=True).first()


def _first_campaign() -> int:
    from marketing.models import Campaign

    return Campaign.objects.order_by("pk").values_list("pk", flat=True).first()


def _last_month() -> str:
    from loyalty.selectors import previous_month

    return f"{previous_month():%Y-%m}"


def _this_month() -> str:
    """The running month: the QC hotel's statement has its credits and a reversal in it."""
    from django.utils import timezone

    return f"{timezone.localdate():%Y-%m}"


def _uid(user) -> str:  # noqa: ANN001
    return urlsafe_base64_encode(force_bytes(user.pk))


def _verify_link(w: World) -> dict[str, Any]:
    from crm.services import email_verification_token

    return {"uidb64": _uid(w.unverified), "token": email_verification_token.make_token(w.unverified)}


def _unsubscribe_link(w: World) -> dict[str, Any]:
    from marketing.services import unsubscribe_token

    return {"token": unsubscribe_token(customer_id=w.customer.pk, email=w.customer.email or "x@example.com")}


def _quote_heavy_bags(client: Client, w: World) -> None:
    """Three overweight bags each: the check-in form sends the passenger on to pay the quoted fees."""
    data = {"confirm": "on"}
    for p in w.ticketed.passengers.all():
        if p.holds_seat:
            data |= {f"p{p.pk}-selected": "on", f"p{p.pk}-hand_carry": "1"}
            data |= {f"p{p.pk}-bag_{n}": "30" for n in (1, 2, 3)}
    url = reverse("reservations_portal:check_in_flight", kwargs={**_ticketed(w), "sequence": 1})
    assert client.post(url, data).status_code == 302


def _delay_ticketed_flight(client: Client, w: World) -> None:
    """The ticketed booking's flight is five hours late and the booking waits for the passenger's choice."""
    from datetime import timedelta

    from django.utils import timezone

    from reservations.models import Booking, Flight, FlightStatus

    late = w.flight.scheduled_departure + timedelta(hours=5)
    Flight.objects.filter(pk=w.flight.pk).update(status=FlightStatus.DELAYED, estimated_departure=late)
    Booking.objects.filter(pk=w.ticketed.pk).update(disrupted_at=timezone.now())


def _keep_choice(w: World) -> dict[str, Any]:
    """The disruption e-mail's signed link for keeping the delayed flight."""
    from reservations import services

    return {"choice": services.disruption_choice_sign(record_locator=w.ticketed.record_locator, choice="keep")}


def _open_reset_link(client: Client, w: World) -> None:
    """The e-mailed link puts its token in the session and redirects to the form measured here."""
    user = type(w.passenger).objects.get(pk=w.passenger.pk)  # as stored: the token covers its last login
    link = reverse(
        "portal:password_reset_confirm", kwargs={"uidb64": _uid(user), "token": default_token_generator.make_token(user)}
    )
    assert client.get(link).status_code == 302


PAGES: list[Page] = [
    # --- Portal: account and the passenger's own record
    Page("portal:home", PASSENGER),
    Page("portal:login", ANONYMOUS),
    Page("portal:register", ANONYMOUS),
    Page("portal:register_done", ANONYMOUS),
    Page("portal:resend_verification", ANONYMOUS),
    Page("portal:resend_verification_done", ANONYMOUS),
    Page("portal:verify_email", ANONYMOUS, kwargs=_verify_link),
    Page("portal:verify_email_done", ANONYMOUS),
    Page("portal:password_reset", ANONYMOUS),
    Page("portal:password_reset_done", ANONYMOUS),
    Page(
        "portal:password_reset_confirm",
        ANONYMOUS,
        kwargs=lambda w: {"uidb64": _uid(w.passenger), "token": "set-password"},
        prepare=_open_reset_link,
    ),
    Page("portal:password_reset_complete", ANONYMOUS),
    Page("portal:password_change", PASSENGER),
    Page("portal:password_change_done", PASSENGER),
    Page("portal:profile", PASSENGER),
    Page("portal:consent", PASSENGER),
    Page("portal:my_data", PASSENGER),
    Page("portal:download_data", PASSENGER),
    Page("portal:delete_account", PASSENGER),
    Page("portal:account_deleted", ANONYMOUS),
    # --- Portal: trips
    Page("reservations_portal:search", PASSENGER, variant="form"),
    Page("reservations_portal:search", PASSENGER, query=_search, variant="results"),
    Page("reservations_portal:search", PASSENGER, query=_connecting_search, variant="connections"),
    Page("reservations_portal:book", PASSENGER, query=lambda w: {**_search(w), "leg1": f"{w.flight.pk}:{FARE}"}),
    Page("reservations_portal:trips", PASSENGER),
    Page("reservations_portal:trip", PASSENGER, kwargs=_trip),
    Page("reservations_portal:pay", PASSENGER, kwargs=lambda w: {"record_locator": w.held.record_locator}),
    Page("reservations_portal:confirmation", PASSENGER, kwargs=_trip),
    Page("reservations_portal:receipt_pdf", PASSENGER, kwargs=_trip),
    Page("reservations_portal:trip_ics", PASSENGER, kwargs=_trip),
    Page("reservations_portal:cancel", PASSENGER, kwargs=_ticketed),
    Page("reservations_portal:change", PASSENGER, kwargs=lambda w: {**_ticketed(w), "sequence": 1}),
    Page("reservations_portal:seats", PASSENGER, kwargs=lambda w: {**_trip(w), "sequence": 1}),
    Page(
        "reservations_portal:seats",
        PASSENGER,
        kwargs=lambda w: {"record_locator": w.held.record_locator, "sequence": 1},
        variant="booking step",
    ),
    Page("reservations_portal:check_in_lookup", ANONYMOUS),
    # --- Portal: miles
    Page("loyalty_portal:redeem", PASSENGER),
    Page("loyalty_portal:upgrade", PASSENGER, kwargs=_ticketed),
    Page("reservations_portal:check_in", PASSENGER, kwargs=_trip),
    Page(
        "reservations_portal:check_in_flight",
        PASSENGER,
        kwargs=lambda w: {**_ticketed(w), "sequence": 1},
    ),
    Page(
        "reservations_portal:check_in_seats",
        PASSENGER,
        kwargs=lambda w: {**_ticketed(w), "sequence": 1},
    ),
    Page(
        "reservations_portal:check_in_pay",
        PASSENGER,
        kwargs=lambda w: {**_ticketed(w), "sequence": 1},
        prepare=_quote_heavy_bags,
    ),
    Page("reservations_portal:disruption", PASSENGER, kwargs=_ticketed, prepare=_delay_ticketed_flight),
    Page(
        "reservations_portal:disruption_choice",
        PASSENGER,
        kwargs=_ticketed,
        query=_keep_choice,
        prepare=_delay_ticketed_flight,
    ),
    Page("reservations_portal:boarding_pass", PASSENGER, kwargs=lambda w: {**_trip(w), "check_in_id": w.check_in.pk}),
    Page("reservations_portal:boarding_pass_pdf", PASSENGER, kwargs=lambda w: {**_trip(w), "check_in_id": w.check_in.pk}),
    Page("reservations_portal:boarding_pass_barcode", PASSENGER, kwargs=lambda w: {**_trip(w), "check_in_id": w.check_in.pk}),
    Page("reservations_portal:flight_status", ANONYMOUS, variant="form"),
    Page(
        "reservations_portal:flight_status",
        ANONYMOUS,
        query=lambda w: {"flight_code": w.flight.flight_code, "service_date": w.flight.service_date.isoformat()},
        variant="result",
    ),
    # --- Office: loyalty partners, liability, fraud review
    Page("loyalty_office:partner_list", SUPERVISOR),
    Page("marketing_office:offer_list", MARKETER),
    Page("marketing_office:offer_new", MARKETER),
    Page("marketing_office:offer", MARKETER, kwargs=lambda w: {"offer_id": _first_offer()}),
    Page("loyalty_office:partner_statement", SUPERVISOR, kwargs=lambda w: {"code": "qc-hotel", "month": _last_month()}),
    Page("loyalty_office:liability", SUPERVISOR),
    Page("loyalty_office:fraud_queue", SUPERVISOR),
    Page("api-loyalty-liability", "api:supervisor"),
    Page("api-loyalty-partner-statement", "api:partner", kwargs=lambda w: {"month": _this_month()}),
    Page("loyalty-fraud-flag-list", f"api:{SUPERVISOR}", query=lambda w: {"status": "open"}, variant="queue"),
    Page("loyalty-fraud-flag-list", f"api:{SUPERVISOR}", variant="all"),
    # --- Portal: miles
    Page("loyalty_portal:miles", PASSENGER),
    Page("loyalty_portal:miles_statement", PASSENGER),
    Page(
        "loyalty_portal:miles_statement",
        PASSENGER,
        query=lambda w: {"kind": "accrual", "date_from": "2020-01-01"},
        variant="filtered",
    ),
    Page("loyalty_portal:miles_statement_csv", PASSENGER),
    Page("loyalty_portal:miles_card", PASSENGER),
    Page("loyalty_portal:claims", PASSENGER),
    # --- Office: customers and leads
    Page("office:login", ANONYMOUS),
    Page("office:home", SUPERVISOR),
    Page("office:customer_search", SUPERVISOR, variant="form"),
    Page("office:customer_search", SUPERVISOR, query=lambda w: {"q": "Lovelace"}, variant="results"),
    Page("office:customer_create", SUPERVISOR),
    Page("office:customer_detail", SUPERVISOR, kwargs=_customer),
    Page("office:customer_detail", AGENT, kwargs=_customer, variant="agent"),
    Page("office:customer_edit", SUPERVISOR, kwargs=_customer),
    Page("office:customer_timeline", SUPERVISOR, kwargs=_customer),
    Page("office:customer_history", SUPERVISOR, kwargs=_customer),
    Page("office:duplicates", SUPERVISOR),
    Page(
        "office:customer_merge",
        SUPERVISOR,
        query=lambda w: {"a": w.duplicates[0].customer_number, "b": w.duplicates[1].customer_number},
    ),
    Page("office:lead_list", MARKETER, variant="board"),
    Page("office:lead_list", MARKETER, query=lambda w: {"status": "new"}, variant="one status"),
    Page("office:lead_create", MARKETER),
    Page("office:lead_converted", MARKETER),
    Page("office:lead_detail", AGENT, kwargs=lambda w: {"lead_id": w.lead.pk}),
    Page("office:access_log", SUPERVISOR),
    # --- Office: reservations
    Page("reservations_office:booking_search", AGENT, variant="latest"),
    Page("reservations_office:booking_search", AGENT, query=lambda w: {"q": "Lovelace"}, variant="name"),
    Page("reservations_office:booking_detail", AGENT, kwargs=_trip),
    Page("reservations_office:booking_pay", AGENT, kwargs=lambda w: {"record_locator": w.held.record_locator}),
    Page("reservations_office:booking_cancel", AGENT, kwargs=_ticketed),
    Page("reservations_office:segment_change", AGENT, kwargs=lambda w: {**_trip(w), "sequence": 1}),
    Page("reservations_office:segment_rebook", AGENT, kwargs=lambda w: {**_trip(w), "sequence": 1}),
    Page(
        "reservations_office:segment_check_in",
        AGENT,
        kwargs=lambda w: {**_ticketed(w), "sequence": 1},
    ),
    Page("reservations_office:book_search", AGENT, kwargs=_customer, variant="form"),
    Page("reservations_office:book_search", AGENT, kwargs=_customer, query=_search, variant="results"),
    Page("reservations_office:book_search", AGENT, kwargs=_customer, query=_connecting_search, variant="connections"),
    Page(
        "reservations_office:book_passengers",
        AGENT,
        kwargs=_customer,
        query=lambda w: {"cabin": "economy", "adults": w.party, "children": 0, "infants": 0, "leg_1": f"{w.flight.pk}:{FARE}"},
    ),
    Page("reservations_office:flight_list", AGENT, query=lambda w: {"day": w.flight.service_date.isoformat()}),
    Page("reservations_office:flight_detail", AGENT, kwargs=lambda w: {"flight_id": w.flight.pk}),
    Page("reservations_office:flight_manifest", AGENT, kwargs=lambda w: {"flight_id": w.flight.pk}),
    Page("reservations_office:disruption_list", AGENT),
    # --- Frequent flyer: adjustments, household, transfers
    Page("loyalty_office:adjust", AGENT, kwargs=lambda w: {"number": w.member.number}),
    Page("loyalty_office:approvals", SUPERVISOR),
    Page("loyalty_office:status_match_new", AGENT, kwargs=lambda w: {"number": w.member.number}),
    Page("loyalty_office:status_match_queue", SUPERVISOR),
    Page("loyalty_portal:household", PASSENGER),
    Page("loyalty_portal:transfer", PASSENGER),
    # --- Office: frequent flyer programme
    Page("loyalty_office:member_list", AGENT, variant="latest"),
    Page("loyalty_office:member_list", AGENT, query=lambda w: {"q": "Lovelace"}, variant="name"),
    Page("loyalty_office:member", AGENT, kwargs=lambda w: {"number": w.customer.membership.number}),
    # --- Portal: marketing
    Page("marketing_portal:unsubscribe", ANONYMOUS, kwargs=_unsubscribe_link),
    Page("marketing_portal:marketing_preferences", PASSENGER),
    # --- Office: marketing
    Page("marketing_office:segment_list", MARKETER),
    Page("marketing_office:segment_new", MARKETER),
    Page("marketing_office:segment_detail", MARKETER, kwargs=lambda w: {"segment_id": w.segment.pk}),
    Page("marketing_office:segment_edit", MARKETER, kwargs=lambda w: {"segment_id": w.segment.pk}),
    Page("marketing_office:static_list_list", MARKETER),
    Page("marketing_office:static_list_upload", MARKETER),
    Page("marketing_office:campaign_list", MARKETER),
    Page(
        "marketing_office:campaign_list",
        MARKETER,
        query=lambda w: {"status": "scheduled", "kind": "birthday"},
        variant="filtered",
    ),
    Page("marketing_office:campaign_new", MARKETER),
    Page("marketing_office:campaign_detail", MARKETER, kwargs=lambda w: {"campaign_id": w.campaign.pk}),
    Page("marketing_office:campaign_edit", MARKETER, kwargs=lambda w: {"campaign_id": w.campaign.pk}),
    Page("marketing_office:campaign_preview", MARKETER, kwargs=lambda w: {"campaign_id": w.campaign.pk}, variant="sample"),
    Page(
        "marketing_office:campaign_preview",
        MARKETER,
        kwargs=lambda w: {"campaign_id": w.campaign.pk},
        query=lambda w: {"customer": w.customer.customer_number, "language": "zh-hans", "variant": "b"},
        variant="customer",
    ),
    Page("marketing_office:calendar", MARKETER),
    # --- API
    Page("api-root", f"api:{PASSENGER}"),
    Page("marketing-segment-list", f"api:{MARKETER}"),
    Page("marketing-segment-detail", f"api:{MARKETER}", kwargs=lambda w: {"pk": w.segment.pk}),
    Page("customer-list", f"api:{SUPERVISOR}", variant="all"),
    Page("customer-list", f"api:{SUPERVISOR}", query=lambda w: {"search": "Lovelace"}, variant="search"),
    Page("customer-detail", f"api:{SUPERVISOR}", kwargs=_customer),
    Page("customer-consents", f"api:{SUPERVISOR}", kwargs=_customer),
    Page("customer-timeline", f"api:{SUPERVISOR}", kwargs=_customer),
    Page("customer-export", f"api:{SUPERVISOR}", kwargs=_customer),
    Page("customer-360", f"api:{SUPERVISOR}", kwargs=_customer),
    Page("lead-list", f"api:{SUPERVISOR}"),
    Page("lead-detail", f"api:{SUPERVISOR}", kwargs=lambda w: {"pk": w.lead.pk}),
    Page("api-me", f"api:{PASSENGER}"),
    Page("api-me-consents", f"api:{PASSENGER}"),
    Page("api-me-export", f"api:{PASSENGER}"),
    Page("loyalty-adjustment-list", f"api:{SUPERVISOR}", query=lambda w: {"status": "pending"}, variant="pending"),
    Page("loyalty-adjustment-list", f"api:{SUPERVISOR}", variant="all"),
    Page(
        "loyalty-adjustment-detail", f"api:{SUPERVISOR}", kwargs=lambda w: {"pk": w.member.adjustments.order_by("pk").first().pk}
    ),
    Page("loyalty-status-match-list", f"api:{SUPERVISOR}"),
    Page(
        "loyalty-status-match-detail",
        f"api:{SUPERVISOR}",
        kwargs=lambda w: {"pk": w.member.status_matches.order_by("pk").first().pk},
    ),
    Page("marketing-offer-list", f"api:{MARKETER}"),
    Page("marketing-offer-detail", f"api:{MARKETER}", kwargs=lambda w: {"pk": _first_offer()}),
    Page("marketing-campaign-list", f"api:{MARKETER}"),
    Page("marketing-campaign-list", f"api:{MARKETER}", query=lambda w: {"status": "scheduled"}, variant="filtered"),
    Page("marketing-campaign-detail", f"api:{MARKETER}", kwargs=lambda w: {"pk": _first_campaign()}),
    Page("api-loyalty-household", f"api:{PASSENGER}"),
    Page("api-loyalty-transfer-quote", f"api:{PASSENGER}", query=lambda w: {"miles": 2000}),
    Page("api-loyalty-claims", f"api:{PASSENGER}"),
    Page("booking-list", f"api:{SUPERVISOR}", variant="staff"),
    Page("booking-list", f"api:{PASSENGER}", variant="passenger"),
    Page("booking-detail", f"api:{SUPERVISOR}", kwargs=_trip, variant="staff"),
    Page("booking-detail", f"api:{PASSENGER}", kwargs=_trip, variant="passenger"),
    Page("booking-boarding-passes", f"api:{PASSENGER}", kwargs=_trip),
    Page("booking-cancel-quote", f"api:{PASSENGER}", kwargs=_ticketed),
    Page("api-loyalty-me", f"api:{PASSENGER}"),
    Page("api-loyalty-me-statement", f"api:{PASSENGER}"),
    Page("api-loyalty-member", f"api:{SUPERVISOR}", kwargs=lambda w: {"number": w.customer.membership.number}),
    Page("api-loyalty-member-statement", f"api:{SUPERVISOR}", kwargs=lambda w: {"number": w.customer.membership.number}),
    Page(
        "flight-search",
        f"api:{ANONYMOUS}",
        query=lambda w: {"origin": "LHR", "destination": "CDG", "date": w.flight.service_date.isoformat(), "adults": w.party},
    ),
    Page(
        "flight-search",
        f"api:{ANONYMOUS}",
        query=lambda w: {"origin": "AMS", "destination": "CDG", "date": w.flight.service_date.isoformat(), "adults": w.party},
        variant="connections",
    ),
    Page("flight-seat-map", f"api:{ANONYMOUS}", kwargs=lambda w: {"pk": w.flight.pk}),
    Page(
        "api-flight-status",
        f"api:{ANONYMOUS}",
        query=lambda w: {"flight": w.flight.flight_code, "date": w.flight.service_date.isoformat()},
    ),
]

# URL patterns that answer GET but have no baseline, each with the reason. Keep it short.
EXCLUDED_PREFIXES = {
    "office/admin/": "Django's own admin, for reference data; not a page of the product",
}
EXCLUDED = {
    "healthz": "the load balancers' probe: it asks PostgreSQL, Redis and a Celery worker, it lists no data",
    "set_language": "Django's language switch: it only redirects",
    "api-schema": "the OpenAPI document, generated from the code, reads no rows",
    "api-docs": "the page that shows the OpenAPI document, reads no rows",
    "loyalty_office:partner_statement_csv": "a streamed download: the statement page's queries, then its rows in chunks of "
    "2,000 as the file is read",
    "marketing_office:offer_codes_csv": "a streamed download: the offer's row, then its codes in chunks of 2,000",
    "api/v1/^.*$": "the API's answer to an unknown path: a 404 in the API's error shape",
    "^api(?:/|$)": "the answer to any other path under /api/: a 404 in the API's error shape, reads no rows",
}


def _walk(patterns: list, prefix: str = "", namespace: tuple[str, ...] = ()) -> Iterator[tuple[str, str | None, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespace, pattern.namespace) if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespace, pattern.name)) if pattern.name else None
            yield prefix + str(pattern.pattern), name, pattern.callback


def answers_get(view: Any) -> bool:
    """Whether a view takes GET: its class's methods, a viewset's actions, or require_http_methods' list."""
    actions = getattr(view, "actions", None)
    if actions is not None:
        return "get" in actions
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if view_class is not None:
        return "get" in view_class.http_method_names and hasattr(view_class, "get")
    while view is not None:
        code = getattr(view, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            allowed = view.__closure__[code.co_freevars.index("request_method_list")].cell_contents
            if "GET" not in allowed:
                return False
        view = getattr(view, "__wrapped__", None)
    return True


def url_patterns() -> dict[str, bool]:
    """Every URL pattern by name (or route, when unnamed), and whether it answers GET."""
    found: dict[str, bool] = {}
    for route, name, view in _walk(get_resolver().url_patterns):
        if any(route.startswith(prefix) for prefix in EXCLUDED_PREFIXES):
            continue
        key = name or route
        found[key] = found.get(key, False) or answers_get(view)
    return found


# --- Campaign results and tracking ---


def _first_campaign() -> int:
    from marketing.models import Campaign

    return Campaign.objects.order_by("pk").values_list("pk", flat=True).first()


def _open_pixel(w: World) -> dict[str, Any]:
    from marketing.models import Delivery
    from marketing.services import open_token

    return {"token": open_token(delivery_id=Delivery.objects.order_by("pk").values_list("pk", flat=True).first())}


PAGES += [
    Page("marketing_office:results_overview", MARKETER),
    Page("marketing_office:campaign_results", MARKETER, kwargs=lambda w: {"campaign_id": _first_campaign()}),
    Page("marketing-campaign-result-detail", f"api:{MARKETER}", kwargs=lambda w: {"pk": _first_campaign()}),
    Page("marketing_portal:track_open", ANONYMOUS, kwargs=_open_pixel),
]
EXCLUDED["marketing_portal:track_click"] = "a redirect (302), not a page: one UPDATE of the delivery, whatever the data"
