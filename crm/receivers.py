"""crm's own contribution to the customer 360 (page and API), export, erasure, merge and the menus."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import ExpressionWrapper, F, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, ExtractDay, ExtractMonth, NullIf, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import registry
from crm.models import (
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    Customer,
    CustomerAccess,
    CustomerMerge,
    DistinctCustomerPair,
    Lead,
    OutboundEmail,
    TimelineEntry,
    TravelPurpose,
    User,
)

PROFILE_EXPORT_FIELDS = (
    "customer_number", "title", "given_name", "family_name", "gender", "date_of_birth", "email", "phone",
    "nationality", "preferred_language", "address_line1", "address_line2", "city", "region", "postal_code",
    "country", "national_id_number", "passport_number", "passport_expiry", "passport_country",
    "meal_preference", "seat_preference", "special_assistance", "preferred_cabin", "home_airport",
    "travel_purposes", "emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship",
    "created_at", "updated_at",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def export_customer(customer: Customer) -> dict[str, Any]:
    return {
        "profile": {f: _plain(getattr(customer, f)) for f in PROFILE_EXPORT_FIELDS},
        "consent_history": [
            {
                "channel": e.channel,
                "purpose": e.purpose,
                "granted": e.granted,
                "recorded_at": e.recorded_at.isoformat(),
                "source": e.source,
                "method": e.method,
            }
            for e in customer.consent_events.order_by("recorded_at", "id")
        ],
        "timeline": [
            {"occurred_at": t.occurred_at.isoformat(), "kind": t.kind, "summary": t.text}
            for t in customer.timeline.order_by("occurred_at", "id")
        ],
        "referrals": [
            {"name": str(lead), "status": lead.status, "created_at": lead.created_at.isoformat()}
            for lead in customer.referrals.order_by("created_at")
        ],
    }


def erase_customer(customer: Customer) -> None:
    from crm.services import customer_profile_erase

    customer_profile_erase(customer)


def merge_customer(survivor: Customer, loser: Customer) -> dict[str, int]:
    # Consent history is append-only: only its owner may change, which the database trigger allows.
    consents = models.QuerySet.update(ConsentEvent.objects.filter(customer=loser), customer=survivor)
    return {
        "consent_events": consents,
        "timeline": TimelineEntry.objects.filter(customer=loser).update(customer=survivor),
        "accesses": CustomerAccess.objects.filter(customer=loser).update(customer=survivor),
        "referrals": Lead.objects.filter(referred_by=loser).update(referred_by=survivor),
        "leads": Lead.objects.filter(converted_customer=loser).update(converted_customer=survivor),
        "merges": CustomerMerge.objects.filter(survivor=loser).update(survivor=survivor),
        "emails": OutboundEmail.objects.filter(customer=loser).update(customer=survivor),
        # "Not a duplicate" was said of the merged-away record; the survivor's pairs are for the review to find anew.
        "distinct_pairs": DistinctCustomerPair.objects.filter(models.Q(older=loser) | models.Q(newer=loser)).delete()[0],
    }


def consent_panel(request, customer: Customer) -> registry.Panel:  # noqa: ANN001
    from crm.selectors import consent_current

    return registry.Panel(
        title=str(_("Consent")),
        template="office/crm/panels/consent.html",
        context={"consents": consent_current(customer=customer)},
        order=90,
    )


def consent_section(customer: Customer, user: User) -> dict[str, Any] | None:
    """Current consent per channel and purpose (no answer is no consent), for staff who may read consent."""
    from crm.selectors import consent_current

    if not user.has_perm("crm.view_consentevent"):
        return None
    return {
        "consents": [
            {
                "channel": channel,
                "purpose": purpose,
                "granted": bool(event and event.granted),
                "recorded_at": event.recorded_at.isoformat() if event else None,
            }
            for (channel, purpose), event in consent_current(customer=customer).items()
        ]
    }


def _consent_section_serializer() -> type:
    from rest_framework import serializers

    from crm.models import ConsentChannel, ConsentPurpose

    class Customer360ConsentSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(choices=ConsentChannel.choices)
        purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
        granted = serializers.BooleanField()
        recorded_at = serializers.DateTimeField(allow_null=True)

    class Customer360CrmSerializer(serializers.Serializer):
        consents = Customer360ConsentSerializer(many=True, help_text="Needs crm.view_consentevent.")

    return Customer360CrmSerializer


registry.register(
    registry.CustomerExtension(
        label="crm",
        panel=consent_panel,
        api_section=consent_section,
        api_serializer=_consent_section_serializer(),
        exporter=export_customer,
        eraser=erase_customer,
        merger=merge_customer,
        order=1000,  # erase the profile after every other app has anonymized its rows
    )
)

OFFICE, PORTAL = registry.OFFICE, registry.PORTAL
registry.register_nav(
    registry.NavItem(OFFICE, _("Customers"), "office:customer_search", order=10),
    registry.NavItem(OFFICE, _("Leads"), "office:lead_list", permissions=("crm.view_lead",), order=50),
    registry.NavItem(OFFICE, _("Duplicates"), "office:duplicates", permissions=("crm.merge_customer",), order=60),
    registry.NavItem(OFFICE, _("Audit"), "office:access_log", permissions=("crm.view_customeraccess",), order=70),
    registry.NavItem(PORTAL, _("My profile"), "portal:profile", audience=registry.SIGNED_IN, current=("profile",), order=50),
    registry.NavItem(
        PORTAL, _("Communication preferences"), "portal:consent", audience=registry.SIGNED_IN, current=("consent",), order=60
    ),
    registry.NavItem(PORTAL, _("My data"), "portal:my_data", audience=registry.SIGNED_IN, current=("my_data",), order=70),
    registry.NavItem(PORTAL, _("Log in"), "portal:login", audience=registry.SIGNED_OUT, current=("login",), order=80),
    registry.NavItem(PORTAL, _("Register"), "portal:register", audience=registry.SIGNED_OUT, current=("register",), order=90),
)


# --- Customer attributes ----------------------------------------------------------------------
# What crm itself knows about every customer, for segments, analytics and API filters.


class _LazyChoices(Sequence):
    """Choices built when read, so their labels come in the reader's language (and the country list
    and the languages Django knows are not loaded at start-up)."""

    def __init__(self, build: Callable[[], list[tuple[str, str]]]) -> None:
        self._build = build

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        return self._build()[index]

    def __len__(self) -> int:
        return len(self._build())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._build())


def _countries() -> list[tuple[str, str]]:
    from django_countries import countries

    return [(code, str(name)) for code, name in countries]


def _languages() -> list[tuple[str, str]]:
    from django.utils.translation import get_language_info

    from crm.validation import known_language_codes

    found = []
    for code in sorted(known_language_codes()):
        try:
            found.append((code, str(get_language_info(code)["name_translated"])))
        except KeyError:
            found.append((code, code))
    return found


class _Age(models.Func):
    """Whole years from the date of birth to ``today`` (NULL when the date of birth is unknown)."""

    template = "CAST(EXTRACT(YEAR FROM AGE(%(expressions)s)) AS integer)"
    output_field = models.IntegerField()


def _home_airport() -> models.Expression:
    return NullIf(F("home_airport"), Value(""), output_field=models.CharField())


def _nationality() -> models.Expression:
    return NullIf(F("nationality"), Value(""), output_field=models.CharField())


def _language() -> models.Expression:
    return NullIf(F("preferred_language"), Value(""), output_field=models.CharField())


def _age() -> models.Expression:
    return _Age(Value(timezone.localdate(), output_field=models.DateField()), F("date_of_birth"))


def _birthday() -> models.Expression:
    return ExpressionWrapper(F("date_of_birth"), output_field=models.DateField())


def _birthday_month() -> models.Expression:
    return ExtractMonth("date_of_birth")


def _birthday_day() -> models.Expression:
    return ExtractDay("date_of_birth")


def _customer_since() -> models.Expression:
    return TruncDate("created_at")


def _travel_purposes() -> models.Expression:
    return Cast(F("travel_purposes"), ArrayField(models.TextField()))


def marketing_consent(channel: str) -> models.Expression:
    """True when the customer's latest answer for ``channel`` + marketing is a grant (no answer: False)."""
    latest = (
        ConsentEvent.objects.filter(customer=OuterRef("pk"), channel=channel, purpose=ConsentPurpose.MARKETING)
        .order_by("-recorded_at", "-id")
        .values("granted")[:1]
    )
    return Coalesce(Subquery(latest, output_field=models.BooleanField()), Value(False))


for _attribute in (
    registry.CustomerAttribute(
        key="home_airport_code", label=_("Home airport"), type=registry.TEXT, expression=_home_airport, app="crm",
        description=_("IATA code of the airport the customer usually flies from (empty: unknown)."),
    ),
    registry.CustomerAttribute(
        key="nationality_code", label=_("Nationality"), type=registry.CHOICE, expression=_nationality, app="crm",
        choices=_LazyChoices(_countries),  # type: ignore[arg-type]
        description=_("Country code of the customer's nationality (empty: unknown)."),
    ),
    registry.CustomerAttribute(
        key="language", label=_("Preferred language"), type=registry.CHOICE, expression=_language, app="crm",
        choices=_LazyChoices(_languages),  # type: ignore[arg-type]
        description=_("The language the customer reads us in."),
    ),
    registry.CustomerAttribute(
        key="age", label=_("Age"), type=registry.INTEGER, expression=_age, app="crm",
        description=_("Age in whole years today (empty: date of birth unknown)."),
    ),
    registry.CustomerAttribute(
        key="birthday", label=_("Date of birth"), type=registry.DATE, expression=_birthday, app="crm",
        description=_("The customer's date of birth."),
    ),
    registry.CustomerAttribute(
        key="birthday_month", label=_("Birthday month"), type=registry.INTEGER, expression=_birthday_month, app="crm",
        description=_("Month of the customer's birthday, 1 to 12."),
    ),
    registry.CustomerAttribute(
        key="birthday_day", label=_("Birthday day"), type=registry.INTEGER, expression=_birthday_day, app="crm",
        description=_("Day of the month of the customer's birthday, 1 to 31."),
    ),
    registry.CustomerAttribute(
        key="customer_since", label=_("Customer since"), type=registry.DATE, expression=_customer_since, app="crm",
        description=_("Day the customer record was created."),
    ),
    registry.CustomerAttribute(
        key="purposes_of_travel", label=_("Purposes of travel"), type=registry.LIST, expression=_travel_purposes,
        app="crm", choices=tuple(TravelPurpose.choices),
        description=_("Why the customer usually travels (business, leisure, ...), as recorded on the profile."),
    ),
    *(
        registry.CustomerAttribute(
            key=f"{channel}_marketing_consent", label=label, type=registry.BOOLEAN,
            expression=lambda channel=channel: marketing_consent(channel), app="crm",
            description=_("The customer's latest answer allows marketing on this channel."),
        )
        for channel, label in (
            (ConsentChannel.EMAIL, _("Marketing by e-mail allowed")),
            (ConsentChannel.SMS, _("Marketing by SMS allowed")),
            (ConsentChannel.PUSH, _("Marketing by push notification allowed")),
        )
    ),
):  # fmt: skip
    registry.register_attribute(_attribute)
