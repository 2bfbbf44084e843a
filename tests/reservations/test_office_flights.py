"""Back-office flights: the day's departures, status updates by operations staff, the manifest,
check-in by an agent at the desk, and the list of disrupted bookings."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reservations.models import Booking, ChargeKind, CheckIn, Coupon, CouponStatus, Flight, FlightStatus, Payment, PaymentMethod
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import book, logged_in, pay_and_ticket, pay_ticket_and_check_in

FLIGHTS = reverse("reservations_office:flight_list")
DISRUPTIONS = reverse("reservations_office:disruption_list")


def status_url(flight: Flight) -> str:
    return reverse("reservations_office:flight_status", args=[flight.pk])


def manifest_url(flight: Flight) -> str:
    return reverse("reservations_office:flight_manifest", args=[flight.pk])


def local(moment, flight: Flight):  # noqa: ANN001, ANN201
    return moment.astimezone(ZoneInfo(flight.origin.time_zone))


@pytest.fixture
def flight(db):
    return FlightFactory()


# --- The day's flights ------------------------------------------------------------------------


def test_the_flight_list_shows_the_days_departures_in_local_time(agent_client, flight):
    # given another flight on the next day
    later = FlightFactory(scheduled_departure=flight.scheduled_departure + timedelta(days=1))
    # when an agent opens the list for the flight's local date
    response = agent_client.get(FLIGHTS, {"day": flight.service_date.isoformat()})
    html = response.content.decode()
    # then that day's flight is shown at the origin's clock time, not the next day's
    assert response.status_code == 200
    assert flight.flight_code in html and later.flight_code not in html
    assert local(flight.scheduled_departure, flight).strftime("%H:%M") in html


def test_a_bad_date_or_airport_shows_an_error_not_a_failure(agent_client, db):
    response = agent_client.get(FLIGHTS, {"day": "31/02/2026", "origin": "L!"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"day", "origin"}


def test_the_flight_list_costs_the_same_queries_however_many_flights(agent_client, db, django_assert_max_num_queries):
    # the first flight leaves at 09:00 at its origin, so the eight later ones stay on the same local
    # day whatever the hour the test runs
    template = FlightFactory.build()
    morning = local(template.scheduled_departure, template).replace(hour=9, minute=0)
    flight = FlightFactory(scheduled_departure=morning)
    query = {"day": flight.service_date.isoformat()}
    with CaptureQueriesContext(connection) as first:
        agent_client.get(FLIGHTS, query)
    for n in range(1, 9):
        FlightFactory(route=flight.route, scheduled_departure=flight.scheduled_departure + timedelta(minutes=5 * n))
    with django_assert_max_num_queries(len(first.captured_queries)):
        response = agent_client.get(FLIGHTS, query)
    assert len(response.context["rows"]) == 9


# --- Status ------------------------------------------------------------------------------------


def test_a_supervisor_delays_a_flight_to_a_new_local_time_and_gate(supervisor_client, flight):
    # when a supervisor enters a new departure time as the origin's clock reads, and a gate
    new_local = local(flight.scheduled_departure, flight) + timedelta(minutes=50)
    response = supervisor_client.post(
        status_url(flight),
        {"status": "delayed", "estimated_departure": new_local.strftime("%Y-%m-%dT%H:%M"), "gate": "b 42", "reason": "Late crew"},
    )
    # then the flight is delayed to exactly that moment at the origin, with the gate
    assert response.status_code == 302
    flight.refresh_from_db()
    assert flight.status == FlightStatus.DELAYED and flight.gate == "B42"
    assert flight.estimated_departure == new_local


def test_cancelling_without_a_reason_is_refused_and_changes_nothing(supervisor_client, flight):
    response = supervisor_client.post(status_url(flight), {"status": "cancelled", "reason": ""})
    assert response.status_code == 200
    assert "reason" in response.context["status_form"].errors
    flight.refresh_from_db()
    assert flight.status == FlightStatus.SCHEDULED


def test_cancelling_a_flight_puts_its_bookings_on_the_disruption_list(supervisor_client, flight):
    # given a ticketed booking on the flight
    booking = pay_and_ticket(book(flight=flight, names=[("Ada", "Lovelace")]))
    # when a supervisor cancels the flight with a reason
    response = supervisor_client.post(status_url(flight), {"status": "cancelled", "reason": "Technical fault"})
    assert response.status_code == 302
    # then the booking is flagged and listed as disrupted, with a rebook action for its flight
    booking.refresh_from_db()
    assert booking.disrupted_at is not None
    page = supervisor_client.get(DISRUPTIONS)
    assert booking in page.context["page_obj"].object_list
    assert reverse("reservations_office:segment_rebook", args=[booking.record_locator, 1]) in page.content.decode()


def test_agents_at_the_airport_set_a_delay_and_a_gate(agent_client, flight):
    # when an agent posts a new gate and a delay
    new_time = flight.scheduled_departure + timedelta(minutes=40)
    local = new_time.astimezone(ZoneInfo(flight.origin.time_zone)).strftime("%Y-%m-%dT%H:%M")
    response = agent_client.post(
        status_url(flight), {"status": "delayed", "estimated_departure": local, "gate": "B42", "reason": "Late inbound"}
    )
    # then the flight shows them
    assert response.status_code == 302
    flight.refresh_from_db()
    assert (flight.status, flight.gate, flight.estimated_departure) == (FlightStatus.DELAYED, "B42", new_time)


def test_marketers_may_not_change_a_flights_status(marketer_client, flight):
    # when a marketer posts a cancellation
    response = marketer_client.post(status_url(flight), {"status": "cancelled", "reason": "Because"})
    # then it is forbidden and nothing changes
    assert response.status_code == 403
    flight.refresh_from_db()
    assert flight.status == FlightStatus.SCHEDULED


def test_a_bad_gate_is_a_form_error(supervisor_client, flight):
    response = supervisor_client.post(status_url(flight), {"status": "scheduled", "gate": "B-42!"})
    assert response.status_code == 200 and "gate" in response.context["status_form"].errors
    flight.refresh_from_db()
    assert flight.gate == ""


# --- Manifest ----------------------------------------------------------------------------------


def test_the_manifest_lists_seats_check_in_bags_and_ssr_codes(agent_client, flight):
    # given one booking checked in with a bag and a vegan meal, and one only ticketed
    checked = pay_ticket_and_check_in(book(flight=flight, names=[("Ada", "Lovelace")]))
    waiting = pay_and_ticket(book(flight=flight, names=[("Bob", "Byron")]))
    # when an agent opens the manifest
    response = agent_client.get(manifest_url(flight))
    html = response.content.decode()
    # then both travellers are there with their booking, check-in state, bags and meal code
    assert response.status_code == 200
    assert checked.record_locator in html and waiting.record_locator in html
    assert "LOVELACE/ADA" in html and "BYRON/BOB" in html
    assert "1 bag, 18.5 kg" in html and "VGML" in html
    assert response.context["totals"]["checked_in"] == 1 and response.context["totals"]["booked"] == 2


def test_the_manifest_costs_the_same_queries_however_full_the_flight(agent_client, flight, django_assert_max_num_queries):
    pay_ticket_and_check_in(book(flight=flight, names=[("Ada", "Lovelace")]))
    with CaptureQueriesContext(connection) as first:
        agent_client.get(manifest_url(flight))
    for n in range(5):
        pay_ticket_and_check_in(book(flight=flight, names=[(f"P{n}", "Many"), (f"Q{n}", "Many")]))
    with django_assert_max_num_queries(len(first.captured_queries)):
        response = agent_client.get(manifest_url(flight))
    assert response.context["totals"]["booked"] == 11


# --- Check-in at the desk ---------------------------------------------------------------------


@pytest.fixture
def departing_soon(db):
    return FlightFactory(scheduled_departure=(timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0))


def check_in_url(booking: Booking) -> str:
    return reverse("reservations_office:segment_check_in", args=[booking.record_locator, 1])


def test_an_agent_checks_a_traveller_in_with_a_seat_and_bags(agent, agent_client, departing_soon):
    # given a ticketed booking for a customer on a flight whose check-in is open
    customer = CustomerFactory()
    booking = pay_and_ticket(book(customer=customer, flight=departing_soon, names=[("Ada", "Lovelace")]))
    passenger = booking.passengers.get()
    prefix = f"p{passenger.pk}"
    # when the agent checks her in on seat 4C with one 20 kg bag and one cabin bag
    response = agent_client.post(
        check_in_url(booking),
        {f"{prefix}-selected": "on", f"{prefix}-seat": "4c", f"{prefix}-hand_carry": "1", f"{prefix}-bag_1": "20"},
    )
    # then she is checked in by that agent at the desk, and the coupon says so
    assert response.status_code == 302, response.content.decode()
    check_in = CheckIn.objects.get(passenger=passenger)
    assert check_in.seat == "4C" and check_in.bags == 1 and check_in.bag_weights_kg == [Decimal("20.0")]
    assert check_in.channel == "agent" and check_in.checked_in_by == agent
    assert Coupon.objects.get(ticket__passenger=passenger).status == CouponStatus.CHECKED_IN


def test_check_in_before_the_window_opens_is_refused_with_the_reason(agent_client, flight):
    # given a ticketed booking on a flight ten days away
    booking = pay_and_ticket(book(flight=flight, names=[("Ada", "Lovelace")]))
    passenger = booking.passengers.get()
    prefix = f"p{passenger.pk}"
    # when the agent tries to check in
    response = agent_client.post(check_in_url(booking), {f"{prefix}-selected": "on", f"{prefix}-hand_carry": "1"})
    # then the page says check-in is not open yet and nothing is recorded
    assert response.status_code == 200
    assert "opens at" in response.context["error"]
    assert not CheckIn.objects.exists()


def test_a_too_heavy_bag_is_refused_on_the_travellers_form(agent_client, departing_soon):
    booking = pay_and_ticket(book(flight=departing_soon, names=[("Ada", "Lovelace")]))
    prefix = f"p{booking.passengers.get().pk}"
    response = agent_client.post(
        check_in_url(booking), {f"{prefix}-selected": "on", f"{prefix}-hand_carry": "1", f"{prefix}-bag_1": "45"}
    )
    assert response.status_code == 200
    assert not CheckIn.objects.exists()


def three_bags(booking: Booking) -> dict:
    """Ada at the desk with three 20 kg bags: more than any fare includes."""
    prefix = f"p{booking.passengers.get().pk}"
    return {f"{prefix}-selected": "on", f"{prefix}-hand_carry": "1"} | {f"{prefix}-bag_{n}": "20" for n in (1, 2, 3)}


def test_the_desk_sees_the_fees_and_checks_in_only_once_they_are_taken(agent_client, departing_soon):
    # given a ticketed booking and a traveller with more bags than the fare includes
    booking = pay_and_ticket(book(flight=departing_soon, names=[("Ada", "Lovelace")]))
    paid_before = Booking.objects.get(pk=booking.pk).paid_amount
    # when the agent sends the check-in
    quoted = agent_client.post(check_in_url(booking), three_bags(booking))
    # then the fees are shown to be settled first, and nobody is checked in
    assert quoted.status_code == 200 and quoted.context["quote"].total_due > 0
    assert not CheckIn.objects.exists()
    fees = quoted.context["fees"]
    # when the agent takes them at the counter
    settled = agent_client.post(
        check_in_url(booking),
        three_bags(booking)
        | {"settle": "counter", "total": fees.initial["total"], "idempotency_key": fees.initial["idempotency_key"]},
    )
    # then the counter payment covers them and the traveller is checked in
    assert settled.status_code == 302, settled.content.decode()
    payment = Payment.objects.get(booking=booking, method=PaymentMethod.COUNTER)
    assert payment.amount == quoted.context["quote"].total_due
    assert CheckIn.objects.filter(segment__booking=booking).count() == 1
    booking.refresh_from_db()
    assert booking.balance_due == 0 and booking.paid_amount == paid_before + payment.amount


def test_only_a_supervisor_waives_the_check_in_fees_and_only_with_a_reason(agent_client, supervisor_client, departing_soon):
    # given a traveller with more bags than the fare includes, quoted at the desk
    booking = pay_and_ticket(book(flight=departing_soon, names=[("Ada", "Lovelace")]))
    quoted = agent_client.post(check_in_url(booking), three_bags(booking))
    hidden = {k: quoted.context["fees"].initial[k] for k in ("total", "idempotency_key")}
    # when an agent without the permission tries to waive them, then nobody is checked in
    refused = agent_client.post(check_in_url(booking), three_bags(booking) | hidden | {"settle": "waive", "waive_reason": "x"})
    assert refused.status_code == 200 and not CheckIn.objects.exists()
    # when a supervisor waives them without a reason, then nobody is checked in either
    no_reason = supervisor_client.post(check_in_url(booking), three_bags(booking) | hidden | {"settle": "waive"})
    assert no_reason.status_code == 200 and not CheckIn.objects.exists()
    # when a supervisor waives them with a reason
    waived = supervisor_client.post(
        check_in_url(booking), three_bags(booking) | hidden | {"settle": "waive", "waive_reason": "Inbound bags delayed"}
    )
    # then the traveller is checked in, nothing is owed, and the waiver keeps its reason
    assert waived.status_code == 302
    assert CheckIn.objects.filter(segment__booking=booking).count() == 1
    booking.refresh_from_db()
    assert booking.balance_due == 0
    assert booking.charges.get(kind=ChargeKind.WAIVER).reason == "Inbound bags delayed"


def test_marketers_and_analysts_see_flights_but_not_manifests(marketer, analyst, flight):
    for user in (marketer, analyst):
        client = logged_in(user)
        assert client.get(FLIGHTS).status_code == 200
        assert client.get(manifest_url(flight)).status_code == 403
        assert client.get(DISRUPTIONS).status_code == 403
