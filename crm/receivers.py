"""crm's own contribution to the customer 360 (page and API), export, erasure, merge and the menus."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm import registry
from crm.models import ConsentEvent, Customer, CustomerAccess, CustomerMerge, Lead, OutboundEmail, TimelineEntry, User

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
            {"occurred_at": t.occurred_at.isoformat(), "kind": t.kind, "summary": t.summary}
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
