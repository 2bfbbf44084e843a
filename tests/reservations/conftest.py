"""Reservations' tests run with reservations' own hooks only.

Downstream apps (loyalty's frequent flyer check, its miles, its booking option...) register hooks in
their ``ready()``; their rules are tested in their own test folders. Here each test starts with only the
hooks reservations registers itself (travel vouchers) and whatever the test registers.
"""

from __future__ import annotations

import pytest

from reservations import hooks

REGISTRIES = (
    hooks.payment_methods,
    hooks.discounts,
    hooks.passenger_checks,
    hooks.booking_panels,
    hooks.booking_options,
    hooks.traveller_benefits,
)


def _own(hook: object) -> bool:
    module = getattr(hook, "__module__", "") or type(hook).__module__
    return module.startswith(("reservations.", "tests."))


@pytest.fixture(autouse=True)
def reservations_hooks_only():
    saved = [(registry, dict(registry._hooks)) for registry in REGISTRIES]
    for registry, hooks_by_name in saved:
        for name, hook in hooks_by_name.items():
            if not _own(hook):
                registry.unregister(name)
    yield
    for registry, hooks_by_name in saved:
        registry._hooks.clear()
        registry._hooks.update(hooks_by_name)
