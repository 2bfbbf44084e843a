"""Triggered campaigns: a message to the customers something just happened to (or a daily scan found).

Each firing starts today's run of every active campaign with that trigger for those customers, through
``campaign_run_start`` (one INSERT … SELECT per campaign; the segment, consent and erasure included), so a
replayed event finds its deliveries already there and sends nothing more. Triggers that happen to a
customer once for a given reason (a welcome, one passport expiry, one anniversary a year, one win-back per
inactive spell) also leave out, in the same SQL, whoever the campaign already reached for that reason.
"""

from __future__ import annotations

import calendar
import logging
from datetime import date, timedelta

from django.db.models import DateField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from crm import registry
from crm.errors import ApplicationError
from crm.models import Customer
from marketing.models import Campaign, CampaignKind, CampaignStatus, CampaignTrigger, Delivery
from marketing.services.campaigns import campaign_run_start
from reservations.models import Booking, Coupon

logger = logging.getLogger(__name__)

# Days before a passport expires that the reminder goes, and days without a flight that make a customer
# inactive, when the campaign does not say.
PASSPORT_DAYS_DEFAULT = 90
INACTIVE_DAYS_DEFAULT = 365

EVENT_TRIGGERS = (
    CampaignTrigger.REGISTERED,
    CampaignTrigger.BOOKING_TICKETED,
    CampaignTrigger.FLIGHT_FLOWN,
    CampaignTrigger.TIER_CHANGED,
    CampaignTrigger.MILES_EXPIRING,
)
SCANNED_TRIGGERS = (
    CampaignTrigger.PASSPORT_EXPIRING,
    CampaignTrigger.INACTIVE,
    CampaignTrigger.MEMBERSHIP_ANNIVERSARY,
)


def triggered_campaigns(*, trigger: str, on: date) -> list[Campaign]:
    """The campaigns listening for ``trigger`` on ``on``: triggered, scheduled or running, within their days."""
    return list(
        Campaign.objects.select_related("segment")
        .filter(kind=CampaignKind.TRIGGERED, trigger=trigger, status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING])
        .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=on), Q(ends_on__isnull=True) | Q(ends_on__gte=on))
        .order_by("pk")
    )


def _days(campaign: Campaign, default: int) -> int:
    return campaign.trigger_days if campaign.trigger_days is not None else default


def _already_reached(campaign: Campaign, on: date) -> Q | None:
    """Customers this campaign already messaged for the same reason, as SQL (None: the day's run is enough)."""
    earlier = Delivery.objects.filter(run__campaign=campaign, customer_id=OuterRef("pk"))
    trigger = campaign.trigger
    if trigger == CampaignTrigger.REGISTERED:
        return Q(Exists(earlier))
    if trigger == CampaignTrigger.MEMBERSHIP_ANNIVERSARY:
        return Q(Exists(earlier.filter(run__occurrence__year=on.year)))
    if trigger == CampaignTrigger.INACTIVE:
        return Q(Exists(earlier.filter(run__occurrence__gt=on - timedelta(days=_days(campaign, INACTIVE_DAYS_DEFAULT)))))
    if trigger == CampaignTrigger.PASSPORT_EXPIRING:
        # Reached for this expiry date: since the reminder for it could first go. A renewed passport's
        # later expiry starts a new window, so it is reminded again in good time.
        window_opened = ExpressionWrapper(
            OuterRef("passport_expiry") - timedelta(days=_days(campaign, PASSPORT_DAYS_DEFAULT)), output_field=DateField()
        )
        return Q(Exists(earlier.filter(run__occurrence__gte=window_opened)))
    return None


def _start(campaign: Campaign, on: date, only: Q) -> bool:
    reached = _already_reached(campaign, on)
    if reached is not None:
        only &= ~reached
    try:
        campaign_run_start(campaign=campaign, occurrence=on, only=only)
    except ApplicationError:
        # One campaign whose segment no longer compiles (or just paused) must not stop the others.
        logger.exception("triggered campaign %s could not start", campaign.pk)
        return False
    return True


def campaign_triggers_fire(*, trigger: str, customer_ids: list[int], on: date | None = None) -> int:
    """Start ``on``'s run of every active campaign with ``trigger`` for these customers; the campaigns started.

    One ``campaign_run_start`` per campaign, whatever the number of customers. Safe to repeat: a customer
    already in the day's run, or already reached for a once-only reason, gets nothing more.
    """
    on = on or timezone.localdate()
    ids = sorted({int(pk) for pk in customer_ids if pk is not None})
    if not ids or trigger not in CampaignTrigger.values:
        return 0
    return sum(_start(c, on, Q(pk__in=ids)) for c in triggered_campaigns(trigger=trigger, on=on))


def triggers_on_booking_ticketed(*, booking_id: int, on: date | None = None) -> int:
    """The cross-sell: the booking's customer (a guest booking has nobody to write to)."""
    customer_id = Booking.objects.filter(pk=booking_id).values_list("customer_id", flat=True).first()
    if customer_id is None:
        return 0
    return campaign_triggers_fire(trigger=CampaignTrigger.BOOKING_TICKETED, customer_ids=[customer_id], on=on)


def triggers_on_flight_arrived(*, coupon_ids: list[int], on: date | None = None) -> int:
    """Everyone flown on the flight, in one firing for the whole flight."""
    if not coupon_ids:
        return 0
    customer_ids = list(
        Coupon.objects.filter(pk__in=coupon_ids, ticket__passenger__customer__isnull=False)
        .values_list("ticket__passenger__customer_id", flat=True)
        .distinct()
    )
    return campaign_triggers_fire(trigger=CampaignTrigger.FLIGHT_FLOWN, customer_ids=customer_ids, on=on)


# --- Daily scans: triggers that no event announces ---


def _passport_q(campaign: Campaign, on: date) -> Q:
    """A passport expiring within the campaign's days (not yet expired); once per expiry date (see above)."""
    return Q(passport_expiry__gte=on, passport_expiry__lte=on + timedelta(days=_days(campaign, PASSPORT_DAYS_DEFAULT)))


def _inactive_q(campaign: Campaign, on: date) -> Q:
    """Last flight (reservations' ``last_flight_date`` attribute) longer ago than the campaign's days."""
    cutoff = on - timedelta(days=_days(campaign, INACTIVE_DAYS_DEFAULT))
    last_flight = registry.attribute("last_flight_date").bind(alias="trigger_last_flight")
    inactive = Customer.objects.alias(trigger_last_flight=last_flight.expression()).filter(trigger_last_flight__lt=cutoff)
    return Q(pk__in=inactive.values("pk"))


def _anniversary_q(on: date) -> Q:
    """Joined the programme (loyalty's ``member_since``) on this day of an earlier year; 29 February on
    28 February in common years."""
    since = registry.attribute("member_since").bind(alias="trigger_member_since")
    days = Q(trigger_member_since__month=on.month, trigger_member_since__day=on.day)
    if on.month == 2 and on.day == 28 and not calendar.isleap(on.year):
        days |= Q(trigger_member_since__month=2, trigger_member_since__day=29)
    members = Customer.objects.alias(trigger_member_since=since.expression()).filter(days, trigger_member_since__year__lt=on.year)
    return Q(pk__in=members.values("pk"))


def triggered_scans_run(*, on: date | None = None) -> int:
    """The day's scans for passports expiring, inactive customers and membership anniversaries.

    Each campaign's audience is one INSERT … SELECT; running it twice a day sends nothing more.
    Returns the campaigns started.
    """
    on = on or timezone.localdate()
    started = 0
    for campaign in triggered_campaigns(trigger=CampaignTrigger.PASSPORT_EXPIRING, on=on):
        started += _start(campaign, on, _passport_q(campaign, on))
    for campaign in triggered_campaigns(trigger=CampaignTrigger.INACTIVE, on=on):
        started += _start(campaign, on, _inactive_q(campaign, on))
    for campaign in triggered_campaigns(trigger=CampaignTrigger.MEMBERSHIP_ANNIVERSARY, on=on):
        started += _start(campaign, on, _anniversary_q(on))
    return started
