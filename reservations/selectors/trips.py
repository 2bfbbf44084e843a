"""What a trip offers now: pay, cancel, frequent flyer numbers, and per flight change, seats and check-in, by
the services' own rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from reservations import rules
from reservations.models import (
    Booking,
    BookingStatus,
    Coupon,
    CouponStatus,
    Segment,
    SegmentStatus,
    TicketStatus,
)

BOOKER_ACTIONS = frozenset({"pay", "cancel", "change"})
STAFF_ACTION_PERMISSIONS = {
    "pay": ("reservations.add_payment",),
    "cancel": ("reservations.change_booking", "reservations.add_refund"),
    "change": ("reservations.change_booking",),
    "check_in": ("reservations.add_checkin",),
    "seats": ("reservations.add_seatassignment",),
    "frequent_flyer": ("reservations.change_booking",),
}


@dataclass(frozen=True)
class SegmentActions:
    """What can be done on one flight of the booking now."""

    segment: Segment
    check_in: bool
    check_in_opens: datetime
    seats: bool
    change: bool
    future: bool


@dataclass(frozen=True)
class TripActions:
    """The actions a booking offers its passenger (or a member of staff) now.

    Each is offered exactly when the service would not refuse it (``reservations.rules``); the services
    still enforce the rules, this only decides which buttons and links to show.
    """

    pay: bool
    cancel: bool
    documents: bool
    segments: tuple[SegmentActions, ...]
    # The travellers whose frequent flyer number this login may add, change or remove now (by passenger id).
    frequent_flyer: frozenset[int] = frozenset()

    def for_segment(self, segment: Segment) -> SegmentActions | None:
        return next((a for a in self.segments if a.segment.pk == segment.pk), None)


def trip_actions(*, booking: Booking, user=None, at: datetime | None = None) -> TripActions:  # noqa: ANN001
    """Which of pay, cancel, change, seats, check-in and frequent flyer numbers the booking offers now, in a
    fixed number of queries.

    Uses the booking's prefetched passengers, segments (with flight and fare family) and charges when they
    are there. A member of staff is offered only what their permissions also allow; a co-traveller only
    what concerns their own travellers.
    """
    now = at or timezone.now()
    staff = bool(user is not None and user.is_authenticated and user.is_staff)
    # A passenger who only travels on someone else's booking acts on their own flights, never on the whole.
    customer = getattr(user, "customer", None) if user is not None and user.is_authenticated and not staff else None
    booker = customer is None or booking.customer_id == customer.pk

    def allowed(action: str) -> bool:
        if action in BOOKER_ACTIONS and not booker:
            return False
        return not staff or user.has_perms(STAFF_ACTION_PERMISSIONS[action])

    segments = list(booking.segments.all())
    confirmed = [s for s in segments if s.status == SegmentStatus.CONFIRMED]
    coupons = (
        list(Coupon.objects.filter(ticket__booking=booking).select_related("ticket"))
        if booking.status == BookingStatus.TICKETED
        else []
    )
    # Check-in quotes and collects what is due (seats, bags, the balance) before any boarding pass.
    unpaid = Decimal(0)
    waiting = {c.segment_id for c in coupons if c.ticket.status == TicketStatus.OPEN and c.status == CouponStatus.OPEN}
    per_segment = []
    for segment in segments:
        opens, _closes = rules.check_in_window(flight=segment.flight)
        per_segment.append(
            SegmentActions(
                segment=segment,
                check_in=allowed("check_in")
                and segment.pk in waiting
                and rules.check_in_refusal(booking=booking, segment=segment, unpaid=unpaid, at=now) is None,
                check_in_opens=opens,
                seats=allowed("seats") and rules.seat_refusal(booking=booking, segment=segment, at=now) is None,
                change=allowed("change")
                and rules.change_refusal(booking=booking, segment=segment, coupons=coupons, involuntary=False, at=now) is None,
                future=segment.flight.scheduled_departure > now,
            )
        )
    travellers = list(booking.passengers.all())
    if customer is not None and not booker:
        own = {p.pk for p in travellers if p.customer_id == customer.pk}
        travellers = [p for p in travellers if p.pk in own or p.travelling_with_id in own]
    frequent_flyer = frozenset(
        p.pk
        for p in (travellers if allowed("frequent_flyer") else [])
        if rules.frequent_flyer_refusal(booking=booking, passenger=p, coupons=coupons, segments=segments) is None
    )
    return TripActions(
        pay=allowed("pay") and rules.payment_refusal(booking=booking, at=now) is None,
        cancel=allowed("cancel") and rules.cancel_refusal(booking=booking, segments=confirmed, coupons=coupons) is None,
        documents=booking.status == BookingStatus.TICKETED,
        segments=tuple(per_segment),
        frequent_flyer=frequent_flyer,
    )
