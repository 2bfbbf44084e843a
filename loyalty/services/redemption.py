"""Spending miles: award tickets priced by the award chart, paid through reservations' payment hook.

An award ticket pays the booking's fares in miles (one chart price per traveller per flight, by distance
zone and cabin); taxes and fees stay due and are paid by card. The miles come from the booker's
membership; the head of a household may draw on the household's pooled miles, the head's own first and
then the other members' in primary-key order, each debit its own ledger entry (the head's own a
``redemption``, another member's a ``pooling`` debit on that member's statement), all in the payment's
transaction. A refund of the payment gives back its share of the miles, once per refund.

Cancelling an award ticket redeposits all the miles of the cancelled flights, whatever the fare's cash
rules (the payment hook declares ``redeposit_on_cancel``, which reservations' cancellation plan honours:
the miles payment is refunded the fares in full and the fare's cancellation fee is kept from the taxes
refunded to the card).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.models import Cabin, User
from loyalty.awards import is_higher, traveller_miles, zone_for
from loyalty.models import AwardZone, EntryKind, Household, Member, MemberStatus, MilesEntry
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post_many, miles_reverse
from reservations.models import (
    ZERO,
    Booking,
    ChargeKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    Segment,
    SegmentStatus,
)

# What an award pays for: the fare value a flight carries (fare, its discount, differences and credits).
AWARD_KINDS = (ChargeKind.FARE, ChargeKind.DISCOUNT, ChargeKind.FARE_DIFFERENCE, ChargeKind.CREDIT)
# What an upgrade adds to a booking and its miles pay for.
UPGRADE_KINDS = (ChargeKind.FARE_DIFFERENCE, ChargeKind.CHANGE_FEE, ChargeKind.WAIVER)
FIELD = "method"


def _chart() -> dict[int | None, tuple[AwardZone, dict[str, int]]]:
    zones = AwardZone.objects.prefetch_related("prices")
    return {z.pk: (z, {p.cabin: p.miles for p in z.prices.all()}) for z in zones}


def _chart_miles(chart: dict, *, distance_km: int, cabin: str) -> tuple[AwardZone, int]:
    found = zone_for([zone for zone, _prices in chart.values()], distance_km)
    if found is None:
        raise ApplicationError(_("Award tickets are not available on this route."), code="award_unavailable")
    zone, prices = chart[found.pk]
    if cabin not in prices:
        message = _("Award tickets are not available in %(cabin)s on this route.") % {"cabin": Cabin(cabin).label.lower()}
        raise ApplicationError(message, code="award_unavailable", fields={FIELD: [message]})
    return zone, prices[cabin]


@dataclass(frozen=True)
class AwardLine:
    """One flight of an award: its zone and cabin, the chart price per seat and the miles for the party."""

    segment_id: int
    flight_code: str
    zone: str
    cabin: str
    per_seat: int
    miles: int


@dataclass(frozen=True)
class AwardQuote:
    """What paying a booking's fares with miles costs: ``miles`` for ``fare_value`` of money."""

    miles: int
    fare_value: Decimal
    currency: str
    lines: tuple[AwardLine, ...]


def award_quote(*, booking: Booking) -> AwardQuote:
    """Price the booking's confirmed flights in miles and find the fare value the miles pay for.

    Reads only (a fixed number of queries); ``award_pay`` prices the same way under the booking's lock.
    """
    chart = _chart()
    segments = list(
        Segment.objects.filter(booking=booking, status=SegmentStatus.CONFIRMED)
        .select_related("flight__route", "fare_family")
        .order_by("sequence")
    )
    types = list(booking.passengers.values_list("passenger_type", flat=True))
    lines = []
    for segment in segments:
        zone, per_seat = _chart_miles(chart, distance_km=segment.flight.route.distance_km, cabin=segment.cabin)
        miles = sum(traveller_miles(per_seat, t, segment.fare_family.infant_percent) for t in types)
        lines.append(AwardLine(segment.pk, segment.flight.flight_code, zone.name, segment.cabin, per_seat, miles))
    value = booking.charges.filter(segment__in=segments, kind__in=AWARD_KINDS).aggregate(total=Sum("amount"))["total"] or ZERO
    return AwardQuote(miles=sum(line.miles for line in lines), fare_value=value, currency=booking.currency, lines=tuple(lines))


@dataclass(frozen=True)
class UpgradeQuote:
    """What moving one flight of a booking up a cabin costs in miles: the difference of the chart prices."""

    segment_id: int
    from_cabin: str
    to_cabin: str
    zone: str
    per_seat: int
    miles: int


def upgrade_quote(*, booking: Booking, segment: Segment, to_cabin: str, infant_percent: int = 10) -> UpgradeQuote:
    """The chart's difference between the two cabins in the flight's zone, for every traveller."""
    if not is_higher(to_cabin, segment.cabin):
        message = _("Choose a cabin above %(cabin)s.") % {"cabin": Cabin(segment.cabin).label.lower()}
        raise ApplicationError(message, code="not_an_upgrade", fields={"cabin": [message]})
    chart = _chart()
    distance = segment.flight.route.distance_km
    zone, lower = _chart_miles(chart, distance_km=distance, cabin=segment.cabin)
    _zone, higher = _chart_miles(chart, distance_km=distance, cabin=to_cabin)
    per_seat = max(higher - lower, 0)
    types = list(booking.passengers.values_list("passenger_type", flat=True))
    miles = sum(traveller_miles(per_seat, t, infant_percent) for t in types)
    return UpgradeQuote(segment.pk, segment.cabin, to_cabin, zone.name, per_seat, miles)


# --- Who pays, from which miles ---------------------------------------------------------------------


def miles_payer(*, booking: Booking) -> Member:
    """The booker's active membership: only a member pays with miles, and only from their own account."""
    member = (
        Member.objects.select_related("household").filter(customer_id=booking.customer_id).first()
        if booking.customer_id
        else None
    )
    if member is None or member.status != MemberStatus.ACTIVE:
        message = _("Only a member of the frequent flyer programme can pay with miles.")
        raise ApplicationError(message, code="not_a_member", fields={FIELD: [message]})
    return member


def miles_pool(*, member: Member) -> list[Member]:
    """Whose miles the member may spend: their own, and as a household's head the other members' too.

    The head first, then the others in primary-key order: the order the debits are taken in.
    """
    household = member.household or Household.objects.filter(head=member).first()
    if household is None or household.head_id != member.pk:
        return [member]
    others = list(Member.objects.filter(household=household, status=MemberStatus.ACTIVE).exclude(pk=member.pk).order_by("pk"))
    return [member, *others]


def miles_spendable(*, member: Member) -> int:
    return sum(m.award_balance for m in miles_pool(member=member))


def _not_enough(needed: int, available: int) -> InsufficientMiles:
    message = _("This needs %(needed)s miles; %(available)s are available.") % {
        "needed": f"{needed:,}",
        "available": f"{available:,}",
    }
    return InsufficientMiles(message, fields={FIELD: [message]})


# The kinds of a miles payment's debits: the payer's own (REDEMPTION) and a household member's miles the
# head spent (POOLING).
SPENT_KINDS = (EntryKind.REDEMPTION, EntryKind.POOLING)


@transaction.atomic
def miles_redeem(
    *, member: Member, miles: int, reference: str, booking: Booking, reason: str, details: dict, by: User | None = None
) -> list[int]:
    """Debit ``miles`` from the member's pool: head first, then the others by primary key, one entry each.

    Every member of the pool is locked (primary-key order) before the balances are read, so two
    redemptions at once never spend the same miles; the ledger's CHECK is the last word. The head's own
    debit is a ``redemption``; another member's miles the head spends are a ``pooling`` debit on that
    member's statement, with the head as counterpart. The keys are ``redemption:<reference>`` (and
    ``:<member>`` for the others). A replay finds the payment's debits, whoever they were taken from (the
    head's own may not exist: a head with no miles spends only the others'), and returns them: it never
    plans again, so it debits nothing more.
    """
    if miles <= 0:
        raise ValueError("A redemption spends at least one mile.")
    key = f"redemption:{reference}"
    pool = miles_pool(member=member)
    locked = {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=[m.pk for m in pool]).order_by("pk")}
    done = _debits_of(booking_id=booking.pk, reference=reference)
    if done:
        return done
    available = sum(locked[m.pk].award_balance for m in pool)
    if available < miles:
        raise _not_enough(miles, available)
    postings, left = [], miles
    for m in pool:
        take = min(left, locked[m.pk].award_balance)
        if take <= 0:
            continue
        left -= take
        own = m.pk == member.pk
        postings.append(
            Posting(
                member_id=m.pk, kind=EntryKind.REDEMPTION if own else EntryKind.POOLING, reason=reason,
                key=key if own else f"{key}:{m.pk}", award=-take,
                details={**details, "payment": reference, "record_locator": booking.record_locator,
                         **({} if own else {"pooled_by": member.number})},
                booking_id=booking.pk, counterpart_id=None if own else member.pk,
            )
        )  # fmt: skip
        if left == 0:
            break
    return miles_post_many(postings=postings, by=by)


def _debits_of(*, booking_id: int, reference: str) -> list[int]:
    """The debits already posted for the payment ``reference`` (found by its booking: an indexed lookup)."""
    debits = MilesEntry.objects.filter(booking_id=booking_id, details__payment=reference, kind__in=SPENT_KINDS)
    return list(debits.order_by("pk").values_list("pk", flat=True))


def _payment_entries(payment: Payment) -> list[MilesEntry]:
    """The ledger entries of a miles payment: its debits and what has come back of them."""
    return list(MilesEntry.objects.filter(booking_id=payment.booking_id, details__payment=payment.external_key).order_by("pk"))


def _refunded(payment: Payment) -> Decimal:
    refunds = Refund.objects.filter(payment_id=payment.pk).exclude(status=RefundStatus.FAILED)
    return refunds.aggregate(total=Sum("amount"))["total"] or ZERO


def _miles_due_back(payment: Payment, entries: list[MilesEntry], refunded: Decimal) -> int:
    """The miles that refunds adding up to ``refunded`` give back: all once the payment is refunded in full."""
    spent = -sum(e.award_miles for e in entries if e.kind in SPENT_KINDS)
    return spent if refunded >= payment.amount else int(Decimal(spent) * refunded / payment.amount)


def miles_refund_preview(*, payment: Payment, amount: Decimal) -> int:
    """How many miles refunding ``amount`` more of the payment would give back, by ``miles_refund``'s rule.

    Reads only (no lock): what a cancellation quote shows.
    """
    entries = _payment_entries(payment)
    if not payment.miles or not any(e.kind in SPENT_KINDS for e in entries):
        return 0
    back = sum(e.award_miles for e in entries if e.kind == EntryKind.REVERSAL)
    return max(_miles_due_back(payment, entries, _refunded(payment) + amount) - back, 0)


@transaction.atomic
def miles_refund(*, payment: Payment, reference: str, by: User | None = None) -> int:
    """Give back the share of a miles payment that its refunds so far cover; returns the miles credited.

    Cumulative, so rounding never drifts: after the refunds of a payment add up to ``r`` of its ``a``,
    ``floor(miles * r / a)`` have come back (all of them once the payment is refunded in full). A member
    gets back what they paid, the last debited first; a debit given back whole is reversed (``reversal``
    of its entry), part of one is a credit keyed by the refund. Calling it again for the same refund
    credits nothing.
    """
    payment_key = payment.external_key
    entries = _payment_entries(payment)
    debits = [e for e in entries if e.kind in SPENT_KINDS]
    if not debits or not payment.miles:
        return 0
    members = sorted({e.member_id for e in debits})
    list(Member.objects.select_for_update().filter(pk__in=members).order_by("pk").values_list("pk", flat=True))
    credited = dict.fromkeys({e.member_id for e in debits}, 0)
    for e in entries:
        if e.kind == EntryKind.REVERSAL:
            credited[e.member_id] = credited.get(e.member_id, 0) + e.award_miles
    give = _miles_due_back(payment, entries, _refunded(payment)) - sum(credited.values())
    total = 0
    for debit in reversed(debits):
        if give <= 0:
            break
        open_amount = -debit.award_miles - credited.get(debit.member_id, 0)
        take = min(give, open_amount)
        if take <= 0:
            continue
        details = {"payment": payment_key, "refund": reference, "record_locator": debit.details.get("record_locator", "")}
        if take == -debit.award_miles:
            posted = miles_reverse(entry=debit, reason="award_refund", details=details, by=by)
            total += take if posted is not None else 0
        else:
            inserted = miles_post_many(
                postings=[
                    Posting(
                        member_id=debit.member_id, kind=EntryKind.REVERSAL, reason="award_refund",
                        key=f"refund:{reference}:{debit.member_id}", award=take, details=details,
                        booking_id=payment.booking_id,
                    )
                ],
                by=by,
            )  # fmt: skip
            total += take if inserted else 0
        give -= take
    return total


def miles_paid(*, booking: Booking) -> Decimal:
    """Money of the booking's fares still standing as paid with miles (award payments less their refunds)."""
    awards = set(
        MilesEntry.objects.filter(booking_id=booking.pk, kind__in=SPENT_KINDS, reason="award_ticket").values_list(
            "details__payment", flat=True
        )
    )
    if not awards:
        return ZERO
    payments = Payment.objects.filter(
        booking=booking, method=PaymentMethod.MILES, status=PaymentStatus.SUCCEEDED
    ).prefetch_related("refunds")
    return sum((p.refundable_amount for p in payments if p.external_key in awards), ZERO)


# --- What the payment hook asks -------------------------------------------------------------------


def _upgrade_segment(booking: Booking, details: Mapping[str, str]) -> tuple[Segment, str] | None:
    """The upgraded flight named in ``details`` and the cabin it was in, or None for an award payment."""
    raw = (details or {}).get("upgrade_segment") or ""
    if not raw:
        return None
    segment = (
        Segment.objects.select_related("flight__route", "fare_family")
        .filter(booking=booking, pk=int(raw) if raw.isdigit() else 0, status=SegmentStatus.CONFIRMED)
        .first()
    )
    before = (
        Segment.objects.filter(booking=booking, flight_id=segment.flight_id, status=SegmentStatus.CANCELLED)
        .order_by("-pk")
        .values_list("cabin", flat=True)
        .first()
        if segment is not None
        else None
    )
    if segment is None or before is None:
        message = _("This is not an upgraded flight of the booking.")
        raise ApplicationError(message, code="not_an_upgrade", fields={FIELD: [message]})
    return segment, before


def miles_payable(*, booking: Booking, details: Mapping[str, str]) -> Decimal:
    """The money miles pay on the booking: the fares of an award, or what an upgrade added."""
    upgrade = _upgrade_segment(booking, details)
    if upgrade is not None:
        segment, _before = upgrade
        return booking.charges.filter(segment=segment, kind__in=UPGRADE_KINDS).aggregate(total=Sum("amount"))["total"] or ZERO
    if miles_paid(booking=booking) > 0:
        message = _("The fares of this booking are already paid with miles.")
        raise ApplicationError(message, code="miles_already_used", fields={FIELD: [message]})
    return award_quote(booking=booking).fare_value


def miles_price(*, booking: Booking, amount: Decimal, details: Mapping[str, str]) -> tuple[int, str, dict]:
    """How many miles pay ``amount`` on the booking, the entry's reason and details; refuses a part payment.

    Miles pay the whole of what they pay for (every fare of an award, all an upgrade added), so the
    price in miles is the chart's and never a share of it.
    """
    payable = miles_payable(booking=booking, details=details)
    if amount != payable:
        message = _("Miles pay all the fares at once (%(amount)s %(currency)s); the taxes are paid by card.") % {
            "amount": payable,
            "currency": booking.currency,
        }
        raise ApplicationError(message, code="miles_part_payment", fields={"amount": [message]})
    upgrade = _upgrade_segment(booking, details)
    if upgrade is not None:
        segment, before = upgrade
        quote = upgrade_quote(
            booking=booking,
            segment=Segment(pk=segment.pk, flight=segment.flight, cabin=before),
            to_cabin=segment.cabin,
            infant_percent=segment.fare_family.infant_percent,
        )
        details = {"flight": segment.flight.flight_code, "from_cabin": before, "to_cabin": segment.cabin, "zone": quote.zone}
        return quote.miles, "upgrade", details
    quote = award_quote(booking=booking)
    flights = [line.flight_code for line in quote.lines]
    return quote.miles, "award_ticket", {"flights": flights, "zones": sorted({line.zone for line in quote.lines})}
