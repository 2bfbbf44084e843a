"""Partners (hotels, car rentals) and the miles they buy for their customers.

A partner calls the API with a key it is shown once: ``<prefix>.<secret>``. Only the prefix (to find
the partner) and a keyed hash of the whole key are stored, so a copy of the database gives no working
key; issuing a new key replaces the old one at once. A partner's credit is keyed by its own
transaction reference (``partner:<code>:<reference>``): a retry, or the same request sent twice at the
same moment, credits once and answers with the first entry.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from crm.errors import ApplicationError, Conflict, NotFound
from crm.models import User
from loyalty.models import EntryKind, MilesEntry, Partner
from loyalty.services.ledger import Posting, miles_post, miles_reverse
from loyalty.services.membership import FIELD as FF_FIELD
from loyalty.services.membership import member_number_check

logger = logging.getLogger(__name__)

REASON = "partner"
MAX_MILES_PER_TRANSACTION = 100_000  # a night's stay or a week's rental earns far less: more is a typo or abuse
REFERENCE = re.compile(r"^[\x21-\x7e]{1,64}\Z")  # visible ASCII: what a partner's booking systems use
_KEY_SALT = "loyalty.partner-api-key"
_PREFIX_START = "pk"
_KEY = re.compile(r"^(pk[0-9a-f]{8})\.([A-Za-z0-9_-]{20,100})\Z")


def _key_hash(key: str) -> str:
    """HMAC-SHA256 of the whole key under the project's SECRET_KEY: useless without it."""
    return salted_hmac(_KEY_SALT, key, algorithm="sha256").hexdigest()


@transaction.atomic
def partner_create(
    *,
    code: str,
    name: str,
    kind: str,
    price_per_mile: Decimal | None = None,
    currency: str = "EUR",
    daily_miles_alert: int | None = None,
) -> Partner:
    """A new partner, without a key yet (``partner_key_issue`` makes one)."""
    if Partner.objects.filter(code=code).exists():
        raise Conflict(_("A partner with this code already exists."), code="partner_exists", fields={"code": [_("Taken.")]})
    partner = Partner(code=code, name=name, kind=kind, currency=currency.upper())
    if price_per_mile is not None:
        partner.price_per_mile = price_per_mile
    if daily_miles_alert is not None:
        partner.daily_miles_alert = daily_miles_alert
    partner.full_clean()
    partner.save()
    return partner


@transaction.atomic
def partner_key_issue(*, partner: Partner, by: User | None = None) -> str:
    """A new API key for the partner, returned this once; the previous key stops working now (logged
    with who asked, for the security review)."""
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    prefix = f"{_PREFIX_START}{secrets.token_hex(4)}"
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    locked.api_key_prefix, locked.api_key_hash = prefix, _key_hash(key)
    locked.save(update_fields=["api_key_prefix", "api_key_hash"])
    partner.api_key_prefix, partner.api_key_hash = locked.api_key_prefix, locked.api_key_hash
    logger.info(
        "Partner %s was issued a new API key (prefix %s) by %s.",
        partner.code, prefix, by.get_username() if by is not None and by.is_authenticated else "a command",
    )  # fmt: skip
    return key


def partner_authenticate(*, key: str) -> Partner | None:
    """The active partner this key belongs to, or None; hashes are compared in constant time."""
    match = _KEY.match(key or "") if isinstance(key, str) and len(key) <= 120 else None
    if match is None:
        return None
    candidates = list(Partner.objects.filter(api_key_prefix=match[1]).exclude(api_key_hash=""))
    offered = _key_hash(key)
    found = None
    for partner in candidates:
        if hmac.compare_digest(partner.api_key_hash, offered):
            found = partner
    if found is None or not found.active:
        return None
    return found


@dataclass(frozen=True)
class Accrual:
    entry: MilesEntry
    created: bool  # False: the same transaction was already credited, this is that entry


def _field_error(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


@transaction.atomic
def partner_accrue(
    *,
    partner: Partner,
    member_number: str,
    transaction_reference: str,
    miles: int,
    description: str = "",
    occurred_on: date | None = None,
) -> Accrual:
    """Credit a member the miles the partner's customer earned; the same reference credits once.

    The same reference sent again answers with the first entry (``created=False``); sent again with
    other miles or for another member it is refused (409 ``partner_reference_conflict``), never
    credited twice. Errors name the API's fields (``member_number``, ``miles``...).
    """
    if not partner.active:
        raise ApplicationError(_("This partner is not active."), code="partner_inactive", status=403)
    if not isinstance(transaction_reference, str) or not REFERENCE.match(transaction_reference):
        raise _field_error("transaction_reference", _("Enter 1 to 64 visible characters (no spaces)."))
    if isinstance(miles, bool) or not isinstance(miles, int) or not 0 < miles <= MAX_MILES_PER_TRANSACTION:
        raise _field_error(
            "miles", _("Enter a whole number of miles from 1 to %(max)s.") % {"max": f"{MAX_MILES_PER_TRANSACTION:,}"}
        )
    today = timezone.localdate()
    if occurred_on is not None and occurred_on > today + timedelta(days=1):
        raise _field_error("occurred_on", _("The date cannot be in the future."))
    try:
        member = member_number_check(number=member_number)
    except ApplicationError as exc:
        exc.fields = {("member_number" if k == FF_FIELD else k): v for k, v in exc.fields.items()}
        raise
    key = f"partner:{partner.code}:{transaction_reference}"
    details: dict[str, Any] = {"partner": partner.code, "partner_name": partner.name, "reference": transaction_reference}
    if description:
        details["description"] = description[:100]
    if occurred_on is not None:
        details["occurred_on"] = occurred_on.isoformat()
    entry = miles_post(
        posting=Posting(
            member_id=member.pk, kind=EntryKind.PARTNER, reason=REASON, key=key, award=miles, details=details,
            partner_id=partner.pk,
        )
    )  # fmt: skip
    if entry is None:
        first = MilesEntry.objects.select_related("member").get(idempotency_key=key)
        if first.member_id != member.pk or first.award_miles != miles:
            raise Conflict(
                _("This transaction reference was already credited with other miles or to another member."),
                code="partner_reference_conflict",
                fields={"transaction_reference": [_("Already used for another credit.")]},
            )
        return Accrual(entry=first, created=False)
    entry.member = member
    from loyalty.services.fraud import fraud_check_partner_velocity

    fraud_check_partner_velocity(member=member, partner=partner)
    return Accrual(entry=entry, created=True)


REVERSAL_REASON = "partner_reversal"


@transaction.atomic
def partner_accrual_reverse(*, partner: Partner, transaction_reference: str) -> Accrual:
    """Take back a partner's credit (a cancelled stay or rental): a mirror entry, posted once.

    Asked again, it answers with the first reversal (``created=False``). Miles the member has already
    spent cannot be taken back (409 ``insufficient_miles``): the partner settles that with the airline.
    The reversal counts on the partner's statement of the month it is posted.
    """
    credit = (
        MilesEntry.objects.select_related("member")
        .filter(idempotency_key=f"partner:{partner.code}:{transaction_reference}", partner=partner, kind=EntryKind.PARTNER)
        .first()
        if isinstance(transaction_reference, str) and REFERENCE.match(transaction_reference)
        else None
    )
    if credit is None:
        raise NotFound(
            _("You have no credit with this transaction reference."),
            code="partner_transaction_not_found",
            fields={"transaction_reference": [_("Unknown reference.")]},
        )
    reversal = miles_reverse(
        entry=credit, reason=REVERSAL_REASON, details={"partner": partner.code, "reference": transaction_reference}
    )
    if reversal is None:
        return Accrual(entry=MilesEntry.objects.select_related("member").get(reverses=credit), created=False)
    reversal.member = credit.member
    return Accrual(entry=reversal, created=True)
