"""Voluntary and involuntary flight changes: the quote, the move and the ticket reissue.

The quote and the change share one plan (``booking_change_plan``): the quote computes it from the rows as
they are, without locks or writes; ``booking_change_flight`` computes it again under its locks and applies it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.events import send_after_commit
from crm.models import User
from crm.services import timeline_record
from reservations import events, pricing, rules
from reservations.models import (
    ZERO,
    Booking,
    BookingCharge,
    BookingClass,
    BookingStatus,
    ChargeKind,
    Coupon,
    CouponStatus,
    FareFamily,
    Flight,
    FlightCabin,
    FlightStatus,
    PassengerType,
    Segment,
    SegmentStatus,
    Ticket,
    TicketStatus,
)
from reservations.rules import change_refusal
from reservations.services.booking import _fare_classes
from reservations.services.cancellation import PlannedRefund, refunds_plan
from reservations.services.common import (
    BOOKING_CUTOFF,
    FARE_VALUE_KINDS,
    _actor,
    _coupons_of,
    _is_staff_with,
    _lock_for_change,
    _people,
    _waiver_audit,
    _waiver_reason,
    booking_total_recompute,
    connection_time,
)
from reservations.services.inventory import inventory_release, inventory_take
from reservations.services.notifications import _receipt_queue
from reservations.services.refunds import refund_create
from reservations.services.ticketing import _issue_tickets


@dataclass(frozen=True)
class PassengerChange:
    """One passenger's side of a change: the fare value they hold, the new fare and the fee."""

    passenger_id: int
    old_fare: Decimal
    new_fare: Decimal
    change_fee: Decimal

    @property
    def fare_difference(self) -> Decimal:
        return max(self.new_fare - self.old_fare, ZERO)

    @property
    def residual(self) -> Decimal:
        return max(self.old_fare - self.new_fare, ZERO)


@dataclass(frozen=True)
class ChangeQuote:
    """What moving one segment to another flight costs, by the rules of the fare being changed.

    The fare difference is never negative: when the new fare is cheaper the residual is credited back
    (refundable fares, and bookings not ticketed yet) or forfeited (non-refundable fares).
    """

    booking_id: int
    segment_id: int
    new_flight_id: int
    cabin: str
    fare_family: FareFamily
    booking_class: BookingClass
    currency: str
    passengers: tuple[PassengerChange, ...]
    residual_credited: bool
    waived: Decimal = ZERO
    refunds: tuple[PlannedRefund, ...] = ()

    @property
    def old_fare(self) -> Decimal:
        return sum((p.old_fare for p in self.passengers), ZERO)

    @property
    def new_fare(self) -> Decimal:
        return sum((p.new_fare for p in self.passengers), ZERO)

    @property
    def fare_difference(self) -> Decimal:
        return sum((p.fare_difference for p in self.passengers), ZERO)

    @property
    def residual(self) -> Decimal:
        return sum((p.residual for p in self.passengers), ZERO)

    @property
    def credit(self) -> Decimal:
        return self.residual if self.residual_credited else ZERO

    @property
    def forfeited(self) -> Decimal:
        return ZERO if self.residual_credited else self.residual

    @property
    def change_fee(self) -> Decimal:
        return sum((p.change_fee for p in self.passengers), ZERO)

    @property
    def balance_change(self) -> Decimal:
        """How the booking's balance moves: the difference and fees less what is waived or credited."""
        return self.fare_difference + self.change_fee - self.waived - self.credit

    @property
    def amount_due(self) -> Decimal:
        return max(self.balance_change, ZERO)

    @property
    def refund_total(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)


def _segment_values(segment: Segment) -> dict[int, tuple[Decimal, dict[str, Decimal]]]:
    """Per passenger: the fare value and the taxes (by code) the segment carries."""
    values: dict[int, tuple[Decimal, dict[str, Decimal]]] = {}
    for charge in segment.charges.all():
        if charge.passenger_id is None:
            continue
        fare, taxes = values.setdefault(charge.passenger_id, (ZERO, {}))
        if charge.kind in FARE_VALUE_KINDS:
            values[charge.passenger_id] = (fare + charge.amount, taxes)
        elif charge.kind == ChargeKind.TAX:
            taxes[charge.code] = taxes.get(charge.code, ZERO) + charge.amount
    return values


def _check_segment_movable(*, booking: Booking, segment: Segment, involuntary: bool) -> None:
    refusal = change_refusal(booking=booking, segment=segment, coupons=_coupons_of(booking), involuntary=involuntary)
    if refusal is not None:
        raise refusal


def _check_replacement(*, booking: Booking, segment: Segment, new_flight: Flight) -> None:
    """The new flight serves the same airports, can still be booked, and fits between the other flights."""
    field_errors = {"new_flight_id": []}
    old = segment.flight
    if (new_flight.origin_id, new_flight.destination_id) != (old.origin_id, old.destination_id):
        field_errors["new_flight_id"].append(
            _("Choose a flight from %(origin)s to %(destination)s.")
            % {"origin": old.origin.iata_code, "destination": old.destination.iata_code}
        )
    elif new_flight.status in (FlightStatus.CANCELLED, FlightStatus.DEPARTED, FlightStatus.ARRIVED):
        field_errors["new_flight_id"].append(_("%(flight)s is no longer bookable.") % {"flight": new_flight.flight_code})
    elif new_flight.scheduled_departure - timezone.now() < BOOKING_CUTOFF:
        field_errors["new_flight_id"].append(_("%(flight)s departs too soon to be booked.") % {"flight": new_flight.flight_code})
    else:
        field_errors["new_flight_id"] += _connection_refusals(booking=booking, segment=segment, new_flight=new_flight)
    if field_errors["new_flight_id"]:
        raise ApplicationError(field_errors["new_flight_id"][0], code="invalid_flight", fields=field_errors)


def _connection_refusals(*, booking: Booking, segment: Segment, new_flight: Flight) -> list[str]:
    """What keeps ``new_flight`` from taking ``segment``'s place between the booking's other flights, by the
    rules booking applies: each flight departs at least the connecting time (the airport's minimum for a
    change of flights there) after the one before lands; and a flight that made one journey with its
    neighbour still does, within the longest layover (a longer wait would be a stopover the fare was not
    sold for)."""
    old = segment.flight
    others = list(
        booking.segments.filter(status=SegmentStatus.CONFIRMED)
        .exclude(pk=segment.pk)
        .select_related("flight__origin", "flight__destination")
        .order_by("sequence")
    )
    before = [o.flight for o in others if o.sequence < segment.sequence]
    after = [o.flight for o in others if o.sequence > segment.sequence]
    refusals: list[str] = []
    for landing in before:
        least = connection_time(landing=landing, leaving=new_flight)
        if new_flight.scheduled_departure < landing.scheduled_arrival + least:
            refusals.append(
                _("The new flight must depart at least %(minutes)d minutes after the previous one lands.")
                % {"minutes": int(least.total_seconds() // 60)}
            )
            break
    for leaving in after:
        least = connection_time(landing=new_flight, leaving=leaving)
        if leaving.scheduled_departure < new_flight.scheduled_arrival + least:
            refusals.append(
                _("The new flight must land at least %(minutes)d minutes before the next one departs.")
                % {"minutes": int(least.total_seconds() // 60)}
            )
            break
    longest = rules.maximum_layover()
    if (
        before
        and not refusals
        and rules.connects(arriving=before[-1], departing=old)
        and new_flight.scheduled_departure - before[-1].scheduled_arrival > longest
    ):
        refusals.append(
            _("To keep the connection in %(city)s, the new flight must depart within %(wait)s of the previous one landing.")
            % {"city": new_flight.origin.local_city(), "wait": rules.duration_text(int(longest.total_seconds() // 60))}
        )
    if (
        after
        and not refusals
        and rules.connects(arriving=old, departing=after[0])
        and after[0].scheduled_departure - new_flight.scheduled_arrival > longest
    ):
        refusals.append(
            _("To keep the connection in %(city)s, the new flight must land within %(wait)s of the next one departing.")
            % {"city": new_flight.destination.local_city(), "wait": rules.duration_text(int(longest.total_seconds() // 60))}
        )
    return refusals


def _price_change(
    *, booking: Booking, segment: Segment, new_flight: Flight, fare_family: FareFamily, inventory: FlightCabin | None
) -> ChangeQuote:
    if inventory is None:
        message = _("%(flight)s has no such cabin.") % {"flight": new_flight.flight_code}
        raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
    if new_flight.pk == segment.flight_id and fare_family.pk == segment.fare_family_id:
        message = _("Choose a different flight or fare.")
        raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
    if new_flight.pk == segment.flight_id and inventory.cabin == segment.cabin:
        # The party's own seats count as available when only the fare changes.
        inventory = FlightCabin(
            pk=inventory.pk, flight=new_flight, cabin=inventory.cabin, capacity=inventory.capacity,
            available=inventory.available + booking.seats,
        )  # fmt: skip
    counts = {PassengerType.ADULT: booking.adults, PassengerType.CHILD: booking.children, PassengerType.INFANT: booking.infants}
    offers = pricing.offers_for(
        flight=new_flight, inventory=inventory, classes=_fare_classes({fare_family.cabin}), rules=[], counts=counts
    )
    offer = next((o for o in offers if o.fare_family.pk == fare_family.pk), None)
    if offer is None:
        raise Conflict(
            _("The %(family)s fare is not available on %(flight)s; choose another flight or fare.")
            % {"family": fare_family.name, "flight": new_flight.flight_code},
            code="fare_unavailable",
        )
    ticketed = booking.status == BookingStatus.TICKETED
    values = _segment_values(segment)
    passengers = tuple(
        PassengerChange(
            passenger_id=p.pk,
            old_fare=values.get(p.pk, (ZERO, {}))[0],
            new_fare=offer.prices[p.passenger_type].fare,
            change_fee=segment.fare_family.change_fee if ticketed and p.holds_seat else ZERO,
        )
        for p in booking.passengers.order_by("sequence")
    )
    return ChangeQuote(
        booking_id=booking.pk,
        segment_id=segment.pk,
        new_flight_id=new_flight.pk,
        cabin=fare_family.cabin,
        fare_family=fare_family,
        booking_class=offer.booking_class,
        currency=booking.currency,
        passengers=passengers,
        residual_credited=not ticketed or segment.fare_family.refundable,
    )


def _fare_family_for(*, segment: Segment, code: str | None) -> FareFamily:
    if not code:
        return segment.fare_family
    family = FareFamily.objects.filter(code=code).first()
    if family is None:
        message = _("No such fare.")
        raise ApplicationError(message, fields={"fare_family": [message]})
    return family


def _flight_for(new_flight_id: int) -> Flight:
    flight = Flight.objects.select_related("origin", "destination", "route").filter(pk=new_flight_id).first()
    if flight is None:
        message = _("No such flight.")
        raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
    return flight


def booking_change_plan(
    *,
    booking: Booking,
    segment: Segment,
    new_flight: Flight,
    fare_family: FareFamily,
    inventory: FlightCabin | None,
    waiver: str,
) -> ChangeQuote:
    """The rules of a voluntary change applied to rows already read: refuses, prices, and plans the refund.

    Reads, never writes or locks: ``booking_change_flight`` calls it on the rows it has locked, the quote on
    the rows as they are.
    """
    _check_segment_movable(booking=booking, segment=segment, involuntary=False)
    _check_replacement(booking=booking, segment=segment, new_flight=new_flight)
    priced = _price_change(booking=booking, segment=segment, new_flight=new_flight, fare_family=fare_family, inventory=inventory)
    waived = priced.change_fee if waiver else ZERO
    total = pricing.money(sum((c.amount for c in booking.charges.all()), ZERO))
    paid = booking.paid_amount - booking.refunded_amount
    owed = paid - (total + priced.fare_difference + priced.change_fee - waived - priced.credit)
    return dataclasses.replace(priced, waived=waived, refunds=refunds_plan(booking=booking, owed=owed))


def booking_change_quote(
    *,
    booking: Booking,
    segment: Segment,
    new_flight: Flight,
    fare_family: str | None = None,
    by: User | None = None,
    waive_reason: str = "",
) -> ChangeQuote:
    """Price moving ``segment`` to ``new_flight`` (and optionally another fare family) without changing anything.

    Reads the booking as it is, without locks: nothing is written, no event is sent and no hook is called.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    family = _fare_family_for(segment=segment, code=fare_family)
    current = Booking.objects.get(pk=booking.pk)
    found = Segment.objects.select_related("flight__origin", "flight__destination", "fare_family").get(pk=segment.pk)
    inventory = FlightCabin.objects.filter(flight=new_flight, cabin=family.cabin).first()
    return booking_change_plan(
        booking=current, segment=found, new_flight=new_flight, fare_family=family, inventory=inventory, waiver=waiver
    )


def _move_segment(
    *,
    booking: Booking,
    old: Segment,
    new_flight: Flight,
    cabin: str,
    booking_class: BookingClass,
    fare_family: FareFamily,
    inventory: dict[tuple[int, str], FlightCabin],
    carry: dict[int, Decimal],
    by: User | None,
) -> Segment:
    """Move the party's seats and the segment's value to a new segment on ``new_flight``.

    The old segment is cancelled (its coupons and charges keep the history of the old flight) and moves
    to the end of the itinerary's numbering; the new one takes its place. Fare value and taxes are
    carried across as a credit on the old segment and matching lines on the new one.
    """
    if (new_flight.pk, cabin) != (old.flight_id, old.cabin):
        inventory_take(inventory=inventory[(new_flight.pk, cabin)], seats=booking.seats)
        inventory_release(flight_id=old.flight_id, cabin=old.cabin, seats=booking.seats)
    old.seat_assignments.all().delete()
    values = _segment_values(old)
    position = old.sequence
    old.sequence = max(s.sequence for s in booking.segments.all()) + 1
    old.status = SegmentStatus.CANCELLED
    old.save(update_fields=["sequence", "status"])
    new = Segment.objects.create(
        booking=booking, flight=new_flight, sequence=position, cabin=cabin, booking_class=booking_class, fare_family=fare_family
    )
    when = old.flight.service_date.strftime("%d%b").upper()
    lines = []
    for passenger in booking.passengers.order_by("sequence"):
        fare, taxes = values.get(passenger.pk, (ZERO, {}))
        moved = carry.get(passenger.pk, fare)
        if moved or any(taxes.values()):
            lines.append(BookingCharge(
                booking=booking, passenger=passenger, segment=old, kind=ChargeKind.CREDIT,
                description=f"{old.flight.flight_code} {when} → {new_flight.flight_code}",
                amount=-(moved + sum(taxes.values(), ZERO)), currency=booking.currency, created_by=_actor(by),
            ))  # fmt: skip
        if moved:
            lines.append(BookingCharge(
                booking=booking, passenger=passenger, segment=new, kind=ChargeKind.FARE, code=booking_class.code,
                description=f"{new_flight.flight_code} {fare_family.name} ({passenger.get_passenger_type_display()})",
                amount=moved, currency=booking.currency, created_by=_actor(by),
            ))  # fmt: skip
        lines += [
            BookingCharge(
                booking=booking,
                passenger=passenger,
                segment=new,
                kind=ChargeKind.TAX,
                code=code,
                description=f"{new_flight.flight_code} {code}",
                amount=amount,
                currency=booking.currency,
            )  # fmt: skip
            for code, amount in taxes.items()
            if amount
        ]
    BookingCharge.objects.bulk_create(lines)
    return new


def _reissue_tickets(*, booking: Booking) -> list[Ticket]:
    """Exchange every open ticket for a new one covering the confirmed flights not yet flown."""
    coupons = _coupons_of(booking)
    flown = {(c.ticket.passenger_id, c.segment_id) for c in coupons if c.status == CouponStatus.FLOWN}
    live = [c for c in coupons if c.ticket.status == TicketStatus.OPEN]
    Coupon.objects.filter(pk__in=[c.pk for c in live if c.status in (CouponStatus.OPEN, CouponStatus.CHECKED_IN)]).update(
        status=CouponStatus.EXCHANGED, updated_at=timezone.now()
    )
    Ticket.objects.filter(pk__in={c.ticket_id for c in live}).update(status=TicketStatus.EXCHANGED)
    segments = list(booking.segments.filter(status=SegmentStatus.CONFIRMED).order_by("sequence"))
    return _issue_tickets(
        booking=booking, segments_for=lambda passenger: [s for s in segments if (passenger.pk, s.pk) not in flown]
    )


def _booking_changed_send(*, booking: Booking, old: Segment, new: Segment, reason: str) -> None:
    send_after_commit(
        events.booking_changed,
        sender=Booking,
        booking_id=booking.pk,
        record_locator=booking.record_locator,
        reason=reason,
        old_segment_id=old.pk,
        new_segment_id=new.pk,
        from_flight_id=old.flight_id,
        to_flight_id=new.flight_id,
    )


def booking_change_flight(
    *,
    booking: Booking,
    segment: Segment,
    new_flight_id: int,
    by: User | None = None,
    waive_reason: str = "",
    fare_family: str | None = None,
) -> Booking:
    """Move one flight of the booking to another flight by the fare's rules.

    Charges the fare difference and the change fee (a Supervisor may waive the fee, with a reason);
    any money owed shows as the balance due, which ``payment_take`` collects. A ticketed booking gets
    new tickets and its old coupons become exchanged.
    """
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    new_flight = _flight_for(new_flight_id)
    family = _fare_family_for(segment=segment, code=fare_family)
    with transaction.atomic():
        inventory, locked = _lock_for_change(
            booking=booking, flights=[(segment.flight_id, segment.cabin), (new_flight.pk, family.cabin)]
        )
        current = Segment.objects.select_related("flight__origin", "flight__destination", "fare_family").get(pk=segment.pk)
        if current.flight_id != segment.flight_id:
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        quote = booking_change_plan(
            booking=locked, segment=current, new_flight=new_flight, fare_family=family,
            inventory=inventory.get((new_flight.pk, family.cabin)), waiver=waiver,
        )  # fmt: skip
        carry = {
            p.passenger_id: (p.new_fare if p.residual and not quote.residual_credited else p.old_fare) for p in quote.passengers
        }
        new = _move_segment(
            booking=locked, old=current, new_flight=new_flight, cabin=quote.cabin, booking_class=quote.booking_class,
            fare_family=family, inventory=inventory, carry=carry, by=by,
        )  # fmt: skip
        passengers = {p.pk: p for p in locked.passengers.all()}
        lines = []
        for item in quote.passengers:
            passenger = passengers[item.passenger_id]
            common = {"booking": locked, "passenger": passenger, "segment": new, "currency": locked.currency}
            if item.fare_difference:
                lines.append(BookingCharge(
                    **common, kind=ChargeKind.FARE_DIFFERENCE, amount=item.fare_difference, created_by=_actor(by),
                    description=f"{current.flight.flight_code} → {new_flight.flight_code}",
                ))  # fmt: skip
            if item.residual and quote.residual_credited:
                lines.append(BookingCharge(
                    **common, kind=ChargeKind.CREDIT, amount=-item.residual, created_by=_actor(by),
                    description=_("Lower fare on %(flight)s") % {"flight": new_flight.flight_code},
                ))  # fmt: skip
            if item.change_fee:
                lines.append(BookingCharge(
                    **common, kind=ChargeKind.CHANGE_FEE, amount=item.change_fee, created_by=_actor(by),
                    description=f"{current.flight.flight_code} → {new_flight.flight_code}",
                ))  # fmt: skip
                if waiver:
                    lines.append(BookingCharge(
                        **common, kind=ChargeKind.WAIVER, amount=-item.change_fee, reason=waiver, created_by=_actor(by),
                        description=str(ChargeKind.CHANGE_FEE.label),
                    ))  # fmt: skip
        BookingCharge.objects.bulk_create(lines)
        booking_total_recompute(booking=locked)
        message = gettext_noop("Booking %(locator)s: %(old)s on %(old_date)s changed to %(new)s on %(new_date)s")
        params = {
            "locator": locked.record_locator,
            "old": current.flight.flight_code,
            "old_date": current.flight.service_date.isoformat(),
            "new": new_flight.flight_code,
            "new_date": new_flight.service_date.isoformat(),
        }
        summary = _(message) % params
        for person in _people(locked):
            timeline_record(
                customer=person, kind="booking.changed", message=message, params=params, actor=by,
                data={"record_locator": locked.record_locator, "from_flight": current.flight_id, "to_flight": new_flight.pk,
                      "fare_difference": str(quote.fare_difference), "change_fee": str(quote.change_fee)},
            )  # fmt: skip
        if waiver and quote.change_fee:
            _waiver_audit(booking=locked, amount=quote.change_fee, kind=ChargeKind.CHANGE_FEE, reason=waiver, by=by)
        _booking_changed_send(booking=locked, old=current, new=new, reason="voluntary")
        if locked.status == BookingStatus.TICKETED:
            _reissue_tickets(booking=locked)
        for item in quote.refunds:
            refund_create(booking=locked, payment=item.payment, amount=item.amount, reason=summary[:300], by=by)
        if locked.status == BookingStatus.TICKETED:
            _receipt_queue(booking=locked, reissued=True)
    return Booking.objects.get(pk=locked.pk)


def booking_rebook(*, booking: Booking, segment: Segment, new_flight_id: int, by: User | None = None, reason: str) -> Booking:
    """Move a disrupted flight's passengers to another flight: no fee and no fare difference.

    The fare, class and cabin stay the same; only seats are needed on the new flight. Staff may rebook
    any booking; a passenger only off a flight that is cancelled or delayed.
    """
    reason = (reason or "").strip()
    if not reason:
        message = _("Give the reason for the rebooking.")
        raise ApplicationError(message, fields={"reason": [message]})
    new_flight = _flight_for(new_flight_id)
    with transaction.atomic():
        inventory, locked = _lock_for_change(
            booking=booking, flights=[(segment.flight_id, segment.cabin), (new_flight.pk, segment.cabin)]
        )
        current = Segment.objects.select_related("flight__origin", "flight__destination", "fare_family", "booking_class").get(
            pk=segment.pk
        )
        if current.flight_id != segment.flight_id:
            raise Conflict(_("This booking was changed meanwhile; please try again."), code="booking_changed")
        disrupted = current.flight.status in (FlightStatus.CANCELLED, FlightStatus.DELAYED)
        if by is not None and not disrupted and not _is_staff_with(by, "reservations.change_booking"):
            raise ApplicationError(_("Only an agent can rebook a flight that is not disrupted."), code="forbidden", status=403)
        _check_segment_movable(booking=locked, segment=current, involuntary=True)
        _check_replacement(booking=locked, segment=current, new_flight=new_flight)
        if new_flight.pk == current.flight_id:
            message = _("Choose a different flight.")
            raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
        if (new_flight.pk, current.cabin) not in inventory:
            message = _("%(flight)s has no such cabin.") % {"flight": new_flight.flight_code}
            raise ApplicationError(message, code="invalid_flight", fields={"new_flight_id": [message]})
        new = _move_segment(
            booking=locked, old=current, new_flight=new_flight, cabin=current.cabin, booking_class=current.booking_class,
            fare_family=current.fare_family, inventory=inventory, carry={}, by=by,
        )  # fmt: skip
        _booking_changed_send(booking=locked, old=current, new=new, reason="involuntary")
        booking_total_recompute(booking=locked)
        if (
            locked.disrupted_at
            and not locked.segments.filter(status=SegmentStatus.CONFIRMED, flight__status=FlightStatus.CANCELLED).exists()
        ):
            locked.disrupted_at, locked.disruption_reason = None, ""
            locked.save(update_fields=["disrupted_at", "disruption_reason", "updated_at"])
        message = gettext_noop("Booking %(locator)s rebooked from %(old)s to %(new)s on %(date)s: %(reason)s")
        params = {
            "locator": locked.record_locator,
            "old": current.flight.flight_code,
            "new": new_flight.flight_code,
            "date": new_flight.service_date.isoformat(),
            "reason": reason,
        }
        for person in _people(locked):
            timeline_record(
                customer=person, kind="booking.rebooked", message=message, params=params, actor=by,
                data={"record_locator": locked.record_locator, "from_flight": current.flight_id, "to_flight": new_flight.pk},
            )  # fmt: skip
        if locked.status == BookingStatus.TICKETED:
            _reissue_tickets(booking=locked)
            _receipt_queue(booking=locked, reissued=True)
    return Booking.objects.get(pk=locked.pk)
