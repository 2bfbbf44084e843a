"""Offers and promo codes: creating offers, issuing one code per recipient, merging codes with customers."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.models import Cabin, Customer, User
from marketing.models import ISSUE_MAX, Offer, OfferKind, PromoCode, PromoCodeStatus

# --- Offers and promo codes -----------------------------------------------------------------------

# No 0/O, 1/I/L: a code read aloud or copied from print is not misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def promo_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def _airports(values: Iterable[str], field: str) -> list[str]:
    cleaned = sorted({v.strip().upper() for v in values if v and v.strip()})
    bad = [v for v in cleaned if len(v) != 3 or not v.isalpha()]
    if bad:
        message = _("Airport codes have three letters: %(codes)s.") % {"codes": ", ".join(bad)}
        raise ApplicationError(message, code="invalid_offer", fields={field: [message]})
    return cleaned


def _routes(values: Iterable[str]) -> list[str]:
    cleaned = sorted({v.strip().upper().replace(" ", "") for v in values if v and v.strip()})
    bad = [v for v in cleaned if len(v) != 7 or v[3] != "-" or not (v[:3] + v[4:]).isalpha()]
    if bad:
        message = _("Write routes as two airport codes, e.g. LHR-JFK: %(routes)s.") % {"routes": ", ".join(bad)}
        raise ApplicationError(message, code="invalid_offer", fields={"routes": [message]})
    return cleaned


@transaction.atomic
def offer_create(
    *,
    name: str,
    kind: str,
    value: Decimal,
    valid_from: datetime,
    valid_until: datetime,
    currency: str = "",
    minimum_spend: Decimal = Decimal(0),
    description: str = "",
    origins: Iterable[str] = (),
    destinations: Iterable[str] = (),
    routes: Iterable[str] = (),
    cabins: Iterable[str] = (),
    is_partner_offer: bool = False,
    partner_name: str = "",
    partner_url: str = "",
    by: User | None = None,
) -> Offer:
    """Record an offer after checking what the database constraints would refuse, with a message per field."""
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = [_("Give the offer a name.")]
    if kind not in OfferKind.values:
        errors["kind"] = [_("Choose a kind of offer from the list.")]
    value = Decimal(value) if value is not None else Decimal(0)
    if value <= 0:
        errors["value"] = [_("The value must be more than zero.")]
    elif kind == OfferKind.PERCENTAGE and value > 100:
        errors["value"] = [_("A percentage is at most 100.")]
    elif kind == OfferKind.BONUS_MILES and value != value.to_integral_value():
        errors["value"] = [_("Bonus miles are whole miles.")]
    currency = (currency or "").strip().upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        errors["currency"] = [_("A currency is a three-letter code, e.g. EUR.")]
    elif kind == OfferKind.AMOUNT and not currency:
        errors["currency"] = [_("An amount off needs its currency.")]
    minimum_spend = Decimal(minimum_spend or 0)
    if minimum_spend < 0:
        errors["minimum_spend"] = [_("The minimum spend cannot be negative.")]
    elif minimum_spend > 0 and not currency:
        errors.setdefault("currency", []).append(_("A minimum spend needs its currency."))
    if valid_from is None or valid_until is None or valid_until <= valid_from:
        errors["valid_until"] = [_("The offer must end after it starts.")]
    bad_cabins = [c for c in cabins if c not in Cabin.values]
    if bad_cabins:
        errors["cabins"] = [_("Unknown cabin: %(cabins)s.") % {"cabins": ", ".join(bad_cabins)}]
    if is_partner_offer and not (partner_name or "").strip():
        errors["partner_name"] = [_("A partner offer names its partner.")]
    if errors:
        raise ApplicationError(_("The offer was not saved; correct the fields shown."), code="invalid_offer", fields=errors)
    return Offer.objects.create(
        name=name.strip(),
        description=description or "",
        kind=kind,
        value=value,
        currency=currency,
        minimum_spend=minimum_spend,
        valid_from=valid_from,
        valid_until=valid_until,
        origins=_airports(origins, "origins"),
        destinations=_airports(destinations, "destinations"),
        routes=_routes(routes),
        cabins=sorted(set(cabins)),
        is_partner_offer=is_partner_offer,
        partner_name=(partner_name or "").strip(),
        partner_url=partner_url or "",
        created_by=by if by is not None and by.is_authenticated else None,
    )


@transaction.atomic
def promo_codes_issue(*, offer: Offer, customers: Iterable[Customer] | None = None, count: int | None = None) -> list[PromoCode]:
    """Issue codes in bulk: one per recipient (again: the same code), or ``count`` codes for anyone.

    Set-based: one INSERT ... ON CONFLICT DO NOTHING per round; the rare random code that collides with
    an existing one is simply drawn again in the next round.
    """
    if (customers is None) == (count is None):
        raise ApplicationError(_("Issue codes either to recipients or as a number of codes."), code="invalid_issue")
    if customers is not None:
        wanted = {c.pk for c in customers}
        for _round in range(5):
            have = set(PromoCode.objects.filter(offer=offer, customer_id__in=wanted).values_list("customer_id", flat=True))
            missing = wanted - have
            if not missing:
                break
            PromoCode.objects.bulk_create(
                [PromoCode(offer=offer, customer_id=pk, code=promo_code_new()) for pk in sorted(missing)],
                ignore_conflicts=True,
            )
        return list(PromoCode.objects.filter(offer=offer, customer_id__in=wanted).order_by("customer_id"))
    if not isinstance(count, int) or count < 1 or count > ISSUE_MAX:
        message = _("Issue between 1 and %(max)d codes at a time.") % {"max": ISSUE_MAX}
        raise ApplicationError(message, code="invalid_issue", fields={"count": [message]})
    issued: list[str] = []
    for _round in range(5):
        fresh = list({promo_code_new() for _i in range(count - len(issued))})
        PromoCode.objects.bulk_create([PromoCode(offer=offer, code=code) for code in fresh], ignore_conflicts=True)
        issued += PromoCode.objects.filter(offer=offer, customer=None, code__in=fresh).values_list("code", flat=True)
        if len(issued) >= count:
            break
    return list(PromoCode.objects.filter(offer=offer, code__in=issued).order_by("pk"))


@transaction.atomic
def promo_codes_merge(*, survivor: Customer, loser: Customer) -> dict[str, int]:
    """Move the duplicate's codes to the survivor; where both hold a code of one offer, the survivor keeps one.

    The duplicate's code of such an offer keeps its history (a redemption stays recorded) but no
    longer belongs to anyone, and an unused one is withdrawn, so nobody may use it.
    """
    both = PromoCode.objects.filter(customer=loser, offer__codes__customer=survivor)
    clashes = both.update(
        customer=None, status=Case(When(status=PromoCodeStatus.ISSUED, then=Value(PromoCodeStatus.VOID)), default=F("status"))
    )
    moved = PromoCode.objects.filter(customer=loser).update(customer=survivor)
    return {"promo_codes": moved, "promo_codes_withdrawn": clashes}


def promo_codes_export(*, customer: Customer) -> list[dict]:
    return [
        {
            "code": code.code,
            "offer": code.offer.name,
            "status": code.status,
            "issued_at": code.issued_at.isoformat(),
            "redeemed_booking": code.redeemed_record_locator,
            "redeemed_at": code.redeemed_at.isoformat() if code.redeemed_at else None,
        }  # fmt: skip
        for code in PromoCode.objects.filter(customer=customer).select_related("offer").order_by("pk")
    ]
