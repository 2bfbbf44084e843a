"""Back-office: taking payment, changing a flight (quote first), cancelling (refund shown first),
waiving fees (Supervisors only, with a reason) and rebooking disrupted passengers free of charge."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from crm.models import CustomerAccess, TimelineEntry
from reservations import services
from reservations.gateway import CARD_DECLINED
from reservations.models import Booking, BookingStatus, ChargeKind, FlightStatus, Payment, PaymentStatus, Refund
from tests.crm.factories import CustomerFactory
from tests.reservations.factories import FlightFactory
from tests.reservations.office_support import book

VISA = "4242424242424242"


@pytest.fixture
def customer(db):
    return CustomerFactory(given_name="Grace", family_name="Hopper")


@pytest.fixture
def held(customer):
    return book(customer=customer, names=[("Grace", "Hopper")], travellers=[customer])


@pytest.fixture
def ticketed(held, make_staff):
    """Paid in full at the counter by a desk agent, so ticketed."""
    desk = make_staff("Agent", username="desk1")
    services.payment_take(booking=held, method="counter", idempotency_key=f"seed-{held.record_locator}", by=desk)
    return Booking.objects.get(pk=held.pk)


def url(name: str, booking, *args) -> str:  # noqa: ANN001, ANN002
    return reverse(f"reservations_office:{name}", args=[booking.record_locator, *args])


def card_post(page, **extra) -> dict:  # noqa: ANN001, ANN003
    return {
        "method": "card",
        "number": VISA,
        "expiry": "12/39",
        "cvv": "123",
        "holder": "Grace Hopper",
        "idempotency_key": page.context["card_form"].initial["idempotency_key"],
        **extra,
    }


# --- Payment ----------------------------------------------------------------------------------


def test_a_card_payment_tickets_the_booking_once_even_if_submitted_twice(agent_client, held):
    # given the payment page as the agent opened it
    page = agent_client.get(url("booking_pay", held))
    data = card_post(page)
    # when the agent submits the card twice (a double click)
    first = agent_client.post(url("booking_pay", held), data)
    second = agent_client.post(url("booking_pay", held), data)
    # then the customer is charged once, the booking is ticketed, and only brand and last 4 are kept
    assert first.status_code == 302 and second.status_code in (200, 302)
    payment = Payment.objects.get(booking=held)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.card_last4 == "4242" and payment.created_by is not None
    held.refresh_from_db()
    assert held.status == BookingStatus.TICKETED and held.tickets.count() == 1
    assert VISA not in str(Payment.objects.values().get())


def test_a_declined_card_is_explained_and_the_retry_gets_a_new_key(agent_client, held):
    # given the agent submitted a card the bank declines
    page = agent_client.get(url("booking_pay", held))
    response = agent_client.post(url("booking_pay", held), card_post(page, number=CARD_DECLINED))
    # then the page says so, the card number is not written back, and the retry form carries a new key
    assert response.status_code == 200
    assert "declined" in response.content.decode()
    assert CARD_DECLINED not in response.content.decode()
    assert response.context["card_form"].initial["idempotency_key"] != page.context["card_form"].initial["idempotency_key"]
    # and a good card on the retry form is charged
    retry = agent_client.post(url("booking_pay", held), card_post(response))
    assert retry.status_code == 302
    held.refresh_from_db()
    assert held.status == BookingStatus.TICKETED
    assert [p.status for p in Payment.objects.filter(booking=held).order_by("id")] == ["declined", "succeeded"]


def test_a_counter_payment_is_recorded_by_the_agent(agent, agent_client, held):
    page = agent_client.get(url("booking_pay", held))
    key = page.context["counter_form"].initial["idempotency_key"]
    response = agent_client.post(url("booking_pay", held), {"method": "counter", "idempotency_key": key})
    assert response.status_code == 302
    payment = Payment.objects.get(booking=held)
    assert payment.method == "counter" and payment.created_by == agent and payment.amount == held.total_amount


def test_a_bad_card_number_is_a_form_error_and_is_not_written_back(agent_client, held):
    page = agent_client.get(url("booking_pay", held))
    response = agent_client.post(url("booking_pay", held), card_post(page, number="4242424242424241"))
    assert response.status_code == 200
    assert "number" in response.context["card_form"].errors
    assert "4242424242424241" not in response.content.decode()
    assert not Payment.objects.exists()


def test_a_forged_payment_key_is_refused(agent_client, held):
    page = agent_client.get(url("booking_pay", held))
    response = agent_client.post(url("booking_pay", held), card_post(page, idempotency_key="office-OTHER1-" + "0" * 32))
    assert response.status_code == 200 and not Payment.objects.exists()


def test_the_payment_page_is_audited_for_the_customer(agent, agent_client, customer, held):
    agent_client.get(url("booking_pay", held))
    assert CustomerAccess.objects.filter(customer=customer, user=agent, view_name="reservations_office:booking_pay").exists()


# --- Change -----------------------------------------------------------------------------------


@pytest.fixture
def later_flight(ticketed):
    flight = ticketed.segments.get().flight
    return FlightFactory(scheduled_departure=flight.scheduled_departure + timedelta(hours=6))


def test_the_change_page_quotes_the_fare_difference_and_fee_before_anything_changes(agent_client, ticketed, later_flight):
    # when the agent picks a later flight on the route
    response = agent_client.get(url("segment_change", ticketed, 1), {"flight": later_flight.pk})
    # then the quote shows the change fee (50 on Standard) and the total to pay, and nothing changed yet
    assert response.status_code == 200
    quote = response.context["quote"]
    assert quote.change_fee == Decimal("50.00")
    assert "To pay" in response.content.decode()
    assert ticketed.segments.get().flight != later_flight


def test_an_agent_confirms_a_change_and_goes_on_to_take_the_fee(agent_client, ticketed, later_flight):
    response = agent_client.post(url("segment_change", ticketed, 1), {"new_flight": later_flight.pk})
    ticketed.refresh_from_db()
    assert ticketed.segments.get(status="confirmed").flight == later_flight
    assert ticketed.balance_due == Decimal("50.00")
    assert response.status_code == 302 and response["Location"] == url("booking_pay", ticketed)


def test_agents_do_not_see_the_waiver_and_are_refused_if_they_send_one(agent_client, ticketed, later_flight):
    # the agent's change form has no waiver field
    page = agent_client.get(url("segment_change", ticketed, 1), {"flight": later_flight.pk})
    assert "waive_reason" not in page.context["form"].fields
    assert "waive_reason" not in page.content.decode()
    # and posting one anyway is forbidden and changes nothing
    response = agent_client.post(url("segment_change", ticketed, 1), {"new_flight": later_flight.pk, "waive_reason": "Nice"})
    assert response.status_code == 403
    assert ticketed.segments.get(status="confirmed").flight != later_flight


def test_a_supervisor_waives_the_change_fee_with_a_reason_that_is_kept(
    supervisor, supervisor_client, customer, ticketed, later_flight
):
    # the supervisor sees the waiver
    page = supervisor_client.get(url("segment_change", ticketed, 1), {"flight": later_flight.pk})
    assert "waive_reason" in page.context["form"].fields
    # when they confirm with a reason
    response = supervisor_client.post(
        url("segment_change", ticketed, 1), {"new_flight": later_flight.pk, "waive_reason": "Medical certificate"}
    )
    # then nothing is owed, and the waiver line carries the reason and the supervisor
    assert response.status_code == 302
    ticketed.refresh_from_db()
    assert ticketed.balance_due == 0
    waiver = ticketed.charges.get(kind=ChargeKind.WAIVER)
    assert waiver.amount == Decimal("-50.00") and waiver.reason == "Medical certificate" and waiver.created_by == supervisor
    assert TimelineEntry.objects.filter(customer=customer, kind="booking.fee_waived").exists()


def test_a_change_to_a_full_flight_is_explained_and_changes_nothing(agent_client, ticketed):
    full = FlightFactory(
        scheduled_departure=ticketed.segments.get().flight.scheduled_departure + timedelta(hours=3), inventory={"economy": 0}
    )
    response = agent_client.post(url("segment_change", ticketed, 1), {"new_flight": full.pk})
    assert response.status_code == 200 and response.context["form"].errors
    assert ticketed.segments.get(status="confirmed").flight != full


# --- Cancel -----------------------------------------------------------------------------------


def test_the_cancel_page_shows_the_refund_before_and_changes_nothing(agent_client, ticketed):
    # when the agent opens the cancel page of a non-refundable Standard booking
    response = agent_client.get(url("booking_cancel", ticketed))
    # then it shows what would come back (the taxes) and the booking is untouched
    assert response.status_code == 200
    quote = response.context["quote"]
    assert quote.refund_total == Decimal("25.00")
    assert Booking.objects.get(pk=ticketed.pk).status == BookingStatus.TICKETED
    assert not Refund.objects.exists()


def test_confirming_the_cancellation_refunds_what_was_shown(agent_client, ticketed):
    shown = agent_client.get(url("booking_cancel", ticketed)).context["quote"].refund_total
    response = agent_client.post(url("booking_cancel", ticketed), {"confirm": "on", "reason": "Customer request"})
    assert response.status_code == 302
    ticketed.refresh_from_db()
    assert ticketed.status == BookingStatus.CANCELLED
    assert sum(r.amount for r in Refund.objects.filter(booking=ticketed)) == shown


def test_a_cancellation_needs_the_confirmation_box(agent_client, ticketed):
    response = agent_client.post(url("booking_cancel", ticketed), {"reason": "oops"})
    assert response.status_code == 200 and "confirm" in response.context["form"].errors
    assert Booking.objects.get(pk=ticketed.pk).status == BookingStatus.TICKETED


def test_agents_cannot_waive_a_cancellation_fee(agent_client, ticketed):
    response = agent_client.post(url("booking_cancel", ticketed), {"confirm": "on", "waive_reason": "Because"})
    assert response.status_code == 403
    assert Booking.objects.get(pk=ticketed.pk).status == BookingStatus.TICKETED


def test_the_refund_status_is_on_the_booking_page(agent_client, ticketed):
    agent_client.post(url("booking_cancel", ticketed), {"confirm": "on", "reason": "Customer request"})
    html = agent_client.get(url("booking_detail", ticketed)).content.decode()
    refund = Refund.objects.get(booking=ticketed)
    assert refund.get_status_display() in html and "Customer request" in html


def test_a_counter_refund_stays_pending_until_an_agent_pays_it_out(agent_client, marketer_client, ticketed):
    # given a counter-paid booking cancelled, so its refund waits at the counter
    agent_client.post(url("booking_cancel", ticketed), {"confirm": "on", "reason": "Customer request"})
    refund = Refund.objects.get(booking=ticketed)
    assert refund.status == "pending"
    paid_out = url("refund_paid_out", ticketed, refund.pk)
    # when a marketer tries to record it, then it is forbidden
    assert marketer_client.post(paid_out).status_code == 403
    # when the agent records handing the money over, then the refund is complete
    assert agent_client.post(paid_out).status_code == 302
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.completed_at is not None


# --- Rebook -----------------------------------------------------------------------------------


def test_a_disrupted_booking_is_rebooked_free_of_charge_and_leaves_the_list(supervisor, agent_client, ticketed):
    # given the flight is cancelled and the booking is on the disruption list
    flight = ticketed.segments.get().flight
    services.flight_status_update(flight=flight, by=supervisor, status=FlightStatus.CANCELLED, reason="Strike")
    spare = FlightFactory(scheduled_departure=flight.scheduled_departure + timedelta(hours=4))
    page = agent_client.get(url("segment_rebook", ticketed, 1))
    assert spare in page.context["alternatives"]
    total = Booking.objects.get(pk=ticketed.pk).total_amount
    # when an agent rebooks onto the spare flight
    response = agent_client.post(url("segment_rebook", ticketed, 1), {"new_flight": spare.pk, "reason": "Strike"})
    # then the booking flies on it, owes nothing more, and is no longer disrupted
    assert response.status_code == 302
    ticketed.refresh_from_db()
    assert ticketed.segments.get(status="confirmed").flight == spare
    assert ticketed.total_amount == total and ticketed.balance_due == 0
    disrupted = agent_client.get(reverse("reservations_office:disruption_list")).context["page_obj"].object_list
    assert ticketed not in disrupted


def test_a_rebooking_without_a_reason_is_refused(agent_client, ticketed):
    spare = FlightFactory(scheduled_departure=ticketed.segments.get().flight.scheduled_departure + timedelta(hours=4))
    response = agent_client.post(url("segment_rebook", ticketed, 1), {"new_flight": spare.pk, "reason": ""})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    assert ticketed.segments.get(status="confirmed").flight != spare
