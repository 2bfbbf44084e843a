"""The frequent flyer programme: members, tiers, the miles ledger and what waits for a decision.

Two currencies live side by side on every ledger entry: **award miles** (spendable, they expire) and
**qualifying miles and segments** (they only decide the tier, counted over a qualification period).
The ledger is append-only (a database trigger refuses updates and deletes); a member's balances are
kept on the member row, updated in the same transaction as each entry, so reading a balance is one
row and the sum of the entries always equals it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.languages import in_language
from crm.models import Cabin

ZERO = Decimal("0.00")


class Programme(models.Model):
    """The programme's settings: one row, edited in the admin (``loyalty.selectors.programme()``).

    The programme's name and its currency's have an English form, read by everyone, and a Chinese one read
    in Chinese pages (``local_name``, ``local_currency_name``).
    """

    name = models.CharField(_("programme name"), max_length=60, default="Aurora Miles")
    name_zh = models.CharField(_("programme name in Chinese"), max_length=60, blank=True, default="极光里程")
    currency_name = models.CharField(_("currency name"), max_length=30, default="miles")
    currency_name_zh = models.CharField(_("currency name in Chinese"), max_length=30, blank=True, default="里程")
    qualification_months = models.PositiveSmallIntegerField(_("qualification period (months)"), default=12)
    expiry_months = models.PositiveSmallIntegerField(_("miles expire after (months without activity)"), default=24)
    expiry_reminder_days = models.PositiveSmallIntegerField(_("expiry reminder (days before)"), default=30)
    minimum_miles_per_segment = models.PositiveIntegerField(_("minimum miles per flown segment"), default=500)
    retro_claim_months = models.PositiveSmallIntegerField(_("missing miles may be claimed for (months)"), default=6)
    household_max_members = models.PositiveSmallIntegerField(_("household size limit"), default=6)
    # A transfer's fee is charged in miles, on top of the miles sent: a money fee would need a card payment.
    transfer_fee_percent = models.DecimalField(
        _("transfer fee (percentage of the miles sent, in miles)"), max_digits=5, decimal_places=2, default=Decimal("10.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )  # fmt: skip
    transfer_minimum_miles = models.PositiveIntegerField(_("smallest transfer (miles)"), default=1000)
    transfer_yearly_cap = models.PositiveIntegerField(_("miles a member may transfer per calendar year"), default=50000)
    adjustment_approval_threshold = models.PositiveIntegerField(
        _("adjustments above this many miles need a supervisor"), default=5000
    )
    value_per_mile = models.DecimalField(_("value per mile"), max_digits=8, decimal_places=5, default=Decimal("0.01000"))
    value_currency = models.CharField(_("currency of the value"), max_length=3, default="EUR")
    breakage_percent = models.DecimalField(
        _("expected breakage (%)"), max_digits=5, decimal_places=2, default=Decimal("18.00"),
        help_text=_("Share of outstanding miles expected never to be redeemed, used until there is enough history"),
    )  # fmt: skip
    breakage_history_minimum_miles = models.PositiveBigIntegerField(
        _("breakage from history after (miles)"), default=1_000_000,
        help_text=_(
            "Once this many award miles have expired or been redeemed in the last 24 months, breakage is their share "
            "that expired rather than the percentage above"
        ),
    )  # fmt: skip
    tier_warning_days = models.PositiveSmallIntegerField(_("warn of a tier change (days before)"), default=60)
    fraud_login_change_hours = models.PositiveSmallIntegerField(
        _("flag awards for others within (hours) of a login change"), default=72,
        help_text=_("A redemption for someone else this soon after the member's e-mail or password changed is flagged"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programme")
        permissions = [("view_liability", "Can see the miles liability")]
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="programme_single_row")]

    def __str__(self) -> str:
        return self.local_name()

    def local_name(self, language: str | None = None) -> str:
        """ "Aurora Miles", "极光里程": the name in the reader's language (the active one unless given)."""
        return in_language(self.name, self.name_zh, language=language)

    def local_currency_name(self, language: str | None = None) -> str:
        """ "miles", "里程": what the programme calls its miles, in the reader's language."""
        return in_language(self.currency_name, self.currency_name_zh, language=language)


class Tier(models.Model):
    """A status level: reached by qualifying miles *or* flown segments within the qualification period."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=40)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("0 is the entry tier"))
    qualifying_miles = models.PositiveIntegerField(_("qualifying miles to reach"), default=0)
    qualifying_segments = models.PositiveSmallIntegerField(_("flown segments to reach"), default=0)
    bonus_percent = models.PositiveSmallIntegerField(_("earn bonus (%)"), default=0)
    extra_bags = models.PositiveSmallIntegerField(_("extra checked bags"), default=0)
    lounge_access = models.BooleanField(_("lounge access"), default=False)
    priority_boarding = models.BooleanField(_("priority check-in and boarding"), default=False)
    service_level_hours = models.PositiveSmallIntegerField(
        _("first answer to a case within (hours)"), default=48, help_text=_("Used by customer service")
    )
    colour = models.CharField(_("card colour"), max_length=7, default="#1f4e79")

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name


class EnrolmentChannel(models.TextChoices):
    PORTAL = "portal", _("Self-service portal")
    OFFICE = "office", _("Agent")
    BOOKING = "booking", _("At booking")
    API = "api", _("API")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")


class Member(models.Model):
    """A customer's membership and the balances its ledger adds up to.

    ``award_balance`` and the qualifying counters change only in ``loyalty.services`` together with the
    entry that explains the change, under this row's lock.
    """

    customer = models.OneToOneField("crm.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="membership")
    number = models.CharField(_("frequent flyer number"), max_length=10, unique=True)
    status = models.CharField(_("status"), max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="members")
    tier_since = models.DateField(_("tier since"), default=timezone.localdate)
    tier_valid_until = models.DateField(_("tier valid until"), null=True, blank=True)
    qualification_start = models.DateField(_("qualification period starts"), default=timezone.localdate)
    award_balance = models.IntegerField(_("award miles"), default=0)
    qualifying_miles = models.IntegerField(_("qualifying miles this period"), default=0)
    qualifying_segments = models.IntegerField(_("flown segments this period"), default=0)
    lifetime_miles = models.BigIntegerField(_("lifetime award miles earned"), default=0)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    household = models.ForeignKey("Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="members")
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)
    enrolment_channel = models.CharField(_("enrolled through"), max_length=8, choices=EnrolmentChannel.choices)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The last change of the member's login e-mail or password (crm's login_changed), for fraud checks.
    login_changed_at = models.DateTimeField(_("login last changed"), null=True, blank=True)
    login_change = models.CharField(_("what changed"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        permissions = [
            ("adjust_miles", "Can adjust a member's miles"),
            ("approve_loyalty", "Can approve adjustments and status matches"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(award_balance__gte=0), name="member_award_balance_not_negative"),
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{10}$"), name="member_number_10_digits"),
        ]
        indexes = [
            models.Index(fields=["last_activity_at"], condition=Q(award_balance__gt=0), name="member_expiry_due"),
            # Requalification and tier warnings find the periods ending around a day by their start.
            models.Index(fields=["qualification_start"], condition=Q(status="active"), name="member_qualification_start"),
        ]

    def __str__(self) -> str:
        return self.number


class EntryKind(models.TextChoices):
    ACCRUAL = "accrual", _("Flight")
    BONUS = "bonus", _("Bonus")
    PARTNER = "partner", _("Partner")
    REDEMPTION = "redemption", _("Redemption")
    REVERSAL = "reversal", _("Reversal")
    EXPIRY = "expiry", _("Expiry")
    ADJUSTMENT = "adjustment", _("Adjustment")
    TRANSFER = "transfer", _("Transfer")
    POOLING = "pooling", _("Household pooling")


class MilesEntry(models.Model):
    """One line of a member's statement: never changed, never deleted (a trigger refuses both).

    ``reason`` is a code and ``details`` its data (flight, route, partner...), rendered in the reader's
    language when shown (``loyalty.texts``). ``idempotency_key`` says what the entry is *for* (the
    coupon it was earned on, the partner's transaction, the payment it paid): posting the same thing
    twice finds the key taken and credits nothing.
    """

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, db_index=False, related_name="entries"
    )  # milesentry_statement leads with it
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    award_miles = models.IntegerField(_("award miles"), default=0)
    qualifying_miles = models.IntegerField(_("qualifying miles"), default=0)
    qualifying_segments = models.SmallIntegerField(_("flown segments"), default=0)
    reason = models.CharField(_("reason"), max_length=40)
    details = models.JSONField(_("details"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True, help_text=_("An agent's own words, for adjustments"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=120)
    # Foreign keys without Django's automatic full index: most of them are NULL on most rows of a table of
    # tens of millions, so each gets a partial index of its non-NULL rows in Meta (PostgreSQL uses it for
    # ``col = x`` and for the checks when a referenced row is deleted).
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="reversed_by"
    )
    coupon = models.ForeignKey(
        "reservations.Coupon", on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="+"
    )
    booking = models.ForeignKey(
        "reservations.Booking", on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="+"
    )
    partner = models.ForeignKey(
        "Partner", on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="entries"
    )
    counterpart = models.ForeignKey(Member, on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="+")
    # PROTECT, not SET_NULL: the ledger refuses updates, so a login that posted entries is deactivated, not deleted.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, db_index=False, related_name="+"
    )
    created_at = models.DateTimeField(_("posted at"), default=timezone.now)

    class Meta:
        verbose_name = _("miles entry")
        verbose_name_plural = _("miles entries")
        # The ledger's indexes, each for a query that needs it (no other: every index costs every insert).
        indexes = [
            # A member's statement, and every lookup by member (merge, tiers, fraud velocity, deletion checks).
            models.Index(fields=["member", "-created_at", "-id"], name="milesentry_statement"),
            # A partner's monthly statement and summary.
            models.Index(fields=["partner", "created_at"], condition=Q(partner__isnull=False), name="milesentry_partner"),
            # An award's refund and fraud checks look a booking's entries up.
            models.Index(fields=["booking"], condition=Q(booking__isnull=False), name="milesentry_booking"),
            models.Index(fields=["coupon"], condition=Q(coupon__isnull=False), name="milesentry_coupon"),
            models.Index(fields=["counterpart"], condition=Q(counterpart__isnull=False), name="milesentry_counterpart"),
            models.Index(fields=["created_by"], condition=Q(created_by__isnull=False), name="milesentry_created_by"),
            # The liability report's breakage: the miles that left the ledger (expired, redeemed, refunded awards).
            models.Index(
                fields=["created_at"],
                condition=Q(kind__in=["expiry", "redemption", "pooling"]) | Q(kind="reversal", reason="award_refund"),
                name="milesentry_spent",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(award_miles=0) | ~Q(qualifying_miles=0) | ~Q(qualifying_segments=0), name="milesentry_not_empty"
            ),
            # What an entry is for is posted once (exact lookups only: no pattern index beside it).
            models.UniqueConstraint(fields=["idempotency_key"], name="milesentry_idempotency_key_once"),
            # An entry is reversed at most once.
            models.UniqueConstraint(fields=["reverses"], condition=Q(reverses__isnull=False), name="milesentry_reverses_once"),
        ]


class Household(models.Model):
    """Members who pool their award miles; only the head redeems from the pool."""

    head = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="headed_household")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")


class HouseholdInvitation(models.Model):
    """The head asks a member to join; the member accepts from their own account."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="invitations")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="household_invitations")
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["household", "member"], name="household_invitation_once")]


class Decision(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    # Never decided: the membership closed (erasure) while it waited, and nothing can be posted there any more.
    CANCELLED = "cancelled", _("Cancelled")


class AdjustmentKind(models.TextChoices):
    GOODWILL = "goodwill", _("Goodwill")
    CORRECTION = "correction", _("Correction")


class Adjustment(models.Model):
    """An agent's change to a member's miles; above the programme's threshold it waits for a supervisor."""

    # No agent types a million miles by design: beyond this an adjustment is a typo, whoever approves it.
    MAX_MILES = 1_000_000

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(_("kind"), max_length=12, choices=AdjustmentKind.choices)
    award_miles = models.IntegerField(_("award miles"), default=0)
    qualifying_miles = models.IntegerField(_("qualifying miles"), default=0)
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(_("status"), max_length=10, choices=Decision.choices, default=Decision.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)
    entry = models.OneToOneField(MilesEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="adjustment")

    class Meta:
        verbose_name = _("miles adjustment")
        verbose_name_plural = _("miles adjustments")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["requested_at"], condition=Q(status="pending"), name="adjustment_pending")]


class StatusMatch(models.Model):
    """A tier granted on the strength of a competitor's card: an agent asks, a supervisor decides."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="status_matches")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    competitor_airline = models.CharField(_("airline"), max_length=60)
    competitor_tier = models.CharField(_("their tier"), max_length=40)
    competitor_number = models.CharField(_("their card number"), max_length=30)
    competitor_valid_until = models.DateField(_("their card valid until"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Decision.choices, default=Decision.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("status match")
        verbose_name_plural = _("status matches")
        ordering = ["-requested_at", "-id"]


class ClaimStatus(models.TextChoices):
    CREDITED = "credited", _("Credited")
    REFUSED = "refused", _("Refused")


class RetroClaim(models.Model):
    """A member's claim for a flight whose miles are missing, by ticket number."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="claims")
    ticket_number = models.CharField(_("ticket number"), max_length=13)
    flight_date = models.DateField(_("flight date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=ClaimStatus.choices)
    refusal = models.CharField(_("refusal code"), max_length=40, blank=True)
    miles = models.IntegerField(_("miles credited"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("missing miles claim")
        verbose_name_plural = _("missing miles claims")
        ordering = ["-created_at", "-id"]


class PartnerKind(models.TextChoices):
    HOTEL = "hotel", _("Hotel")
    CAR = "car", _("Car rental")
    OTHER = "other", _("Other")


class Partner(models.Model):
    """A company whose customers earn miles (hotels, car rentals); pays the airline per mile issued."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=PartnerKind.choices)
    price_per_mile = models.DecimalField(_("price per mile"), max_digits=8, decimal_places=5, default=Decimal("0.01200"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    api_key_prefix = models.CharField(_("key prefix"), max_length=12, blank=True, db_index=True)
    api_key_hash = models.CharField(_("key hash"), max_length=128, blank=True)
    daily_miles_alert = models.PositiveIntegerField(_("flag a member earning more than this per day"), default=20000)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        permissions = [("issue_partner_key", "Can issue a partner's API key")]

    def __str__(self) -> str:
        return self.name


class FraudSignal(models.TextChoices):
    THIRD_PARTY_AFTER_LOGIN_CHANGE = "third_party_after_login_change", _("Award for someone else soon after a login change")
    PARTNER_VELOCITY = "partner_velocity", _("Unusual partner accrual velocity")


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLEARED = "cleared", _("Cleared")
    CONFIRMED = "confirmed", _("Confirmed fraud")


class FraudFlag(models.Model):
    """Something that looks like fraud, waiting for a person to look at it."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="fraud_flags")
    signal = models.CharField(_("signal"), max_length=40, choices=FraudSignal.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    key = models.CharField(_("key"), max_length=120, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("fraud flag")
        verbose_name_plural = _("fraud flags")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], condition=Q(status="open"), name="fraudflag_open")]


class MemberNotice(models.Model):
    """A warning sent to a member (miles about to expire, tier about to change), once per subject."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="notices")
    key = models.CharField(max_length=120, unique=True)  # e.g. "expiry:<member>:<date>"
    kind = models.CharField(max_length=20)
    sent_at = models.DateTimeField(default=timezone.now)


# The award chart's zones as the programme names them (migration 0006), shown in the reader's language; a zone
# the admin names otherwise is shown as written.
AWARD_ZONE_NAMES = {
    "Short haul": pgettext_lazy("award zone", "Short haul"),
    "Medium haul": pgettext_lazy("award zone", "Medium haul"),
    "Long haul": pgettext_lazy("award zone", "Long haul"),
    "Ultra long haul": pgettext_lazy("award zone", "Ultra long haul"),
}


class AwardZone(models.Model):
    """A band of flight distance for award prices: a segment falls in the first zone whose limit it fits."""

    name = models.CharField(_("name"), max_length=40)
    max_distance_miles = models.PositiveIntegerField(
        _("up to (miles)"), null=True, blank=True, unique=True, help_text=_("Great-circle distance; blank: any longer flight")
    )

    class Meta:
        verbose_name = _("award zone")
        verbose_name_plural = _("award chart")
        ordering = [models.F("max_distance_miles").asc(nulls_last=True)]

    def __str__(self) -> str:
        return self.local_name()

    def local_name(self) -> str:
        """ "Short haul", "短途": the zone's name in the active language."""
        return str(AWARD_ZONE_NAMES.get(self.name, self.name))


class AwardPrice(models.Model):
    """Award miles for one traveller on one flight of a zone in a cabin; an upgrade costs the difference."""

    zone = models.ForeignKey(AwardZone, on_delete=models.CASCADE, related_name="prices")
    cabin = models.CharField(_("cabin"), max_length=20, choices=Cabin.choices)
    miles = models.PositiveIntegerField(_("miles"))

    class Meta:
        verbose_name = _("award price")
        verbose_name_plural = _("award prices")
        ordering = ["zone", "miles"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "cabin"], name="awardprice_zone_cabin_unique"),
            models.CheckConstraint(condition=Q(miles__gt=0), name="awardprice_miles_positive"),
        ]
