"""Proof that a page, a quote or a preview changed nothing: the SQL it ran, the rows, the events, the hooks.

``with nothing_changes():`` fails the test if anything inside it
- ran a statement that writes or locks (INSERT, UPDATE, DELETE, SAVEPOINT, SELECT ... FOR UPDATE / FOR NO KEY UPDATE),
- changed the number of rows of any reservations or crm table,
- sent any signal of reservations.events or queued anything to run on commit,
- called a hook that downstream apps registered with reservations.

``allow`` names tables an office page may insert into by design (the staff access audit).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext

from crm.rows import prepared_statement
from reservations import events, hooks
from reservations.services import payments as payment_services

WRITES_OR_LOCKS = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|TRUNCATE)\b|\bFOR\s+(NO\s+KEY\s+)?UPDATE\b",
    re.IGNORECASE,
)
ACCESS_AUDIT = "crm_customeraccess"


def _tables() -> list[str]:
    return sorted(
        model._meta.db_table
        for label in ("reservations", "crm")
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy and model._meta.managed
    )


def row_counts(tables: list[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM \"{t}\"" for t in tables))
        return dict(cursor.fetchall())


@dataclass
class Observed:
    statements: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)

    @property
    def reads(self) -> int:
        return len(self.statements)


@contextmanager
def nothing_changes(*, allow: tuple[str, ...] = (), hooks_may_read: bool = False) -> Iterator[Observed]:
    tables = [t for t in _tables() if t not in allow]
    before = row_counts(tables)
    seen = Observed()
    signals = {name: s for name, s in vars(events).items() if isinstance(s, Signal)}
    assert signals, "reservations.events defines no signals to watch"

    def receiver_for(name: str):  # noqa: ANN202
        def receiver(sender, **kwargs) -> None:  # noqa: ANN001
            seen.events.append(name)

        return receiver

    receivers = {name: receiver_for(name) for name in signals}
    for name, signal in signals.items():
        signal.connect(receivers[name], weak=False, dispatch_uid=f"purity-{name}")

    def spy(kind: str, original):  # noqa: ANN001, ANN202
        def called(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            seen.hooks.append(kind)
            return original(*args, **kwargs)

        return called

    original_iter, original_get = hooks.Hooks.__iter__, hooks.Hooks.get
    hooks.Hooks.__iter__ = spy("hooks", original_iter)
    hooks.Hooks.get = spy("hooks", original_get)
    miles = getattr(payment_services, "_miles_hooks", {})
    saved_miles = dict(miles)
    for key, fn in saved_miles.items():
        miles[key] = spy(f"miles.{key}", fn) if fn is not None else None
    pending_on_commit = len(connection.run_on_commit)
    try:
        with CaptureQueriesContext(connection) as captured:
            yield seen
    finally:
        for name, signal in signals.items():
            signal.disconnect(dispatch_uid=f"purity-{name}")
        hooks.Hooks.__iter__, hooks.Hooks.get = original_iter, original_get
        miles.update(saved_miles)
    seen.statements = [prepared_statement(q["sql"]) for q in captured.captured_queries]
    writes = [
        sql for sql in seen.statements if WRITES_OR_LOCKS.search(sql) and not any(f'INSERT INTO "{t}"' in sql for t in allow)
    ]
    assert writes == [], "wrote or locked:\n" + "\n".join(writes)
    assert row_counts(tables) == before
    assert seen.events == [], f"sent {seen.events}"
    if not hooks_may_read:
        assert seen.hooks == [], f"called {seen.hooks}"
    assert len(connection.run_on_commit) == pending_on_commit, "queued work to run on commit"
