"""Taking payment for a booking: card through the gateway, counter, and the payment methods apps hook in.

A card charge never happens while a row lock is held, and never without its row: (1) a short
transaction records the payment as pending, (2) the gateway is called with no transaction open, under
the payment's own id as its idempotency key, (3) a short transaction records the outcome, idempotently.
A request that dies between (2) and (3) leaves the payment pending; ``payments_settle_pending`` asks
the gateway what became of it. Methods that settle in this database (vouchers, miles) are hooks
(``reservations.hooks.payment_methods``) and run inside one transaction with the payment row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.models import User
from crm.timeline import label
from reservations import hooks, pricing
from reservations.gateway import CardToken, GatewayResult, get_gateway
from reservations.models import (
    ZERO,
    Booking,
    BookingStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from reservations.services.common import _actor, _booker_timeline, _is_staff_with
from reservations.services.notifications import _payment_receipt_queue
from reservations.services.refunds import _refund_record, _settle_credit
from reservations.services.ticketing import booking_ticket

logger = logging.getLogger(__name__)

# A card payment still pending after this long lost its request (a crash, a timeout): the sweep settles it.
PAYMENT_SWEEP_SECONDS = 120
IDEMPOTENCY_KEY_MAX = 100


@dataclass(frozen=True)
class CardDetails:
    """A card as typed in: handed to the gateway for a token and never stored or logged (repr hides it)."""

    number: str = field(repr=False)
    expiry_month: int
    expiry_year: int
    cvv: str = field(repr=False)
    holder: str


class PaymentDeclined(ApplicationError):
    """The gateway refused the card; ``payment`` is the recorded declined attempt."""

    status = 402

    def __init__(self, message: str, *, payment: Payment):
        super().__init__(message, code="payment_declined")
        self.payment = payment


def _idempotency_scope(by: User | None) -> str:
    """Keys belong to the login that sends them: two logins that both send "1" mean two payments."""
    user = _actor(by)
    return f"user:{user.pk}" if user is not None else ""


def _check_payable(booking: Booking) -> None:
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.EXPIRED):
        raise ApplicationError(
            _("Booking %(locator)s is %(status)s and can no longer be paid.")
            % {"locator": booking.record_locator, "status": booking.get_status_display().lower()},
            code="booking_not_payable",
        )
    if booking.status == BookingStatus.HELD and booking.hold_expires_at and booking.hold_expires_at <= timezone.now():
        raise ApplicationError(
            _("The hold on booking %(locator)s has expired; please book again.") % {"locator": booking.record_locator},
            code="booking_not_payable",
        )


def payment_take(
    *,
    booking: Booking,
    method: str,
    idempotency_key: str,
    amount: Decimal | None = None,
    card: CardDetails | None = None,
    voucher_code: str = "",
    details: Mapping[str, str] | None = None,
    by: User | None = None,
) -> Payment:
    """Pay towards the balance due (all of it unless ``amount``); full payment issues the e-tickets.

    A hooked method may pay only part of the booking (its ``payable``, e.g. miles pay the fares): then
    that part is taken by default and the rest stays due. ``details`` is the method's own input, handed
    to its hook with ``voucher_code``.

    The client's idempotency key (scoped to the login ``by``) makes a repeated request return the first
    result instead of paying again; the returned payment's ``replayed`` says which it was. A repeat
    while the first is still at the gateway is a 409 ``request_in_progress``. A declined card is kept as a
    declined payment and ``PaymentDeclined`` is raised carrying it (a replay raises the same decline).
    Call this outside an enclosing transaction: the gateway must not be called with locks held.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        message = _("Send an idempotency key of 1 to 100 characters.")
        raise ApplicationError(message, code="idempotency_key_invalid", fields={"idempotency_key": [message]})
    hook = _method_hook(method)
    scope = _idempotency_scope(by)
    earlier = Payment.objects.filter(idempotency_scope=scope, idempotency_key=key).first()
    if earlier is not None:
        return _answer(_replayed(earlier, booking=booking), booking=booking)
    token = None
    if method == PaymentMethod.CARD:
        if card is None:
            message = _("Enter the card details.")
            raise ApplicationError(message, code="card_invalid", fields={"card": [message]})
        token = get_gateway().tokenize(
            number=card.number, expiry_month=card.expiry_month, expiry_year=card.expiry_year, cvv=card.cvv, holder=card.holder
        )
    payment = _payment_begin(
        booking=booking, method=method, scope=scope, key=key, amount=amount, token=token, hook=hook,
        details={**(details or {}), "voucher_code": voucher_code}, by=by,
    )  # fmt: skip
    if not payment.replayed and payment.status == PaymentStatus.PENDING:
        try:
            result = get_gateway().charge(
                token=payment.card_token, amount=payment.amount, currency=payment.currency, idempotency_key=payment.external_key
            )
        except Exception as lost:
            # No answer (a timeout, a dropped connection): the charge may or may not have happened.
            logger.warning("No answer from the gateway for payment %s: %r; the sweep will settle it", payment.pk, lost)
            raise _still_processing() from lost
        payment = _payment_settle(payment_id=payment.pk, result=result, by=by)
        payment.replayed = False
    return _answer(payment, booking=booking)


def _still_processing() -> Conflict:
    """The one answer while a payment's outcome is not known yet: repeat the same request to learn it."""
    return Conflict(
        _("This payment is still being processed; send the same request again in a moment for its result."),
        code="request_in_progress",
    )


def _method_hook(method: str) -> hooks.PaymentMethodHook | None:
    """Card and counter are reservations' own; every other method is a registered hook, or unavailable."""
    if method in (PaymentMethod.CARD, PaymentMethod.COUNTER):
        return None
    if method not in PaymentMethod.values:
        message = _("Choose card, travel voucher, counter or miles.")
        raise ApplicationError(message, fields={"method": [message]})
    hook = hooks.payment_methods.get(method)
    if hook is None:
        message = _("Paying with %(method)s is not available.") % {"method": PaymentMethod(method).label.lower()}
        raise ApplicationError(message, code="payment_method_unavailable", fields={"method": [message]})
    return hook


def _replayed(payment: Payment, *, booking: Booking) -> Payment:
    """The first payment made with this key: the one rule for what a repeat gets back."""
    if payment.booking_id != booking.pk:
        raise Conflict(_("This idempotency key was already used for another booking."), code="idempotency_key_reused")
    if payment.status == PaymentStatus.PENDING:
        raise _still_processing()
    payment.replayed = True
    return payment


def _answer(payment: Payment, *, booking: Booking) -> Payment:
    booking.refresh_from_db(fields=["status", "paid_amount", "refunded_amount", "total_amount", "hold_expires_at", "updated_at"])
    if payment.status == PaymentStatus.DECLINED:
        raise PaymentDeclined(_("The card was declined (%(reason)s).") % {"reason": payment.decline_reason}, payment=payment)
    return payment


@transaction.atomic
def _payment_begin(
    *,
    booking: Booking,
    method: str,
    scope: str,
    key: str,
    amount: Decimal | None,
    token: CardToken | None,
    hook: hooks.PaymentMethodHook | None,
    details: dict[str, str],
    by: User | None,
) -> Payment:
    """Step 1 under the booking's lock: a card payment is recorded as pending, any other is taken whole."""
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking.pk)
    earlier = Payment.objects.filter(idempotency_scope=scope, idempotency_key=key).first()
    if earlier is not None:
        return _replayed(earlier, booking=locked)
    if method == PaymentMethod.COUNTER and not _is_staff_with(by, "reservations.add_payment"):
        raise ApplicationError(_("Only an agent can take a payment at the counter."), code="forbidden", status=403)
    _check_payable(locked)
    limit = None
    payable = getattr(hook, "payable", None) if hook is not None else None
    if payable is not None:
        limit = pricing.money(Decimal(str(payable(booking=locked, details=details))))
    value = _amount_to_take(locked, amount, limit=limit)
    payment = Payment(
        booking=locked, idempotency_scope=scope, idempotency_key=key, method=method, amount=value,
        currency=locked.currency, status=PaymentStatus.PENDING, created_by=_actor(by),
    )  # fmt: skip
    if token is not None:
        payment.card_token, payment.card_brand, payment.card_last4 = token.token, token.brand, token.last4
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        # The unique key is the last word when two requests race with one key for two bookings.
        return _replayed(Payment.objects.get(idempotency_scope=scope, idempotency_key=key), booking=locked)
    payment.replayed = False
    if method == PaymentMethod.CARD:
        return payment
    if hook is not None:
        taken = hook.pay(
            booking=locked, amount=value, currency=locked.currency, reference=payment.external_key, details=details, by=by
        )
        payment.gateway_reference, payment.miles, payment.voucher_id = taken.reference[:64], taken.miles, taken.voucher_id
    payment.status = PaymentStatus.SUCCEEDED
    payment.save(update_fields=["status", "gateway_reference", "miles", "voucher"])
    _payment_apply(locked, payment, by=by)
    return payment


def _amount_to_take(booking: Booking, amount: Decimal | None, *, limit: Decimal | None = None) -> Decimal:
    """What is due, less what payments still at the gateway may already cover; at most ``limit`` (the
    method's own ``payable``) when the method pays only part of the booking."""
    due = booking.balance_due
    if due <= 0:
        raise ApplicationError(
            _("Nothing is due on booking %(locator)s.") % {"locator": booking.record_locator}, code="nothing_due"
        )
    pending = booking.payments.filter(status=PaymentStatus.PENDING).aggregate(total=Sum("amount"))["total"] or ZERO
    payable = due - pending
    if payable <= 0:
        raise Conflict(
            _("Another payment for booking %(locator)s is being processed; try again in a moment.")
            % {"locator": booking.record_locator},
            code="payment_in_progress",
        )
    if limit is not None and limit < payable:
        if limit <= 0:
            message = _("Nothing on booking %(locator)s can be paid this way.") % {"locator": booking.record_locator}
            raise ApplicationError(message, code="method_not_applicable", fields={"method": [message]})
        payable = limit
    try:
        value = payable if amount is None else pricing.money(Decimal(str(amount)))
    except (ArithmeticError, TypeError, ValueError):
        value = Decimal(0)
    if value <= 0:
        message = _("Enter an amount greater than zero.")
        raise ApplicationError(message, fields={"amount": [message]})
    if value > payable:
        message = (
            _("At most %(due)s %(currency)s can be paid this way.")
            if limit is not None and limit == payable
            else _("The amount is more than the %(due)s %(currency)s due.")
        ) % {"due": payable, "currency": booking.currency}
        raise ApplicationError(message, code="amount_exceeds_balance", fields={"amount": [message]})
    return value


def _payment_settle(*, payment_id: int, result: GatewayResult, by: User | None) -> Payment:
    """Step 3: record what the gateway answered; safe to run twice, and never loses a capture.

    A capture is recorded even over a payment the sweep had given up on (the gateway is the truth).
    """
    with transaction.atomic():
        booking_id = Payment.objects.values_list("booking_id", flat=True).get(pk=payment_id)
        locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == PaymentStatus.SUCCEEDED:
            return payment
        if not result.succeeded:
            if payment.status == PaymentStatus.PENDING:
                payment.status = PaymentStatus.DECLINED
                payment.decline_reason = (result.decline_reason or result.decline_code)[:200]
                payment.save(update_fields=["status", "decline_reason"])
            return payment
        payment.status = PaymentStatus.SUCCEEDED
        payment.gateway_reference = result.reference[:64]
        payment.decline_reason = ""
        payment.save(update_fields=["status", "gateway_reference", "decline_reason"])
        _payment_apply(locked, payment, by=by)
    return payment


def _payment_apply(locked: Booking, payment: Payment, *, by: User | None) -> None:
    """Money taken counts on the booking; a paid hold is ticketed, money nobody owes goes back."""
    Booking.objects.filter(pk=locked.pk).update(paid_amount=F("paid_amount") + payment.amount, updated_at=timezone.now())
    locked.refresh_from_db(fields=["paid_amount", "updated_at"])
    _booker_timeline(
        locked,
        kind="booking.payment",
        message=gettext_noop("Payment of %(amount)s %(currency)s received for booking %(locator)s (%(method)s)"),
        params={
            "amount": str(payment.amount),
            "currency": payment.currency,
            "locator": locked.record_locator,
            "method": label("reservations.payment_method", payment.method),
        },
        data={"payment_id": payment.pk, "amount": str(payment.amount), "method": payment.method},
        by=by,
    )
    if locked.status not in (BookingStatus.HELD, BookingStatus.TICKETED):
        # Closed while the card was at the gateway: the whole payment goes back to it.
        reason = _("Booking %(locator)s was closed while this payment was processed.") % {"locator": locked.record_locator}
        _refund_record(booking=locked, payment=payment, amount=payment.amount, reason=reason, by=None)
    elif locked.balance_due < 0:
        _settle_credit(booking=locked, reason=_("Paid more than was due."), by=None)
    elif locked.status == BookingStatus.HELD and locked.balance_due <= 0 and _ticket_paid_booking(locked):
        # The e-ticket receipt that goes out now thanks the passenger for this payment: one e-mail, not two.
        return
    _payment_receipt_queue(booking=locked, payment=payment)


def _ticket_paid_booking(booking: Booking) -> bool:
    """Issue the tickets in a savepoint: if that fails the payment still stands, and the sweep retries."""
    try:
        booking_ticket(booking=booking)
    except Exception:
        logger.exception("Booking %s is paid but its e-tickets could not be issued yet", booking.record_locator)
        return False
    return True


def payments_settle_pending(*, older_than_seconds: int = PAYMENT_SWEEP_SECONDS) -> int:
    """Settle card payments whose request died at the gateway, and ticket holds that are paid (the sweep).

    The gateway is asked what became of each charge by the payment's key; one it never received is
    recorded as declined, so the passenger can pay again. Returns how many payments were settled.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = list(
        Payment.objects.filter(status=PaymentStatus.PENDING, method=PaymentMethod.CARD, created_at__lt=cutoff)
        .order_by("created_at")
        .only("pk")[:500]
    )
    gateway = get_gateway()
    settled = 0
    for payment in pending:
        outcome = gateway.charge_outcome(idempotency_key=payment.external_key) or GatewayResult(
            succeeded=False, decline_code="not_completed", decline_reason="not completed"
        )
        try:
            _payment_settle(payment_id=payment.pk, result=outcome, by=None)
        except Exception:  # noqa: BLE001 - one payment that cannot be settled must not stop the others
            logger.exception("Pending payment %s could not be settled", payment.pk)
        else:
            settled += 1
    paid_holds = list(
        Booking.objects.filter(status=BookingStatus.HELD, total_amount__gt=0)
        .filter(paid_amount__gte=F("total_amount") + F("refunded_amount"))
        .exclude(payments__status=PaymentStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for booking_id in paid_holds:
        with transaction.atomic():
            locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking_id)
            if locked.status == BookingStatus.HELD and locked.balance_due <= 0:
                _ticket_paid_booking(locked)
    return settled
