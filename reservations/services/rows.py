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


def insert(objs: Sequence[models.Model]) -> None:
    """``Model.objects.bulk_create(objs)`` for new rows of one model, in one ``INSERT ... RETURNING id``.

    Each field's value is prepared as the ORM prepares it (``pre_save``, then ``get_db_prep_save``: defaults
    already set on the instance, ``auto_now`` stamped, foreign keys by id), and each instance gets its id and
    is marked saved, with its
    generated columns as PostgreSQL computed them. No signals are sent, as with ``bulk_create``: only for models nothing listens to.
    """
    if not objs:
        return
    meta = objs[0]._meta
    returning = meta.db_returning_fields  # the id, and generated columns, as bulk_create reads them back
    fields = [field for field in meta.concrete_fields if field not in returning]
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {meta.db_table} ({', '.join(connection.ops.quote_name(f.column) for f in fields)}) "  # noqa: S608 - the model's own names
        f"VALUES {', '.join([row] * len(objs))} RETURNING {', '.join(connection.ops.quote_name(f.column) for f in returning)}"
    )
    related = [field for field in fields if field.is_relation]
    for obj in objs:  # a parent saved after its child was built: its id, as the ORM takes it before a save
        for field in related:
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                parent = field.get_cached_value(obj)
                if parent is not None:
                    if parent.pk is None:
                        raise ValueError(f"{meta.object_name}.{field.name}: the related object is not saved yet.")
                    setattr(obj, field.name, parent)  # the id, and the cached object kept
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = cursor.fetchall()
    for obj, values in zip(objs, written, strict=True):
        for field, value in zip(returning, values, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS
