"""Where downstream apps take part in reservations' rules without reservations knowing them.

One registry per kind of hook. An app registers its hooks in its ``AppConfig.ready()``; reservations
calls every registered hook of a kind at the point the rule is applied. Registering the same name
twice is an error, so two apps cannot silently replace each other's hook.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from crm.models import User
    from reservations.models import Booking, Payment

T = TypeVar("T")


class Hooks(Generic[T]):
    """The hooks of one kind, by name, called in the order they were registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._hooks: dict[str, T] = {}

    def register(self, name: str, hook: T) -> T:
        if name in self._hooks:
            raise ImproperlyConfigured(f"A {self.kind} hook named {name!r} is already registered.")
        self._hooks[name] = hook
        return hook

    def unregister(self, name: str) -> None:
        self._hooks.pop(name, None)

    def get(self, name: str) -> T | None:
        return self._hooks.get(name)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._hooks.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._hooks

    def names(self) -> list[str]:
        return list(self._hooks)


# --- Payment methods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodPayment:
    """What a payment method took for one payment; kept on the payment row."""

    reference: str = ""  # the method's own reference (a ledger entry, a voucher), shown to agents
    miles: int | None = None  # for a method that pays with miles: how many were debited
    voucher_id: int | None = None  # for a travel voucher: which one


@dataclass(frozen=True)
class MethodRefund:
    """Whether the money went back to where it came from, and the method's reference for it."""

    succeeded: bool
    reference: str = ""


class PaymentMethodHook(Protocol):
    """A way to pay that settles in this database: travel vouchers (reservations), miles (loyalty).

    Registered under its ``code`` (a ``reservations.models.PaymentMethod`` value); ``label`` is what a
    payer reads. Card payments are not hooks: they go through the gateway, recorded as pending first.

    ``pay`` and ``refund`` run inside the transaction that holds the booking's row lock, so they must not
    call the network; they are all-or-nothing with the payment row. ``pay`` refuses by raising
    ``crm.errors.ApplicationError`` (naming the ``details`` field at fault), and nothing is recorded.
    ``reference`` is unique to the payment: a ledger uses it as its idempotency key. ``details`` is the
    method's own input (e.g. ``{"voucher_code": ...}``).
    """

    code: str
    label: str

    def pay(
        self, *, booking: Booking, amount: Decimal, currency: str, reference: str, details: Mapping[str, str], by: User | None
    ) -> MethodPayment: ...

    def refund(self, *, payment: Payment, amount: Decimal, reference: str) -> MethodRefund: ...


payment_methods: Hooks[PaymentMethodHook] = Hooks("payment method")


# --- Discounts at pricing -------------------------------------------------------------------------


discounts: Hooks = Hooks("discount")


# --- Passenger checks at booking and check-in ----------------------------------------------------


passenger_checks: Hooks = Hooks("passenger check")
