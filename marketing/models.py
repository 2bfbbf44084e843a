"""Marketing: segments (rules over the customer attributes every app registers), static lists, offers and promo codes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Cabin


class MarketingChannel(models.TextChoices):
    """The channels a campaign can reach a segment on; each needs the customer's marketing consent."""

    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push notification")


class Segment(models.Model):
    """Who a campaign is for: a tree of rules over customer attributes, compiled to one query when used.

    Only customers with a current marketing consent on ``consent_channel`` (and not erased) are ever in it.
    ``last_count`` is the size when last saved or recounted, so the list page needs no count per row.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    rules = models.JSONField(_("rules"), default=dict)
    consent_channel = models.CharField(
        _("consent channel"), max_length=10, choices=MarketingChannel.choices, default=MarketingChannel.EMAIL
    )
    last_count = models.PositiveIntegerField(_("customers"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class StaticList(models.Model):
    """A fixed set of customers imported from a file (customer numbers or e-mail addresses)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    size = models.PositiveIntegerField(_("customers"), default=0)
    source_filename = models.CharField(_("file"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("static list")
        verbose_name_plural = _("static lists")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class StaticListMember(models.Model):
    static_list = models.ForeignKey(StaticList, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey("crm.Customer", on_delete=models.CASCADE, related_name="+")
    row = models.PositiveIntegerField(_("row in the file"))

    class Meta:
        verbose_name = _("static list member")
        constraints = [models.UniqueConstraint(fields=["static_list", "customer"], name="static_list_member_once")]
        indexes = [models.Index(fields=["customer"], name="static_list_member_customer")]


# --- Offers and promo codes -----------------------------------------------------------------------


class OfferKind(models.TextChoices):
    PERCENTAGE = "percentage", _("Percentage off the fares")
    AMOUNT = "amount", _("Amount off the fares")
    BONUS_MILES = "bonus_miles", _("Bonus miles")


class Offer(models.Model):
    """A promotion: what a promo code is worth, to whom, when and on which flights.

    ``value`` is a percentage (``percentage``), an amount in ``currency`` (``amount``) or whole miles
    (``bonus_miles``). Empty route and cabin lists mean every route and cabin. ``routes`` are
    ``"LHR-JFK"`` pairs; ``origins``/``destinations`` are airport codes, either end matching.
    """

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OfferKind.choices)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    minimum_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2, default=0)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    origins = ArrayField(models.CharField(max_length=3), verbose_name=_("origin airports"), default=list, blank=True)
    destinations = ArrayField(models.CharField(max_length=3), verbose_name=_("destination airports"), default=list, blank=True)
    routes = ArrayField(models.CharField(max_length=7), verbose_name=_("routes"), default=list, blank=True)
    cabins = ArrayField(
        models.CharField(max_length=20, choices=Cabin.choices), verbose_name=_("cabins"), default=list, blank=True
    )
    is_partner_offer = models.BooleanField(_("partner offer"), default=False)
    partner_name = models.CharField(_("partner name"), max_length=120, blank=True)
    partner_url = models.URLField(_("partner link"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="offer_value_positive"),
            models.CheckConstraint(condition=~Q(kind="percentage") | Q(value__lte=100), name="offer_percentage_at_most_100"),
            models.CheckConstraint(condition=Q(minimum_spend__gte=0), name="offer_minimum_spend_not_negative"),
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("valid_from")), name="offer_validity_ordered"),
            models.CheckConstraint(condition=~Q(kind="amount") | ~Q(currency=""), name="offer_amount_has_currency"),
        ]

    def __str__(self) -> str:
        return self.name


ISSUE_MAX = 10000  # codes issued in one go, at most


class PromoCodeStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    REDEEMED = "redeemed", _("Redeemed")
    VOID = "void", _("Withdrawn")


class PromoCode(models.Model):
    """One code of an offer: for one recipient (``customer``) or for anyone who has it; used once.

    A released code (its booking lapsed or was cancelled before ticketing) is ``issued`` again.
    """

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(_("code"), max_length=20, unique=True)
    customer = models.ForeignKey("crm.Customer", on_delete=models.CASCADE, null=True, blank=True, related_name="promo_codes")
    status = models.CharField(_("status"), max_length=10, choices=PromoCodeStatus.choices, default=PromoCodeStatus.ISSUED)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    redeemed_booking = models.ForeignKey(
        "reservations.Booking", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    redeemed_record_locator = models.CharField(_("booking"), max_length=6, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    released_at = models.DateTimeField(_("last released at"), null=True, blank=True)

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "customer"], condition=Q(customer__isnull=False), name="promo_code_one_per_recipient"
            ),
            # Redeemed exactly when it names its booking and moment: one row, one use.
            models.CheckConstraint(
                condition=(Q(status="redeemed") & Q(redeemed_at__isnull=False) & ~Q(redeemed_record_locator=""))
                | (~Q(status="redeemed") & Q(redeemed_at__isnull=True) & Q(redeemed_record_locator="")),
                name="promo_code_redeemed_once",
            ),
            models.UniqueConstraint(
                fields=["redeemed_booking", "offer"],
                condition=Q(status="redeemed"),
                name="promo_code_one_per_booking_and_offer",
            ),
        ]

    def __str__(self) -> str:
        return self.code


# --- end of offers --------------------------------------------------------------------------------


# --- Campaigns and deliveries ---------------------------------------------------------------------


class CampaignKind(models.TextChoices):
    ONE_OFF = "one_off", _("One-off")
    BIRTHDAY = "birthday", _("Birthday")
    RECURRING = "recurring", _("Recurring")
    TRIGGERED = "triggered", _("Triggered")


class CampaignTrigger(models.TextChoices):
    """What starts a triggered campaign's message to one customer."""

    REGISTERED = "registered", _("Registration (welcome)")
    BOOKING_TICKETED = "booking_ticketed", _("Booking ticketed (cross-sell)")
    FLIGHT_FLOWN = "flight_flown", _("Flight flown")
    TIER_CHANGED = "tier_changed", _("Tier changed")
    MILES_EXPIRING = "miles_expiring", _("Miles about to expire")
    PASSPORT_EXPIRING = "passport_expiring", _("Passport about to expire")
    INACTIVE = "inactive", _("No flight for a while (win-back)")
    MEMBERSHIP_ANNIVERSARY = "membership_anniversary", _("Membership anniversary")


class CampaignRepeat(models.TextChoices):
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_APPROVAL = "approval", _("Awaiting approval")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    COMPLETED = "completed", _("Completed")


class Campaign(models.Model):
    """A message to a segment. Subject and bodies are stored templates, rendered per recipient at send time."""

    name = models.CharField(_("name"), max_length=120)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="campaigns")
    channel = models.CharField(_("channel"), max_length=10, choices=MarketingChannel.choices, default=MarketingChannel.EMAIL)
    kind = models.CharField(_("kind"), max_length=10, choices=CampaignKind.choices, default=CampaignKind.ONE_OFF)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    text_en = models.TextField(_("text (English)"))
    html_en = models.TextField(_("HTML (English)"), blank=True)
    subject_zh = models.CharField(_("subject (Chinese)"), max_length=200, blank=True)
    text_zh = models.TextField(_("text (Chinese)"), blank=True)
    html_zh = models.TextField(_("HTML (Chinese)"), blank=True)
    # Variant B (A/B test): empty fields fall back to variant A's; ``variant_b_percent`` of the sent audience gets B.
    subject_en_b = models.CharField(_("subject B (English)"), max_length=200, blank=True)
    text_en_b = models.TextField(_("text B (English)"), blank=True)
    html_en_b = models.TextField(_("HTML B (English)"), blank=True)
    subject_zh_b = models.CharField(_("subject B (Chinese)"), max_length=200, blank=True)
    text_zh_b = models.TextField(_("text B (Chinese)"), blank=True)
    html_zh_b = models.TextField(_("HTML B (Chinese)"), blank=True)
    variant_b_percent = models.PositiveSmallIntegerField(_("share of variant B (%)"), default=0)
    # Customers kept back (recorded, not sent) to measure what the campaign adds.
    holdout_percent = models.PositiveSmallIntegerField(_("holdout control group (%)"), default=0)
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns")
    # When it goes: one-off at ``send_at``; birthday and recurring at ``send_time`` in each customer's time
    # zone (their home airport's), ``repeat`` apart; triggered on ``trigger``, ``trigger_days`` before or after.
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    send_time = models.TimeField(_("local send time"), null=True, blank=True)
    repeat = models.CharField(_("repeat"), max_length=10, choices=CampaignRepeat.choices, blank=True)
    trigger = models.CharField(_("trigger"), max_length=30, choices=CampaignTrigger.choices, blank=True)
    trigger_days = models.PositiveSmallIntegerField(_("days"), null=True, blank=True)
    starts_on = models.DateField(_("first day"), null=True, blank=True)
    ends_on = models.DateField(_("last day"), null=True, blank=True)
    # What the campaign costs, for its ROI: per message sent plus a fixed amount.
    cost_per_message = models.DecimalField(_("cost per message"), max_digits=10, decimal_places=4, default=0)
    fixed_cost = models.DecimalField(_("fixed cost"), max_digits=12, decimal_places=2, default=0)
    cost_currency = models.CharField(_("cost currency"), max_length=3, default="EUR")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(variant_b_percent__lte=100), name="campaign_variant_b_percent"),
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="campaign_holdout_percent"),
            models.CheckConstraint(
                condition=Q(cost_per_message__gte=0) & Q(fixed_cost__gte=0), name="campaign_costs_not_negative"
            ),
            models.CheckConstraint(condition=~Q(kind="triggered") | ~Q(trigger=""), name="campaign_triggered_has_trigger"),
        ]
        permissions = [("approve_campaign", _("Can approve a campaign above the audience limit"))]

    def __str__(self) -> str:
        return self.name


class CampaignRun(models.Model):
    """One occurrence of a campaign (the day a birthday campaign runs for, the day a one-off went out)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    occurrence = models.DateField(_("occurrence"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        constraints = [models.UniqueConstraint(fields=["campaign", "occurrence"], name="campaign_run_once_per_occurrence")]

    def __str__(self) -> str:
        return f"{self.campaign} {self.occurrence}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    HOLDOUT = "holdout", _("Held out (control group)")
    FAILED = "failed", _("Failed")


class SkipReason(models.TextChoices):
    NO_CONSENT = "no_consent", _("No marketing consent at send time")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
    SUPPRESSED = "suppressed", _("Address suppressed")
    NO_EMAIL = "no_email", _("No e-mail address")
    NO_PHONE = "no_phone", _("No mobile number")
    NO_LOGIN = "no_login", _("No portal login to notify")
    RENDER_ERROR = "render_error", _("The message could not be rendered")


class Delivery(models.Model):
    """One recipient of one run; sent at most once, with the consent it relied on kept as proof."""

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="deliveries")
    customer = models.ForeignKey("crm.Customer", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    skip_reason = models.CharField(_("skipped because"), max_length=20, choices=SkipReason.choices, blank=True)
    consent_event = models.ForeignKey("crm.ConsentEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    promo_code = models.ForeignKey(PromoCode, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    variant = models.CharField(_("variant"), max_length=1, default="a")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    message_id = models.CharField(_("message id"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    # The next best offer it carried (a code and its data, rendered when shown): measured by the holdout.
    recommended_destination = models.CharField(_("recommended destination"), max_length=3, blank=True)
    recommendation_reason = models.CharField(_("why recommended"), max_length=30, blank=True)
    # Tracking: first open/click and how many; a bounce; the conversion it led to.
    opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("opens"), default=0)
    clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    click_count = models.PositiveIntegerField(_("clicks"), default=0)
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    conversion_record_locator = models.CharField(_("booking"), max_length=6, blank=True)
    revenue = models.DecimalField(_("revenue"), max_digits=12, decimal_places=2, null=True, blank=True)
    revenue_currency = models.CharField(_("revenue currency"), max_length=3, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="delivery_once_per_run_and_customer")]
        indexes = [
            models.Index(fields=["customer", "sent_at"], name="delivery_customer_sent"),
            models.Index(fields=["status", "created_at"], name="delivery_status_created"),
            models.Index(fields=["customer", "clicked_at"], name="delivery_customer_clicked"),
            # The bounce webhook finds the delivery by the Message-ID the provider reports.
            models.Index(fields=["message_id"], name="delivery_message_id", condition=~Q(message_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.customer_id}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCED = "bounced", _("Bounced")


class Suppression(models.Model):
    """An address no campaign writes to again, whatever the consent records say."""

    email = models.EmailField(_("e-mail"), unique=True)
    reason = models.CharField(_("reason"), max_length=20, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")

    def __str__(self) -> str:
        return self.email


# --- end of campaigns -----------------------------------------------------------------------------
