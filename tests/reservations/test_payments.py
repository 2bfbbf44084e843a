"""Payments: card through the gateway (only token, brand and last 4 kept), travel voucher, counter, miles.

A repeated request with the same idempotency key returns the first result and never charges twice,
even when ten clients send it at the same moment.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from crm.errors import ApplicationError, Conflict
from reservations import services
from reservations.gateway import CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_SUCCEEDS, SimulatedCardGateway, luhn_valid
from reservations.models import (
    Booking,
    BookingStatus,
    FlightCabin,
    Payment,
    PaymentMethod,
    PaymentStatus,
    TaxRule,
    Ticket,
    TravelVoucher,
)
from tests.reservations.factories import BookingClassFactory, FareFamilyFactory, FlightFactory, TaxRuleFactory

ADULT_FARE = Decimal("87.00")  # LHR-CDG 348 km at 0.25 per km
TAX = Decimal("25.00")
COUNTING_GATEWAY = "tests.reservations.test_payments.CountingGateway"


class CountingGateway(SimulatedCardGateway):
    """The simulated gateway, counting the charges that reach it (one per key at a real acquirer)."""

    calls: list[str] = []
    lock = threading.Lock()

    def charge(self, *, token, amount, currency, idempotency_key):  # noqa: ANN001, ANN201
        with self.lock:
            self.calls.append(idempotency_key)
        return super().charge(token=token, amount=amount, currency=currency, idempotency_key=idempotency_key)


@pytest.fixture
def counting_gateway(settings):
    settings.PAYMENT_GATEWAY = COUNTING_GATEWAY
    CountingGateway.calls = []
    return CountingGateway


def fare(code: str = "ECO_STANDARD", **rules) -> str:
    """A fare family with one booking class ("M" unless told) in economy; returns its code."""
    klass = rules.pop("booking_class", "M")
    BookingClassFactory(code=klass, fare_family=FareFamilyFactory(code=code, **rules))
    return code


def book(
    *,
    flights: list | None = None,
    family: str | None = None,
    adults: int = 1,
    children: int = 0,
    infants: int = 0,
    language: str = "en",
    customer=None,  # noqa: ANN001
    taxes: bool = True,
) -> Booking:
    """A held booking made the way the portal makes one (services.booking_create)."""
    family = family or fare()
    if taxes and not TaxRule.objects.exists():
        TaxRuleFactory(amount=TAX)
    flights = flights or [FlightFactory()]
    born_child = timezone.localdate() - timedelta(days=365 * 6)
    born_infant = timezone.localdate() - timedelta(days=200)
    party = [services.PassengerRequest(passenger_type="ADT", given_name=f"Ada{i}", family_name="Lovelace") for i in range(adults)]
    party += [
        services.PassengerRequest(passenger_type="CHD", given_name=f"Child{i}", family_name="Lovelace", date_of_birth=born_child)
        for i in range(children)
    ]
    party += [
        services.PassengerRequest(passenger_type="INF", given_name=f"Baby{i}", family_name="Lovelace", date_of_birth=born_infant)
        for i in range(infants)
    ]
    return services.booking_create(
        segments=[services.SegmentRequest(flight_id=f.pk, cabin="economy", fare_family=family) for f in flights],
        passengers=party,
        contact_email="ada@example.com",
        channel="portal",
        language=language,
        customer=customer,
    )


def card(number: str = CARD_SUCCEEDS, **kwargs) -> services.CardDetails:
    details = {
        "number": number,
        "expiry_month": 12,
        "expiry_year": timezone.now().year + 2,
        "cvv": "737",
        "holder": "Ada Lovelace",
    }
    return services.CardDetails(**{**details, **kwargs})


def pay(booking: Booking, key: str = "key-1", **kwargs) -> Payment:
    kwargs.setdefault("card", card())
    return services.payment_take(booking=booking, method=kwargs.pop("method", PaymentMethod.CARD), idempotency_key=key, **kwargs)


def voucher(code: str = "GIFT100", amount: str = "100.00", **kwargs) -> TravelVoucher:
    values = {
        "initial_amount": Decimal(amount),
        "balance": Decimal(amount),
        "expires_on": timezone.localdate() + timedelta(days=90),
    }
    return TravelVoucher.objects.create(code=code, **{**values, **kwargs})


def assert_reconciles(booking: Booking) -> None:
    """Payments less refunds equal what the booking says it was paid, net."""
    booking.refresh_from_db()
    paid = sum((p.amount for p in booking.payments.filter(status=PaymentStatus.SUCCEEDED)), Decimal(0))
    refunded = sum((r.amount for r in booking.refunds.exclude(status="failed")), Decimal(0))
    assert paid - refunded == booking.paid_amount - booking.refunded_amount


# --- Card ---------------------------------------------------------------------------------------


def test_paying_the_balance_by_card_tickets_the_booking(db, counting_gateway):
    # given a held booking for one adult
    booking = book()
    assert booking.balance_due == ADULT_FARE + TAX
    # when the passenger pays by card without naming an amount
    payment = pay(booking)
    # then the whole balance is charged once and the booking is ticketed
    assert (payment.status, payment.amount, payment.currency) == (PaymentStatus.SUCCEEDED, ADULT_FARE + TAX, "EUR")
    assert payment.gateway_reference.startswith("ch_")
    assert (payment.card_brand, payment.card_last4) == ("Visa", "4242")
    assert counting_gateway.calls == [payment.external_key]
    booking.refresh_from_db()
    assert (booking.status, booking.paid_amount, booking.balance_due) == (BookingStatus.TICKETED, ADULT_FARE + TAX, 0)
    assert booking.hold_expires_at is None
    assert_reconciles(booking)


def test_the_card_number_and_security_code_are_never_stored(db):
    # given a booking paid by card
    booking = book()
    number = "4242 4242 4242 4242"
    pay(booking, card=card(number=number, cvv="9183"))
    # when every column of the payment row is read back, as the database holds it
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(p)::text FROM reservations_payment p WHERE booking_id = %s", [booking.pk])
        (row,) = cursor.fetchone()
    columns = json.loads(row)
    # then only the token, the brand and the last four digits are there
    assert set(columns) == {f.column for f in Payment._meta.concrete_fields}
    assert "424242424242" not in row  # neither the number nor its first 12 digits
    texts = {name: str(value) for name, value in columns.items() if name not in ("card_token", "gateway_reference", "created_at")}
    assert not any("9183" in value for value in texts.values())
    assert columns["card_last4"] == "4242" and columns["card_brand"] == "Visa"
    assert columns["card_token"].startswith("sim_")


@pytest.mark.parametrize(
    ("number", "reason"),
    [(CARD_DECLINED, "card declined"), (CARD_INSUFFICIENT_FUNDS, "insufficient funds")],
)
def test_a_declined_card_changes_nothing_but_records_the_declined_attempt(db, number, reason):
    # given a held booking with its seat taken
    booking = book()
    seats_before = FlightCabin.objects.get(cabin="economy").available
    # when the card is declined
    with pytest.raises(services.PaymentDeclined) as declined:
        pay(booking, card=card(number=number))
    # then the caller is told, the attempt is recorded as declined, and nothing else moved
    assert declined.value.code == "payment_declined" and declined.value.status == 402
    attempt = Payment.objects.get()
    assert declined.value.payment == attempt
    assert (attempt.status, attempt.decline_reason, attempt.card_last4) == (PaymentStatus.DECLINED, reason, number[-4:])
    booking.refresh_from_db()
    assert (booking.status, booking.paid_amount, booking.balance_due) == (BookingStatus.HELD, 0, ADULT_FARE + TAX)
    assert not Ticket.objects.exists()
    assert FlightCabin.objects.get(cabin="economy").available == seats_before
    assert_reconciles(booking)


def test_after_a_decline_a_new_key_with_another_card_pays(db):
    booking = book()
    with pytest.raises(services.PaymentDeclined):
        pay(booking, key="try-1", card=card(number=CARD_DECLINED))
    # when the passenger tries again with another card and a new key
    payment = pay(booking, key="try-2")
    # then that payment succeeds, and replaying the first key still answers with its decline
    assert payment.status == PaymentStatus.SUCCEEDED
    with pytest.raises(services.PaymentDeclined):
        pay(booking, key="try-1")
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"number": "4242424242424241"}, "card.number"),  # fails the Luhn check
        ({"number": "6011111111111117"}, "card.number"),  # valid, but a scheme not accepted
        ({"number": "42424242abcd"}, "card.number"),
        ({"expiry_month": 1, "expiry_year": 2020}, "card.expiry"),
        ({"expiry_month": 13}, "card.expiry"),
        ({"cvv": "12"}, "card.cvv"),
        ({"cvv": "12345"}, "card.cvv"),
        ({"holder": "  "}, "card.holder"),
    ],
)
def test_invalid_card_details_are_refused_before_reaching_the_gateway(db, counting_gateway, details, field):
    booking = book()
    # when the card details are wrong
    with pytest.raises(ApplicationError) as refused:
        pay(booking, card=card(**details))
    # then the field is named, nothing is charged and nothing recorded
    assert refused.value.code == "card_invalid" and field in refused.value.fields
    assert counting_gateway.calls == [] and not Payment.objects.exists()


def test_card_brands_come_from_the_issuer_number(db):
    gateway = SimulatedCardGateway()
    expiry = {"expiry_month": 1, "expiry_year": timezone.now().year + 1, "cvv": "1234", "holder": "A B"}
    brands = {
        number: gateway.tokenize(number=number, **expiry).brand
        for number in ["4111111111111111", "5555555555554444", "2223003122003222", "378282246310005", "371449635398431"]
    }
    assert brands == {
        "4111111111111111": "Visa",
        "5555555555554444": "Mastercard",
        "2223003122003222": "Mastercard",
        "378282246310005": "American Express",
        "371449635398431": "American Express",
    }
    assert luhn_valid(CARD_DECLINED) and luhn_valid(CARD_INSUFFICIENT_FUNDS) and not luhn_valid("4242424242424241")


def test_the_expiry_month_itself_is_still_valid(db):
    # given a card that expires at the end of this month
    today = timezone.localdate()
    token = SimulatedCardGateway().tokenize(
        number=CARD_SUCCEEDS, expiry_month=today.month, expiry_year=today.year % 100, cvv="123", holder="A B"
    )
    # then it is accepted (cards are valid through their expiry month)
    assert token.last4 == "4242"


def test_a_made_up_token_is_declined_by_the_gateway(db):
    result = SimulatedCardGateway().charge(token="sim_ok_0000_0000", amount=Decimal("10"), currency="EUR", idempotency_key="x")
    assert not result.succeeded and result.decline_code == "invalid_token"


# --- Idempotency ----------------------------------------------------------------------------------


def test_the_same_key_twice_charges_once_and_returns_the_first_payment(db, counting_gateway):
    booking = book(adults=2)
    first = pay(booking, key="same", amount=Decimal("50.00"))
    # when the client repeats the request (a timeout, a double click), even with another amount
    again = pay(booking, key="same", amount=Decimal("70.00"))
    # then it gets the first payment back and nothing more is charged
    assert again.pk == first.pk and again.amount == Decimal("50.00")
    assert (first.replayed, again.replayed) == (False, True)
    assert counting_gateway.calls == [first.external_key]
    booking.refresh_from_db()
    assert booking.paid_amount == Decimal("50.00")


def test_a_key_already_used_for_another_booking_is_a_conflict(db):
    first, second = book(), book()
    pay(first, key="shared")
    with pytest.raises(Conflict) as conflict:
        pay(second, key="shared")
    assert conflict.value.code == "idempotency_key_reused"
    second.refresh_from_db()
    assert second.paid_amount == 0 and second.payments.count() == 0


@pytest.mark.parametrize("key", ["", "   ", "x" * 101])
def test_a_missing_or_overlong_key_is_refused(db, key):
    booking = book()
    with pytest.raises(ApplicationError) as refused:
        pay(booking, key=key)
    assert refused.value.code == "idempotency_key_invalid" and not Payment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ten_clients_sending_the_same_payment_at_once_are_charged_once(counting_gateway):
    # given a held booking and ten clients holding the same request
    booking = book()
    clients = 10
    barrier = threading.Barrier(clients, timeout=60)
    outcomes: list[tuple[str, int | str]] = []

    def client() -> None:
        try:
            barrier.wait()
            payment = services.payment_take(
                booking=Booking.objects.get(pk=booking.pk), method="card", idempotency_key="one-request", card=card()
            )
            outcomes.append(("paid", payment.pk))
        except Conflict as busy:
            outcomes.append(("conflict", busy.code))
        except Exception as error:  # noqa: BLE001 - every outcome is asserted below
            outcomes.append(("error", repr(error)))
        finally:
            connections.close_all()

    # when they all send it at the same moment
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # then each client gets the one payment, or is told it is still in progress; it was charged exactly once
    payment = Payment.objects.get()
    assert len(outcomes) == clients
    assert set(outcomes) <= {("paid", payment.pk), ("conflict", "request_in_progress")}, outcomes
    assert ("paid", payment.pk) in outcomes
    assert counting_gateway.calls == [payment.external_key]
    booking.refresh_from_db()
    assert (booking.paid_amount, booking.status) == (ADULT_FARE + TAX, BookingStatus.TICKETED)
    assert Ticket.objects.filter(booking=booking).count() == 1


# --- Amounts and states ---------------------------------------------------------------------------


def test_a_part_payment_keeps_the_hold_and_the_rest_tickets(db):
    booking = book(adults=2)
    total = booking.total_amount
    # when half is paid
    pay(booking, key="half", amount=total / 2)
    booking.refresh_from_db()
    # then the booking is still held with the rest due
    assert (booking.status, booking.balance_due) == (BookingStatus.HELD, total / 2)
    # and paying the rest issues the tickets
    pay(booking, key="rest")
    booking.refresh_from_db()
    assert (booking.status, booking.balance_due, booking.tickets.count()) == (BookingStatus.TICKETED, 0, 2)
    assert_reconciles(booking)


@pytest.mark.parametrize("amount", ["0", "-5", "200.00", "abc"])
def test_paying_nothing_or_more_than_the_balance_is_refused(db, amount):
    booking = book()
    with pytest.raises(ApplicationError) as refused:
        pay(booking, amount=amount)
    assert "amount" in refused.value.fields
    assert not Payment.objects.exists()


def test_an_expired_or_cancelled_booking_cannot_be_paid(db, counting_gateway):
    expired, cancelled = book(), book()
    Booking.objects.filter(pk=expired.pk).update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    services.booking_cancel(booking=cancelled)
    for booking in (expired, cancelled):
        with pytest.raises(ApplicationError) as refused:
            pay(booking, key=f"k{booking.pk}")
        assert refused.value.code == "booking_not_payable"
    assert counting_gateway.calls == [] and not Payment.objects.exists()


def test_a_fully_paid_booking_has_nothing_due(db):
    booking = book()
    pay(booking, key="a")
    with pytest.raises(ApplicationError) as refused:
        pay(booking, key="b")
    assert refused.value.code == "nothing_due"
    assert Payment.objects.count() == 1


# --- Voucher --------------------------------------------------------------------------------------


def test_a_voucher_pays_part_and_a_card_the_rest(db):
    booking = book()
    gift = voucher(amount="50.00")
    # when the voucher pays what it holds, then the card the rest
    services.payment_take(booking=booking, method="voucher", idempotency_key="v", voucher_code=" gift100 ", amount=Decimal("50"))
    pay(booking, key="c")
    # then the voucher is spent and the booking ticketed
    gift.refresh_from_db()
    booking.refresh_from_db()
    assert gift.balance == 0
    assert booking.status == BookingStatus.TICKETED
    assert [p.method for p in booking.payments.order_by("id")] == ["voucher", "card"]
    assert_reconciles(booking)


def test_a_voucher_with_too_little_left_pays_nothing(db):
    booking = book()
    gift = voucher(amount="100.00", balance=Decimal("30.00"))
    # when it is asked to pay the whole balance
    with pytest.raises(ApplicationError) as refused:
        services.payment_take(booking=booking, method="voucher", idempotency_key="v", voucher_code=gift.code)
    # then nothing is taken off it and no payment recorded
    assert refused.value.code == "voucher_insufficient" and "voucher_code" in refused.value.fields
    gift.refresh_from_db()
    assert gift.balance == Decimal("30.00")
    assert not Payment.objects.exists()
    booking.refresh_from_db()
    assert booking.paid_amount == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: None,  # no voucher with that code
        lambda: voucher(expires_on=timezone.localdate() - timedelta(days=1)),
        lambda: voucher(currency="USD"),
    ],
)
def test_an_unknown_expired_or_foreign_currency_voucher_is_refused(db, make):
    booking = book()
    make()
    with pytest.raises(ApplicationError) as refused:
        services.payment_take(booking=booking, method="voucher", idempotency_key="v", voucher_code="GIFT100")
    assert refused.value.code == "voucher_invalid"
    assert not Payment.objects.exists()


# --- Counter and miles ----------------------------------------------------------------------------


def test_only_an_agent_takes_a_counter_payment(db, agent, passenger):
    booking = book()
    for someone in (None, passenger[0]):
        with pytest.raises(ApplicationError) as refused:
            services.payment_take(booking=booking, method="counter", idempotency_key="desk", by=someone)
        assert refused.value.status == 403
    # when an agent takes the money at the counter
    payment = services.payment_take(booking=booking, method="counter", idempotency_key="desk", by=agent)
    # then it is recorded under their name and the booking is ticketed
    assert (payment.method, payment.created_by, payment.status) == ("counter", agent, PaymentStatus.SUCCEEDED)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED


def test_miles_are_unavailable_until_a_payment_method_is_registered_for_them(db):
    booking = book()
    with pytest.raises(ApplicationError) as refused:
        services.payment_take(booking=booking, method="miles", idempotency_key="m")
    assert refused.value.code == "payment_method_unavailable" and "method" in refused.value.fields
    assert str(refused.value.message) == "Paying with miles is not available."
    assert not Payment.objects.exists()


def test_an_unknown_method_is_refused(db):
    booking = book()
    with pytest.raises(ApplicationError) as refused:
        services.payment_take(booking=booking, method="cash", idempotency_key="x")
    assert "method" in refused.value.fields
