"""Catching the events an app sends during a test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from crm.events import Event


def events_of(module: ModuleType) -> dict[str, Event]:
    return {name: value for name, value in vars(module).items() if isinstance(value, Event)}


@contextmanager
def capture_events(module: ModuleType, *, sender: type | None = None) -> Iterator[list[tuple[str, dict]]]:
    """Every event of ``module`` delivered inside the block, as (name, payload); each payload is checked to
    be plain JSON, and its sender to be ``sender`` when one is given."""
    seen: list[tuple[str, dict]] = []

    def make(name: str):  # noqa: ANN202
        def receiver(signal, **payload):  # noqa: ANN001, ANN202
            sent_by = payload.pop("sender")
            assert sender is None or sent_by is sender
            assert json.loads(json.dumps(payload)) == payload
            seen.append((name, payload))

        return receiver

    found = events_of(module)
    for name, event in found.items():
        event.connect(make(name), weak=False, dispatch_uid=f"test-capture-{module.__name__}-{name}")
    try:
        yield seen
    finally:
        for name, event in found.items():
            event.disconnect(dispatch_uid=f"test-capture-{module.__name__}-{name}")
