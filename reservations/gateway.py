"""The payment gateway seen by reservations, and a simulated card gateway for demos and tests.

The application never keeps a card number or CVV: a card is turned into a token at once, and only the
token, the brand and the last four digits travel further. ``PAYMENT_GATEWAY`` (a dotted path) picks the
gateway; the default is the simulated one, whose test cards behave like a real acquirer's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from crm.errors import ApplicationError

DEFAULT_GATEWAY = "reservations.gateway.SimulatedCardGateway"

VISA = "Visa"
MASTERCARD = "Mastercard"
AMEX = "American Express"

# Test cards of the simulated gateway and what happens when they are charged.
CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_INSUFFICIENT_FUNDS = "4000000000009995"


@dataclass(frozen=True)
class SampleCard:
    """A card number a gateway's test mode knows, and what charging it does (a code, not a sentence)."""

    number: str
    outcome: str  # "succeeds", "declined", "insufficient_funds"


@dataclass(frozen=True)
class CardToken:
    """What the application may keep of a card."""

    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class GatewayResult:
    """The acquirer's answer; ``reference`` identifies a charge or refund at the gateway."""

    succeeded: bool
    reference: str = ""
    decline_code: str = ""
    decline_reason: str = ""


@runtime_checkable
class PaymentGateway(Protocol):
    def tokenize(self, *, number: str, expiry_month: int, expiry_year: int, cvv: str, holder: str) -> CardToken: ...

    def charge(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult: ...

    def charge_outcome(self, *, idempotency_key: str) -> GatewayResult | None:
        """What became of the charge sent with this key; None if the gateway never received it."""
        ...

    def refund(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult: ...


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        digit = int(ch)
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The scheme from the issuer identification number (the leading digits); blank if not accepted."""
    if number.startswith("4"):
        return VISA
    if number[:2] in {"34", "37"}:
        return AMEX
    if 51 <= int(number[:2] or 0) <= 55 or 2221 <= int(number[:4] or 0) <= 2720:
        return MASTERCARD
    return ""


def _expiry(month: int | str, year: int | str) -> date | None:
    try:
        month, year = int(month), int(year)
    except (TypeError, ValueError):
        return None
    if year < 100:
        year += 2000
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        return None
    return date(year + (month == 12), month % 12 + 1, 1)  # first day after the card's last valid day


class SimulatedCardGateway:
    """A gateway that needs no network: the outcome of a charge follows from the test card used.

    Tokens are signed so that a made-up token is refused, and encode only the outcome, never the
    number. Charges and refunds are idempotent per key, like a real gateway's idempotency keys: the
    same key answers with the first outcome and moves no money again. The simulator remembers them in
    the process that made them (a real gateway answers every process).
    """

    _charges: OrderedDict[str, tuple[str, GatewayResult]] = OrderedDict()
    _refunds: OrderedDict[str, GatewayResult] = OrderedDict()
    _lock = threading.Lock()
    REMEMBERED = 100_000

    OUTCOMES = {CARD_DECLINED: "dc", CARD_INSUFFICIENT_FUNDS: "nf"}
    SAMPLE_CARDS = (
        SampleCard(CARD_SUCCEEDS, "succeeds"),
        SampleCard(CARD_DECLINED, "declined"),
        SampleCard(CARD_INSUFFICIENT_FUNDS, "insufficient_funds"),
    )

    def tokenize(self, *, number: str, expiry_month: int, expiry_year: int, cvv: str, holder: str) -> CardToken:
        digits = "".join(str(number or "").split()).replace("-", "")
        errors: dict[str, list[str]] = {}
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
            errors["card.number"] = [_("This card number is not valid.")]
        elif not card_brand(digits):
            errors["card.number"] = [_("We accept Visa, Mastercard and American Express.")]
        ends = _expiry(expiry_month, expiry_year)
        if ends is None:
            errors["card.expiry"] = [_("Enter the expiry month and year shown on the card.")]
        elif ends <= date.today():
            errors["card.expiry"] = [_("This card has expired.")]
        code = str(cvv or "").strip()
        if not (code.isdigit() and len(code) in (3, 4)):
            errors["card.cvv"] = [_("The security code is the 3 or 4 digits on the card.")]
        if not str(holder or "").strip():
            errors["card.holder"] = [_("Enter the name on the card.")]
        if errors:
            raise ApplicationError(_("Please check the card details."), code="card_invalid", fields=errors)
        outcome = self.OUTCOMES.get(digits, "ok")
        nonce = secrets.token_hex(8)
        return CardToken(token=f"sim_{outcome}_{nonce}_{self._sign(outcome, nonce)}", brand=card_brand(digits), last4=digits[-4:])

    def charge(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        request = f"{token}|{amount}|{currency}"
        with self._lock:
            if idempotency_key in self._charges:
                first, result = self._charges[idempotency_key]
                if first != request:  # a real gateway refuses a key reused for another request too
                    return GatewayResult(False, decline_code="idempotency_key_reused", decline_reason="key reused")
                return result
            result = self._decide(token, amount)
            self._remember(self._charges, idempotency_key, (request, result))
            return result

    def charge_outcome(self, *, idempotency_key: str) -> GatewayResult | None:
        with self._lock:
            found = self._charges.get(idempotency_key)
        return found[1] if found else None

    def refund(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        with self._lock:
            if idempotency_key in self._refunds:
                return self._refunds[idempotency_key]
            if not reference.startswith("ch_") or amount <= 0:
                result = GatewayResult(succeeded=False, decline_code="invalid_refund", decline_reason="unknown charge")
            else:
                result = GatewayResult(succeeded=True, reference=f"re_{secrets.token_hex(12)}")
            self._remember(self._refunds, idempotency_key, result)
            return result

    @classmethod
    def _remember(cls, book: OrderedDict, key: str, entry: object) -> None:
        book[key] = entry
        if len(book) > cls.REMEMBERED:
            book.popitem(last=False)

    @staticmethod
    def _sign(outcome: str, nonce: str) -> str:
        key = f"{settings.SECRET_KEY}:simulated-card-gateway".encode()
        return hmac.new(key, f"{outcome}:{nonce}".encode(), hashlib.sha256).hexdigest()[:16]

    def _decide(self, token: str, amount: Decimal) -> GatewayResult:
        parts = token.split("_")
        if len(parts) != 4 or parts[0] != "sim" or not hmac.compare_digest(parts[3], self._sign(parts[1], parts[2])):
            return GatewayResult(succeeded=False, decline_code="invalid_token", decline_reason="invalid card token")
        if amount <= 0:
            return GatewayResult(succeeded=False, decline_code="invalid_amount", decline_reason="invalid amount")
        if parts[1] == "dc":
            return GatewayResult(succeeded=False, decline_code="card_declined", decline_reason="card declined")
        if parts[1] == "nf":
            return GatewayResult(succeeded=False, decline_code="insufficient_funds", decline_reason="insufficient funds")
        return GatewayResult(succeeded=True, reference=f"ch_{secrets.token_hex(12)}")


def get_gateway() -> PaymentGateway:
    """The gateway named by the ``PAYMENT_GATEWAY`` setting (a dotted path to a class)."""
    return import_string(getattr(settings, "PAYMENT_GATEWAY", DEFAULT_GATEWAY))()


def sample_cards() -> tuple[SampleCard, ...]:
    """The configured gateway's test cards, for a developer's hint; a live acquirer's gateway has none."""
    return tuple(getattr(import_string(getattr(settings, "PAYMENT_GATEWAY", DEFAULT_GATEWAY)), "SAMPLE_CARDS", ()))
