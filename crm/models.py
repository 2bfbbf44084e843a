"""The centralized customer record that every department shares."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from encrypted_fields import fields as encrypted_fields
from phonenumber_field.modelfields import PhoneNumberField

from crm import timeline
from crm.validation import (
    validate_date_of_birth,
    validate_language_code,
    validate_national_id_number,
    validate_passport_number,
    validate_single_line_text,
)

# Unambiguous characters only: no 0/O, 1/I/L.
CUSTOMER_NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CUSTOMER_NUMBER_LENGTH = 8


class EncryptedCharField(encrypted_fields.EncryptedCharField):
    """The library's encrypted text, cleaned without its "already decrypted" mark.

    The library sets that mark on the field object itself (shared by every row and every thread) while a
    value is cleaned, and removes it only when cleaning succeeds: one refused document number left every
    later read of the column undecrypted. A plain document number can never be taken for a ciphertext
    (which is far longer and starts ``gAAAAA``), so cleaning needs no mark.
    """

    def clean(self, value: Any, model_instance: models.Model | None) -> Any:
        return models.CharField.clean(self, value, model_instance)


def new_customer_number() -> str:
    return "".join(secrets.choice(CUSTOMER_NUMBER_ALPHABET) for _ in range(CUSTOMER_NUMBER_LENGTH))


class User(AbstractUser):
    """A login: staff in the office, or a passenger in the portal (username = e-mail)."""

    email_verified_at = models.DateTimeField(_("e-mail verified at"), null=True, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Title(models.TextChoices):
    MR = "MR", _("Mr")
    MRS = "MRS", _("Mrs")
    MS = "MS", _("Ms")
    MISS = "MISS", _("Miss")
    MSTR = "MSTR", _("Master")
    MX = "MX", _("Mx")
    DR = "DR", _("Dr")
    PROF = "PROF", _("Prof")


class Gender(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    UNSPECIFIED = "X", _("Unspecified")


class MealCode(models.TextChoices):
    """IATA special-meal (SSR) codes."""

    AVML = "AVML", _("Asian vegetarian")
    BBML = "BBML", _("Baby meal")
    BLML = "BLML", _("Bland meal")
    CHML = "CHML", _("Child meal")
    DBML = "DBML", _("Diabetic meal")
    FPML = "FPML", _("Fruit platter")
    GFML = "GFML", _("Gluten-free meal")
    HNML = "HNML", _("Hindu meal")
    KSML = "KSML", _("Kosher meal")
    LCML = "LCML", _("Low-calorie meal")
    LFML = "LFML", _("Low-fat meal")
    LSML = "LSML", _("Low-salt meal")
    MOML = "MOML", _("Muslim meal")
    NLML = "NLML", _("Lactose-free meal")
    RVML = "RVML", _("Raw vegetarian meal")
    SFML = "SFML", _("Seafood meal")
    VGML = "VGML", _("Vegan meal")
    VJML = "VJML", _("Jain vegetarian meal")
    VLML = "VLML", _("Vegetarian lacto-ovo meal")
    VOML = "VOML", _("Vegetarian oriental meal")


class AssistanceCode(models.TextChoices):
    """IATA special-service (SSR) codes for assistance."""

    WCHR = "WCHR", _("Wheelchair: can climb stairs, needs help over distance")
    WCHS = "WCHS", _("Wheelchair: cannot climb stairs")
    WCHC = "WCHC", _("Wheelchair: immobile, needs carrying to seat")
    WCBD = "WCBD", _("Own wheelchair, dry-cell battery")
    WCBW = "WCBW", _("Own wheelchair, wet-cell battery")
    WCMP = "WCMP", _("Own manual wheelchair")
    BLND = "BLND", _("Blind or visually impaired")
    DEAF = "DEAF", _("Deaf or hard of hearing")
    DPNA = "DPNA", _("Intellectual or developmental disability needing assistance")
    MAAS = "MAAS", _("Meet and assist")
    MEDA = "MEDA", _("Medical case")
    STCR = "STCR", _("Stretcher")
    UMNR = "UMNR", _("Unaccompanied minor")
    SVAN = "SVAN", _("Service animal in cabin")
    OXYG = "OXYG", _("Medical oxygen")


class SeatPreference(models.TextChoices):
    WINDOW = "window", _("Window")
    AISLE = "aisle", _("Aisle")
    NONE = "none", _("No preference")


class Cabin(models.TextChoices):
    ECONOMY = "economy", _("Economy")
    PREMIUM_ECONOMY = "premium_economy", _("Premium economy")
    BUSINESS = "business", _("Business")
    FIRST = "first", _("First")


class TravelPurpose(models.TextChoices):
    BUSINESS = "business", _("Business")
    LEISURE = "leisure", _("Leisure")
    VFR = "vfr", _("Visiting friends and relatives")
    EDUCATION = "education", _("Education")
    MEDICAL = "medical", _("Medical")
    RELIGIOUS = "religious", _("Religious")
    OTHER = "other", _("Other")


class Customer(models.Model):
    """One person the airline knows, whoever in the airline met them first."""

    customer_number = models.CharField(
        _("customer number"), max_length=12, unique=True, default=new_customer_number, editable=False
    )
    user = models.OneToOneField("crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="customer")

    title = models.CharField(_("title"), max_length=4, choices=Title.choices, blank=True)
    given_name = models.CharField(_("given name"), max_length=100, validators=[validate_single_line_text])
    family_name = models.CharField(_("family name"), max_length=100, validators=[validate_single_line_text])
    search_name = models.GeneratedField(
        expression=Lower(models.functions.Concat("given_name", models.Value(" "), "family_name")),
        output_field=models.CharField(max_length=201),
        db_persist=True,
    )
    # The name's words as search looks them up ("Jean-Luc O'Neil" -> jean, luc, o, neil); see NameWord.
    name_words = models.GeneratedField(
        expression=models.Func(
            models.functions.Concat("given_name", models.Value(" "), "family_name"),
            function="crm_name_words",
            output_field=ArrayField(models.TextField()),
        ),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True, validators=[validate_date_of_birth])
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(_("phone"), blank=True)
    nationality = CountryField(_("nationality"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, blank=True, default="en", validators=[validate_language_code]
    )

    address_line1 = models.CharField(_("address"), max_length=200, blank=True, validators=[validate_single_line_text])
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True, validators=[validate_single_line_text])
    city = models.CharField(_("city"), max_length=100, blank=True, validators=[validate_single_line_text])
    region = models.CharField(_("state or region"), max_length=100, blank=True, validators=[validate_single_line_text])
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True, validators=[validate_single_line_text])
    country = CountryField(_("country"), blank=True)

    # Identity documents: ciphertext at rest, a keyed hash for exact lookup.
    national_id_number = EncryptedCharField(
        _("national ID number"), max_length=40, blank=True, null=True, validators=[validate_national_id_number]
    )
    national_id_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    passport_number = EncryptedCharField(
        _("passport number"), max_length=20, blank=True, null=True, validators=[validate_passport_number]
    )
    passport_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    passport_expiry = models.DateField(_("passport expiry"), null=True, blank=True)
    passport_country = CountryField(_("passport issuing country"), blank=True)

    meal_preference = models.CharField(_("meal preference"), max_length=4, choices=MealCode.choices, blank=True)
    seat_preference = models.CharField(
        _("seat preference"), max_length=10, choices=SeatPreference.choices, default=SeatPreference.NONE
    )
    special_assistance = ArrayField(
        models.CharField(max_length=4, choices=AssistanceCode.choices),
        verbose_name=_("special assistance"),
        default=list,
        blank=True,
    )
    preferred_cabin = models.CharField(_("preferred cabin"), max_length=20, choices=Cabin.choices, blank=True)
    home_airport = models.CharField(_("home airport"), max_length=3, blank=True, help_text=_("IATA airport code"))
    travel_purposes = ArrayField(
        models.CharField(max_length=12, choices=TravelPurpose.choices),
        verbose_name=_("usual purposes of travel"),
        default=list,
        blank=True,
    )

    emergency_contact_name = models.CharField(
        _("emergency contact name"), max_length=200, blank=True, validators=[validate_single_line_text]
    )
    emergency_contact_phone = PhoneNumberField(_("emergency contact phone"), blank=True)
    emergency_contact_relationship = models.CharField(
        _("emergency contact relationship"), max_length=50, blank=True, validators=[validate_single_line_text]
    )

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    anonymized_at = models.DateTimeField(_("anonymized at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["family_name", "given_name", "id"]
        permissions = [
            ("view_identity_documents", _("Can see passport and national ID numbers")),
            ("merge_customer", _("Can merge duplicate customers")),
        ]
        indexes = [
            GinIndex(OpClass("search_name", name="gin_trgm_ops"), name="customer_search_name_trgm"),
            GinIndex(fields=["name_words"], name="customer_name_words"),
            models.Index(Lower("email"), name="customer_email_lower"),
            models.Index(fields=["phone"], name="customer_phone"),
            models.Index(fields=["date_of_birth"], name="customer_dob"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.customer_number})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def is_anonymized(self) -> bool:
        return self.anonymized_at is not None


class NameWord(models.Model):
    """Every word in any customer's name, once, with the keys that find it despite one slip of the fingers.

    The keys are the word and the word with each letter dropped in turn ("smith" -> smith, mith, sith,
    smth, smih, smit): two words that share a key are one insertion, deletion, substitution or swap of
    neighbouring letters apart, so "Smiht" finds "Smith" by an index lookup in this small table instead of
    a similarity scan over every customer. PostgreSQL keeps the table in step with crm_customer itself
    (triggers in migration 0005), through the ORM, COPY or raw SQL alike, and drops a word as soon as no
    customer's name holds it, so an erased name leaves nothing behind here.
    """

    word = models.TextField(primary_key=True)
    keys = ArrayField(models.TextField())

    class Meta:
        indexes = [
            GinIndex(fields=["keys"], name="name_word_keys"),
            models.Index(OpClass("word", name="text_pattern_ops"), name="name_word_prefix"),
        ]

    def __str__(self) -> str:
        return self.word


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    PUSH = "push", _("Push notification")


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service messages")


class ConsentSource(models.TextChoices):
    PORTAL = "portal", _("Self-service portal")
    OFFICE = "office", _("Back-office agent")
    API = "api", _("API")
    IMPORT = "import", _("Data import")
    SYSTEM = "system", _("System")


class ConsentQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ANN003, ANN201
        raise TypeError("Consent history is append-only; record a new ConsentEvent instead.")

    def delete(self):  # noqa: ANN201
        raise TypeError("Consent history is append-only; it cannot be deleted.")


class ConsentEvent(models.Model):
    """One grant or withdrawal. The history is append-only; the latest per channel/purpose wins."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="consent_events")
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=10, choices=ConsentPurpose.choices)
    granted = models.BooleanField(_("granted"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    source = models.CharField(_("source"), max_length=10, choices=ConsentSource.choices)
    method = models.CharField(_("how"), max_length=200, blank=True, help_text=_("e.g. portal preferences form, phone call"))
    recorded_by = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent event")
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["customer", "channel", "purpose", "-recorded_at"], name="consent_current")]

    def save(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if self.pk is not None and not self._state.adding:
            raise TypeError("Consent history is append-only; record a new ConsentEvent instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise TypeError("Consent history is append-only; it cannot be deleted.")


class TimelineEntry(models.Model):
    """Anything that happened to a customer, from any app, for the 360 timeline."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=50, help_text=_("e.g. booking.created, miles.posted"))
    summary = models.CharField(_("summary"), max_length=300, help_text=_("in the site's language, for search"))
    message = models.CharField(max_length=300, blank=True, help_text=_("untranslated; blank on older entries"))
    message_params = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    link = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "-occurred_at", "-id"], name="timeline_customer_recent")]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """The line in the active language; an entry written before messages were stored shows its summary."""
        if not self.message:
            return self.summary
        try:
            return timeline.render(self.message, self.message_params)
        except (KeyError, TypeError, ValueError):  # params that no longer fit the message
            return self.summary


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    LOST = "lost", _("Lost")


class LeadSource(models.TextChoices):
    CAMPAIGN = "campaign", _("Marketing campaign")
    REFERRAL = "referral", _("Customer referral")
    WEBSITE = "website", _("Website enquiry")
    EVENT = "event", _("Trade fair or event")
    PARTNER = "partner", _("Partner")
    OTHER = "other", _("Other")


def validate_lead_referral(*, source: str, referred_by: Any) -> None:
    """A customer referral names the customer who referred the prospect."""
    if source == LeadSource.REFERRAL and referred_by is None:
        raise ValidationError({"referred_by": _("Name the customer who referred this prospect.")}, code="required")


class Lead(models.Model):
    """A prospect marketing hands to sales; conversion links it to the customer it became."""

    given_name = models.CharField(_("given name"), max_length=100, validators=[validate_single_line_text])
    family_name = models.CharField(_("family name"), max_length=100, validators=[validate_single_line_text])
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(_("phone"), blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True, validators=[validate_single_line_text])
    source = models.CharField(_("source"), max_length=10, choices=LeadSource.choices, default=LeadSource.CAMPAIGN)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True, help_text=_("campaign name, event..."))
    referred_by = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals")
    interest = models.TextField(_("interest"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=LeadStatus.choices, default=LeadStatus.NEW)
    owner = models.ForeignKey(
        "crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="leads_owned", verbose_name=_("sales owner")
    )
    created_by = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    converted_customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads")
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    lost_reason = models.CharField(_("reason lost"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="lead_status_recent")]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def clean(self) -> None:
        validate_lead_referral(source=self.source, referred_by=self.referred_by_id)


class LeadNote(models.Model):
    """A step in working a lead: a status change or a contact note."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="notes")
    from_status = models.CharField(max_length=10, choices=LeadStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=LeadStatus.choices, blank=True)
    text = models.TextField(blank=True)
    author = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]


class AccessAction(models.TextChoices):
    """What the staff member did: read the record (GET) or sent a change or an action (POST, PATCH, ...)."""

    VIEW = "view", _("Viewed")
    CHANGE = "change", _("Changed or acted")

    @classmethod
    def for_method(cls, method: str) -> str:
        return cls.VIEW if (method or "GET").upper() in ("GET", "HEAD", "OPTIONS") else cls.CHANGE


class CustomerAccess(models.Model):
    """A staff member looked at a customer or acted on their record: who, when, which customer, through which page."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accesses")
    user = models.ForeignKey("crm.User", on_delete=models.PROTECT, related_name="customer_accesses")
    accessed_at = models.DateTimeField(default=timezone.now, db_index=True)
    surface = models.CharField(max_length=10, choices=[("office", "Back-office"), ("api", "API")])
    path = models.CharField(max_length=300)
    view_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=10, choices=AccessAction.choices, default=AccessAction.VIEW)

    class Meta:
        verbose_name = _("customer access")
        ordering = ["-accessed_at", "-id"]
        indexes = [models.Index(fields=["customer", "-accessed_at"], name="access_customer_recent")]


class CustomerMerge(models.Model):
    """Two records became one: kept for the audit trail after the loser is gone."""

    survivor = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, related_name="merges")
    loser_customer_number = models.CharField(max_length=12)
    loser_name = models.CharField(max_length=201)
    moved = models.JSONField(default=dict)
    filled_fields = models.JSONField(default=list)
    merged_by = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-merged_at"]


class DistinctCustomerPair(models.Model):
    """A supervisor checked two records the duplicate review proposed and found two people: the review
    proposes the pair no more. Undoing keeps the row (who marked, who undid, when) for the audit trail."""

    older = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    newer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    marked_by = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, related_name="+")
    marked_at = models.DateTimeField(default=timezone.now)
    undone_by = models.ForeignKey("crm.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-marked_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(older__lt=models.F("newer")), name="distinct_pair_in_id_order"),
            models.UniqueConstraint(
                fields=["older", "newer"], condition=models.Q(undone_at__isnull=True), name="distinct_pair_once"
            ),
        ]


class OutboundEmail(models.Model):
    """An e-mail to send, recorded before the task runs so a lost broker message is swept up.

    The context (which may hold one-time links) is cleared once the message is sent.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    to = models.EmailField()
    template = models.CharField(max_length=100, help_text="emails/<template>.txt, .html and _subject.txt")
    context = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=10, default="en")
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="emails")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="email_pending")]
