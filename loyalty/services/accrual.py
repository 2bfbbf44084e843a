"""Miles for flights flown: credited per coupon, in one batch per flight, once whatever replays.

How a flown coupon earns (the programme counts **statute miles**, as the airlines' programmes do):

* distance: the great-circle distance between the flight's origin and destination, from their latitude
  and longitude (``reservations.services.reference.great_circle_km``, the same kilometres the fares are
  priced on), converted to statute miles (1 mile = 1.609344 km) and rounded. LHR-JFK is 5,540 km,
  3,442 miles.
* base miles = distance x the segment's fare family ``miles_earn_percent`` / 100 (the booking class
  earn rate), rounded down, and at least ``Programme.minimum_miles_per_segment``. A fare family earning
  0 % earns nothing (the minimum is for fares that earn at all) but the segment still counts.
* award miles = base + base x the member's tier ``bonus_percent`` / 100 (rounded down).
* qualifying miles = base: the tier bonus is a reward for the status, not a way to keep it, so it must
  not count towards requalifying. One qualifying segment per coupon.

An award ticket earns nothing: a coupon on a booking whose fares were paid with miles (a succeeded
payment with the ``miles`` method on the booking) is left out of the same query, whichever path
credits (arrival, sweep or retro claim), so miles never buy more miles.

The miles go to the frequent flyer number on the traveller's own coupon (``BookingPassenger
.frequent_flyer_number``), whoever booked and paid, and only to an active member. A number whose
membership was merged into another (``Member.merged_into``) earns for the membership it was merged
into: a flight flown before the merge and credited after it (a late arrival task, the sweep) is not
lost, and its key still credits it once. Every entry's key is
``coupon:<id>``: the arrival task, the sweep and a retro claim can all try, and the coupon is credited
once. The candidate coupons are found in one query (the flight's airports, fares, passengers, members and
tiers joined, already-credited coupons left out), the postings go through ``miles_post_many`` in one
batch: the number of queries does not grow with the number of passengers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import CharField, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from crm.models import User
from loyalty import numbers
from loyalty.models import EntryKind, Member, MemberStatus, MilesEntry
from loyalty.selectors import programme
from loyalty.services.ledger import Posting, miles_post_many
from reservations.models import Coupon, CouponStatus, Payment, PaymentMethod, PaymentStatus
from reservations.services.reference import great_circle_km

KM_PER_MILE = 1.609344
REASON_FLIGHT = "flight"
# The sweep looks back this far for flown coupons whose miles never arrived (a lost task).
SWEEP_DAYS = 30
# The sweep posts this many coupons per transaction, so a large backlog never holds many locks for long.
SWEEP_BATCH = 500


def coupon_key(coupon_id: int) -> str:
    """The idempotency key of a coupon's accrual: one credit per coupon, whoever posts it."""
    return f"coupon:{coupon_id}"


def distance_miles(*, lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle statute miles between two points, from the kilometres the fares use."""
    return round(great_circle_km(lat1, lon1, lat2, lon2) / KM_PER_MILE)


@dataclass(frozen=True)
class Earning:
    award: int
    qualifying: int


def miles_for_segment(*, distance: int, earn_percent: int, bonus_percent: int, minimum: int) -> Earning:
    """The module docstring's formula, in integers (no float rounding surprises)."""
    if earn_percent <= 0:
        return Earning(award=0, qualifying=0)
    base = max(distance * earn_percent // 100, minimum)
    return Earning(award=base + base * bonus_percent // 100, qualifying=base)


def paid_with_miles(booking_ref: str = "ticket__booking_id") -> Exists:
    """True for a row whose booking (``booking_ref`` from the outer query) was paid with miles: an award."""
    return Exists(
        Payment.objects.filter(booking_id=OuterRef(booking_ref), method=PaymentMethod.MILES, status=PaymentStatus.SUCCEEDED)
    )


def _uncredited_coupons(coupons: QuerySet[Coupon], *, member: Member | None = None) -> QuerySet:
    """Flown coupons not yet credited, with everything the entry needs: one query.

    Each goes to the active member whose number is on the traveller's coupon (or the member that
    number was merged into), or to ``member`` when given (a retro claim: the member proved the ticket
    is theirs).
    """
    credited = MilesEntry.objects.filter(
        idempotency_key=Concat(Value("coupon:"), Cast(OuterRef("pk"), CharField()), output_field=CharField())
    )
    coupons = coupons.filter(status=CouponStatus.FLOWN).filter(~Exists(credited)).filter(~paid_with_miles())
    if member is not None:
        coupons = coupons.annotate(
            member_id=Value(member.pk, output_field=IntegerField()),
            bonus_percent=Value(member.tier.bonus_percent, output_field=IntegerField()),
        )
    else:
        # The number's membership, or the one it was merged into (a merge repoints earlier merges, so one
        # step always reaches the membership that lives on); then only if that one is active.
        holder = Member.objects.filter(number=OuterRef("ff_number")).annotate(credited_to=Coalesce("merged_into_id", "pk"))
        members = Member.objects.filter(pk=OuterRef("holder_id"), status=MemberStatus.ACTIVE)
        coupons = (
            coupons.exclude(ticket__passenger__frequent_flyer_number="")
            .annotate(ff_number=numbers.digits_of("ticket__passenger__frequent_flyer_number"))
            .annotate(holder_id=Subquery(holder.values("credited_to")[:1]))
            .annotate(
                member_id=Subquery(members.values("pk")[:1]),
                bonus_percent=Subquery(members.values("tier__bonus_percent")[:1]),
            )
            .filter(member_id__isnull=False)
        )
    return (
        coupons
        .order_by("pk")
        .values(
            "pk", "member_id", "bonus_percent", "ticket__booking_id",
            "segment__cabin", "segment__booking_class__code", "segment__fare_family__code",
            "segment__fare_family__miles_earn_percent",
            "segment__flight__airline_designator", "segment__flight__flight_number", "segment__flight__service_date",
            "segment__flight__origin__iata_code", "segment__flight__origin__latitude", "segment__flight__origin__longitude",
            "segment__flight__destination__iata_code", "segment__flight__destination__latitude",
            "segment__flight__destination__longitude",
        )
    )  # fmt: skip


def _postings(rows: Iterable[dict], *, minimum: int, via: str) -> list[Posting]:
    """One accrual posting per row; each route's distance is computed once."""
    distances: dict[tuple[str, str], int] = {}
    postings = []
    for row in rows:
        route = (row["segment__flight__origin__iata_code"], row["segment__flight__destination__iata_code"])
        if route not in distances:
            distances[route] = distance_miles(
                lat1=float(row["segment__flight__origin__latitude"]),
                lon1=float(row["segment__flight__origin__longitude"]),
                lat2=float(row["segment__flight__destination__latitude"]),
                lon2=float(row["segment__flight__destination__longitude"]),
            )
        distance = distances[route]
        earn_percent = row["segment__fare_family__miles_earn_percent"]
        bonus_percent = row["bonus_percent"] or 0
        earning = miles_for_segment(distance=distance, earn_percent=earn_percent, bonus_percent=bonus_percent, minimum=minimum)
        details = {
            "flight": f"{row['segment__flight__airline_designator']}{row['segment__flight__flight_number']}",
            "date": row["segment__flight__service_date"].isoformat(),
            "origin": route[0],
            "destination": route[1],
            "cabin": row["segment__cabin"],
            "booking_class": row["segment__booking_class__code"],
            "fare_family": row["segment__fare_family__code"],
            "distance": distance,
            "earn_percent": earn_percent,
            "bonus_percent": bonus_percent,
        }
        if via:
            details["via"] = via
        postings.append(
            Posting(
                member_id=row["member_id"], kind=EntryKind.ACCRUAL, reason=REASON_FLIGHT, key=coupon_key(row["pk"]),
                award=earning.award, qualifying=earning.qualifying, segments=1, details=details,
                coupon_id=row["pk"], booking_id=row["ticket__booking_id"],
            )
        )  # fmt: skip
    return postings


def miles_accrue_for_coupons(
    *, coupons: QuerySet[Coupon], member: Member | None = None, via: str = "", by: User | None = None
) -> list[int]:
    """Credit the flown, not yet credited coupons among ``coupons`` in one posting; returns the entry ids.

    Each coupon goes to the member whose number is on it, or to ``member`` when given. ``via`` is
    recorded in the entries' details (``"claim"``, ``"sweep"``) so a statement can say how missing
    miles arrived. The same few queries whatever the number of coupons.
    """
    minimum = programme().minimum_miles_per_segment
    postings = _postings(_uncredited_coupons(coupons, member=member), minimum=minimum, via=via)
    return miles_post_many(postings=postings, by=by)


def miles_accrue_for_flight(*, flight_id: int) -> list[int]:
    """Credit every flown coupon of the flight to its traveller's membership, once; returns the new entries.

    Safe to run any number of times, by several workers at once: a coupon already credited is skipped,
    and two runs racing on the same coupon meet at its key (``ON CONFLICT DO NOTHING``).
    """
    return miles_accrue_for_coupons(coupons=Coupon.objects.filter(segment__flight_id=flight_id))


def miles_accrual_sweep(*, days: int = SWEEP_DAYS, batch: int = SWEEP_BATCH) -> int:
    """Credit the flown coupons of the last ``days`` whose accrual never happened (a lost task); returns how many.

    The missing coupons are found by one set-based query (coupons flown on flights that departed since,
    with a member's number, with no ``coupon:<id>`` entry); they are posted ``batch`` at a time, each
    batch its own transaction. Running it while the arrival task runs credits each coupon once.
    """
    since = timezone.now() - timedelta(days=days)
    minimum = programme().minimum_miles_per_segment
    rows = list(_uncredited_coupons(Coupon.objects.filter(segment__flight__scheduled_departure__gte=since)))
    posted = 0
    for start in range(0, len(rows), batch):
        postings = _postings(rows[start : start + batch], minimum=minimum, via="sweep")
        posted += len(miles_post_many(postings=postings))
    return posted


def coupons_credited(*, coupon_ids: Iterable[int]) -> set[int]:
    """Which of these coupons already have their accrual entry (to anyone)."""
    keys = [coupon_key(pk) for pk in coupon_ids]
    taken = MilesEntry.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    return {int(key.split(":", 1)[1]) for key in taken}


__all__ = [
    "Earning",
    "coupon_key",
    "coupons_credited",
    "distance_miles",
    "miles_accrual_sweep",
    "miles_accrue_for_coupons",
    "miles_accrue_for_flight",
    "miles_for_segment",
]
