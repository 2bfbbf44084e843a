"""Back-office: finding a booking and seeing it whole, with every look at a customer's booking audited
and travel documents masked for roles that may not see them."""

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import CustomerAccess
from crm.permissions import MARKETER, mask
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import PASSPORT, book, logged_in, pay_ticket_and_check_in

SEARCH = reverse("reservations_office:booking_search")


def detail(booking) -> str:  # noqa: ANN001
    return reverse("reservations_office:booking_detail", args=[booking.record_locator])


@pytest.fixture
def customer(db):
    return CustomerFactory(given_name="Grace", family_name="Hopper")


@pytest.fixture
def trip(customer):
    booking = book(customer=customer, names=[("Grace", "Hopper"), ("Alan", "Turing")], travellers=[customer, None])
    return pay_ticket_and_check_in(booking, refund=True)


# --- Finding a booking ------------------------------------------------------------------------


def test_a_booking_reference_opens_the_booking(agent_client, trip):
    # when an agent searches for the reference in lower case
    response = agent_client.get(SEARCH, {"q": trip.record_locator.lower()})
    # then they go straight to the booking
    assert response.status_code == 302 and response["Location"] == detail(trip)


def test_a_ticket_number_opens_its_booking(agent_client, trip):
    # when an agent searches for a 13-digit e-ticket number written with a dash
    number = trip.tickets.first().number
    response = agent_client.get(SEARCH, {"q": f"{number[:3]}-{number[3:]}"})
    # then they go straight to the booking the ticket belongs to
    assert response.status_code == 302 and response["Location"] == detail(trip)


def test_a_passenger_name_lists_their_bookings_even_misspelt(agent_client, trip):
    # given another booking for someone else
    other = book(names=[("Maria", "Garcia")])
    for query in ("turing", "Alan Turing", "Alan Turnig"):
        # when an agent searches for the traveller's name (or a typo of it)
        response = agent_client.get(SEARCH, {"q": query})
        # then the booking is listed, the other one is not
        found = list(response.context["page_obj"].object_list)
        assert trip in found and other not in found, query


def test_an_unknown_reference_lists_nothing_instead_of_failing(agent_client, trip):
    response = agent_client.get(SEARCH, {"q": "ZZZZ22"})
    assert response.status_code == 200
    assert list(response.context["page_obj"].object_list) == []
    assert "No booking matches" in response.content.decode()


def test_the_booking_list_costs_the_same_queries_however_many_bookings(agent_client, django_assert_max_num_queries):
    # given one booking and the list's query count
    book(names=[("Ann", "Smith")])
    agent_client.get(SEARCH)
    with CaptureQueriesContext(connection) as first:
        assert agent_client.get(SEARCH, {"q": "smith"}).status_code == 200
    # when there are many more bookings, with more passengers, on more flights
    for n in range(12):
        book(flight=FlightFactory(), names=[("Ann", "Smith"), (f"Bob{n}", "Smith"), ("Cy", "Jones")])
    # then listing them takes no more queries
    with django_assert_max_num_queries(len(first.captured_queries)):
        response = agent_client.get(SEARCH, {"q": "smith"})
    assert len(response.context["page_obj"].object_list) == 13


# --- The booking page -------------------------------------------------------------------------


def test_the_booking_page_shows_passengers_flights_money_tickets_and_check_in(agent_client, trip):
    # when an agent opens the booking
    response = agent_client.get(detail(trip))
    html = response.content.decode()
    # then it shows the travellers, the flight in local times, the itemised charges and what was paid and refunded
    assert response.status_code == 200
    assert "Grace Hopper" in html and "Alan Turing" in html
    flight = trip.segments.get().flight
    local = flight.scheduled_departure.astimezone(ZoneInfo(flight.origin.time_zone))
    assert local.strftime("%H:%M") in html
    assert "Fuel surcharge" in html
    assert "•••• 4242" in html and "Goodwill" in html and "Refunded" in html
    # and the e-tickets with their coupons, and who is checked in with which seat and bags
    for ticket in trip.tickets.all():
        assert ticket.number in html
    assert "Checked in" in html and "18.5 kg" in html


def test_each_look_at_a_booking_is_audited_for_every_customer_on_it(agent, agent_client, customer):
    # given a booking made by one customer on which another customer travels
    friend = CustomerFactory()
    booking = book(customer=customer, names=[("Grace", "Hopper"), ("Ada", "Byron")], travellers=[customer, friend])
    # when an agent opens it
    agent_client.get(detail(booking))
    # then each of the two customers has one access row naming the agent and the page
    for person in (customer, friend):
        (access,) = CustomerAccess.objects.filter(customer=person)
        assert access.user == agent and access.path == detail(booking)
        assert access.view_name == "reservations_office:booking_detail"


def test_every_page_showing_the_booking_is_audited(agent, agent_client, customer, trip):
    # given the pages an agent works on a booking through
    names = ["booking_detail", "booking_pay", "booking_cancel", "segment_change", "segment_rebook", "segment_check_in"]
    for name in names:
        args = [trip.record_locator] if name.startswith("booking") else [trip.record_locator, 1]
        # when the agent opens each of them
        assert agent_client.get(reverse(f"reservations_office:{name}", args=args)).status_code == 200, name
    # then each look is in the customer's access log under that page's name
    logged = set(CustomerAccess.objects.filter(customer=customer, user=agent).values_list("view_name", flat=True))
    assert logged == {f"reservations_office:{name}" for name in names}


def test_a_booking_without_a_customer_writes_no_access_row(agent_client):
    booking = book(names=[("Walk", "In")])
    assert agent_client.get(detail(booking)).status_code == 200
    assert CustomerAccess.objects.count() == 0


def test_agents_see_travel_documents_in_full(agent_client, trip):
    html = agent_client.get(detail(trip)).content.decode()
    assert f"{PASSPORT}0" in html


def test_roles_without_identity_documents_see_them_masked(make_staff, trip):
    # given a staff member allowed to see bookings but not identity documents
    user = make_staff(MARKETER, username="bookingreader")
    for codename in ("view_booking", "view_bookingpassenger"):
        user.user_permissions.add(Permission.objects.get(content_type__app_label="reservations", codename=codename))
    # when they open the booking
    html = logged_in(user).get(detail(trip)).content.decode()
    # then the document number never reaches the page, only its last two characters
    assert PASSPORT not in html
    assert mask(f"{PASSPORT}0") in html
    assert "Document numbers are masked for your role." in html


def test_an_unknown_reference_is_a_404(agent_client, db):
    assert agent_client.get(reverse("reservations_office:booking_detail", args=["ZZZZ22"])).status_code == 404
    assert agent_client.get(reverse("reservations_office:booking_detail", args=["not-a-ref"])).status_code == 404


def test_the_booking_page_costs_the_same_queries_however_big_the_party(agent_client, customer, django_assert_max_num_queries):
    # given a one-passenger booking and its page's query count
    small = pay_ticket_and_check_in(book(customer=customer, names=[("Grace", "Hopper")], travellers=[customer]))
    with CaptureQueriesContext(connection) as first:
        assert agent_client.get(detail(small)).status_code == 200
    # when a booking has six passengers, paid, ticketed and checked in
    names = [(f"Given{n}", f"Family{n}") for n in range(6)]
    big = pay_ticket_and_check_in(book(customer=customer, flight=FlightFactory(), names=names), refund=True)
    # then its page needs no more queries
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert agent_client.get(detail(big)).status_code == 200
