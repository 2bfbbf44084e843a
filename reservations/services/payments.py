"""Taking payment for a booking: card, voucher, counter and the payment methods other apps hook in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict
from crm.models import User
from reservations import pricing
from reservations.gateway import get_gateway
from reservations.models import (
    Booking,
    BookingStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    TravelVoucher,
)
from reservations.services.common import _actor, _booker_timeline, _is_staff_with
from reservations.services.ticketing import booking_ticket


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


# Loyalty provides how miles pay: redeemer(*, booking, amount, currency, idempotency_key, by) -> miles
# debited (raising ApplicationError when the member is short), refunder(*, payment, amount) puts them back.
_miles_hooks: dict[str, Callable[..., Any] | None] = {"redeem": None, "refund": None}


def register_miles_redeemer(fn: Callable[..., int] | None, *, refunder: Callable[..., None] | None = None) -> None:
    """Called by the loyalty app at start-up; reservations knows nothing else about miles."""
    _miles_hooks["redeem"] = fn
    _miles_hooks["refund"] = refunder


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


def _voucher_debit(*, code: str, amount: Decimal, currency: str) -> TravelVoucher:
    """Take ``amount`` off the voucher with a conditional UPDATE, so two payments cannot spend it twice."""
    wrong = {"voucher_code": [_("No valid voucher with this code.")]}
    voucher = TravelVoucher.objects.filter(code__iexact=(code or "").strip()).first()
    if voucher is None:
        raise ApplicationError(_("No valid voucher with this code."), code="voucher_invalid", fields=wrong)
    if voucher.expires_on < timezone.localdate():
        raise ApplicationError(
            _("This voucher expired on %(date)s.") % {"date": voucher.expires_on.isoformat()},
            code="voucher_invalid",
            fields=wrong,
        )
    if voucher.currency != currency:
        raise ApplicationError(
            _("This voucher is in %(voucher)s; the booking is priced in %(booking)s.")
            % {"voucher": voucher.currency, "booking": currency},
            code="voucher_invalid",
            fields=wrong,
        )
    if not TravelVoucher.objects.filter(pk=voucher.pk, balance__gte=amount).update(balance=F("balance") - amount):
        voucher.refresh_from_db(fields=["balance"])
        message = _("The voucher has %(balance)s %(currency)s left, less than %(amount)s %(currency)s.") % {
            "balance": voucher.balance,
            "amount": amount,
            "currency": currency,
        }
        raise ApplicationError(message, code="voucher_insufficient", fields={"voucher_code": [message]})
    return voucher


def payment_take(
    *,
    booking: Booking,
    method: str,
    idempotency_key: str,
    amount: Decimal | None = None,
    card: CardDetails | None = None,
    voucher_code: str = "",
    by: User | None = None,
) -> Payment:
    """Pay towards the balance due (all of it unless ``amount``); full payment issues the e-tickets.

    The client's idempotency key makes a repeated request return the first result instead of charging
    again. A declined card is kept as a declined payment (the attempt belongs to the booking's history):
    it is committed first, then ``PaymentDeclined`` is raised carrying it; a replay of the same key raises
    the same decline. Call this outside an enclosing transaction, or the raise rolls the record back.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        message = _("Send an idempotency key of 1 to 100 characters.")
        raise ApplicationError(message, code="idempotency_key_invalid", fields={"idempotency_key": [message]})
    if method not in PaymentMethod.values:
        message = _("Choose card, travel voucher, counter or miles.")
        raise ApplicationError(message, fields={"method": [message]})
    payment = _payment_record(booking=booking, method=method, key=key, amount=amount, card=card, voucher_code=voucher_code, by=by)
    booking.refresh_from_db(fields=["status", "paid_amount", "refunded_amount", "total_amount", "hold_expires_at", "updated_at"])
    if payment.status == PaymentStatus.DECLINED:
        raise PaymentDeclined(_("The card was declined (%(reason)s).") % {"reason": payment.decline_reason}, payment=payment)
    return payment


@transaction.atomic
def _payment_record(
    *,
    booking: Booking,
    method: str,
    key: str,
    amount: Decimal | None,
    card: CardDetails | None,
    voucher_code: str,
    by: User | None,
) -> Payment:
    locked = Booking.objects.select_for_update(of=("self",)).select_related("customer").get(pk=booking.pk)
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.booking_id != locked.pk:
            raise Conflict(_("This idempotency key was already used for another booking."), code="idempotency_key_reused")
        return existing
    if method == PaymentMethod.COUNTER and not _is_staff_with(by, "reservations.add_payment"):
        raise ApplicationError(_("Only an agent can take a payment at the counter."), code="forbidden", status=403)
    _check_payable(locked)
    due = locked.balance_due
    if due <= 0:
        raise ApplicationError(
            _("Nothing is due on booking %(locator)s.") % {"locator": locked.record_locator}, code="nothing_due"
        )
    try:
        value = due if amount is None else pricing.money(Decimal(str(amount)))
    except (ArithmeticError, TypeError, ValueError):
        value = Decimal(0)
    if value <= 0:
        message = _("Enter an amount greater than zero.")
        raise ApplicationError(message, fields={"amount": [message]})
    if value > due:
        message = _("The amount is more than the %(due)s %(currency)s due.") % {"due": due, "currency": locked.currency}
        raise ApplicationError(message, code="amount_exceeds_balance", fields={"amount": [message]})

    payment = Payment(
        booking=locked, idempotency_key=key, method=method, amount=value, currency=locked.currency, created_by=_actor(by)
    )
    if method == PaymentMethod.CARD:
        if card is None:
            message = _("Enter the card details.")
            raise ApplicationError(message, code="card_invalid", fields={"card": [message]})
        gateway = get_gateway()
        token = gateway.tokenize(
            number=card.number, expiry_month=card.expiry_month, expiry_year=card.expiry_year, cvv=card.cvv, holder=card.holder
        )
        payment.card_token, payment.card_brand, payment.card_last4 = token.token, token.brand, token.last4
        result = gateway.charge(token=token.token, amount=value, currency=locked.currency, idempotency_key=key)
        if not result.succeeded:
            payment.status = PaymentStatus.DECLINED
            payment.decline_reason = result.decline_reason[:200]
            _payment_save(payment)
            return payment
        payment.gateway_reference = result.reference
    elif method == PaymentMethod.VOUCHER:
        payment.voucher = _voucher_debit(code=voucher_code, amount=value, currency=locked.currency)
    elif method == PaymentMethod.MILES:
        redeem = _miles_hooks["redeem"]
        if redeem is None:
            raise ApplicationError(_("Paying with miles is not available."), code="miles_unavailable")
        payment.miles = redeem(booking=locked, amount=value, currency=locked.currency, idempotency_key=key, by=by)
    payment.status = PaymentStatus.SUCCEEDED
    _payment_save(payment)
    Booking.objects.filter(pk=locked.pk).update(paid_amount=F("paid_amount") + value, updated_at=timezone.now())
    locked.refresh_from_db(fields=["paid_amount", "updated_at"])
    _booker_timeline(
        locked,
        kind="booking.payment",
        summary=_("Payment of %(amount)s %(currency)s received for booking %(locator)s (%(method)s)")
        % {
            "amount": value,
            "currency": locked.currency,
            "locator": locked.record_locator,
            "method": payment.get_method_display(),
        },
        data={"payment_id": payment.pk, "amount": str(value), "method": method},
        by=by,
    )
    if locked.status == BookingStatus.HELD and locked.balance_due <= 0:
        booking_ticket(booking=locked)
    return payment


def _payment_save(payment: Payment) -> None:
    """The unique idempotency key is the last word when two requests race with one key for two bookings."""
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        raise Conflict(_("This idempotency key was already used for another booking."), code="idempotency_key_reused")
