"""Model instances from hand-written SELECTs, for the booking's hot path.

The ORM spends 0.3-0.8 ms of Python compiling each statement (a join of six tables the most), several
times what PostgreSQL takes to answer it; a booking reads the same few shapes every time. ``Columns``
gives a model's select list under a table alias, written once per process from the model's own fields,
and turns that slice of a result row back into an instance exactly as the ORM would (``Model.from_db``,
with the fields' database converters), so the rest of the code cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, models


class Columns:
    """The concrete fields of ``model`` read under ``alias``: ``sql`` for the SELECT list, ``build`` for a row."""

    def __init__(self, model: type[models.Model], alias: str) -> None:
        fields = model._meta.concrete_fields
        self.model = model
        self.width = len(fields)
        self.sql = ", ".join(f'{alias}."{field.column}"' for field in fields)
        self.converters: list[tuple[int, list[Callable[..., Any]], Any]] = []
        for i, field in enumerate(fields):
            column = field.get_col(alias)
            converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if converters:
                self.converters.append((i, converters, column))

    def build(self, row: Sequence[Any], start: int = 0) -> models.Model:
        values = row[start : start + self.width]
        if self.converters:
            values = list(values)
            for i, converters, column in self.converters:
                for converter in converters:
                    values[i] = converter(values[i], column, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, None, values)


@cache
def columns(model: type[models.Model], alias: str) -> Columns:
    return Columns(model, alias)
