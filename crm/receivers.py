"""crm's own contribution to the customer 360, export, erasure and merge."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm import registry
from crm.models import ConsentEvent, Customer, CustomerAccess, CustomerMerge, Lead, TimelineEntry

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
    }


def consent_panel(request, customer: Customer) -> registry.Panel:  # noqa: ANN001
    from crm.selectors import consent_current

    return registry.Panel(
        title=str(_("Consent")),
        template="office/crm/panels/consent.html",
        context={"consents": consent_current(customer=customer)},
        order=90,
    )


registry.register(
    registry.CustomerExtension(
        label="crm",
        panel=consent_panel,
        exporter=export_customer,
        eraser=erase_customer,
        merger=merge_customer,
        order=1000,  # erase the profile after every other app has anonymized its rows
    )
)
