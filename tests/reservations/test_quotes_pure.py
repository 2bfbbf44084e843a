"""Quotes and previews change nothing, and say exactly what the action then does.

Each test looks at a quote inside ``nothing_changes()`` (no write or lock in the SQL, the same rows, no
event, nothing queued, no hook), then performs the action and compares: the refund per payment, the fees,
the seats released, the balance due.

Prices as in test_changes: an empty flight sells 87.00 a seat, a busy one 174.00, plus a 25.00 tax.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import CustomerAccess
from reservations import services
from reservations.models import BookingStatus, ChargeKind, Refund, SegmentStatus
from tests.reservations.api_support import BOOKINGS
from tests.reservations.check_in_helpers import paying_card
from tests.reservations.purity import ACCESS_AUDIT, nothing_changes
from tests.reservations.test_changes import CHEAP, DEAR, TAX, available, busy_flight, empty_flight, family, segment_of
from tests.reservations.test_payments import book, pay

FLEX_CANCEL_FEE = Decimal("30.00")


@pytest.fixture
def flex(db) -> str:
    """Refundable: changes for 20.00, a 30.00 cancellation fee."""
    return family(
        "ECO_FLEX", ("B", "H"), name="Flex", refundable=True, change_fee=Decimal("20.00"), cancellation_fee=FLEX_CANCEL_FEE
    )


@pytest.fixture
def customer(passenger):
    return passenger[1]


def paid_in_two(booking, django_capture_on_commit_callbacks, first: Decimal = Decimal("100.00")):  # noqa: ANN001, ANN201
    """Paid by two cards, so a refund has to be split between them."""
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key="first", amount=first)
        pay(booking, key="second")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and booking.payments.count() == 2
    return booking


def refunds_by_payment(booking) -> dict[int, Decimal]:  # noqa: ANN001
    return {r.payment_id: r.amount for r in Refund.objects.filter(booking=booking)}


def planned_by_payment(quote) -> dict[int, Decimal]:  # noqa: ANN001
    return {r.payment.pk: r.amount for r in quote.refunds}


def office(name: str, booking, *args) -> str:  # noqa: ANN001, ANN002
    return reverse(f"reservations_office:{name}", args=[booking.record_locator, *args])


# --- Cancellation --------------------------------------------------------------------------------


def test_the_cancellation_quote_locks_writes_and_sends_nothing_and_names_each_refund(
    flex, customer, django_capture_on_commit_callbacks
):
    # given two travellers on a refundable fare, paid with two cards
    flight = empty_flight()
    booking = paid_in_two(book(flights=[flight], family=flex, adults=2, customer=customer), django_capture_on_commit_callbacks)
    # when the quote is asked for
    with nothing_changes():
        quote = services.booking_cancel_quote(booking=booking)
    # then it keeps a fee per traveller and refunds the rest, newest payment first
    assert quote.fees == 2 * FLEX_CANCEL_FEE
    assert quote.refund_total == 2 * (CHEAP + TAX) - 2 * FLEX_CANCEL_FEE
    first, second = booking.payments.order_by("created_at", "id")
    assert planned_by_payment(quote) == {second.pk: second.amount, first.pk: quote.refund_total - second.amount}
    assert [(r.flight_id, r.seats) for r in quote.releases] == [(flight.pk, 2)]
    # and cancelling for real does exactly that
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.booking_cancel(booking=booking, reason="Plans changed")
    assert refunds_by_payment(cancelled) == planned_by_payment(quote)
    assert sum(c.amount for c in cancelled.charges.filter(kind=ChargeKind.CANCELLATION_FEE)) == quote.fees
    assert available(flight) == 24


def test_a_quote_for_a_held_booking_refunds_nothing_and_releases_the_seats_the_cancellation_does(flex, customer):
    # given a held booking for three on one flight
    flight = empty_flight()
    booking = book(flights=[flight], family=flex, adults=3, customer=customer)
    # when quoted
    with nothing_changes():
        quote = services.booking_cancel_quote(booking=booking)
    # then nothing is refunded or kept, and the three seats go back
    assert (quote.refund_total, quote.fees, [r.seats for r in quote.releases]) == (0, 0, [3])
    before = available(flight)
    services.booking_cancel(booking=booking)
    assert available(flight) == before + 3 and not Refund.objects.exists()


def test_a_quote_with_the_fee_waived_is_what_the_waived_cancellation_refunds(
    flex, customer, supervisor, django_capture_on_commit_callbacks
):
    # given a paid refundable booking
    booking = paid_in_two(book(flights=[empty_flight()], family=flex, customer=customer), django_capture_on_commit_callbacks)
    # when a supervisor asks what waiving the fee would refund
    with nothing_changes():
        quote = services.booking_cancel_quote(booking=booking, by=supervisor, waive_reason="Bereavement")
    # then the whole payment comes back
    assert (quote.fees, quote.waived, quote.refund_total) == (FLEX_CANCEL_FEE, FLEX_CANCEL_FEE, CHEAP + TAX)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = services.booking_cancel(booking=booking, by=supervisor, waive_reason="Bereavement")
    assert refunds_by_payment(cancelled) == planned_by_payment(quote)


def test_getting_the_portal_cancel_page_changes_nothing_and_the_cancellation_refunds_what_it_showed(
    flex, customer, passenger_client, django_capture_on_commit_callbacks
):
    # given the passenger's paid refundable booking
    booking = paid_in_two(book(flights=[empty_flight()], family=flex, customer=customer), django_capture_on_commit_callbacks)
    page = f"/trips/{booking.record_locator}/cancel/"
    # when they open the cancel page
    with nothing_changes():
        response = passenger_client.get(page)
    # then it shows the refund and nothing happened
    assert response.status_code == 200
    shown = response.context["preview"]
    assert shown.refund_total == CHEAP + TAX - FLEX_CANCEL_FEE
    # and confirming refunds exactly that, to the same cards
    with django_capture_on_commit_callbacks(execute=True):
        assert passenger_client.post(page, {"confirm": "on"}).status_code == 302
    assert refunds_by_payment(booking) == planned_by_payment(shown)


def test_getting_the_office_cancel_page_writes_only_the_access_audit(
    flex, customer, agent_client, django_capture_on_commit_callbacks
):
    # given a paid booking
    booking = paid_in_two(book(flights=[empty_flight()], family=flex, customer=customer), django_capture_on_commit_callbacks)
    # when an agent opens its cancel page
    with nothing_changes(allow=(ACCESS_AUDIT,)):
        response = agent_client.get(office("booking_cancel", booking))
    # then the quote is shown and the only row written is the audit of the look
    assert response.status_code == 200
    assert response.context["quote"].refund_total == CHEAP + TAX - FLEX_CANCEL_FEE
    assert CustomerAccess.objects.filter(customer=customer).count() == 1


def test_the_api_cancel_quote_changes_nothing_and_matches_the_cancellation(
    flex, passenger, api_as, django_capture_on_commit_callbacks
):
    # given the passenger's paid booking
    user, customer = passenger
    booking = paid_in_two(book(flights=[empty_flight()], family=flex, customer=customer), django_capture_on_commit_callbacks)
    client = api_as(user)
    # when the client asks what cancelling gives back
    with nothing_changes():
        response = client.get(f"{BOOKINGS}{booking.record_locator}/cancel-quote/")
    # then fees and the refund per payment are named
    assert response.status_code == 200, response.content
    body = response.json()
    assert Decimal(body["fees"]) == FLEX_CANCEL_FEE and Decimal(body["refund_total"]) == CHEAP + TAX - FLEX_CANCEL_FEE
    quoted = {r["payment"]: Decimal(r["amount"]) for r in body["refunds"]}
    # and the cancellation through the API refunds exactly that
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{BOOKINGS}{booking.record_locator}/cancel/", {}, format="json").status_code == 200
    assert refunds_by_payment(booking) == quoted


def test_the_api_cancel_quote_of_a_cancelled_booking_is_a_clear_error(flex, passenger, api_as):
    user, customer = passenger
    booking = book(flights=[empty_flight()], family=flex, customer=customer)
    services.booking_cancel(booking=booking)
    client = api_as(user)
    with nothing_changes():
        response = client.get(f"{BOOKINGS}{booking.record_locator}/cancel-quote/")
    assert response.status_code == 400 and response.json()["error"]["code"] == "already_cancelled"


def test_someone_elses_booking_has_no_cancel_quote(flex, make_passenger, api_as):
    _owner, customer = make_passenger("owner@example.com")
    stranger, _ = make_passenger("stranger@example.com")
    booking = book(flights=[empty_flight()], family=flex, customer=customer)
    assert api_as(stranger).get(f"{BOOKINGS}{booking.record_locator}/cancel-quote/").status_code == 404


# --- Changes -------------------------------------------------------------------------------------


def test_a_change_quote_to_a_cheaper_refundable_fare_names_the_refund_the_change_makes(
    flex, customer, django_capture_on_commit_callbacks
):
    # given a paid refundable booking on a busy (dear) flight
    booking = book(flights=[busy_flight()], family=flex, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key="pay")
    cheaper = empty_flight(days=14)
    # when moving to an empty (cheap) flight is quoted
    with nothing_changes():
        quote = services.booking_change_quote(booking=booking, segment=segment_of(booking), new_flight=cheaper)
    # then the residual less the fee comes back and nothing is due
    assert quote.credit == DEAR - CHEAP and quote.amount_due == 0
    assert quote.refund_total == DEAR - CHEAP - Decimal("20.00")
    # and the change refunds exactly that
    with django_capture_on_commit_callbacks(execute=True):
        changed = services.booking_change_flight(booking=booking, segment=segment_of(booking), new_flight_id=cheaper.pk)
    assert refunds_by_payment(changed) == planned_by_payment(quote)
    assert changed.balance_due == 0


def test_getting_the_portal_change_page_with_a_choice_changes_nothing_and_the_change_costs_what_it_showed(
    flex, customer, passenger_client, django_capture_on_commit_callbacks
):
    # given the passenger's paid booking on an empty flight and a busy one the same route
    booking = book(flights=[empty_flight()], family=flex, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key="pay")
    dearer = busy_flight()
    page = f"/trips/{booking.record_locator}/flights/1/change/"
    choice = {"choice": f"{dearer.pk}:{flex}"}
    # when they pick the dearer flight
    with nothing_changes():
        response = passenger_client.get(page, choice)
    # then the difference and fee are shown and nothing moved
    quote = response.context["quote"]
    assert quote.amount_due == DEAR - CHEAP + Decimal("20.00")
    # and confirming leaves exactly that to pay
    with django_capture_on_commit_callbacks(execute=True):
        assert passenger_client.post(page, choice).status_code == 302
    booking.refresh_from_db()
    assert booking.balance_due == quote.amount_due
    assert segment_of(booking).flight == dearer


def test_getting_the_portal_change_page_without_a_choice_changes_nothing(flex, customer, passenger_client):
    booking = book(flights=[empty_flight()], family=flex, customer=customer)
    with nothing_changes():
        response = passenger_client.get(f"/trips/{booking.record_locator}/flights/1/change/")
    assert response.status_code == 200 and response.context["quote"] is None


def test_getting_the_office_change_page_writes_only_the_access_audit(
    flex, customer, agent_client, django_capture_on_commit_callbacks
):
    booking = book(flights=[empty_flight()], family=flex, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key="pay")
    dearer = busy_flight()
    with nothing_changes(allow=(ACCESS_AUDIT,)):
        response = agent_client.get(office("segment_change", booking, 1), {"flight": dearer.pk})
    assert response.status_code == 200
    assert response.context["quote"].amount_due == DEAR - CHEAP + Decimal("20.00")


# --- Other previews ------------------------------------------------------------------------------


def test_the_check_in_pages_change_nothing_until_the_traveller_checks_in(
    flex, customer, passenger_client, agent_client, django_capture_on_commit_callbacks
):
    # given a paid booking on a flight whose check-in is open
    soon = empty_flight()
    soon.scheduled_departure = timezone.now() + timedelta(hours=5)
    soon.scheduled_arrival = soon.scheduled_departure + timedelta(minutes=75)
    soon.save(update_fields=["scheduled_departure", "scheduled_arrival"])
    booking = book(flights=[soon], family=flex, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key="pay")
    # when the passenger and an agent open the check-in pages and the seat map
    # (the check-in page asks the traveller benefits hooks for each traveller's extra free bags: a read)
    with nothing_changes(hooks_may_read=True):
        assert passenger_client.get(f"/check-in/{booking.record_locator}/").status_code == 200
        assert passenger_client.get(f"/check-in/{booking.record_locator}/flights/1/").status_code == 200
        assert passenger_client.get(f"/trips/{booking.record_locator}/flights/1/seats/").status_code == 200
    with nothing_changes(allow=(ACCESS_AUDIT,)):
        assert agent_client.get(office("segment_check_in", booking, 1)).status_code == 200
    # then nobody is checked in yet
    assert not segment_of(booking).check_ins.exists()


def test_the_baggage_quote_is_the_fee_check_in_charges(flex, customer, django_capture_on_commit_callbacks):
    # given a traveller with two bags, one of them heavy
    soon = empty_flight()
    soon.scheduled_departure = timezone.now() + timedelta(hours=5)
    soon.scheduled_arrival = soon.scheduled_departure + timedelta(minutes=75)
    soon.save(update_fields=["scheduled_departure", "scheduled_arrival"])
    booking = book(flights=[soon], family=flex, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pay(booking, key="pay")
    segment = segment_of(booking)
    bags = [Decimal("20"), Decimal("27.5")]
    # when the fee is quoted
    with nothing_changes():
        quote = services.baggage_quote(fare_family=segment.fare_family, weights=bags)
    assert quote.fee > 0
    # then checking in with those bags charges exactly that
    passenger = booking.passengers.get()
    (row,) = services.check_in_with_payment(
        booking=booking, segment=segment, passengers=[passenger], bags={passenger.pk: bags}, channel="api",
        method="card", idempotency_key="bags", card=paying_card(),
    )  # fmt: skip
    assert row.excess_baggage_fee == quote.fee
    charged = sum(c.amount for c in booking.charges.filter(kind=ChargeKind.BAGGAGE))
    assert charged == quote.fee and segment.status == SegmentStatus.CONFIRMED


def test_the_trip_pages_and_the_office_rebook_and_payment_pages_only_read(
    flex, customer, passenger_client, agent_client, django_capture_on_commit_callbacks
):
    # given a held booking and a paid one
    held = book(flights=[empty_flight()], family=flex, customer=customer)
    paid = book(flights=[empty_flight()], family=flex, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        pay(paid, key="pay")
    # when the passenger looks at their trips and the payment page, and an agent at the booking pages
    with nothing_changes():
        for path in ("/trips/", f"/trips/{paid.record_locator}/"):
            assert passenger_client.get(path).status_code == 200, path
    # (the payment pages ask each payment method whether it offers itself to this payer: a read)
    with nothing_changes(hooks_may_read=True):
        assert passenger_client.get(f"/trips/{held.record_locator}/pay/").status_code == 200
    with nothing_changes(allow=(ACCESS_AUDIT,), hooks_may_read=True):
        for path in (office("booking_detail", paid), office("segment_rebook", paid, 1), office("booking_pay", held)):
            assert agent_client.get(path).status_code == 200, path
    # then nothing but the agent's looks were recorded
    assert CustomerAccess.objects.filter(customer=customer).count() == 3


def test_the_purity_check_sees_a_seat_taken_through_a_prepared_statement(db):
    # the booking's seat update is a prepared statement: sent as "EXECUTE ...", it must still count as a write
    from django.db import transaction

    from reservations.models import FlightCabin
    from reservations.services.inventory import inventory_take

    flight = empty_flight()
    cabin = FlightCabin.objects.get(flight=flight, cabin="economy")
    for _ in range(2):  # the first use prepares the statement, the second only executes it
        with pytest.raises(AssertionError, match="wrote or locked"), nothing_changes(), transaction.atomic():
            inventory_take(inventory=cabin, seats=1)
