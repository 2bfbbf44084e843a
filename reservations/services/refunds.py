"""Refunds: what is owed after a change or a cancellation, and paying it back through the gateway or the hook that took it.

A card refund is recorded as pending with the booking locked; the gateway is called later, from a task,
with no lock held and the refund's own id as its idempotency key; then the outcome is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.celery import task_enqueue, task_enqueue_on_commit
from crm.errors import ApplicationError
from crm.events import send_after_commit
from crm.models import User
from crm.timeline import label
from reservations import events, hooks, pricing
from reservations.gateway import get_gateway
from reservations.models import (
    ZERO,
    Booking,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from reservations.services.common import _actor, _booker_timeline, _is_staff_with
from reservations.services.notifications import _refund_queue

REFUND_SWEEP_SECONDS = 300


def _settle_credit(*, booking: Booking, reason: str, by: User | None) -> list[Refund]:
    """When the airline now owes money (a credited residual, a cancellation), refund it to how it was paid."""
    owed = -booking.balance_due
    return _refunds_issue(booking=booking, amount=owed, reason=reason, by=by) if owed > 0 else []


@transaction.atomic
def refund_owed(*, booking: Booking, reason: str, by: User | None = None) -> list[Refund]:
    """Refund whatever the airline owes on the booking (e.g. after a failed refund) to the payments it came from."""
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    if locked.balance_due >= 0:
        raise ApplicationError(
            _("Nothing is owed on booking %(locator)s.") % {"locator": locked.record_locator}, code="nothing_owed"
        )
    return _settle_credit(booking=locked, reason=reason, by=by)


@dataclass(frozen=True)
class PlannedRefund:
    """Money that goes back to one payment; a quote adds what its method says the payer gets back."""

    payment: Payment
    amount: Decimal
    summary: str = ""  # e.g. "7,500 miles go back to your miles account" (the method's refund_preview)
    miles: int | None = None

    @property
    def currency(self) -> str:
        return self.payment.currency


def payment_redeposits(payment: Payment) -> bool:
    """Whether the payment's method gives all it paid back on a voluntary cancellation (an award's miles)."""
    if payment.method in (PaymentMethod.CARD, PaymentMethod.COUNTER):
        return False
    return bool(getattr(hooks.payment_methods.get(payment.method), "redeposit_on_cancel", False))


def refundable_payments(*, booking: Booking) -> list[Payment]:
    """The booking's successful payments, newest first, with their refunds: the order refunds go back in."""
    return list(
        booking.payments.filter(status=PaymentStatus.SUCCEEDED).prefetch_related("refunds").order_by("-created_at", "-id")
    )


def refunds_plan(
    *, booking: Booking, owed: Decimal, redeposit: Decimal = ZERO, payments: list[Payment] | None = None
) -> tuple[PlannedRefund, ...]:
    """Spread what the airline owes over the booking's payments, newest first, each up to what is left of it.

    The first ``redeposit`` of it (the fares of cancelled flights paid by a method that redeposits on
    cancellation) goes to such payments before any other, so an award's miles come back whole and a fee
    is kept from the cash. The same order and limits ``refund_create`` enforces; read without locks, so a
    quote can use it. ``payments`` are ``refundable_payments`` when the caller has them already.
    """
    if owed <= 0:
        return ()
    payments = refundable_payments(booking=booking) if payments is None else payments
    left = {p.pk: p.refundable_amount for p in payments}
    taken: dict[int, Decimal] = {}
    remaining = owed

    def take_from(candidates: list[Payment], limit: Decimal) -> Decimal:
        used = ZERO
        for payment in candidates:
            take = min(limit - used, left[payment.pk])
            if take > 0:
                left[payment.pk] -= take
                taken[payment.pk] = taken.get(payment.pk, ZERO) + take
                used += take
            if used >= limit:
                break
        return used

    if redeposit > 0:
        redepositing = [p for p in payments if payment_redeposits(p)]
        remaining -= take_from(redepositing, min(redeposit, owed))
        remaining -= take_from([p for p in payments if p not in redepositing], remaining)
    if remaining > 0:
        take_from(payments, remaining)
    return tuple(PlannedRefund(payment=p, amount=taken[p.pk]) for p in payments if taken.get(p.pk))


def _refunds_issue(*, booking: Booking, amount: Decimal, reason: str, by: User | None) -> list[Refund]:
    """Spread a refund over the booking's payments as ``refunds_plan`` says."""
    return [
        refund_create(booking=booking, payment=item.payment, amount=item.amount, reason=reason, by=by)
        for item in refunds_plan(booking=booking, owed=amount)
    ]


@transaction.atomic
def refund_create(*, booking: Booking, payment: Payment, amount: Decimal, reason: str, by: User | None = None) -> Refund:
    """Record money going back to the payment it came from; never more than the airline owes."""
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    payment = Payment.objects.prefetch_related("refunds").get(pk=payment.pk)
    reason = _refund_reason(reason)
    if payment.booking_id != locked.pk or payment.status != PaymentStatus.SUCCEEDED:
        raise ApplicationError(_("Only a successful payment of this booking can be refunded."), code="refund_not_allowed")
    amount = pricing.money(Decimal(str(amount)))
    owed = -locked.balance_due
    if amount <= 0 or amount > payment.refundable_amount or amount > owed:
        message = _("The refund must be more than zero and at most %(limit)s %(currency)s.") % {
            "limit": max(min(payment.refundable_amount, owed), ZERO),
            "currency": locked.currency,
        }
        raise ApplicationError(message, code="refund_exceeds_credit", fields={"amount": [message]})
    return _refund_record(booking=locked, payment=payment, amount=amount, reason=reason, by=by)


def _refund_record(*, booking: Booking, payment: Payment, amount: Decimal, reason: str, by: User | None) -> Refund:
    """The refund row, under the booking's lock the caller holds, once the amount is known to be owed.

    A hooked method (voucher, miles) puts the money back at once, in this transaction; a card refund
    goes to the gateway from a task after commit; a counter refund waits for the agent who pays it out.
    """
    refund = Refund.objects.create(
        booking=booking, payment=payment, amount=amount, currency=payment.currency, reason=_refund_reason(reason),
        created_by=_actor(by),
    )  # fmt: skip
    Booking.objects.filter(pk=booking.pk).update(refunded_amount=F("refunded_amount") + amount, updated_at=timezone.now())
    hook = hooks.payment_methods.get(payment.method)
    if payment.method == PaymentMethod.CARD:
        task_enqueue_on_commit("reservations.tasks.process_refund", refund_id=refund.pk)
    elif hook is not None:
        result = hook.refund(payment=payment, amount=amount, reference=refund.external_key)
        _refund_finish(refund=refund, succeeded=result.succeeded, reference=result.reference)
    _booker_timeline(
        booking,
        kind="booking.refund",
        message=gettext_noop("Refund of %(amount)s %(currency)s for booking %(locator)s to %(method)s"),
        params={
            "amount": str(amount),
            "currency": refund.currency,
            "locator": booking.record_locator,
            "method": label("reservations.payment_method", payment.method),
        },
        data={"refund_id": refund.pk, "amount": str(amount), "status": refund.status},
        by=by,
    )
    return refund


def _refund_reason(reason: str) -> str:
    reason = (reason or "").strip()[:300]
    if not reason:
        message = _("Give the reason for the refund.")
        raise ApplicationError(message, fields={"reason": [message]})
    return reason


def _refund_finish(*, refund: Refund, succeeded: bool, reference: str = "") -> Refund:
    refund.status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
    refund.gateway_reference = reference[:64]
    refund.completed_at = timezone.now()
    refund.save(update_fields=["status", "gateway_reference", "completed_at"])
    if succeeded:
        _refund_completed_send(refund)
        _refund_queue(refund=refund)
    if not succeeded:
        # The money is owed again: the booking shows it as a credit for the next attempt.
        Booking.objects.filter(pk=refund.booking_id).update(
            refunded_amount=F("refunded_amount") - refund.amount, updated_at=timezone.now()
        )
    return refund


def _refund_completed_send(refund: Refund) -> None:
    send_after_commit(
        events.refund_completed,
        sender=Refund,
        refund_id=refund.pk,
        booking_id=refund.booking_id,
        record_locator=refund.booking.record_locator,
        payment_id=refund.payment_id,
        method=refund.payment.method,
    )


def refund_complete(*, refund: Refund, succeeded: bool = True, reference: str = "", by: User | None = None) -> Refund:
    """Close a pending refund: the gateway confirmed it, the agent paid it out, or it failed."""
    if by is not None and not _is_staff_with(by, "reservations.add_refund"):
        raise ApplicationError(_("Only an agent can complete a refund."), code="forbidden", status=403)
    with transaction.atomic():
        Booking.objects.select_for_update().filter(pk=refund.booking_id).first()
        locked = Refund.objects.select_for_update(of=("self",)).select_related("booking__customer", "payment").get(pk=refund.pk)
        if locked.status != RefundStatus.PENDING:
            if (locked.status == RefundStatus.SUCCEEDED) == succeeded:
                return locked
            raise ApplicationError(
                _("This refund is already %(status)s.") % {"status": locked.get_status_display().lower()}, code="refund_closed"
            )
        _refund_finish(refund=locked, succeeded=succeeded, reference=reference)
        _booker_timeline(
            locked.booking,
            kind="booking.refund_completed" if succeeded else "booking.refund_failed",
            message=(gettext_noop("Refund of %(amount)s %(currency)s for booking %(locator)s completed") if succeeded
                     else gettext_noop("Refund of %(amount)s %(currency)s for booking %(locator)s failed")),
            params={"amount": str(locked.amount), "currency": locked.currency, "locator": locked.booking.record_locator},
            data={"refund_id": locked.pk},
            by=by,
        )  # fmt: skip
    return locked


def refund_process(*, refund_id: int) -> Refund | None:
    """Send a pending card refund to the gateway (the task calls this); safe to run twice.

    No transaction is open during the gateway call; the refund's own key makes a second call (a retried
    task, two workers) refund once, and ``refund_complete`` records the outcome idempotently.
    """
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != RefundStatus.PENDING or refund.payment.method != PaymentMethod.CARD:
        return refund
    result = get_gateway().refund(
        reference=refund.payment.gateway_reference,
        amount=refund.amount,
        currency=refund.currency,
        idempotency_key=refund.external_key,
    )
    return refund_complete(refund=refund, succeeded=result.succeeded, reference=result.reference)


def refunds_process_pending(*, older_than_seconds: int = REFUND_SWEEP_SECONDS) -> int:
    """Re-enqueue card refunds whose task was lost (the periodic sweep calls this)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Refund.objects.filter(status=RefundStatus.PENDING, payment__method=PaymentMethod.CARD, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        task_enqueue("reservations.tasks.process_refund", refund_id=pk)
    return len(ids)
