"""Online and airport check-in: the window, seats, bags and boarding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

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
    PaymentStatus,
    SeatAssignment,
    SeatMapSection,
    Segment,
    TicketStatus,
)
from reservations.rules import check_in_is_open as check_in_is_open
from reservations.rules import check_in_refusal
from reservations.rules import check_in_window as check_in_window
from reservations.services.common import FLIGHT_CLOSED, _waiver_audit, _waiver_reason, booking_total_recompute
from reservations.services.payments import CardDetails, payment_take
from reservations.services.refunds import _refunds_issue
from reservations.services.seats import exit_row_refusal, seat_assign, seat_code_normalize

MAX_BAG_KG = Decimal("32")
MAX_BAGS = 3
MAX_HAND_CARRY = 2
BAG_WEIGHT_STEP = Decimal("0.1")
AUTO_SEAT_ATTEMPTS = 5
# Codes of the fees a check-in posts (its seat fee has its own code: a seat chosen earlier is not swept).
CHECK_IN_BAG_CODE = "XBAG"
CHECK_IN_SEAT_CODE = "CKSEAT"
CHECK_IN_WAIVER_CODE = "CKWAIVE"
# Fees a check-in posted and nobody paid within this long lost their request (a killed worker): the sweep
# takes them off the booking.
CHECK_IN_FEE_SWEEP_SECONDS = 900


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


@dataclass(frozen=True)
class CheckInQuote:
    """What checking these travellers in costs, shown before anyone confirms.

    ``bags`` are each traveller's baggage quotes (by passenger id) and ``seat_fees`` the seat-selection
    fees of seats chosen at check-in; ``outstanding`` is what the booking already owed (e.g. a seat chosen
    earlier, not yet paid). ``total_due`` is what must be paid before a boarding pass is issued.
    """

    bags: dict[int, BaggageQuote]
    seat_fees: dict[int, Decimal]
    outstanding: Decimal
    total_due: Decimal
    currency: str

    @property
    def bag_fee(self) -> Decimal:
        return sum((q.fee for q in self.bags.values()), Decimal(0))

    @property
    def seat_fee(self) -> Decimal:
        return sum(self.seat_fees.values(), Decimal(0))


@dataclass
class _Plan:
    """A check-in request validated against the rows as they are: the party, their coupons and quotes."""

    booking: Booking
    segment: Segment
    flight: Flight
    party: list[BookingPassenger]
    coupons: dict[int, Coupon]
    quotes: dict[int, BaggageQuote]
    seat_fees: dict[int, Decimal]
    now: datetime

    @property
    def quotes_fee(self) -> Decimal:
        return sum((q.fee for q in self.quotes.values()), Decimal(0))


def _check_in_plan(
    *,
    booking: Booking,
    segment: Segment,
    passengers: list[BookingPassenger],
    seats: dict[int, str],
    bags: dict[int, list[Decimal]],
    hand_carry: dict[int, int],
    channel: str,
    lock: bool,
) -> _Plan:
    """The rules of a check-in applied without writing; with ``lock`` the flight, booking and coupons are
    locked first (flight, then booking), so two check-ins on one flight take sequence numbers in turn."""
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown check-in channel."), fields={"channel": [_("Unknown channel.")]})
    if segment.booking_id != booking.pk:
        raise NotFound(_("No such flight on this booking."))
    flights = Flight.objects.select_related("origin", "destination", "aircraft_type")
    bookings = Booking.objects.all()
    coupon_rows = Coupon.objects.select_related("ticket")
    if lock:
        flights = flights.select_for_update(no_key=True, of=("self",))
        bookings = bookings.select_for_update()
        coupon_rows = coupon_rows.select_for_update(of=("self",))
    flight = flights.get(pk=segment.flight_id)
    booking = bookings.get(pk=booking.pk)
    segment = Segment.objects.select_related("fare_family").get(pk=segment.pk)
    segment.flight = flight
    now = timezone.now()
    # What is owed is collected by the check-in itself (see check_in_with_payment), so it is no refusal here.
    refusal = check_in_refusal(booking=booking, segment=segment, unpaid=Decimal(0), at=now)
    if refusal is not None:
        raise refusal

    coupons = {
        c.ticket.passenger_id: c
        for c in coupon_rows.filter(segment=segment, ticket__booking=booking, ticket__status=TicketStatus.OPEN)
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
    fee = segment.fare_family.seat_selection_fee
    paying_seat = set(
        BookingCharge.objects.filter(booking=booking, segment=segment, kind=ChargeKind.SEAT, passenger_id__in=ids).values_list(
            "passenger_id", flat=True
        )
    )
    held = dict(SeatAssignment.objects.filter(segment=segment, passenger_id__in=ids).values_list("passenger_id", "seat"))
    seat_fees = {
        p.pk: fee
        for p in party
        if fee > 0
        and p.holds_seat
        and seats.get(p.pk)
        and p.pk not in paying_seat
        and seat_code_normalize(seats[p.pk]) != held.get(p.pk)
    }
    return _Plan(
        booking=booking, segment=segment, flight=flight, party=party, coupons=coupons, quotes=quotes,
        seat_fees=seat_fees, now=now,
    )  # fmt: skip


def _check_in_charges(plan: _Plan) -> QuerySet[BookingCharge]:
    """The charges a check-in of this party posts: their excess baggage on this flight."""
    return BookingCharge.objects.filter(
        booking=plan.booking,
        segment=plan.segment,
        passenger_id__in=[p.pk for p in plan.party],
        kind=ChargeKind.BAGGAGE,
    )


def _quote_of(plan: _Plan) -> CheckInQuote:
    """What must be paid: the booking's balance with this party's baggage charges replaced by the new quote."""
    posted = sum(_check_in_charges(plan).values_list("amount", flat=True), Decimal(0))
    outstanding = pricing.money(plan.booking.balance_due - posted)
    new_fees = sum((q.fee for q in plan.quotes.values()), Decimal(0)) + sum(plan.seat_fees.values(), Decimal(0))
    return CheckInQuote(
        bags=plan.quotes,
        seat_fees=plan.seat_fees,
        outstanding=max(outstanding, Decimal(0)),
        total_due=max(pricing.money(outstanding + new_fees), Decimal(0)),
        currency=plan.booking.currency,
    )


def check_in_quote(
    *,
    booking: Booking,
    segment: Segment,
    passengers: list[BookingPassenger],
    seats: dict[int, str] | None = None,
    bags: dict[int, list[Decimal]] | None = None,
    hand_carry: dict[int, int] | None = None,
    channel: str = Channel.PORTAL,
) -> CheckInQuote:
    """What checking these travellers in would cost, by the rules ``check_in`` applies; writes nothing.

    The passenger sees it before confirming: bags beyond the allowance, seats chosen now, and anything
    else still due on the booking. A zero ``total_due`` means check-in is one step.
    """
    plan = _check_in_plan(
        booking=booking, segment=segment, passengers=passengers, seats=seats or {}, bags=bags or {},
        hand_carry=hand_carry or {}, channel=channel, lock=False,
    )  # fmt: skip
    return _quote_of(plan)


def _post_charges(plan: _Plan, *, by: User | None) -> None:
    """The party's baggage (and seats chosen now) become charges on the booking; earlier unconfirmed ones go."""
    actor = by if by is not None and by.is_authenticated else None
    flight = plan.flight
    changed = _check_in_charges(plan).delete()[0] > 0
    for p in plan.party:
        quote = plan.quotes[p.pk]
        changed = changed or quote.fee > 0 or p.pk in plan.seat_fees
        if quote.fee > 0:
            BookingCharge.objects.create(
                booking=plan.booking, passenger=p, segment=plan.segment, kind=ChargeKind.BAGGAGE, code=CHECK_IN_BAG_CODE,
                description=_("%(flight)s excess baggage: %(extra)d extra, %(overweight)d overweight")
                % {"flight": flight.flight_code, "extra": quote.extra_bags, "overweight": quote.overweight_bags},
                amount=quote.fee, currency=quote.currency, created_by=actor,
            )  # fmt: skip
        if p.pk in plan.seat_fees:
            BookingCharge.objects.create(
                booking=plan.booking, passenger=p, segment=plan.segment, kind=ChargeKind.SEAT, code=CHECK_IN_SEAT_CODE,
                description=_("%(flight)s seat selection") % {"flight": flight.flight_code},
                amount=plan.seat_fees[p.pk], currency=plan.booking.currency, created_by=actor,
            )  # fmt: skip
    if changed:
        booking_total_recompute(booking=plan.booking)


@transaction.atomic
def check_in_charges_post(
    *,
    booking: Booking,
    segment: Segment,
    passengers: list[BookingPassenger],
    seats: dict[int, str] | None = None,
    bags: dict[int, list[Decimal]] | None = None,
    hand_carry: dict[int, int] | None = None,
    channel: str,
    by: User | None = None,
) -> CheckInQuote:
    """Put the check-in's fees on the booking so that they can be paid; nobody is checked in yet.

    A second call for the same travellers replaces their baggage charges instead of adding to them.
    Refused while another payment on the booking is still at the gateway.
    """
    plan = _check_in_plan(
        booking=booking, segment=segment, passengers=passengers, seats=seats or {}, bags=bags or {},
        hand_carry=hand_carry or {}, channel=channel, lock=True,
    )  # fmt: skip
    if plan.booking.payments.filter(status=PaymentStatus.PENDING).exists():
        raise Conflict(
            _("Another payment for booking %(locator)s is being processed; try again in a moment.")
            % {"locator": plan.booking.record_locator},
            code="payment_in_progress",
        )
    quote = _quote_of(plan)
    _post_charges(plan, by=by)
    return quote


@transaction.atomic
def check_in_charges_release(*, booking: Booking, segment: Segment, passengers: list[BookingPassenger], since: datetime) -> int:
    """Take back the fees a check-in posted at or after ``since`` for travellers still not checked in.

    Called when the payment for them was declined or failed: the passenger owes nothing for extras
    they did not get. Left alone while a payment is still at the gateway (it may yet succeed).
    """
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    if locked.payments.filter(status=PaymentStatus.PENDING).exists():
        return 0
    waiting = [p.pk for p in passengers if not CheckIn.objects.filter(segment_id=segment.pk, passenger_id=p.pk).exists()]
    removed = BookingCharge.objects.filter(
        booking=locked,
        segment_id=segment.pk,
        passenger_id__in=waiting,
        kind__in=[ChargeKind.BAGGAGE, ChargeKind.SEAT],
        created_at__gte=since,
    ).delete()[0]
    if removed:
        booking_total_recompute(booking=locked)
    return removed


def check_in_fees_sweep(*, older_than_seconds: int = CHECK_IN_FEE_SWEEP_SECONDS) -> int:
    """Take off bookings the check-in fees whose request died between posting them and paying (the periodic
    sweep calls this); returns how many charges went.

    A fee goes when it is older than ``older_than_seconds``, its traveller is not checked in on that flight,
    the booking still owes money, no payment is at the gateway and none succeeded since the fee was posted
    (a fee paid and then not used is the passenger's money: offloading refunds it, not this sweep).
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    booking_ids = list(
        _stale_check_in_fees(BookingCharge.objects.filter(created_at__lt=cutoff))
        .order_by("booking_id")
        .values_list("booking_id", flat=True)
        .distinct()[:1000]
    )
    removed = 0
    for booking_id in booking_ids:
        with transaction.atomic():
            locked = Booking.objects.select_for_update().get(pk=booking_id)
            if locked.balance_due <= 0 or locked.payments.filter(status=PaymentStatus.PENDING).exists():
                continue
            fees = _stale_check_in_fees(locked.charges.filter(created_at__lt=cutoff))
            paid_since = locked.payments.filter(status=PaymentStatus.SUCCEEDED).aggregate(last=Max("created_at"))["last"]
            if paid_since is not None:
                fees = fees.filter(created_at__gt=paid_since)
            count = fees.delete()[0]
            if count:
                booking_total_recompute(booking=locked)
                removed += count
    return removed


def _stale_check_in_fees(charges: QuerySet[BookingCharge]) -> QuerySet[BookingCharge]:
    """Fees a check-in posted for travellers who are not checked in on that flight."""
    checked_in = CheckIn.objects.filter(segment_id=OuterRef("segment_id"), passenger_id=OuterRef("passenger_id"))
    return charges.filter(
        Q(kind=ChargeKind.BAGGAGE, code=CHECK_IN_BAG_CODE) | Q(kind=ChargeKind.SEAT, code=CHECK_IN_SEAT_CODE),
        segment__isnull=False,
        passenger__isnull=False,
    ).exclude(Exists(checked_in))


def check_in_with_payment(
    *,
    booking: Booking,
    segment: Segment,
    passengers: list[BookingPassenger],
    seats: dict[int, str] | None = None,
    bags: dict[int, list[Decimal]] | None = None,
    hand_carry: dict[int, int] | None = None,
    channel: str,
    method: str,
    idempotency_key: str,
    card: CardDetails | None = None,
    expected_total: Decimal | None = None,
    by: User | None = None,
) -> list[CheckIn]:
    """Post the check-in's fees, take their payment the way bookings are paid, and only then check in.

    ``expected_total`` is the amount the passenger was shown: if the fees have changed since, nothing is
    charged and ``quote_changed`` is raised. A declined or failed payment takes the fees back off the
    booking and checks nobody in. Call outside a transaction: the gateway is never called with locks held.
    A request that dies between posting the fees and paying them (a killed worker) leaves them to
    ``check_in_fees_sweep``.
    """
    started = timezone.now()
    options = {"seats": seats or {}, "bags": bags or {}, "hand_carry": hand_carry or {}}
    _seats_can_be_had(segment=segment, passengers=passengers, seats=options["seats"], by=by)
    quote = check_in_charges_post(booking=booking, segment=segment, passengers=passengers, channel=channel, by=by, **options)
    try:
        if expected_total is not None and quote.total_due != expected_total:
            raise Conflict(
                _("The amount due is now %(amount)s %(currency)s; please check it and confirm again.")
                % {"amount": quote.total_due, "currency": quote.currency},
                code="quote_changed",
            )
        if quote.total_due > 0:
            payment_take(booking=booking, method=method, idempotency_key=idempotency_key, card=card, by=by)
    except Exception:
        check_in_charges_release(booking=booking, segment=segment, passengers=passengers, since=started)
        raise
    return check_in(booking=booking, segment=segment, passengers=passengers, channel=channel, by=by, **options)


class _SeatsTried(Exception):
    """Rolls back a trial of the chosen seats."""


def _seats_can_be_had(*, segment: Segment, passengers: list[BookingPassenger], seats: dict[int, str], by: User | None) -> None:
    """Refuse (``seat_taken``, a seat that cannot be had) before any fee is posted or paid: the chosen seats are
    assigned by the same rules ``check_in`` applies, in a transaction that is always rolled back."""
    chosen = [(p, seats[p.pk]) for p in passengers if p.holds_seat and seats.get(p.pk)]
    if not chosen:
        return
    try:
        with transaction.atomic():
            for passenger, seat in chosen:
                seat_assign(segment=segment, passenger=passenger, seat=seat, by=by, charge=False)
            raise _SeatsTried
    except _SeatsTried:
        pass


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
    waive_reason: str = "",
) -> list[CheckIn]:
    """Accept travellers for one flight: open coupons become checked in, each with a seat and a sequence number.

    Keys of ``seats``, ``bags`` and ``hand_carry`` are passenger ids. Infants follow the adult they sit
    with. Nobody is checked in (and no boarding pass exists) while anything is still due: fees are paid
    first (``check_in_with_payment``), or waived by a supervisor with ``waive_reason``; otherwise this
    raises ``payment_required`` (402) with the amount, and changes nothing.
    """
    seats, bags, hand_carry = seats or {}, bags or {}, hand_carry or {}
    waiver = _waiver_reason(by=by, waive_reason=waive_reason)
    plan = _check_in_plan(
        booking=booking, segment=segment, passengers=passengers, seats=seats, bags=bags, hand_carry=hand_carry,
        channel=channel, lock=True,
    )  # fmt: skip
    booking, segment, flight, party, coupons, quotes, now = (
        plan.booking, plan.segment, plan.flight, plan.party, plan.coupons, plan.quotes, plan.now,
    )  # fmt: skip
    ids = {p.pk for p in party}
    _post_charges(plan, by=by)

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

    booking.refresh_from_db(fields=["total_amount", "paid_amount", "refunded_amount"])
    due = booking.balance_due
    if due > 0 and waiver:
        BookingCharge.objects.create(
            booking=booking, kind=ChargeKind.WAIVER, code=CHECK_IN_WAIVER_CODE, segment=segment, amount=-due,
            currency=booking.currency,
            description=_("%(flight)s check-in fees") % {"flight": flight.flight_code}, reason=waiver,
            created_by=by if by is not None and by.is_authenticated else None,
        )  # fmt: skip
        booking_total_recompute(booking=booking)
        _waiver_audit(booking=booking, amount=due, kind=ChargeKind.BAGGAGE, reason=waiver, by=by)
    elif due > 0 and not plan.quotes_fee and not plan.seat_fees:
        raise check_in_refusal(booking=booking, segment=segment, unpaid=due, at=now)  # the booking owed it already
    elif due > 0:
        raise ApplicationError(
            _("%(amount)s %(currency)s is due for this check-in; it is paid before the boarding pass is issued.")
            % {"amount": due, "currency": booking.currency},
            code="payment_required",
            status=402,
        )

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
    Coupon.objects.filter(pk__in=[coupons[p.pk].pk for p in party]).update(status=CouponStatus.CHECKED_IN, updated_at=now)

    message = gettext_noop("Checked in for %(flight)s %(route)s on %(date)s")
    params = {
        "flight": flight.flight_code,
        "route": f"{flight.origin.iata_code}–{flight.destination.iata_code}",
        "date": flight.service_date.isoformat(),
    }
    people = {p.customer_id: p.customer for p in party if p.customer_id}
    for customer in people.values():
        timeline_record(
            customer=customer,
            kind="check_in.created",
            message=message,
            params=params,
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
    """Offload a traveller before departure: the coupon opens again and their excess baggage is taken off.

    An infant is offloaded with their adult. The seat stays held for the traveller, and so does its fee.
    The bags do not fly, so their fees are given back: a waived fee by taking back the waiver, a paid one
    by a refund to the payment it came from (``refunds``); the booking's balance stays its charges less
    what was paid and not refunded, with nothing owed either way for the bags.
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
    bag_fees = BookingCharge.objects.filter(
        booking=booking,
        segment_id=check_in.segment_id,
        passenger_id__in=[r.passenger_id for r in rows],
        kind=ChargeKind.BAGGAGE,
    )
    given_back = sum(bag_fees.values_list("amount", flat=True), Decimal(0))
    removed = bag_fees.delete()[0]
    CheckIn.objects.filter(pk__in=[r.pk for r in rows]).delete()
    Coupon.objects.filter(pk__in=[c.pk for c in coupons]).update(status=CouponStatus.OPEN, updated_at=timezone.now())
    if removed:
        booking_total_recompute(booking=booking)
        _bag_fees_give_back(booking=booking, flight=flight, segment_id=check_in.segment_id, amount=given_back, by=by)
    for c in coupons:
        c.status = CouponStatus.OPEN
    return coupons


def _bag_fees_give_back(*, booking: Booking, flight: Flight, segment_id: int, amount: Decimal, by: User | None) -> None:
    """What the removed bag fees leave the airline owing (at most ``amount``) goes back: first the check-in
    waivers of this flight shrink (a waived fee was never paid), then the rest is refunded."""
    owed = min(-booking.balance_due, amount)
    waivers = BookingCharge.objects.filter(
        booking=booking, segment_id=segment_id, kind=ChargeKind.WAIVER, code=CHECK_IN_WAIVER_CODE
    )
    for waiver in waivers.order_by("-created_at", "-pk"):
        if owed <= 0:
            break
        take = min(owed, -waiver.amount)
        owed -= take
        waiver.amount += take
        if waiver.amount == 0:
            waiver.delete()
        else:
            waiver.save(update_fields=["amount"])
    booking_total_recompute(booking=booking)
    if owed > 0:
        _refunds_issue(
            booking=booking,
            amount=owed,
            reason=_("%(flight)s excess baggage: the traveller was offloaded") % {"flight": flight.flight_code},
            by=by,
        )
