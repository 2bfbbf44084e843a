"""Reads of the frequent flyer programme shared by views, API and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import NotFound
from crm.registry import months_before
from loyalty.models import (
    Adjustment,
    Decision,
    EntryKind,
    FraudFlag,
    HouseholdInvitation,
    Member,
    MemberStatus,
    MilesEntry,
    Partner,
    Programme,
    RetroClaim,
    ReviewStatus,
    StatusMatch,
    Tier,
)


def programme() -> Programme:
    """The programme's settings row (created with its defaults the first time it is read)."""
    found, _ = Programme.objects.get_or_create(pk=1)
    return found


def tiers() -> list[Tier]:
    """Every tier, entry tier first."""
    return list(Tier.objects.order_by("rank"))


def member_for_customer(*, customer_id: int) -> Member | None:
    return Member.objects.select_related("tier").filter(customer_id=customer_id).first()


def members_for_customers(*, customer_ids: list[int]) -> dict[int, Member]:
    """``member_for_customer`` for many customers in one query (customers without a member are absent)."""
    return {m.customer_id: m for m in Member.objects.select_related("tier").filter(customer_id__in=customer_ids)}


def member_get_by_number(*, number: str) -> Member:
    member = Member.objects.select_related("tier", "customer").filter(number=number).first()
    if member is None:
        raise NotFound(_("No member has this frequent flyer number."), code="member_not_found")
    return member


def statement(*, member: Member) -> QuerySet[MilesEntry]:
    """The member's ledger, newest first (the index ``milesentry_statement`` serves this order)."""
    return MilesEntry.objects.filter(member=member).order_by("-created_at", "-id")


# --- Status matches ---------------------------------------------------------------------------


def status_matches(*, status: str | None = None) -> QuerySet[StatusMatch]:
    """Status match requests, oldest first (the queue is worked in order), with what a row shows."""
    found = StatusMatch.objects.select_related("member__customer", "member__tier", "tier", "requested_by", "decided_by")
    if status:
        found = found.filter(status=status)
    return found.order_by("requested_at", "id")


def status_match_get(*, status_match_id: int) -> StatusMatch:
    found = status_matches().filter(pk=status_match_id).first()
    if found is None:
        raise NotFound(_("No such status match."), code="status_match_not_found")
    return found


def status_match_pending_for(*, member: Member) -> StatusMatch | None:
    return status_matches(status=Decision.PENDING).filter(member=member).first()


# --- Households and adjustments ------------------------------------------------------------


def household_pool(*, member: Member) -> tuple[int, list[Member]]:
    """The award miles the member's household pools, and its members (head first, then by pk).

    A member in no household pools alone: ``(their balance, [member])``.
    """
    fresh = Member.objects.select_related("customer", "tier").get(pk=member.pk)
    if fresh.household_id is None:
        return fresh.award_balance, [fresh]
    members = list(Member.objects.select_related("customer", "tier", "household").filter(household_id=fresh.household_id))
    members.sort(key=lambda m: (m.household.head_id != m.pk, m.pk))
    return sum(m.award_balance for m in members), members


def household_invitations_for(*, member: Member) -> QuerySet[HouseholdInvitation]:
    """Invitations waiting for the member's answer, oldest first."""
    return (
        HouseholdInvitation.objects.filter(member=member, accepted_at__isnull=True)
        .select_related("household__head__customer", "member")
        .order_by("created_at", "pk")
    )


def household_invitations_sent(*, household_id: int) -> QuerySet[HouseholdInvitation]:
    """Invitations the household's head sent that are not yet accepted."""
    return (
        HouseholdInvitation.objects.filter(household_id=household_id, accepted_at__isnull=True)
        .select_related("member__customer", "household__head")
        .order_by("created_at", "pk")
    )


def adjustments_pending() -> QuerySet[Adjustment]:
    """The approvals queue: pending adjustments, oldest first (the ``adjustment_pending`` index)."""
    return adjustments_list(status=Decision.PENDING).order_by("requested_at", "pk")


def adjustments_list(*, status: str | None = None) -> QuerySet[Adjustment]:
    queryset = Adjustment.objects.select_related("member__customer", "member__tier", "requested_by", "decided_by", "entry")
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def adjustment_get(*, adjustment_id: int) -> Adjustment:
    found = adjustments_list().filter(pk=adjustment_id).first()
    if found is None:
        raise NotFound(_("No such adjustment."), code="adjustment_not_found")
    return found


@dataclass(frozen=True)
class HouseholdOverview:
    """What the member's household page shows: the pool and its members to the head, invitations to answer."""

    member: Member
    household_id: int | None
    head: Member | None
    members: list[Member]
    pooled_balance: int | None  # the head's to see; None for the other members
    invitations_received: list[HouseholdInvitation]
    invitations_sent: list[HouseholdInvitation]

    @property
    def is_head(self) -> bool:
        return self.head is not None and self.head.pk == self.member.pk


def household_overview(*, member: Member) -> HouseholdOverview:
    """The member's household as the portal and the API show it, in a fixed number of queries."""
    total, members = household_pool(member=member)
    fresh = next(m for m in members if m.pk == member.pk)
    if fresh.household_id is None:
        return HouseholdOverview(fresh, None, None, [], None, list(household_invitations_for(member=fresh)), [])
    head = members[0]
    is_head = head.pk == fresh.pk
    return HouseholdOverview(
        member=fresh,
        household_id=fresh.household_id,
        head=head,
        members=members,
        pooled_balance=total if is_head else None,
        invitations_received=[],
        invitations_sent=list(household_invitations_sent(household_id=fresh.household_id)) if is_head else [],
    )


# --- Partners' statements, the miles liability and the fraud review queue -------------------------
# (One or two aggregate queries each, whatever the number of members or entries.)

CENT = Decimal("0.01")


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The first instant of ``month`` and of the next one, in the project's time zone."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    zone = timezone.get_current_timezone()
    return datetime.combine(first, time.min, tzinfo=zone), datetime.combine(following, time.min, tzinfo=zone)


def previous_month(today: date | None = None) -> date:
    first = (today or timezone.localdate()).replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _issued_reversed(prefix: str = "") -> dict:
    zero = Value(0, output_field=IntegerField())
    return {
        "issued": Coalesce(Sum(f"{prefix}award_miles", filter=Q(**{f"{prefix}kind": EntryKind.PARTNER})), zero),
        "reversed": Coalesce(
            Sum(f"{prefix}award_miles", filter=Q(**{f"{prefix}kind": EntryKind.REVERSAL, f"{prefix}award_miles__lt": 0})), zero
        ),
        "transactions": Count(f"{prefix}id", filter=Q(**{f"{prefix}kind": EntryKind.PARTNER})),
    }


@dataclass(frozen=True)
class PartnerTotals:
    """What a partner owes for a month: miles issued less miles reversed, at the partner's price."""

    issued: int
    reversed: int  # a positive number of miles taken back
    transactions: int
    price_per_mile: Decimal
    currency: str

    @property
    def net(self) -> int:
        return self.issued - self.reversed

    @property
    def amount(self) -> Decimal:
        return (Decimal(self.net) * self.price_per_mile).quantize(CENT, rounding=ROUND_HALF_UP)


def _totals(partner: Partner, issued: int, reversed_: int, transactions: int) -> PartnerTotals:
    return PartnerTotals(
        issued=int(issued), reversed=-int(reversed_), transactions=int(transactions),
        price_per_mile=partner.price_per_mile, currency=partner.currency,
    )  # fmt: skip


def partners_with_month(*, month: date) -> list[tuple[Partner, PartnerTotals]]:
    """Every partner with its figures for ``month``, in one query."""
    start, end = month_bounds(month)
    in_month = Q(entries__created_at__gte=start, entries__created_at__lt=end)
    zero = Value(0, output_field=IntegerField())
    partners = Partner.objects.annotate(
        issued=Coalesce(Sum("entries__award_miles", filter=in_month & Q(entries__kind=EntryKind.PARTNER)), zero),
        reversed_miles=Coalesce(
            Sum("entries__award_miles", filter=in_month & Q(entries__kind=EntryKind.REVERSAL, entries__award_miles__lt=0)), zero
        ),
        transactions=Count("entries", filter=in_month & Q(entries__kind=EntryKind.PARTNER)),
    ).order_by("name", "pk")
    return [(p, _totals(p, p.issued, p.reversed_miles, p.transactions)) for p in partners]


@dataclass(frozen=True)
class PartnerStatement:
    partner: Partner
    month: date
    totals: PartnerTotals
    entries: Any  # QuerySet[MilesEntry]: the month's credits and reversals, oldest first


def partner_statement(*, partner: Partner, month: date) -> PartnerStatement:
    """The month's clearing statement: totals in one aggregate query, and the entries behind them as a
    queryset (page it, or stream it into a CSV) with each member's number.

    An entry counts in the month it was posted: a credit reversed later is taken off the month of the
    reversal, so a statement already settled never changes.
    """
    start, end = month_bounds(month)
    entries = (
        MilesEntry.objects.filter(partner=partner, created_at__gte=start, created_at__lt=end)
        .filter(Q(kind=EntryKind.PARTNER) | Q(kind=EntryKind.REVERSAL, award_miles__lt=0))
        .select_related("member", "reverses")
        .only("id", "kind", "award_miles", "details", "created_at", "member__number", "reverses__details")
        .order_by("created_at", "id")
    )
    sums = MilesEntry.objects.filter(partner=partner, created_at__gte=start, created_at__lt=end).aggregate(**_issued_reversed())
    return PartnerStatement(
        partner=partner, month=month.replace(day=1), entries=entries,
        totals=_totals(partner, sums["issued"], sums["reversed"], sums["transactions"]),
    )  # fmt: skip


def partner_entry_details(entry: MilesEntry) -> dict[str, Any]:
    """A statement entry's partner data (reference, stay date, description); a reversal carries the credit's
    under its own, so it names the reference it takes back even when posted without one."""
    details = entry.details or {}
    if entry.kind == EntryKind.REVERSAL and entry.reverses is not None:
        return {**(entry.reverses.details or {}), **details}
    return details


def partner_get_by_code(*, code: str) -> Partner:
    partner = Partner.objects.filter(code=code).first()
    if partner is None:
        raise NotFound(_("No partner has this code."), code="partner_not_found")
    return partner


@dataclass(frozen=True)
class TierLiability:
    tier: Tier
    members: int
    miles: int
    gross: Decimal
    breakage: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.breakage


# Breakage is estimated from what left the ledger over this many months before the report.
BREAKAGE_HISTORY_MONTHS = 24
BREAKAGE_FROM_HISTORY = "history"
BREAKAGE_CONFIGURED = "programme"


@dataclass(frozen=True)
class BreakageHistory:
    """The award miles that left the ledger in the trailing window: expired, or spent (less refunds)."""

    months: int
    expired: int
    redeemed: int
    minimum: int  # miles that must have left before the history is trusted

    @property
    def left(self) -> int:
        return self.expired + self.redeemed

    @property
    def enough(self) -> bool:
        return self.left > 0 and self.left >= self.minimum

    @property
    def percent(self) -> Decimal:
        """Expired / (expired + redeemed), as a percentage to the hundredth."""
        share = Decimal(self.expired) * 100 / Decimal(self.left) if self.left else Decimal(0)
        return share.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Liability:
    """Finance's deferred revenue for the miles members hold: their value, less the share expected
    never to be redeemed (breakage).

    ``breakage_percent`` is the rate applied: the share of miles that expired rather than being redeemed
    over the history window when enough miles left the ledger (``breakage_basis`` "history"), the
    programme's configured rate otherwise ("programme").
    """

    value_per_mile: Decimal
    currency: str
    breakage_percent: Decimal
    breakage_basis: str
    configured_breakage_percent: Decimal
    history: BreakageHistory
    tiers: list[TierLiability]
    as_of: datetime

    @property
    def from_history(self) -> bool:
        return self.breakage_basis == BREAKAGE_FROM_HISTORY

    @property
    def members(self) -> int:
        return sum(t.members for t in self.tiers)

    @property
    def miles(self) -> int:
        return sum(t.miles for t in self.tiers)

    @property
    def gross(self) -> Decimal:
        return sum((t.gross for t in self.tiers), Decimal("0.00"))

    @property
    def breakage(self) -> Decimal:
        return sum((t.breakage for t in self.tiers), Decimal("0.00"))

    @property
    def net(self) -> Decimal:
        return self.gross - self.breakage


def breakage_history(*, now: datetime, minimum: int, months: int = BREAKAGE_HISTORY_MONTHS) -> BreakageHistory:
    """What left the ledger in the ``months`` before ``now``, by entry kind, in one aggregate query.

    Expired: the miles of expiry entries. Redeemed: the miles of redemption and household pooling debits,
    less the miles an award refund gave back (an award cancelled spent nothing).
    """
    since = datetime.combine(
        months_before(timezone.localtime(now).date(), months), time.min, tzinfo=timezone.get_current_timezone()
    )
    zero = Value(0, output_field=IntegerField())
    spent = Q(kind__in=(EntryKind.REDEMPTION, EntryKind.POOLING)) | Q(kind=EntryKind.REVERSAL, reason="award_refund")
    # Only those rows, by the partial index that holds just them (``milesentry_spent``): accruals are most of the ledger.
    left = Q(kind__in=(EntryKind.EXPIRY, EntryKind.REDEMPTION, EntryKind.POOLING)) | Q(
        kind=EntryKind.REVERSAL, reason="award_refund"
    )
    sums = MilesEntry.objects.filter(left, created_at__gte=since, created_at__lte=now).aggregate(
        expired=Coalesce(Sum("award_miles", filter=Q(kind=EntryKind.EXPIRY)), zero),
        redeemed=Coalesce(Sum("award_miles", filter=spent), zero),
    )
    return BreakageHistory(months=months, expired=max(-sums["expired"], 0), redeemed=max(-sums["redeemed"], 0), minimum=minimum)


def liability() -> Liability:
    """Outstanding award miles of active members by tier, valued at the programme's value per mile.

    Three queries whatever the number of members: the programme's settings, what left the ledger in the
    history window (``breakage_history``) and one aggregate by tier (tiers nobody holds included, with
    zeros). Closed and merged-away memberships hold nothing to redeem.
    """
    settings_row = programme()
    now = timezone.now()
    history = breakage_history(now=now, minimum=settings_row.breakage_history_minimum_miles)
    if history.enough:
        percent, basis = history.percent, BREAKAGE_FROM_HISTORY
    else:
        percent, basis = settings_row.breakage_percent, BREAKAGE_CONFIGURED
    active = Q(members__status=MemberStatus.ACTIVE, members__merged_into__isnull=True)
    rows = Tier.objects.annotate(
        member_count=Count("members", filter=active & Q(members__award_balance__gt=0)),
        miles=Coalesce(Sum("members__award_balance", filter=active), Value(0, output_field=IntegerField())),
    ).order_by("rank")
    rate = percent / Decimal(100)
    tiers_ = []
    for tier in rows:
        gross = (Decimal(tier.miles) * settings_row.value_per_mile).quantize(CENT, rounding=ROUND_HALF_UP)
        breakage = (gross * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        tiers_.append(TierLiability(tier=tier, members=tier.member_count, miles=int(tier.miles), gross=gross, breakage=breakage))
    return Liability(
        value_per_mile=settings_row.value_per_mile, currency=settings_row.value_currency,
        breakage_percent=percent, breakage_basis=basis, configured_breakage_percent=settings_row.breakage_percent,
        history=history, tiers=tiers_, as_of=now,
    )  # fmt: skip


def fraud_flags(*, status: str | None = ReviewStatus.OPEN) -> QuerySet[FraudFlag]:
    """The review queue: open flags oldest first (the ``fraudflag_open`` index); reviewed ones newest first;
    with no status, every flag, newest raised first."""
    flags = FraudFlag.objects.select_related("member__customer", "reviewed_by")
    if status is None:
        return flags.order_by("-created_at", "-id")
    flags = flags.filter(status=status)
    return flags.order_by("created_at", "id") if status == ReviewStatus.OPEN else flags.order_by("-reviewed_at", "-id")


def fraud_flag_get(*, flag_id: int) -> FraudFlag:
    flag = FraudFlag.objects.select_related("member__customer").filter(pk=flag_id).first()
    if flag is None:
        raise NotFound(_("No such fraud flag."), code="not_found")
    return flag


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


def retro_claims(*, member: Member) -> QuerySet[RetroClaim]:
    """The member's missing-miles claims, newest first."""
    return RetroClaim.objects.filter(member=member).order_by("-created_at", "-id")
