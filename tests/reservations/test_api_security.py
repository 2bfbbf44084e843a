"""The bookings API asks for the office's permissions and audits every staff read, like the office booking page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import CustomerAccess
from crm.permissions import PASSENGER
from tests.crm.factories import CustomerFactory, UserFactory
from tests.reservations.api_support import BOOKINGS, assert_error
from tests.reservations.office_support import book, logged_in, pay_ticket_and_check_in

ROLES = ("agent", "supervisor", "marketer", "analyst", "passenger")
SEES_BOOKINGS = {"agent", "supervisor"}


@pytest.fixture
def world(db):
    """A ticketed, checked-in booking made by one customer, with a second customer travelling on it."""
    booker, traveller = CustomerFactory(), CustomerFactory()
    booking = pay_ticket_and_check_in(
        book(customer=booker, names=[("Ada", "Lovelace"), ("Alan", "Turing")], travellers=[booker, traveller])
    )
    return {"booking": booking, "booker": booker, "traveller": traveller}


@pytest.fixture
def users(agent, supervisor, marketer, analyst, passenger):
    return {"agent": agent, "supervisor": supervisor, "marketer": marketer, "analyst": analyst, "passenger": passenger[0]}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_bookings_through_the_api_exactly_when_the_office_lets_it(role, world, users, api_as):
    # given a booking with names, dates of birth, contacts, card and tickets, and a login in each role
    user = users[role]
    locator = world["booking"].record_locator
    client = api_as(user)
    office_page = logged_in(user).get(reverse("reservations_office:booking_detail", args=[locator]))

    # when the login reads the bookings, the booking and its boarding passes through the API
    listed = client.get(BOOKINGS)
    detail = client.get(f"{BOOKINGS}{locator}/")
    passes = client.get(f"{BOOKINGS}{locator}/boarding-passes/")

    # then staff get them only if the office booking page opens for them; a stranger passenger finds nothing
    if role in SEES_BOOKINGS:
        assert office_page.status_code == 200
        assert listed.json()["results"][0]["record_locator"] == locator
        assert detail.json()["passengers"][0]["given_name"] == "Ada"
        assert len(passes.json()) == 2
    elif role == "passenger":
        assert listed.status_code == 200 and listed.json()["count"] == 0
        assert_error(detail, 404, "not_found")
        assert_error(passes, 404, "not_found")
    else:
        assert office_page.status_code == 403
        for response in (listed, detail, passes):
            error = assert_error(response, 403, "permission_denied")
            assert "Lovelace" not in response.content.decode()
            assert error["fields"] == {}


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_roles_without_the_office_booking_pages_cannot_act_on_a_booking(role, world, users, api_as):
    # given a login the office refuses every booking page
    client = api_as(users[role])
    url = f"{BOOKINGS}{world['booking'].record_locator}/"

    # when it tries every action, then each is refused and the booking is unchanged
    for path, body in [
        ("payments/", {"method": "counter", "idempotency_key": "k1"}),
        ("cancel/", {}),
        ("seats/", {"segment": 1, "passenger": 1, "seat": "20A"}),
        ("check-in/", {"segment": 1, "passengers": [1]}),
    ]:
        assert_error(client.post(f"{url}{path}", body, format="json"), 403)
    world["booking"].refresh_from_db()
    assert world["booking"].status == "ticketed"


def test_an_agent_without_the_refund_permission_cannot_cancel_as_in_the_office(world, agent, api_as):
    # given an agent who may change bookings but not refund (the office cancel page asks both)
    from django.contrib.auth.models import Permission

    agent.user_permissions.set([])
    for group in agent.groups.all():
        group.permissions.remove(Permission.objects.get(codename="add_refund"))

    # when they cancel through the API
    response = api_as(agent).post(f"{BOOKINGS}{world['booking'].record_locator}/cancel/", {}, format="json")

    # then it is refused like the office page, and nothing changed
    assert_error(response, 403, "permission_denied")
    world["booking"].refresh_from_db()
    assert world["booking"].status == "ticketed"


def test_a_staff_read_of_a_booking_is_audited_for_every_customer_on_it(world, agent, api_as):
    # given an agent and a booking made by one customer with another on board
    locator = world["booking"].record_locator

    # when the agent reads the booking
    response = api_as(agent).get(f"{BOOKINGS}{locator}/")

    # then one API access is recorded for the booker and one for the traveller
    assert response.status_code == 200
    accesses = CustomerAccess.objects.filter(user=agent)
    assert {a.customer_id for a in accesses} == {world["booker"].pk, world["traveller"].pk}
    assert accesses.count() == 2
    assert {(a.surface, a.path, a.view_name) for a in accesses} == {("api", f"{BOOKINGS}{locator}/", "booking-detail")}


def test_staff_reading_boarding_passes_or_acting_on_a_booking_is_audited(world, supervisor, api_as):
    client = api_as(supervisor)
    locator = world["booking"].record_locator

    client.get(f"{BOOKINGS}{locator}/boarding-passes/")
    client.post(f"{BOOKINGS}{locator}/seats/", {"segment": 1, "passenger": 1, "seat": "20A"}, format="json")

    views = sorted(CustomerAccess.objects.filter(user=supervisor, customer=world["booker"]).values_list("view_name", flat=True))
    assert views == ["booking-boarding-passes", "booking-seats"]


def test_a_booking_staff_makes_for_a_customer_is_audited(agent, api_as, world):
    from tests.reservations.api_support import bookable_flight, booking_body

    flight = bookable_flight()
    body = booking_body(flight, fare_family="ECO_STANDARD", customer=world["booker"].customer_number)

    response = api_as(agent).post(BOOKINGS, body, format="json")

    assert response.status_code == 201, response.content
    access = CustomerAccess.objects.get(user=agent)
    assert (access.customer, access.surface, access.view_name) == (world["booker"], "api", "booking-list")


def test_the_booking_list_is_not_audited_like_the_customer_list(world, agent, api_as):
    assert api_as(agent).get(BOOKINGS).json()["count"] == 1
    assert not CustomerAccess.objects.exists()


def test_a_passenger_reading_their_own_booking_is_not_a_staff_access(world, roles, api_as):
    user = UserFactory(roles=[PASSENGER])
    world["booker"].user = user
    world["booker"].save(update_fields=["user"])

    assert api_as(user).get(f"{BOOKINGS}{world['booking'].record_locator}/").status_code == 200
    assert not CustomerAccess.objects.exists()
