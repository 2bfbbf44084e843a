"""Online and airport check-in: the window, seats, bags and boarding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict, NotFound
from crm.events import send_after_commit
from crm.models import SeatPreference, User
from crm.services import timeline_record
from reservations import events, hooks, pricing
from reservations.models import (
    Booking,
    BookingCharge,
    BookingPassenger,
    Channel,
    ChargeKind,
    CheckIn,
    Coupon,
    CouponStatus,
    FareFamily,
    Flight,
    SeatAssignment,
    SeatMapSection,
    Segment,
    TicketStatus,
)
from reservations.rules import check_in_is_open as check_in_is_open
from reservations.rules import check_in_refusal
from reservations.rules import check_in_window as check_in_window
from reservations.services.common import FLIGHT_CLOSED, booking_total_recompute
from reservations.services.seats import exit_row_refusal, seat_assign

MAX_BAG_KG = Decimal("32")
MAX_BAGS = 3
MAX_HAND_CARRY = 2
BAG_WEIGHT_STEP = Decimal("0.1")
AUTO_SEAT_ATTEMPTS = 5


@dataclass(frozen=True)
class BaggageQuote:
    """What one passenger's checked bags cost beyond the fare's free allowance."""

    weights: tuple[Decimal, ...]
    extra_bags: int
    overweight_bags: int
    fee: Decimal
    currency: str


def bag_weights_clean(weights: Iterable, *, field_name: str = "bags") -> list[Decimal]:
    """Kilograms to one decimal; a bag must weigh something and at most 32 kg (heavier goes as cargo)."""
    cleaned = []
    for raw in weights:
        try:
            weight = Decimal(str(raw)).quantize(BAG_WEIGHT_STEP, rounding=ROUND_HALF_UP)
        except (InvalidOperation, ValueError):
            raise ApplicationError(_("Enter each bag's weight in kilograms."), fields={field_name: [_("Not a weight.")]})
        if not weight.is_finite() or weight <= 0:
            raise ApplicationError(_("Enter each bag's weight in kilograms."), fields={field_name: [_("Not a weight.")]})
        if weight > MAX_BAG_KG:
            message = _("Bags over %(max)s kg cannot be checked in; they travel as cargo.") % {"max": MAX_BAG_KG}
            raise ApplicationError(message, code="bag_too_heavy", fields={field_name: [message]})
        cleaned.append(weight)
    if len(cleaned) > MAX_BAGS:
        message = _("At most %(max)d checked bags per traveller.") % {"max": MAX_BAGS}
        raise ApplicationError(message, code="too_many_bags", fields={field_name: [message]})
    return cleaned


def baggage_quote(*, fare_family: FareFamily, weights: Iterable, extra_free_pieces: int = 0) -> BaggageQuote:
    """Bags beyond the free pieces pay the extra-bag fee; every bag over the free weight pays the overweight fee.

    The free pieces are the fare's plus ``extra_free_pieces`` (the traveller's own, e.g. a frequent flyer
    tier's: ``hooks.traveller_benefits_for``). An extra bag that is also overweight pays both. 23.0 kg
    against a 23 kg allowance is free; 23.1 kg is not.
    """
    cleaned = bag_weights_clean(weights)
    extra = max(0, len(cleaned) - fare_family.baggage_pieces - max(extra_free_pieces, 0))
    overweight = sum(1 for w in cleaned if w > fare_family.baggage_kg)
    fee = pricing.money(fare_family.excess_bag_fee * extra + fare_family.overweight_fee * overweight)
    return BaggageQuote(
        weights=tuple(cleaned), extra_bags=extra, overweight_bags=overweight, fee=fee, currency=fare_family.currency
    )


def _seat_sort_key(
    seat: str, *, section: SeatMapSection, preference: str, near_row: int | None
) -> tuple[int, int, int, int, int]:
    row, letter = int(seat[:-1]), seat[-1]
    layout = section.layout
    position = layout.index(letter)
    window = position in (0, len(layout) - 1)
    aisle = (position > 0 and layout[position - 1] == " ") or (position < len(layout) - 1 and layout[position + 1] == " ")
    mismatch = (preference == SeatPreference.WINDOW and not window) or (preference == SeatPreference.AISLE and not aisle)
    return (
        int(row in section.exit_rows),
        abs(row - near_row) if near_row is not None else 0,
        int(mismatch),
        row,
        position,
    )


def _auto_seat(
    *, segment: Segment, passenger: BookingPassenger, carries_infant: bool, near_row: int | None, by: User | None
) -> SeatAssignment:
    """The best free seat in the passenger's cabin: near the party, by their window/aisle preference, front first.

    Exit rows only as a last resort and only for those allowed there.
    """
    sections = [s for s in segment.flight.aircraft_type.sections.all() if s.cabin == segment.cabin]
    preference = passenger.customer.seat_preference if passenger.customer_id else SeatPreference.NONE
    exit_allowed = not exit_row_refusal(passenger=passenger, carries_infant=carries_infant)
    taken = set(SeatAssignment.objects.filter(flight_id=segment.flight_id).values_list("seat", flat=True))
    for _attempt in range(AUTO_SEAT_ATTEMPTS):
        candidates = [
            (_seat_sort_key(seat, section=section, preference=preference, near_row=near_row), seat)
            for section in sections
            for seat in section.seats()
            if seat not in taken and (exit_allowed or int(seat[:-1]) not in section.exit_rows)
        ]
        if not candidates:
            break
        seat = min(candidates)[1]
        try:
            return seat_assign(segment=segment, passenger=passenger, seat=seat, by=by, charge=False)
        except Conflict as exc:
            if exc.code != "seat_taken":
                raise
            taken.add(seat)
    raise Conflict(
        _("No seat is free for %(name)s in this cabin; please see an agent at the airport.") % {"name": passenger.full_name},
        code="no_seat_available",
    )


def _check_in_party(
    *, booking: Booking, passengers: list[BookingPassenger], coupons: dict[int, Coupon]
) -> list[BookingPassenger]:
    """The requested travellers in booking order, each infant joined to the adult whose lap they sit on."""
    party = {p.pk: p for p in booking.passengers.all()}
    unknown = [p for p in passengers if p.pk not in party]
    if unknown or not passengers:
        raise ApplicationError(
            _("Choose the travellers to check in from this booking."), fields={"passengers": [_("Unknown traveller.")]}
        )
    wanted = {p.pk for p in passengers}
    wanted |= {
        p.pk
        for p in party.values()
        if p.travelling_with_id in wanted and p.pk in coupons and coupons[p.pk].status == CouponStatus.OPEN
    }
    for infant_id in [pk for pk in wanted if not party[pk].holds_seat]:
        adult_id = party[infant_id].travelling_with_id
        adult_coupon = coupons.get(adult_id)
        if adult_id not in wanted and not (adult_coupon and adult_coupon.status == CouponStatus.CHECKED_IN):
            raise ApplicationError(
                _("%(infant)s is checked in together with %(adult)s.")
                % {"infant": party[infant_id].full_name, "adult": party[adult_id].full_name if adult_id else ""},
                code="infant_without_adult",
            )
    return [p for p in party.values() if p.pk in wanted]


@transaction.atomic
def check_in(
    *,
    booking: Booking,
    segment: Segment,
    passengers: list[BookingPassenger],
    seats: dict[int, str] | None = None,
    bags: dict[int, list[Decimal]] | None = None,
    hand_carry: dict[int, int] | None = None,
    channel: str,
    by: User | None = None,
) -> list[CheckIn]:
    """Accept travellers for one flight: open coupons become checked in, each with a seat and a sequence number.

    Keys of ``seats``, ``bags`` and ``hand_carry`` are passenger ids. Infants follow the adult they sit
    with. The flight row is locked first (then the booking), so two check-ins on the same flight take
    sequence numbers one after the other.
    """
    seats, bags, hand_carry = seats or {}, bags or {}, hand_carry or {}
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown check-in channel."), fields={"channel": [_("Unknown channel.")]})
    if segment.booking_id != booking.pk:
        raise NotFound(_("No such flight on this booking."))
    flight = (
        Flight.objects.select_for_update(no_key=True, of=("self",))
        .select_related("origin", "destination", "aircraft_type")
        .get(pk=segment.flight_id)
    )
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    segment = Segment.objects.select_related("fare_family").get(pk=segment.pk)
    segment.flight = flight
    # Excess baggage is paid at the airport; anything else still owed (a change) must be paid first.
    baggage = sum(booking.charges.filter(kind=ChargeKind.BAGGAGE).values_list("amount", flat=True), Decimal(0))
    now = timezone.now()
    refusal = check_in_refusal(booking=booking, segment=segment, unpaid=booking.balance_due - baggage, at=now)
    if refusal is not None:
        raise refusal

    coupons = {
        c.ticket.passenger_id: c
        for c in Coupon.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(segment=segment, ticket__booking=booking, ticket__status=TicketStatus.OPEN)
        .exclude(status__in=[CouponStatus.EXCHANGED, CouponStatus.REFUNDED, CouponStatus.VOID])
        .order_by("pk")
    }
    party = _check_in_party(booking=booking, passengers=passengers, coupons=coupons)
    ids = {p.pk for p in party}
    for name, given in (("seats", seats), ("bags", bags), ("hand_carry", hand_carry)):
        if set(given) - ids:
            raise ApplicationError(
                _("Only travellers being checked in can have seats or bags."), fields={name: [_("Unknown traveller.")]}
            )
    errors: dict[str, list[str]] = {}
    quotes: dict[int, BaggageQuote] = {}
    benefits = hooks.traveller_benefits_for_many(passengers=party, booking=booking)
    for p in party:
        coupon = coupons.get(p.pk)
        if coupon is None:
            errors[f"passengers.{p.pk}"] = [_("%(name)s has no e-ticket for this flight.") % {"name": p.full_name}]
        elif coupon.status != CouponStatus.OPEN:
            errors[f"passengers.{p.pk}"] = [_("%(name)s is already checked in.") % {"name": p.full_name}]
        items = hand_carry.get(p.pk, 0)
        if not isinstance(items, int) or not 0 <= items <= MAX_HAND_CARRY:
            errors[f"hand_carry.{p.pk}"] = [_("Each traveller may bring 0 to %(max)d cabin bags.") % {"max": MAX_HAND_CARRY}]
        try:
            quotes[p.pk] = baggage_quote(
                fare_family=segment.fare_family,
                weights=bags.get(p.pk) or [],
                extra_free_pieces=benefits[p.pk].extra_bags,
            )
        except ApplicationError as exc:
            errors[f"bags.{p.pk}"] = [exc.message]
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], code="check_in_invalid", fields=errors)
    hooks.passengers_check(passengers=[(f"passengers.{p.pk}", p) for p in party], booking=booking, stage=hooks.CHECK_IN)

    carrying = {p.travelling_with_id for p in booking.passengers.all() if p.travelling_with_id}
    for p in party:
        if p.holds_seat and p.pk in seats and seats[p.pk]:
            seat_assign(segment=segment, passenger=p, seat=seats[p.pk], by=by)
    held = {a.passenger_id: a.seat for a in SeatAssignment.objects.filter(segment=segment, passenger_id__in=ids)}
    near_row: int | None = next((int(s[:-1]) for s in held.values()), None)
    for p in party:
        if p.holds_seat and p.pk not in held:
            assignment = _auto_seat(segment=segment, passenger=p, carries_infant=p.pk in carrying, near_row=near_row, by=by)
            held[p.pk] = assignment.seat
            near_row = int(assignment.seat[:-1]) if near_row is None else near_row

    last = CheckIn.objects.filter(flight=flight).aggregate(last=Max("sequence_number"))["last"] or 0
    actor = by if by is not None and by.is_authenticated else None
    created: list[CheckIn] = []
    for p in party:
        quote = quotes[p.pk]
        last += 1
        row = CheckIn.objects.create(
            coupon=coupons[p.pk], passenger=p, segment=segment, flight=flight, seat=held.get(p.pk, ""),
            sequence_number=last, bags=len(quote.weights), bag_weights_kg=list(quote.weights),
            hand_carry=hand_carry.get(p.pk, 0), excess_baggage_fee=quote.fee, channel=channel,
            checked_in_by=actor, checked_in_at=now,
        )  # fmt: skip
        created.append(row)
        if quote.fee > 0:
            BookingCharge.objects.create(
                booking=booking, passenger=p, segment=segment, kind=ChargeKind.BAGGAGE, code="XBAG",
                description=_("%(flight)s excess baggage: %(extra)d extra, %(overweight)d overweight")
                % {"flight": flight.flight_code, "extra": quote.extra_bags, "overweight": quote.overweight_bags},
                amount=quote.fee, currency=quote.currency, created_by=actor,
            )  # fmt: skip
    Coupon.objects.filter(pk__in=[coupons[p.pk].pk for p in party]).update(status=CouponStatus.CHECKED_IN, updated_at=now)
    if any(quotes[p.pk].fee > 0 for p in party):
        booking_total_recompute(booking=booking)

    summary = _("Checked in for %(flight)s %(route)s on %(date)s") % {
        "flight": flight.flight_code,
        "route": f"{flight.origin.iata_code}–{flight.destination.iata_code}",
        "date": flight.service_date.isoformat(),
    }
    people = {p.customer_id: p.customer for p in party if p.customer_id}
    for customer in people.values():
        timeline_record(
            customer=customer,
            kind="check_in.created",
            summary=summary,
            data={"record_locator": booking.record_locator, "flight_id": flight.pk, "channel": channel},
            actor=by,
        )
    send_after_commit(
        events.passenger_checked_in,
        sender=CheckIn,
        booking_id=booking.pk,
        record_locator=booking.record_locator,
        flight_id=flight.pk,
        segment_id=segment.pk,
        channel=channel,
        passenger_ids=[p.pk for p in party],
        coupon_ids=[coupons[p.pk].pk for p in party],
        check_in_ids=[c.pk for c in created],
    )
    return created


@transaction.atomic
def check_in_cancel(*, check_in: CheckIn, by: User | None = None) -> list[Coupon]:
    """Offload a traveller before departure: the coupon opens again and excess-baggage charges are removed.

    An infant is offloaded with their adult. The seat stays held for the traveller.
    """
    flight = Flight.objects.select_for_update(no_key=True).get(pk=check_in.flight_id)
    booking = Booking.objects.select_for_update().get(pk=check_in.segment.booking_id)
    if flight.status in FLIGHT_CLOSED:
        raise ApplicationError(_("This check-in can no longer be undone."), code="check_in_final")
    infants = BookingPassenger.objects.filter(travelling_with_id=check_in.passenger_id).values_list("pk", flat=True)
    rows = list(
        CheckIn.objects.select_related("coupon")
        .filter(segment_id=check_in.segment_id, passenger_id__in=[check_in.passenger_id, *infants])
        .order_by("pk")
    )
    if any(r.coupon.status != CouponStatus.CHECKED_IN for r in rows):
        raise ApplicationError(_("A traveller who has boarded cannot be offloaded here."), code="check_in_final")
    coupons = [r.coupon for r in rows]
    removed = BookingCharge.objects.filter(
        booking=booking,
        segment_id=check_in.segment_id,
        passenger_id__in=[r.passenger_id for r in rows],
        kind=ChargeKind.BAGGAGE,
    ).delete()[0]
    CheckIn.objects.filter(pk__in=[r.pk for r in rows]).delete()
    Coupon.objects.filter(pk__in=[c.pk for c in coupons]).update(status=CouponStatus.OPEN, updated_at=timezone.now())
    if removed:
        booking_total_recompute(booking=booking)
    for c in coupons:
        c.status = CouponStatus.OPEN
    return coupons
