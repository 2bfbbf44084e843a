"""Who may open and post each reservations page of the back-office, checked on the server for every role."""

import pytest
from django.urls import reverse

from crm.permissions import PASSENGER
from reservations.models import Booking, CheckIn, Flight, FlightStatus, Payment
from tests.crm.factories import CustomerFactory, UserFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import book, logged_in, pay_and_ticket

AGENTS = {"agent", "supervisor"}
STAFF = {"agent", "supervisor", "marketer", "analyst"}
ROLES = ("agent", "supervisor", "marketer", "analyst", "passenger")


@pytest.fixture
def world(db):
    customer = CustomerFactory()
    flight = FlightFactory()
    booking = pay_and_ticket(book(customer=customer, flight=flight, names=[("Ada", "Lovelace")], travellers=[customer]))
    return {"customer": customer, "flight": flight, "booking": booking}


def pages(world) -> list[tuple[str, str, set[str]]]:  # noqa: ANN001
    """(name, url, roles allowed to open it)."""
    locator, number, flight = world["booking"].record_locator, world["customer"].customer_number, world["flight"]
    itinerary = f"?cabin=economy&adults=1&children=0&infants=0&leg_1={flight.pk}:ECO_STANDARD"
    return [
        ("booking_search", reverse("reservations_office:booking_search"), AGENTS),
        ("booking_detail", reverse("reservations_office:booking_detail", args=[locator]), AGENTS),
        ("booking_pay", reverse("reservations_office:booking_pay", args=[locator]), AGENTS),
        ("booking_cancel", reverse("reservations_office:booking_cancel", args=[locator]), AGENTS),
        ("segment_change", reverse("reservations_office:segment_change", args=[locator, 1]), AGENTS),
        ("segment_rebook", reverse("reservations_office:segment_rebook", args=[locator, 1]), AGENTS),
        ("segment_check_in", reverse("reservations_office:segment_check_in", args=[locator, 1]), AGENTS),
        ("book_search", reverse("reservations_office:book_search", args=[number]), AGENTS),
        ("book_passengers", reverse("reservations_office:book_passengers", args=[number]) + itinerary, AGENTS),
        ("flight_list", reverse("reservations_office:flight_list"), STAFF),
        ("flight_detail", reverse("reservations_office:flight_detail", args=[flight.pk]), STAFF),
        ("flight_manifest", reverse("reservations_office:flight_manifest", args=[flight.pk]), AGENTS),
        ("disruption_list", reverse("reservations_office:disruption_list"), AGENTS),
    ]


def write_pages(world) -> list[tuple[str, str, set[str]]]:  # noqa: ANN001
    """(name, url, roles allowed to post to it)."""
    locator, number, flight = world["booking"].record_locator, world["customer"].customer_number, world["flight"]
    return [
        ("booking_pay", reverse("reservations_office:booking_pay", args=[locator]), AGENTS),
        ("booking_cancel", reverse("reservations_office:booking_cancel", args=[locator]), AGENTS),
        ("segment_change", reverse("reservations_office:segment_change", args=[locator, 1]), AGENTS),
        ("segment_rebook", reverse("reservations_office:segment_rebook", args=[locator, 1]), AGENTS),
        ("segment_check_in", reverse("reservations_office:segment_check_in", args=[locator, 1]), AGENTS),
        ("book_passengers", reverse("reservations_office:book_passengers", args=[number]), AGENTS),
        ("flight_status", reverse("reservations_office:flight_status", args=[flight.pk]), AGENTS),
        ("refund_paid_out", reverse("reservations_office:refund_paid_out", args=[locator, 1]), AGENTS),
    ]


@pytest.fixture
def users(agent, supervisor, marketer, analyst, db):
    return {
        "agent": agent,
        "supervisor": supervisor,
        "marketer": marketer,
        "analyst": analyst,
        "passenger": UserFactory(username="traveller@example.com", roles=[PASSENGER]),
    }


def test_each_role_opens_exactly_the_pages_it_is_allowed(world, users):
    for role in ROLES:
        client = logged_in(users[role])
        for name, url, allowed in pages(world):
            # when someone in this role opens the page
            status = client.get(url).status_code
            # then it works for the allowed roles and is forbidden to everyone else
            assert status == (200 if role in allowed else 403), (role, name, status)


def test_forbidden_roles_cannot_post_and_nothing_changes(world, users):
    before = (Booking.objects.get().status, Payment.objects.count(), CheckIn.objects.count(), Flight.objects.get().status)
    for role in ROLES:
        client = logged_in(users[role])
        for name, url, allowed in write_pages(world):
            if role in allowed:
                continue
            # when a role without the permission posts a complete-looking request
            response = client.post(url, {"method": "counter", "confirm": "on", "status": "cancelled", "reason": "x"})
            # then it is refused
            assert response.status_code == 403, (role, name)
    assert (Booking.objects.get().status, Payment.objects.count(), CheckIn.objects.count(), Flight.objects.get().status) == before
    assert Flight.objects.get().status == FlightStatus.SCHEDULED


def test_allowed_roles_posting_nothing_get_an_explanation_not_an_error(world, users):
    for role in AGENTS:
        client = logged_in(users[role])
        for name, url, allowed in write_pages(world):
            if role not in allowed:
                continue
            # when an allowed role posts an empty form
            status = client.post(url, {}).status_code
            # then the page answers with the form again (or "not found" for a missing itinerary), never a failure
            assert status in (200, 404), (role, name, status)


def test_anonymous_visitors_are_sent_to_the_office_login(client, world):
    login = reverse("office:login")
    for name, url, _allowed in pages(world) + write_pages(world):
        response = client.get(url) if name != "flight_status" else client.post(url)
        assert response.status_code == 302 and response["Location"].startswith(login), name
