"""A passenger's own marketing choices: consent per channel and the language our messages come in.

Consent is recorded through crm's ``consent_record`` (an appended event, never an edit), so the proof of
what the passenger chose, when and where, is the same as for every other consent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.models import ConsentPurpose, ConsentSource, Customer, User
from crm.selectors import consent_current
from crm.services import consent_record, customer_update
from marketing.models import MarketingChannel

PREFERENCES_METHOD = "preferences page"


def marketing_consent_current(*, customer: Customer) -> dict[str, bool]:
    """Whether the customer currently agrees to marketing on each channel (never answered = no)."""
    current = consent_current(customer=customer)
    return {
        channel: bool((event := current.get((channel, ConsentPurpose.MARKETING))) and event.granted)
        for channel in MarketingChannel.values
    }


@transaction.atomic
def marketing_preferences_save(
    *, customer: Customer, channels: dict[str, bool], language: str, by: User | None = None
) -> list[str]:
    """Record the channels whose answer changed and the preferred language; returns what changed.

    Unknown channels or languages are refused before anything is written.
    """
    unknown = sorted(set(channels) - set(MarketingChannel.values))
    if unknown:
        raise ApplicationError(_("Unknown channel."), code="invalid", fields={"channels": unknown})
    if language not in dict(settings.LANGUAGES):
        message = _("Choose one of the languages offered.")
        raise ApplicationError(message, code="invalid", fields={"preferred_language": [message]})
    if customer.anonymized_at is not None:
        raise ApplicationError(_("This customer record has been erased."), code="erased")
    changed = []
    current = marketing_consent_current(customer=customer)
    for channel in MarketingChannel.values:
        if channel in channels and bool(channels[channel]) != current[channel]:
            consent_record(
                customer=customer, channel=channel, purpose=ConsentPurpose.MARKETING, granted=bool(channels[channel]),
                source=ConsentSource.PORTAL, method=PREFERENCES_METHOD, by=by,
            )  # fmt: skip
            changed.append(channel)
    if language != (customer.preferred_language or ""):
        customer_update(customer=customer, data={"preferred_language": language}, by=by)
        changed.append("preferred_language")
    return changed
