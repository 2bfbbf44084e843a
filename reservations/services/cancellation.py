"""Cancelling bookings and refunding what is owed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict
from crm.models import User
from crm.services import timeline_record
from reservations.models import (
    ZERO,
    Booking,
    BookingCharge,
    BookingStatus,
    ChargeKind,
    Coupon,
    CouponStatus,
    Refund,
    Segment,
    SegmentStatus,
    Ticket,
    TicketStatus,
)
from reservations.services.common import (
    FARE_VALUE_KINDS,
    LIVE_COUPONS,
    _actor,
    _coupons_of,
    _is_staff_with,
    _lock_for_change,
    _people,
    _waiver_audit,
    _waiver_reason,
    booking_total_recompute,
)
from reservations.services.inventory import inventory_release
from reservations.services.refunds import _settle_credit


def booking_cancel(
    *, booking: Booking, by: User | None = None, reason: str = "", involuntary: bool = False, waive_reason: str = ""
) -> Booking:
    """Cancel the flights not yet flown, release their seats and refund what the fare rules allow.

    Refundable fares return fare and taxes less the cancellation fee (never below zero); non-refundable
    fares return the taxes only; an involuntary cancellation, or one before ticketing, returns everything.
    Fees are per passenger holding a seat. Refunds go back to the payments they came from.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    if involuntary and by is not None and not _is_staff_with(by, "reservations.change_booking"):
        raise ApplicationError(_("Only the airline can cancel a booking involuntarily."), code="forbidden", status=403)
    planned = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).values_list("flight_id", "cabin"))
    with transaction.atomic():
        inventory, locked = _lock_for_change(booking=booking, flights=planned)
        if locked.status not in (BookingStatus.HELD, BookingStatus.TICKETED):
            raise ApplicationError(
                _("Booking %(locator)s is already %(status)s.")
                % {"locator": locked.record_locator, "status": locked.get_status_display().lower()},
                code="already_cancelled",
            )
        segments = list(
            locked.segments.filter(status=SegmentStatus.CONFIRMED)
            .select_related("flight", "fare_family")
            .prefetch_related("charges")
            .order_by("sequence")
        )
        if sorted((s.flight_id, s.cabin) for s in segments) != sorted(planned):
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        coupons = [c for c in _coupons_of(locked) if c.ticket.status == TicketStatus.OPEN]
        if any(c.status in LIVE_COUPONS for c in coupons):
            raise ApplicationError(
                _("A passenger is checked in; the check-in must be cancelled at the airport first."), code="cancel_not_allowed"
            )
        flown = {c.segment_id for c in coupons if c.status == CouponStatus.FLOWN}
        unflown = [s for s in segments if s.pk not in flown]
        if not unflown:
            raise ApplicationError(_("Every flight of this booking has been flown."), code="cancel_not_allowed")
        full = involuntary or locked.status == BookingStatus.HELD
        passengers = list(locked.passengers.order_by("sequence"))
        lines: list[BookingCharge] = []
        refunded_pairs: set[tuple[int, int]] = set()
        fees = ZERO
        for segment in unflown:
            for passenger in passengers:
                charges = [c for c in segment.charges.all() if c.passenger_id == passenger.pk]
                fare = sum((c.amount for c in charges if c.kind in FARE_VALUE_KINDS), ZERO)
                taxes = sum((c.amount for c in charges if c.kind == ChargeKind.TAX), ZERO)
                fee = ZERO
                if full:
                    credit = sum((c.amount for c in charges), ZERO)
                elif segment.fare_family.refundable:
                    fee = min(segment.fare_family.cancellation_fee, max(fare, ZERO)) if passenger.holds_seat else ZERO
                    credit = fare + taxes
                else:
                    credit = taxes
                common = {"booking": locked, "passenger": passenger, "segment": segment, "currency": locked.currency}
                if credit:
                    lines.append(BookingCharge(
                        **common, kind=ChargeKind.CREDIT, amount=-credit, created_by=_actor(by),
                        description=_("%(flight)s %(date)s not flown") % {
                            "flight": segment.flight.flight_code, "date": segment.flight.service_date.isoformat()},
                    ))  # fmt: skip
                if fee:
                    lines.append(BookingCharge(
                        **common, kind=ChargeKind.CANCELLATION_FEE, amount=fee, created_by=_actor(by),
                        description=f"{segment.flight.flight_code} {segment.fare_family.name}",
                    ))  # fmt: skip
                    if waiver:
                        lines.append(BookingCharge(
                            **common, kind=ChargeKind.WAIVER, amount=-fee, reason=waiver, created_by=_actor(by),
                            description=str(ChargeKind.CANCELLATION_FEE.label),
                        ))  # fmt: skip
                    fees += fee
                if credit - (ZERO if waiver else fee) > 0:
                    refunded_pairs.add((passenger.pk, segment.pk))
        BookingCharge.objects.bulk_create(lines)
        booking_total_recompute(booking=locked)
        if full and not flown and locked.total_amount > 0:
            BookingCharge.objects.create(
                booking=locked, kind=ChargeKind.CREDIT, amount=-locked.total_amount, currency=locked.currency,
                description=_("Cancelled by the airline") if involuntary else _("Cancelled before ticketing"),
                created_by=_actor(by),
            )  # fmt: skip
            booking_total_recompute(booking=locked)
        if locked.balance_due > 0:
            # What was never paid (e.g. the difference of an earlier change) is not owed once the trip is off.
            BookingCharge.objects.create(
                booking=locked, kind=ChargeKind.CREDIT, amount=-locked.balance_due, currency=locked.currency,
                description=_("Unpaid balance cancelled"), created_by=_actor(by),
            )  # fmt: skip
            booking_total_recompute(booking=locked)

        for segment in unflown:
            if (segment.flight_id, segment.cabin) in inventory:
                inventory_release(flight_id=segment.flight_id, cabin=segment.cabin, seats=locked.seats)
            segment.seat_assignments.all().delete()
        Segment.objects.filter(pk__in=[s.pk for s in unflown]).update(status=SegmentStatus.CANCELLED)
        now = timezone.now()
        cancelled = {s.pk for s in unflown}
        # One UPDATE per new status, not one per coupon and ticket: the quote runs all of this on every view.
        coupon_states: dict[str, list[int]] = {}
        for coupon in coupons:
            if coupon.segment_id in cancelled and coupon.status == CouponStatus.OPEN:
                refunded = (coupon.ticket.passenger_id, coupon.segment_id) in refunded_pairs
                coupon.status = CouponStatus.REFUNDED if refunded else CouponStatus.VOID
                coupon.updated_at = now
                coupon_states.setdefault(coupon.status, []).append(coupon.pk)
        for status, ids in coupon_states.items():
            Coupon.objects.filter(pk__in=ids).update(status=status, updated_at=now)
        ticket_states: dict[str, list[int]] = {}
        for ticket in {c.ticket_id: c.ticket for c in coupons}.values():
            states = {c.status for c in coupons if c.ticket_id == ticket.pk}
            if CouponStatus.REFUNDED in states:
                ticket.status = TicketStatus.REFUNDED
            elif states == {CouponStatus.VOID}:
                ticket.status = TicketStatus.VOID
            else:
                continue
            ticket_states.setdefault(ticket.status, []).append(ticket.pk)
        for status, ids in ticket_states.items():
            Ticket.objects.filter(pk__in=ids).update(status=status)
        locked.status = BookingStatus.CANCELLED
        locked.cancelled_at = now
        locked.hold_expires_at = None
        locked.save(update_fields=["status", "cancelled_at", "hold_expires_at", "updated_at"])
        why = (reason or "").strip() or (_("Cancelled by the airline") if involuntary else _("Cancelled on request"))
        refunds = _settle_credit(booking=locked, reason=why[:300], by=by)
        for person in _people(locked):
            timeline_record(
                customer=person,
                kind="booking.cancelled",
                summary=_("Booking %(locator)s cancelled: %(reason)s") % {"locator": locked.record_locator, "reason": why},
                data={
                    "record_locator": locked.record_locator,
                    "involuntary": involuntary,
                    "refund": str(sum((r.amount for r in refunds), ZERO)),
                    "fees": str(fees),
                },
                actor=by,
            )
        if waiver and fees:
            _waiver_audit(booking=locked, amount=fees, kind=ChargeKind.CANCELLATION_FEE, reason=waiver, by=by)
        from reservations.events import booking_cancelled

        booking_cancelled.send(sender=Booking, booking=locked, reason="involuntary" if involuntary else "cancelled")
    return Booking.objects.get(pk=locked.pk)


@dataclass(frozen=True)
class CancelQuote:
    """What cancelling now would refund and keep, exactly as booking_cancel would do it."""

    refunds: list[Refund]
    fees: Decimal
    currency: str

    @property
    def refund_total(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)


class _QuoteReady(Exception):
    def __init__(self, quote: CancelQuote) -> None:
        super().__init__()
        self.quote = quote


def booking_cancel_quote(*, booking: Booking, by: User | None = None) -> CancelQuote:
    """Cancel inside a savepoint and roll it back, so the quote can never drift from the real rules.

    Nothing leaves the transaction: refunds to cards and e-mails start only on commit, which never comes.
    """
    before_refunds = set(booking.refunds.values_list("pk", flat=True))
    before_charges = set(booking.charges.values_list("pk", flat=True))
    try:
        with transaction.atomic():
            booking_cancel(booking=booking, by=by, reason=_("Quote"))
            refunds = list(Refund.objects.select_related("payment").filter(booking=booking).exclude(pk__in=before_refunds))
            fees = BookingCharge.objects.filter(booking=booking, kind=ChargeKind.CANCELLATION_FEE).exclude(pk__in=before_charges)
            raise _QuoteReady(CancelQuote(refunds=refunds, fees=sum((c.amount for c in fees), ZERO), currency=booking.currency))
    except _QuoteReady as ready:
        return ready.quote
