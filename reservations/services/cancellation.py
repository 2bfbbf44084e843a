"""Cancelling bookings and refunding what is owed.

One plan, computed from the rows as they are, says what a cancellation posts, releases and refunds:
the quote shows it without changing anything, and ``booking_cancel`` computes it again from the rows it
has locked and applies it, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.events import send_after_commit
from crm.models import User
from crm.services import timeline_record
from crm.timeline import phrase
from reservations import events, hooks, pricing
from reservations.models import (
    ZERO,
    Booking,
    BookingCharge,
    BookingStatus,
    ChargeKind,
    Coupon,
    CouponStatus,
    FlightCabin,
    PaymentMethod,
    SeatAssignment,
    Segment,
    SegmentStatus,
    Ticket,
    TicketStatus,
)
from reservations.rules import cancel_refusal
from reservations.selectors.operations import disrupted_segment
from reservations.services.common import (
    FARE_VALUE_KINDS,
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
from reservations.services.notifications import _cancellation_queue
from reservations.services.refunds import (
    PlannedRefund,
    payment_redeposits,
    refund_create,
    refundable_payments,
    refunds_plan,
)


@dataclass(frozen=True)
class PlannedCharge:
    """A line the cancellation posts on the booking (a credit, a fee, a waiver of the fee)."""

    kind: str
    amount: Decimal
    description: str
    passenger_id: int | None = None
    segment_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class SeatRelease:
    """Seats given back to one cabin of one flight."""

    flight_id: int
    cabin: str
    seats: int


@dataclass(frozen=True)
class CancelPlan:
    """What cancelling now posts, releases and refunds: the quote shows it, ``booking_cancel`` applies it."""

    booking_id: int
    currency: str
    involuntary: bool
    segment_ids: tuple[int, ...]
    charges: tuple[PlannedCharge, ...]
    releases: tuple[SeatRelease, ...]
    coupons: tuple[tuple[int, str], ...]
    tickets: tuple[tuple[int, str], ...]
    fees: Decimal
    waived: Decimal
    refunds: tuple[PlannedRefund, ...]
    # Fares of the cancelled flights paid by a method that redeposits on cancellation (an award's miles):
    # refunded to it in full, whatever the fare's rules.
    redeposit: Decimal = ZERO

    @property
    def refund_total(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)


def _check_involuntary(*, by: User | None, involuntary: bool, booking: Booking) -> None:
    """The airline cancels involuntarily; so may the passenger whose flight it cancelled or long delayed."""
    if (
        involuntary
        and by is not None
        and not _is_staff_with(by, "reservations.change_booking")
        and disrupted_segment(booking=booking) is None
    ):
        raise ApplicationError(_("Only the airline can cancel a booking involuntarily."), code="forbidden", status=403)


def _confirmed_segments(booking: Booking) -> list[Segment]:
    return list(
        booking.segments.filter(status=SegmentStatus.CONFIRMED)
        .select_related("flight", "fare_family")
        .prefetch_related("charges")
        .order_by("sequence")
    )


def booking_cancel_plan(
    *, booking: Booking, segments: list[Segment], cabins: Iterable[tuple[int, str]], involuntary: bool, waiver: str
) -> CancelPlan:
    """The rules of a cancellation, applied to rows already read: refuses what may not be cancelled.

    Refundable fares return fare and taxes less the cancellation fee (never below zero); non-refundable
    fares return the taxes only; an involuntary cancellation, or one before ticketing, returns everything.
    Fees are per passenger holding a seat. Refunds go back to the payments they came from.

    Fares paid by a method that redeposits on cancellation (``redeposit_on_cancel``: an award's miles)
    come back in full on every fare; the fare family's cancellation fee is then kept from what is
    refunded in cash for that flight (its taxes), never more than that. Reads, never writes or locks:
    ``booking_cancel`` calls it on the rows it has locked, the quote on the rows as they are.
    """
    all_coupons = _coupons_of(booking)
    refusal = cancel_refusal(booking=booking, segments=segments, coupons=all_coupons)
    if refusal is not None:
        raise refusal
    coupons = [c for c in all_coupons if c.ticket.status == TicketStatus.OPEN]
    flown = {c.segment_id for c in coupons if c.status == CouponStatus.FLOWN}
    unflown = [s for s in segments if s.pk not in flown]
    full = involuntary or booking.status == BookingStatus.HELD
    passengers = list(booking.passengers.order_by("sequence"))
    payments = refundable_payments(booking=booking) if booking.paid_amount > 0 else []
    # What redepositing payments can still give back: it pays the cancelled flights' fares first.
    award_left = sum((p.refundable_amount for p in payments if payment_redeposits(p)), ZERO)
    redeposit = ZERO
    lines: list[PlannedCharge] = []
    refunded_pairs: set[tuple[int, int]] = set()
    fees = ZERO
    for segment in unflown:
        for passenger in passengers:
            charges = [c for c in segment.charges.all() if c.passenger_id == passenger.pk]
            fare = sum((c.amount for c in charges if c.kind in FARE_VALUE_KINDS), ZERO)
            taxes = sum((c.amount for c in charges if c.kind == ChargeKind.TAX), ZERO)
            award = min(max(fare, ZERO), award_left)
            award_left -= award
            redeposit += award
            fee = ZERO
            if full:
                credit = sum((c.amount for c in charges), ZERO)
            elif award > 0:
                # An award: its miles come back whole; the fee comes out of the cash refunded, never beyond it.
                cash = max(taxes + (fare - award if segment.fare_family.refundable else ZERO), ZERO)
                fee = min(segment.fare_family.cancellation_fee, cash) if passenger.holds_seat else ZERO
                credit = award + cash
            elif segment.fare_family.refundable:
                fee = min(segment.fare_family.cancellation_fee, max(fare, ZERO)) if passenger.holds_seat else ZERO
                credit = fare + taxes
            else:
                credit = taxes
            on = {"passenger_id": passenger.pk, "segment_id": segment.pk}
            if credit:
                lines.append(PlannedCharge(
                    **on, kind=ChargeKind.CREDIT, amount=-credit,
                    description=_("%(flight)s %(date)s not flown") % {
                        "flight": segment.flight.flight_code, "date": segment.flight.service_date.isoformat()},
                ))  # fmt: skip
            if fee:
                lines.append(PlannedCharge(
                    **on, kind=ChargeKind.CANCELLATION_FEE, amount=fee,
                    description=f"{segment.flight.flight_code} {segment.fare_family.name}",
                ))  # fmt: skip
                if waiver:
                    lines.append(PlannedCharge(
                        **on, kind=ChargeKind.WAIVER, amount=-fee, reason=waiver,
                        description=str(ChargeKind.CANCELLATION_FEE.label),
                    ))  # fmt: skip
                fees += fee
            if credit - (ZERO if waiver else fee) > 0:
                refunded_pairs.add((passenger.pk, segment.pk))

    # The total as booking_total_recompute will find it after each step.
    total = pricing.money(sum((c.amount for c in booking.charges.all()), ZERO) + sum((c.amount for c in lines), ZERO))
    if full and not flown and total > 0:
        lines.append(PlannedCharge(
            kind=ChargeKind.CREDIT, amount=-total,
            description=_("Cancelled by the airline") if involuntary else _("Cancelled before ticketing"),
        ))  # fmt: skip
        total = ZERO
    unpaid = total - (booking.paid_amount - booking.refunded_amount)
    if unpaid > 0:
        # What was never paid (e.g. the difference of an earlier change) is not owed once the trip is off.
        lines.append(PlannedCharge(kind=ChargeKind.CREDIT, amount=-unpaid, description=_("Unpaid balance cancelled")))
        total -= unpaid
    owed = (booking.paid_amount - booking.refunded_amount) - total

    cancelled = {s.pk for s in unflown}
    coupon_states = {c.pk: c.status for c in coupons}
    for c in coupons:
        if c.segment_id in cancelled and c.status == CouponStatus.OPEN:
            refunded = (c.ticket.passenger_id, c.segment_id) in refunded_pairs
            coupon_states[c.pk] = CouponStatus.REFUNDED if refunded else CouponStatus.VOID
    tickets = []
    for ticket_id in dict.fromkeys(c.ticket_id for c in coupons):
        states = {coupon_states[c.pk] for c in coupons if c.ticket_id == ticket_id}
        if CouponStatus.REFUNDED in states:
            tickets.append((ticket_id, TicketStatus.REFUNDED))
        elif states == {CouponStatus.VOID}:
            tickets.append((ticket_id, TicketStatus.VOID))
    cabins = set(cabins)
    return CancelPlan(
        booking_id=booking.pk,
        currency=booking.currency,
        involuntary=involuntary,
        segment_ids=tuple(s.pk for s in unflown),
        charges=tuple(lines),
        releases=tuple(
            SeatRelease(flight_id=s.flight_id, cabin=s.cabin, seats=booking.seats)
            for s in unflown
            if (s.flight_id, s.cabin) in cabins
        ),
        coupons=tuple((c.pk, coupon_states[c.pk]) for c in coupons if coupon_states[c.pk] != c.status),
        tickets=tuple(tickets),
        fees=fees,
        waived=fees if waiver else ZERO,
        refunds=refunds_plan(booking=booking, owed=owed, redeposit=redeposit, payments=payments),
        redeposit=redeposit,
    )


def booking_cancel_quote(
    *, booking: Booking, by: User | None = None, involuntary: bool = False, waive_reason: str = ""
) -> CancelPlan:
    """What cancelling now would refund and keep, by the very rules ``booking_cancel`` applies.

    Reads the booking as it is, without locks: nothing is written and no event is sent; a hooked payment
    method is only asked what its refund gives back (``refund_preview``, read only), e.g. the miles.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    _check_involuntary(by=by, involuntary=involuntary, booking=booking)
    current = Booking.objects.get(pk=booking.pk)
    segments = _confirmed_segments(current)
    cabins = FlightCabin.objects.filter(flight_id__in={s.flight_id for s in segments}).values_list("flight_id", "cabin")
    plan = booking_cancel_plan(booking=current, segments=segments, cabins=cabins, involuntary=involuntary, waiver=waiver)
    return replace(plan, refunds=tuple(_refund_previewed(r) for r in plan.refunds))


def _refund_previewed(refund: PlannedRefund) -> PlannedRefund:
    """The planned refund with what its payment method says the payer gets back (miles), if it says."""
    if refund.payment.method in (PaymentMethod.CARD, PaymentMethod.COUNTER):
        return refund
    preview_fn = getattr(hooks.payment_methods.get(refund.payment.method), "refund_preview", None)
    preview = preview_fn(payment=refund.payment, amount=refund.amount) if preview_fn is not None else None
    if preview is None:
        return refund
    return replace(refund, summary=str(preview.summary), miles=preview.miles)


def booking_cancel(
    *, booking: Booking, by: User | None = None, reason: str = "", involuntary: bool = False, waive_reason: str = ""
) -> Booking:
    """Cancel the flights not yet flown, release their seats and refund what the fare rules allow.

    The plan is computed from the rows once they are locked, so what is applied is what the rules say now.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    _check_involuntary(by=by, involuntary=involuntary, booking=booking)
    planned = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).values_list("flight_id", "cabin"))
    with transaction.atomic():
        inventory, locked = _lock_for_change(booking=booking, flights=planned)
        segments = _confirmed_segments(locked)
        if locked.status in (BookingStatus.HELD, BookingStatus.TICKETED) and sorted(
            (s.flight_id, s.cabin) for s in segments
        ) != sorted(planned):
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        # For the booking_cancelled event: the expiry sweep cancels a part-paid hold with no one acting.
        expires = locked.hold_expires_at
        expired = by is None and locked.status == BookingStatus.HELD and expires is not None and expires <= timezone.now()
        plan = booking_cancel_plan(booking=locked, segments=segments, cabins=inventory, involuntary=involuntary, waiver=waiver)

        BookingCharge.objects.bulk_create(
            BookingCharge(
                booking=locked,
                passenger_id=line.passenger_id,
                segment_id=line.segment_id,
                kind=line.kind,
                amount=line.amount,
                currency=locked.currency,
                description=line.description,
                reason=line.reason,
                created_by=_actor(by),
            )  # fmt: skip
            for line in plan.charges
        )
        booking_total_recompute(booking=locked)
        for release in plan.releases:
            inventory_release(flight_id=release.flight_id, cabin=release.cabin, seats=release.seats)
        SeatAssignment.objects.filter(segment_id__in=plan.segment_ids).delete()
        Segment.objects.filter(pk__in=plan.segment_ids).update(status=SegmentStatus.CANCELLED)
        now = timezone.now()
        for status in {status for _pk, status in plan.coupons}:
            Coupon.objects.filter(pk__in=[pk for pk, s in plan.coupons if s == status]).update(status=status, updated_at=now)
        for status in {status for _pk, status in plan.tickets}:
            Ticket.objects.filter(pk__in=[pk for pk, s in plan.tickets if s == status]).update(status=status)
        if locked.status == BookingStatus.HELD:
            hooks.discounts_release(booking=locked)
        locked.status = BookingStatus.CANCELLED
        locked.cancelled_at = now
        locked.hold_expires_at = None
        locked.save(update_fields=["status", "cancelled_at", "hold_expires_at", "updated_at"])
        given = (reason or "").strip()
        default = gettext_noop("Cancelled by the airline") if involuntary else gettext_noop("Cancelled on request")
        why = given or _(default)
        refunds = [
            refund_create(booking=locked, payment=item.payment, amount=item.amount, reason=why[:300], by=by)
            for item in plan.refunds
        ]
        fees = plan.fees
        for person in _people(locked):
            timeline_record(
                customer=person,
                kind="booking.cancelled",
                message=gettext_noop("Booking %(locator)s cancelled: %(reason)s"),
                params={"locator": locked.record_locator, "reason": given[:300] or phrase(default)},
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
        why_code = "involuntary" if involuntary else "expired" if expired else "voluntary"
        send_after_commit(
            events.booking_cancelled,
            sender=Booking,
            booking_id=locked.pk,
            record_locator=locked.record_locator,
            reason=why_code,
        )
        _cancellation_queue(
            booking=locked,
            segments=[s for s in segments if s.pk in set(plan.segment_ids)],
            refunds=refunds,
            fees=fees - plan.waived,
            reason=why_code,
        )
    return Booking.objects.get(pk=locked.pk)
