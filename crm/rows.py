"""Model instances from hand-written SELECTs, and new rows by hand-written INSERTs, for hot paths (a booking).

The ORM spends 0.3-0.8 ms of Python compiling each statement (a join of six tables the most), several
times what PostgreSQL takes to answer it; a booking reads the same few shapes every time. ``Columns``
gives a model's select list under a table alias, written once per process from the model's own fields,
and turns that slice of a result row back into an instance exactly as the ORM would (``Model.from_db``,
with the fields' database converters), so the rest of the code cannot tell the difference.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, models


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


# The statements each database session holds, by name (a session's statements die with it): prepared by
# us, or found there under our name (stale: deallocated and prepared again at the next use).
_PREPARED, _STALE = "prepared", "stale"
_prepared: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%s")
_NO_SUCH_STATEMENT, _STATEMENT_EXISTS = "26000", "42P05"  # PostgreSQL's invalid_sql_statement_name, duplicate_prepared_statement
PREPARED_INSERT_ROWS = 20  # an INSERT of more rows is sent as it is rather than prepared for that many
_statements: dict[str, str] = {}  # each name's SQL, for ``prepared_statement``
_EXECUTE = re.compile(r"^(?:DEALLOCATE \w+; )?(?:PREPARE \w+ AS .*?; )?EXECUTE (\w+)", re.DOTALL)


def prepared_statement(sql: str) -> str:
    """The statement an ``EXECUTE name(...)`` sent by ``execute_prepared`` runs (any other SQL as it is), so a
    check that reads the SQL a request sent (writes, locks) sees what it does."""
    match = _EXECUTE.match(sql)
    return _statements.get(match.group(1), sql) if match else sql


def execute_prepared(cursor: Any, *, name: str, sql: str, params: Sequence[Any] = ()) -> None:
    """``cursor.execute(sql, params)``, as a statement the database session prepares the first time and then
    only executes (``PREPARE name AS ...``, then ``EXECUTE name(...)``).

    For the statements every booking sends: PostgreSQL spent longer planning the cabin lock's six-table join
    than running it, every time. The first use sends the PREPARE and the EXECUTE in one round trip, so a
    statement is still one query wherever it runs. A prepared statement belongs to its session, outside
    any transaction (a rollback keeps it), and a new connection starts with none; a connection pooler that
    shares sessions between clients (PgBouncer in transaction mode) would need this turned into plain
    ``execute``. ``sql`` takes ``%s`` placeholders, no literal ``%``; ``name`` must be a plain identifier.

    PostgreSQL keeps one plan for a prepared statement only when a generic plan looks as good as a
    tailored one: a list as one array parameter (``= ANY(%s)``) never does, so such a statement would be
    planned at every execution anyway; give it one placeholder per value, and a name per count.
    """
    _statements.setdefault(name, sql)
    held = _prepared.setdefault(connection.connection, {})
    run = f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"
    state = held.get(name)
    try:
        if state == _PREPARED:
            cursor.execute(run, params)
            return
        numbered = iter(range(1, len(params) + 1))
        prepare = f"PREPARE {name} AS {_PLACEHOLDER.sub(lambda _m: f'${next(numbered)}', sql)}; {run}"
        held[name] = _PREPARED  # before the round trip: a failing EXECUTE leaves the PREPARE done
        cursor.execute(f"DEALLOCATE {name}; {prepare}" if state == _STALE else prepare, params)
    except DatabaseError as error:
        # Out of step with the session (a PREPARE that never arrived, or a statement of that name it holds
        # already): this statement fails, as any database error would, and the next use is right again.
        code = getattr(error.__cause__, "pgcode", None)
        if code == _NO_SUCH_STATEMENT:
            held.pop(name, None)
        elif code == _STATEMENT_EXISTS:
            held[name] = _STALE  # replaced by ours at the next use
        raise


def _is_str(value: Any) -> bool:
    return isinstance(value, str)  # a choice's enum member too: a text field sends any str as it is


def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool, not an IntegerChoices member: the field would convert those


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_date(value: Any) -> bool:
    return type(value) is date  # a datetime given to a date field is cut to its date by the field


def _is_aware_datetime(value: Any) -> bool:
    return type(value) is datetime and value.tzinfo is not None  # a naive one is made aware (with a warning)


def _is_finite_decimal(value: Any) -> bool:
    return type(value) is Decimal and value.is_finite()  # NaN and infinities are refused by the field


class _Insert:
    """How one model's new rows are written: the statement for n rows, and each field's value as the ORM
    would send it.

    Written once per model and process: quoting forty column names and asking every field to prepare its
    value cost more than PostgreSQL took to insert the row. Where the field's preparation gives back the
    very value it was handed (PostgreSQL's backend adapts dates, datetimes and decimals as they are), the
    value is passed as it is: a ``str`` in a plain text field, an ``int`` in an integer field or a foreign
    key to an integer id, a ``bool`` in a boolean field, a ``date``, an aware ``datetime``, a finite
    ``Decimal``, or ``None``. Any other field or value (JSON, encrypted, phone or country fields, a field
    stamped on save, a value of another type) goes through ``pre_save`` and ``get_db_prep_save`` as before.
    """

    _PASSED: ClassVar[dict[type[models.Field], Callable[[Any], bool]]] = {
        models.CharField: _is_str,
        models.TextField: _is_str,
        models.EmailField: _is_str,
        models.SlugField: _is_str,
        models.IntegerField: _is_int,
        models.SmallIntegerField: _is_int,
        models.BigIntegerField: _is_int,
        models.PositiveIntegerField: _is_int,
        models.PositiveSmallIntegerField: _is_int,
        models.PositiveBigIntegerField: _is_int,
        models.BooleanField: _is_bool,
        models.DateField: _is_date,
        models.DecimalField: _is_finite_decimal,
    }

    def __init__(self, model: type[models.Model]) -> None:
        meta = model._meta
        quote = connection.ops.quote_name
        self.returning = meta.db_returning_fields  # the id, and generated columns, as bulk_create reads them back
        self.fields = [field for field in meta.concrete_fields if field not in self.returning]
        self.related = [field for field in self.fields if field.is_relation]
        self.table = meta.db_table
        self.head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in self.fields)}) VALUES "  # noqa: S608 - the model's own names
        self.row = f"({', '.join(['%s'] * len(self.fields))})"
        self.tail = f" RETURNING {', '.join(quote(f.column) for f in self.returning)}"
        self.passed = [(field.attname, self._passed_when(field)) for field in self.fields]
        self._sql: dict[int, str] = {}

    @classmethod
    def _passed_when(cls, field: models.Field) -> Callable[[Any], bool] | None:
        """What a value of ``field`` must be to be sent as it is; None: always prepared by the field."""
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return None
        if type(field) is models.ForeignKey or type(field) is models.OneToOneField:
            target = field.target_field
            return _is_int if type(target) in (models.AutoField, models.BigAutoField, models.SmallAutoField) else None
        if type(field) is models.DateTimeField:
            return _is_aware_datetime if settings.USE_TZ else None
        return cls._PASSED.get(type(field))

    def sql(self, count: int) -> str:
        sql = self._sql.get(count)
        if sql is None:
            sql = self._sql[count] = self.head + ", ".join([self.row] * count) + self.tail
        return sql

    def values(self, obj: models.Model) -> list[Any]:
        state = obj.__dict__
        values = []
        for field, (attname, passed) in zip(self.fields, self.passed, strict=True):
            value = state.get(attname)
            if passed is None or (value is not None and not passed(value)):
                value = field.get_db_prep_save(field.pre_save(obj, True), connection)
            values.append(value)
        return values


@cache
def _insert_plan(model: type[models.Model]) -> _Insert:
    return _Insert(model)


def insert(objs: Sequence[models.Model]) -> None:
    """``Model.objects.bulk_create(objs)`` for new rows of one model, in one ``INSERT ... RETURNING id``.

    Each field's value is what the ORM would send (``pre_save``, then ``get_db_prep_save``: defaults
    already set on the instance, ``auto_now`` stamped, foreign keys by id; see ``_Insert``), and each
    instance gets its id and is marked saved, with its generated columns as PostgreSQL computed them.
    No signals are sent, as with ``bulk_create``: only for models nothing listens to.
    """
    if not objs:
        return
    plan = _insert_plan(type(objs[0]))
    for obj in objs:  # a parent saved after its child was built: its id, as the ORM takes it before a save
        for field in plan.related:
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                parent = field.get_cached_value(obj)
                if parent is not None:
                    if parent.pk is None:
                        raise ValueError(f"{obj._meta.object_name}.{field.name}: the related object is not saved yet.")
                    setattr(obj, field.name, parent)  # the id, and the cached object kept
    params = [value for obj in objs for value in plan.values(obj)]
    with connection.cursor() as cursor:
        if len(objs) <= PREPARED_INSERT_ROWS:
            execute_prepared(cursor, name=f"insert_{plan.table}_{len(objs)}", sql=plan.sql(len(objs)), params=params)
        else:
            cursor.execute(plan.sql(len(objs)), params)
        written = cursor.fetchall()
    for obj, values in zip(objs, written, strict=True):
        for field, value in zip(plan.returning, values, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS
