"""SQL of model rows for the few hot paths written as one statement on PostgreSQL.

The columns, placeholders and parameters come from Django's own insert compiler,
so a model's fields stay declared once; a value may be an expression, such as a
reference to the id another part of the same statement returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Field, Model
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery

M = TypeVar("M", bound=Model)

# A common table expression after which the commit of its statement's
# transaction does not wait for the WAL flush on PostgreSQL (``set_config(...,
# true)`` is a ``SET LOCAL``). The statement must read it (``CROSS JOIN
# unflushed``): a CTE that nothing reads is not run. For the writes of a worker
# that only repeat work if a server crash loses them (a claim, the run marked
# running, the run's events): the WAL is one sequence, so the next durable
# commit (a checkpoint the run goes on from, the run's outcome) makes every
# commit before it durable too.
UNFLUSHED = "unflushed AS (SELECT set_config('synchronous_commit', 'off', true))"


class Prepared(str):
    """SQL that PostgreSQL runs as a statement prepared once per connection
    (``oris_site/postgresql/prepared.py``): for the few statements every run
    sends, whose planning is most of their cost. Wrap the final text (any
    string operation on it gives a plain ``str`` again)."""

    __slots__ = ()
    prepare_on_server = True


def commits_alone() -> bool:
    """Whether a statement sent now is a transaction of its own on PostgreSQL
    (no transaction is open), so that ``UNFLUSHED`` decides its commit."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def insert_sql(obj: Model, *, per_row_of: str = "") -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<columns>) VALUES (...)`` of unsaved ``obj`` (an
    auto-incremented primary key left to the database) and its parameters;
    with ``per_row_of`` (a CTE of the statement) ``INSERT ... SELECT ... FROM
    <per_row_of>`` instead: the row once for each of its rows, none without.

    The text is compiled once per model, set of columns and shape of its
    expressions (a ``RawSQL`` value); later calls only prepare the values, as
    the compiler does (``pre_save``, then ``get_db_prep_save``)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of ``connection`` looks it up
    columns = _columns_of(type(obj), _pk_given(obj))
    values = list(columns.values(obj))
    for i in columns.pre_save:  # e.g. ``auto_now``
        values[i] = columns.fields[i].pre_save(obj, True)
    shape = tuple(
        (i, v.sql, tuple(v.params))
        for i, v in enumerate(values)
        if isinstance(v, RawSQL)
    )
    key = (columns, shape, db.vendor, per_row_of)
    sql = _INSERTS.get(key)
    if sql is not None:
        return sql, _prepared(columns, values, db.ops)
    fields = list(columns.fields)
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    [(sql, compiled)] = query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
    params = list(compiled)
    if per_row_of:
        head, found, row = sql.partition(" VALUES (")  # the compiler's one row
        if not found or not row.endswith(")"):
            raise ValueError(f"not a one-row insert: {sql[:60]}")
        sql = f"{head} SELECT {row[:-1]} FROM {per_row_of}"
    cacheable = all(
        v is None or isinstance(v, RawSQL) for v in values if hasattr(v, "as_sql")
    ) and not any(hasattr(f, "get_placeholder") for f in fields)
    if cacheable and _same_kinds(_prepared(columns, values, db.ops), params):
        _INSERTS[key] = sql
    return sql, params


# Compiled insert texts (``insert_sql``); a key whose values the compiler would
# prepare in another way than ``_prepared`` is never stored.
_INSERTS: dict[tuple[Any, ...], str] = {}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)  # one per model: by id
class _Columns:
    """The columns an insert of a model writes, found once per model (and
    whether its auto-incremented key is given), not for every row."""

    fields: tuple[Field, ...]
    values: Callable[[Model], tuple[Any, ...]]  # the fields' values, in order
    pre_save: tuple[int, ...]  # the fields that compute their value when saved
    # By field: the types of the values Django's preparation leaves as they are.
    plain: tuple[frozenset[type], ...]
    # By field, by a value's type: its preparation the short way (``SHORT``).
    short: tuple[dict[type, Short], ...]


def _pk_given(obj: Model) -> bool:
    auto = obj._meta.auto_field
    return auto is None or getattr(obj, auto.attname) is not None


@cache
def _columns_of(model: type[Model], pk_given: bool) -> _Columns:
    opts = model._meta
    fields = [f for f in opts.local_concrete_fields if not f.generated]
    if not pk_given and opts.auto_field is not None:
        fields.remove(opts.auto_field)
    attnames = [f.attname for f in fields]
    getter = attrgetter(*attnames)
    return _Columns(
        fields=tuple(fields),
        values=getter if len(attnames) > 1 else lambda obj: (getter(obj),),
        pre_save=tuple(i for i, f in enumerate(fields) if _computes_when_saved(f)),
        plain=tuple(PLAIN.get(type(f), frozenset()) for f in fields),
        short=tuple(SHORT.get(type(f), {}) for f in fields),
    )


def _computes_when_saved(field: Field) -> bool:
    """Whether ``field.pre_save`` may answer another value than the instance's:
    a date or time field only with ``auto_now`` or ``auto_now_add``."""
    if type(field) in (models.DateField, models.DateTimeField):
        return field.auto_now or field.auto_now_add  # type: ignore[attr-defined]
    return type(field).pre_save is not Field.pre_save


# By (exact) field class, the types of the values its ``get_db_prep_save``
# returns unchanged (the value itself): ``None`` is NULL, a ``str`` is a text.
# ``test_statements`` checks each against Django, on both databases.
_NULL = frozenset({type(None)})
PLAIN: dict[type[Field], frozenset[type]] = {
    models.CharField: _NULL | {str},
    models.TextField: _NULL | {str},
    models.IntegerField: _NULL,  # an int is typed (psycopg's Int4, Int8)
    models.BigIntegerField: _NULL,
    models.PositiveIntegerField: _NULL,
    models.BooleanField: _NULL | {bool},
    models.DateTimeField: _NULL,
    models.JSONField: _NULL,
    models.ForeignKey: _NULL,
}


# A value's preparation the short way: what ``get_db_prep_save`` answers for
# it, by (exact) field class and the value's (exact) type, without the steps
# that leave a value of that type as it is (expression checks, ``int()`` of an
# int, ``to_python`` of a datetime); it calls the connection's adaptation as
# Django does, so it holds on both databases. ``test_statements`` checks each
# against Django, on both databases.
Short = Callable[[BaseDatabaseOperations, Field, Any], Any]


def _integer(ops: BaseDatabaseOperations, field: Field, value: int) -> Any:
    return ops.adapt_integerfield_value(value, field.get_internal_type())


def _datetime(ops: BaseDatabaseOperations, field: Field, value: datetime) -> Any:
    if value.utcoffset() is None:  # naive: Django warns and makes it aware
        return field.get_db_prep_save(value, connection=ops.connection)
    return ops.adapt_datetimefield_value(value)


def _json(ops: BaseDatabaseOperations, field: Field, value: Any) -> Any:
    return ops.adapt_json_value(value, field.encoder)  # type: ignore[attr-defined]


SHORT: dict[type[Field], dict[type, Short]] = {
    models.IntegerField: {int: _integer},
    models.BigIntegerField: {int: _integer},
    models.PositiveIntegerField: {int: _integer},
    models.DateTimeField: {datetime: _datetime},
    models.JSONField: {dict: _json, list: _json},
}


def _prepared(
    columns: _Columns, values: list[Any], ops: BaseDatabaseOperations
) -> list[Any]:
    params: list[Any] = []
    for field, plain, short, value in zip(
        columns.fields, columns.plain, columns.short, values, strict=True
    ):
        kind = type(value)
        if kind in plain:
            params.append(value)
        elif kind in short:
            params.append(short[kind](ops, field, value))
        elif str in plain and isinstance(value, str):
            params.append(value)  # a TextChoices member: Django keeps it as it is
        elif isinstance(value, RawSQL):
            params.extend(value.params)
        else:
            params.append(field.get_db_prep_save(value, connection=ops.connection))
    return params


def _same_kinds(mine: list[Any], compiled: list[Any]) -> bool:
    return len(mine) == len(compiled) and all(
        type(a) is type(b) for a, b in zip(mine, compiled, strict=True)
    )


class NamedParams:
    """The parameters of one statement built from parts with positional ``%s``
    placeholders, each distinct value named once: psycopg caches how it parses
    a statement only up to 50 parameters, and a statement of several rows
    repeats many values (the time, empty strings, ``NULL``)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._names: dict[tuple[type, Any], str] = {}

    def part(self, sql: str, params: list[Any]) -> str:
        """``sql`` (no literal ``%``) with its placeholders named."""
        values, known = self.values, self._names
        names = []
        for value in params:  # the hottest loop of a run's acceptance: inline
            key: tuple[type, Any] | None = (type(value), value)
            try:
                name = known.get(key)  # type: ignore[arg-type]
            except TypeError:  # unhashable (a JSON value): a name of its own
                key, name = None, None
            if name is None:
                name = f"%(p{len(values)})s"
                values[name[2:-2]] = value
                if key is not None:
                    known[key] = name
            names.append(name)
        return sql % tuple(names)


def model_from_row(
    model: type[M], values: Sequence[Any], attnames: tuple[str, ...] | None = None
) -> M:
    """An instance from a raw row of all of ``model``'s concrete columns, in
    field order, with the conversions a queryset would apply; with ``attnames``,
    a row of those fields only, in field order too (``columns_of`` renders
    them), the others deferred as ``only()`` leaves them."""
    names, conversions = conversions_of(model, attnames)
    converted = list(values)
    if len(converted) != len(names):
        raise ValueError(f"{len(converted)} values for {len(names)} columns")
    for i, col, converters in conversions:
        for convert in converters:
            converted[i] = convert(converted[i], col, connection)
    return model.from_db(connection.alias, names, converted)


def mark_saved(*rows: Model) -> None:
    """Marks ``rows`` as saved in the default database, as ``save()`` leaves
    them: for rows a statement of this module wrote."""
    for row in rows:
        row._state.adding, row._state.db = False, DEFAULT_DB_ALIAS


def columns_of(
    model: type[Model], attnames: tuple[str, ...] | None = None, alias: str = ""
) -> str:
    """The SQL column list of ``model``'s concrete fields (or of its fields
    ``attnames``), in field order, each qualified by the table ``alias`` when
    given: a row to read as ``model_from_row`` converts it."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{field.column}" for field in _fields(model, attnames))


def _fields(model: type[Model], attnames: tuple[str, ...] | None) -> list[Field]:
    """``model``'s concrete fields, or those named ``attnames``, in field order
    (the order ``Model.from_db`` takes values in)."""
    fields = list(model._meta.concrete_fields)
    if attnames is None:
        return fields
    unknown = set(attnames) - {field.attname for field in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
    return [field for field in fields if field.attname in attnames]


# Per connection (its operations' converters are bound to it), per model and
# set of fields: the field names and, for the fields that have any, the
# converters a queryset would apply, found once instead of for every row.
_Conversions = tuple[list[str], list[tuple[int, Any, list[Any]]]]
_CONVERSIONS: WeakKeyDictionary[
    BaseDatabaseWrapper, dict[tuple[type[Model], tuple[str, ...] | None], _Conversions]
]
_CONVERSIONS = WeakKeyDictionary()


def conversions_of(
    model: type[Model], attnames: tuple[str, ...] | None = None
) -> _Conversions:
    """The field names of ``model`` (all concrete ones, or ``attnames``) and
    their fields' converters (by position)."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    known = _CONVERSIONS.setdefault(wrapper, {})
    found = known.get((model, attnames))
    if found is None:
        fields = _fields(model, attnames)
        conversions = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            converters = wrapper.ops.get_db_converters(col) + col.get_db_converters(
                wrapper
            )
            if converters:
                conversions.append((i, col, converters))
        names = [f.attname for f in fields]
        found = known[(model, attnames)] = (names, conversions)
    return found
