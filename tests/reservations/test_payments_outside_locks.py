"""Card charges and refunds happen with no lock held, and never without their row.

A card payment is recorded as pending, the gateway is called with no transaction open (under the
payment's own key), then the outcome is recorded; a request that dies on the way leaves a pending
payment the sweep settles by asking the gateway. Vouchers and miles take part through the payment
method hooks.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.errors import ApplicationError, Conflict
from crm.permissions import PASSENGER
from reservations import hooks, services
from reservations.gateway import SimulatedCardGateway
from reservations.hooks import MethodPayment, MethodRefund
from reservations.models import (
    Booking,
    BookingStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    Ticket,
)
from reservations.services import payments as payment_services
from tests.crm.factories import CustomerFactory, UserFactory
from tests.reservations.test_concurrency import one_at_a_time  # noqa: F401 - the fixture
from tests.reservations.test_payments import assert_reconciles, book, fare, pay, voucher

PROBE_GATEWAY = "tests.reservations.test_payments_outside_locks.ProbeGateway"
REPEATS = 30


class ProbeGateway(SimulatedCardGateway):
    """The simulated gateway, counting what reaches it; optionally slow, failing, or checking for locks."""

    lock = threading.Lock()
    charges: list[str] = []
    refunds: list[str] = []
    delay = 0.0
    fail_with: Exception | None = None
    probe_booking: int | None = None
    seen: list[dict] = []
    during_charge = None  # something to do while the card is at the gateway

    def charge(self, *, token, amount, currency, idempotency_key):  # noqa: ANN001, ANN201
        with self.lock:
            self.charges.append(idempotency_key)
        self._observe()
        if self.during_charge is not None:
            type(self).during_charge()
        time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        return super().charge(token=token, amount=amount, currency=currency, idempotency_key=idempotency_key)

    def refund(self, *, reference, amount, currency, idempotency_key):  # noqa: ANN001, ANN201
        with self.lock:
            self.refunds.append(idempotency_key)
        self._observe()
        if self.fail_with is not None:
            raise self.fail_with
        return super().refund(reference=reference, amount=amount, currency=currency, idempotency_key=idempotency_key)

    def _observe(self) -> None:
        """Whether this call runs inside a transaction, and whether another connection can lock the rows."""
        if self.probe_booking is None:
            return
        seen = {"in_transaction": connection.in_atomic_block}

        def other_connection() -> None:
            try:
                with transaction.atomic():
                    Booking.objects.select_for_update(nowait=True).get(pk=self.probe_booking)
                    list(Payment.objects.select_for_update(nowait=True).filter(booking_id=self.probe_booking))
                    list(Refund.objects.select_for_update(nowait=True).filter(booking_id=self.probe_booking))
                seen["rows_free"] = True
            except DatabaseError:
                seen["rows_free"] = False
            finally:
                connection.close()

        prober = threading.Thread(target=other_connection)
        prober.start()
        prober.join(30)
        self.seen.append(seen)


@pytest.fixture
def gateway(settings):
    settings.PAYMENT_GATEWAY = PROBE_GATEWAY
    ProbeGateway.charges, ProbeGateway.refunds, ProbeGateway.seen = [], [], []
    ProbeGateway.delay, ProbeGateway.fail_with, ProbeGateway.probe_booking, ProbeGateway.during_charge = 0.0, None, None, None
    yield ProbeGateway
    ProbeGateway.delay, ProbeGateway.fail_with, ProbeGateway.probe_booking, ProbeGateway.during_charge = 0.0, None, None, None


def refundable_booking(**kwargs) -> Booking:
    """A held booking on a refundable fare, so a cancellation gives everything back."""
    return book(family=fare("ECO_FLEX", refundable=True, cancellation_fee=Decimal(0), booking_class="Y"), **kwargs)


# --- One key, many requests ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("one_at_a_time")
def test_thirty_concurrent_repeats_of_one_key_charge_once_and_create_once(gateway):
    # given a passenger's held booking, a gateway that takes its time, and thirty copies of one request
    customer = CustomerFactory(user=UserFactory(roles=[PASSENGER], password=None))
    token = Token.objects.create(user=customer.user).key
    booking = book(customer=customer)
    gateway.delay = 0.5
    body = {
        "method": "card",
        "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2099, "cvv": "123", "holder": "A Payer"},
    }
    barrier = threading.Barrier(REPEATS, timeout=120)
    answers: list[tuple[int, int | str]] = []
    lock = threading.Lock()

    def client() -> None:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            connection.ensure_connection()
            barrier.wait()
            response = api.post(
                f"/api/v1/bookings/{booking.record_locator}/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="once"
            )
            data = response.json()
            answer = (response.status_code, data["payment"]["id"] if "payment" in data else data["error"]["code"])
        except Exception as error:  # noqa: BLE001 - every answer is asserted below
            answer = (0, repr(error))
        finally:
            connection.close()
        with lock:
            answers.append(answer)

    # when they all arrive at once
    threads = [threading.Thread(target=client) for _ in range(REPEATS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)

    # then the gateway saw one charge, one answer is 201, and every other one repeats it or says it is in progress
    payment = Payment.objects.get()
    assert gateway.charges == [payment.external_key]
    assert len(answers) == REPEATS
    assert [status for status, _ in answers].count(201) == 1, answers
    assert set(answers) <= {(201, payment.pk), (200, payment.pk), (409, "request_in_progress")}, answers
    assert (409, "request_in_progress") in answers  # the gateway was slow: some repeats came while it was pending
    booking.refresh_from_db()
    assert (booking.status, booking.paid_amount) == (BookingStatus.TICKETED, payment.amount)
    assert payment.amount == booking.total_amount


@pytest.mark.django_db(transaction=True)
def test_a_repeat_while_the_card_is_at_the_gateway_is_told_it_is_in_progress_then_gets_the_result(gateway):
    # given a payment whose card is at the gateway
    booking = book()
    repeats: list[object] = []

    def repeat() -> None:
        try:
            repeats.append(pay(Booking.objects.get(pk=booking.pk), key="k"))
        except Conflict as busy:
            repeats.append(busy.code)
        finally:
            connection.close()

    def repeat_in_another_request() -> None:
        other = threading.Thread(target=repeat)
        other.start()
        other.join(30)

    gateway.during_charge = repeat_in_another_request
    # when the same request is repeated meanwhile, and again once it is done
    first = pay(booking, key="k")
    gateway.during_charge = None
    again = pay(booking, key="k")
    # then the repeat was told to wait, then got the first payment back; the card was charged once
    assert repeats == ["request_in_progress"]
    assert (first.replayed, again.replayed, again.pk) == (False, True, first.pk)
    assert gateway.charges == [first.external_key]


def test_keys_belong_to_the_login_that_sent_them(db, gateway, make_passenger):
    # given two passengers who both use the key "1" for their own bookings
    (ada, ada_customer), (bob, bob_customer) = make_passenger(), make_passenger()
    ada_booking, bob_booking = book(customer=ada_customer), book(customer=bob_customer)
    # when both pay
    first = pay(ada_booking, key="1", by=ada)
    second = pay(bob_booking, key="1", by=bob)
    # then they are two payments, each charged; the same login reusing it on another booking is refused
    assert first.pk != second.pk and not second.replayed
    assert gateway.charges == [first.external_key, second.external_key]
    with pytest.raises(Conflict) as reused:
        pay(book(customer=ada_customer), key="1", by=ada)
    assert reused.value.code == "idempotency_key_reused"


def test_a_second_key_cannot_pay_what_a_pending_payment_already_covers(db, gateway):
    # given a payment of the whole balance still at the gateway (its request is gone)
    booking = book()
    gateway.fail_with = TimeoutError("no answer")
    with pytest.raises(Conflict):
        pay(booking, key="first")
    gateway.fail_with = None
    # when the passenger tries again with a new key
    with pytest.raises(Conflict) as busy:
        pay(booking, key="second")
    # then it is refused until the first is settled, and only the first reached the gateway
    assert busy.value.code == "payment_in_progress"
    assert len(gateway.charges) == 1


# --- No lock during the gateway call ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_no_transaction_or_row_lock_is_held_while_the_gateway_charges_or_refunds(gateway):
    # given a held booking, and a gateway that checks for locks whenever it is called
    booking = refundable_booking()
    gateway.probe_booking = booking.pk
    # when it is paid by card, then cancelled (the refund goes to the gateway from its task)
    pay(booking)
    services.booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    # then the charge and the refund both ran outside any transaction, with every row lockable by others
    assert gateway.seen == [{"in_transaction": False, "rows_free": True}] * 2
    assert len(gateway.charges) == 1 and len(gateway.refunds) == 1
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_reference.startswith("re_")
    assert_reconciles(booking)


# --- A failure after the charge -----------------------------------------------------------------


def test_a_ticketing_failure_after_the_charge_keeps_the_payment_and_the_sweep_tickets(db, gateway, monkeypatch):
    # given ticket issuing that fails
    booking = book()

    def broken(*, booking: Booking) -> list[Ticket]:
        raise RuntimeError("ticket stock unavailable")

    monkeypatch.setattr(payment_services, "booking_ticket", broken)
    # when the passenger pays by card
    payment = pay(booking)
    # then the charge is recorded as a succeeded payment and counted, though no ticket exists yet
    assert payment.status == PaymentStatus.SUCCEEDED and payment.gateway_reference.startswith("ch_")
    assert gateway.charges == [payment.external_key]
    booking.refresh_from_db()
    assert (booking.status, booking.paid_amount, booking.balance_due) == (BookingStatus.HELD, payment.amount, 0)
    assert not Ticket.objects.exists()
    # and once ticketing works again, the hold expiry leaves the paid booking alone and the sweep tickets it
    monkeypatch.undo()
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=booking.created_at)
    services.booking_expire_holds()
    services.payments_settle_pending()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and Ticket.objects.filter(booking=booking).count() == 1
    assert not Refund.objects.exists() and gateway.charges == [payment.external_key]
    assert_reconciles(booking)


def test_a_crash_before_the_outcome_is_recorded_leaves_a_pending_payment_the_sweep_settles(db, gateway, monkeypatch):
    # given recording the gateway's answer fails once (the database went away after the charge)
    booking = book()

    def lost(**kwargs: object) -> Payment:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(payment_services, "_payment_settle", lost)
    with pytest.raises(OperationalError):
        pay(booking, key="k")
    monkeypatch.undo()
    # then the charged payment has its row, pending; a repeat is told it is in progress, and the hold waits
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PENDING and gateway.charges == [payment.external_key]
    with pytest.raises(Conflict) as busy:
        pay(booking, key="k")
    assert busy.value.code == "request_in_progress"
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=booking.created_at)
    assert services.booking_expire_holds() == 0
    # when the sweep runs
    assert services.payments_settle_pending(older_than_seconds=0) == 1
    # then the gateway's answer is recorded, the booking ticketed, and a repeat gets the payment back
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.gateway_reference.startswith("ch_")
    assert (booking.status, booking.paid_amount) == (BookingStatus.TICKETED, payment.amount)
    assert pay(booking, key="k").replayed
    assert gateway.charges == [payment.external_key]
    assert_reconciles(booking)


def test_a_charge_the_gateway_never_received_is_declined_by_the_sweep_and_can_be_paid_again(db, gateway):
    # given the connection to the gateway drops before it gets the charge
    booking = book()
    gateway.fail_with = ConnectionError("connection refused")
    with pytest.raises(Conflict) as unknown:
        pay(booking, key="first")
    assert unknown.value.code == "request_in_progress"
    gateway.fail_with = None
    # when the sweep asks the gateway, which never heard of it
    services.payments_settle_pending(older_than_seconds=0)
    # then the payment is recorded as declined, nothing was counted, and a new attempt pays
    attempt = Payment.objects.get()
    assert (attempt.status, attempt.decline_reason) == (PaymentStatus.DECLINED, "not completed")
    booking.refresh_from_db()
    assert booking.paid_amount == 0
    assert pay(booking, key="second").status == PaymentStatus.SUCCEEDED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED
    assert_reconciles(booking)


def test_the_sweep_leaves_a_recent_pending_payment_to_its_request(db, gateway):
    booking = book()
    gateway.fail_with = TimeoutError("no answer")
    with pytest.raises(Conflict):
        pay(booking)
    # when the sweep runs within the time a request may still take
    settled = services.payments_settle_pending()
    # then the payment is left pending
    assert settled == 0 and Payment.objects.get().status == PaymentStatus.PENDING


def test_a_capture_on_a_booking_cancelled_meanwhile_is_recorded_and_refunded_in_full(
    db, gateway, django_capture_on_commit_callbacks
):
    # given the booking is cancelled while the card is at the gateway
    booking = book()
    gateway.during_charge = lambda: services.booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    # when the gateway captures the charge
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(booking)
    # then the payment is recorded and all of it goes back to the card
    assert payment.status == PaymentStatus.SUCCEEDED
    refund = Refund.objects.get()
    assert (refund.payment, refund.amount, refund.status) == (payment, payment.amount, RefundStatus.SUCCEEDED)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.balance_due == 0
    assert len(gateway.refunds) == 1
    assert_reconciles(booking)


# --- Refunds ------------------------------------------------------------------------------------


def test_a_card_refund_is_sent_once_and_its_outcome_recorded(db, gateway, django_capture_on_commit_callbacks):
    # given a paid booking on a refundable fare, cancelled, whose refund task was lost
    booking = refundable_booking()
    pay(booking)
    gateway.fail_with = ConnectionError("gateway unreachable")
    with django_capture_on_commit_callbacks(execute=False):
        services.booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    refund = Refund.objects.get()
    # when the gateway cannot be reached, the refund stays pending
    with pytest.raises(ConnectionError):
        services.refund_process(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    # and when it is processed again (twice) once the gateway answers
    gateway.fail_with = None
    services.refund_process(refund_id=refund.pk)
    services.refund_process(refund_id=refund.pk)
    # then it is refunded once and recorded as succeeded
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_reference.startswith("re_")
    assert gateway.refunds == [refund.external_key, refund.external_key]  # the failed attempt, then the one that went through
    booking.refresh_from_db()
    assert booking.refunded_amount == refund.amount == booking.paid_amount
    assert_reconciles(booking)


def test_the_gateway_refunds_once_per_key(db):
    gateway = SimulatedCardGateway()
    reference = gateway.charge(
        token=gateway.tokenize(number="4242424242424242", expiry_month=12, expiry_year=2099, cvv="123", holder="A").token,
        amount=Decimal("10.00"),
        currency="EUR",
        idempotency_key="payment-test-refund-once",
    ).reference
    first = gateway.refund(reference=reference, amount=Decimal("10.00"), currency="EUR", idempotency_key="refund-test-once")
    again = gateway.refund(reference=reference, amount=Decimal("10.00"), currency="EUR", idempotency_key="refund-test-once")
    assert first.succeeded and again.reference == first.reference
    assert gateway.charge_outcome(idempotency_key="payment-test-refund-once").reference == reference
    assert gateway.charge_outcome(idempotency_key="payment-never-sent") is None


# --- Payment methods through the hooks ----------------------------------------------------------


class FakeMiles:
    """How the loyalty app would take part: 100 miles per currency unit, from one member's balance."""

    code = PaymentMethod.MILES.value
    label = "Miles"

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.ledger: dict[str, int] = {}

    def pay(self, *, booking, amount, currency, reference, details, by) -> MethodPayment:  # noqa: ANN001
        miles = int(amount * 100)
        if miles > self.balance:
            raise ApplicationError("Not enough miles.", code="miles_insufficient", fields={"method": ["Not enough miles."]})
        self.balance -= miles
        self.ledger[reference] = -miles
        return MethodPayment(reference=f"miles:{reference}", miles=miles)

    def refund(self, *, payment, amount, reference) -> MethodRefund:  # noqa: ANN001
        miles = int(amount * 100)
        self.balance += miles
        self.ledger[reference] = miles
        return MethodRefund(succeeded=True, reference=f"miles:{reference}")


@pytest.fixture
def miles():
    method = hooks.payment_methods.register(PaymentMethod.MILES, FakeMiles(balance=20_000))
    yield method
    hooks.payment_methods.unregister(PaymentMethod.MILES)


def test_miles_pay_and_are_refunded_through_the_payment_method_hook(db, gateway, miles, django_capture_on_commit_callbacks):
    # given a member's miles registered as a payment method, and a booking on a refundable fare
    booking = refundable_booking()
    total = booking.total_amount
    # when the booking is paid with miles
    payment = services.payment_take(booking=booking, method="miles", idempotency_key="m")
    # then the hook took them under the payment's own reference, and the booking is ticketed with no card involved
    assert (payment.method, payment.status, payment.miles) == ("miles", PaymentStatus.SUCCEEDED, int(total * 100))
    assert miles.ledger == {payment.external_key: -int(total * 100)}
    assert payment.gateway_reference == f"miles:{payment.external_key}"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.TICKETED and gateway.charges == []
    # and when it is cancelled, the miles go back through the same hook
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking)
    refund = Refund.objects.get()
    assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, total)
    assert miles.ledger[refund.external_key] == int(total * 100) and miles.balance == 20_000
    assert_reconciles(booking)


def test_a_method_hook_that_refuses_records_nothing(db, miles):
    booking = book(adults=3)
    # when the member has too few miles for the balance
    with pytest.raises(ApplicationError) as refused:
        services.payment_take(booking=booking, method="miles", idempotency_key="m")
    # then the refusal names the field and no payment exists
    assert refused.value.code == "miles_insufficient" and "method" in refused.value.fields
    assert not Payment.objects.exists()
    booking.refresh_from_db()
    assert booking.paid_amount == 0


def test_vouchers_are_a_payment_method_registered_by_reservations(db, django_capture_on_commit_callbacks):
    # given reservations' own voucher method, and a booking on a refundable fare
    assert isinstance(hooks.payment_methods.get("voucher"), services.VoucherPayments)
    gift = voucher(amount="300.00")
    booking = refundable_booking()
    # when a voucher pays it and the booking is then cancelled
    payment = services.payment_take(booking=booking, method="voucher", idempotency_key="v", voucher_code="gift100")
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=Booking.objects.get(pk=booking.pk))
    # then the voucher paid, and got all of it back
    assert (payment.voucher, payment.gateway_reference) == (gift, f"voucher:{gift.pk}")
    gift.refresh_from_db()
    assert gift.balance == Decimal("300.00")
    assert Refund.objects.get().status == RefundStatus.SUCCEEDED
    assert_reconciles(booking)


def test_a_method_registered_twice_is_an_error(db):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        hooks.payment_methods.register("voucher", services.VoucherPayments())
    assert isinstance(hooks.payment_methods.get("voucher"), services.VoucherPayments)
