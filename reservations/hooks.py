"""Where downstream apps take part in reservations' rules without reservations knowing them.

One registry per kind of hook. An app registers its hooks in its ``AppConfig.ready()``; reservations
calls every registered hook of a kind at the point the rule is applied. Registering the same name
twice is an error, so two apps cannot silently replace each other's hook.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

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


payment_methods: Hooks = Hooks("payment method")


# --- Discounts at pricing -------------------------------------------------------------------------


discounts: Hooks = Hooks("discount")


# --- Passenger checks at booking and check-in ----------------------------------------------------


passenger_checks: Hooks = Hooks("passenger check")
