"""Reads of the frequent flyer programme shared by views, API and tasks."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from crm.errors import NotFound
from loyalty.models import Member, MilesEntry, Programme, Tier


def programme() -> Programme:
    """The programme's settings row (created with its defaults the first time it is read)."""
    found, _ = Programme.objects.get_or_create(pk=1)
    return found


def tiers() -> list[Tier]:
    """Every tier, entry tier first."""
    return list(Tier.objects.order_by("rank"))


def member_for_customer(*, customer_id: int) -> Member | None:
    return Member.objects.select_related("tier").filter(customer_id=customer_id).first()


def member_get_by_number(*, number: str) -> Member:
    member = Member.objects.select_related("tier", "customer").filter(number=number).first()
    if member is None:
        raise NotFound(_("No member has this frequent flyer number."), code="member_not_found")
    return member


def statement(*, member: Member) -> QuerySet[MilesEntry]:
    """The member's ledger, newest first (the index ``milesentry_statement`` serves this order)."""
    return MilesEntry.objects.filter(member=member).order_by("-created_at", "-id")


def award_chart() -> list:
    """The award chart's zones, shortest first, each with its prices (two queries whatever its size)."""
    from loyalty.models import AwardZone

    return list(AwardZone.objects.prefetch_related("prices"))


@dataclass(frozen=True)
class UpgradeOption:
    """One cabin a flight of a booking can be moved up to, and what that costs in miles."""

    cabin: str
    label: str
    miles: int


@dataclass(frozen=True)
class UpgradableFlight:
    segment: object  # reservations.models.Segment, with its flight
    options: tuple[UpgradeOption, ...]


def upgrade_options(*, booking) -> list[UpgradableFlight]:  # noqa: ANN001
    """Each confirmed flight not yet departed, with the higher cabins it has and their price in miles.

    A fixed number of queries whatever the booking holds; the price is the award chart's difference
    between the cabins for every traveller, as ``loyalty.services.upgrade_with_miles`` charges it.
    Seats and fares are checked when the upgrade is made.
    """
    from django.db.models import Prefetch
    from django.utils import timezone

    from crm.models import Cabin
    from loyalty import awards
    from loyalty.models import AwardZone
    from reservations.models import FareFamily, FlightCabin, Segment, SegmentStatus

    segments = list(
        Segment.objects.filter(booking=booking, status=SegmentStatus.CONFIRMED, flight__scheduled_departure__gt=timezone.now())
        .select_related("flight__route", "flight__origin", "flight__destination")
        .prefetch_related(Prefetch("flight__cabins", queryset=FlightCabin.objects.order_by("pk")))
        .order_by("sequence")
    )
    if not segments:
        return []
    zones = list(AwardZone.objects.prefetch_related("prices"))
    infant_percent: dict[str, int] = {}
    for family in FareFamily.objects.order_by("cabin", "rank", "pk"):
        infant_percent.setdefault(family.cabin, family.infant_percent)  # the fare an upgrade moves to
    types = list(booking.passengers.values_list("passenger_type", flat=True))
    found = []
    for segment in segments:
        zone = awards.zone_for(zones, segment.flight.route.distance_km)
        prices = {p.cabin: p.miles for p in zone.prices.all()} if zone is not None else {}
        flown = {c.cabin for c in segment.flight.cabins.all()}
        options = []
        for cabin in awards.CABIN_ORDER:
            if not awards.is_higher(cabin, segment.cabin) or cabin not in flown or cabin not in infant_percent:
                continue
            if cabin not in prices or segment.cabin not in prices:
                continue
            per_seat = max(prices[cabin] - prices[segment.cabin], 0)
            total = sum(awards.traveller_miles(per_seat, t, infant_percent[cabin]) for t in types)
            options.append(UpgradeOption(cabin=cabin, label=str(Cabin(cabin).label), miles=total))
        found.append(UpgradableFlight(segment=segment, options=tuple(options)))
    return found


def upgradable_bookings(*, customer, limit: int = 10) -> list:  # noqa: ANN001
    """The customer's own ticketed bookings with a flight still to come, soonest first (for the redeem page)."""
    from django.db.models import Min
    from django.utils import timezone

    from reservations.models import Booking, BookingStatus, SegmentStatus

    now = timezone.now()
    return list(
        Booking.objects.filter(customer=customer, status=BookingStatus.TICKETED)
        .annotate(next_departure=Min("segments__flight__scheduled_departure", filter=Q(segments__status=SegmentStatus.CONFIRMED)))
        .filter(next_departure__gt=now)
        .order_by("next_departure", "pk")[:limit]
    )
