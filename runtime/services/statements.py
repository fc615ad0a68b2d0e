"""SQL of model rows for the few hot paths written as one statement on PostgreSQL.

The columns, placeholders and parameters come from Django's own insert compiler,
so a model's fields stay declared once; a value may be an expression, such as a
reference to the id another part of the same statement returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery

M = TypeVar("M", bound=Model)


def insert_sql(obj: Model) -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<columns>) VALUES (...)`` of unsaved ``obj`` (an
    auto-incremented primary key left to the database) and its parameters.

    The text is compiled once per model, set of columns and shape of its
    expressions (a ``RawSQL`` value); later calls only prepare the values, as
    the compiler does (``pre_save``, then ``get_db_prep_save``)."""
    opts = obj._meta
    fields = [f for f in opts.local_concrete_fields if not f.generated]
    if opts.auto_field is not None and getattr(obj, opts.auto_field.attname) is None:
        fields.remove(opts.auto_field)
    values = [f.pre_save(obj, True) for f in fields]
    shape = tuple(
        (v.sql, tuple(v.params)) if isinstance(v, RawSQL) else None for v in values
    )
    key = (type(obj), tuple(f.attname for f in fields), shape, connection.vendor)
    sql = _INSERTS.get(key)
    if sql is not None:
        return sql, _prepared(fields, values)
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    [(sql, compiled)] = query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
    params = list(compiled)
    cacheable = all(
        v is None or isinstance(v, RawSQL) for v in values if hasattr(v, "as_sql")
    ) and not any(hasattr(f, "get_placeholder") for f in fields)
    if cacheable and _same_kinds(_prepared(fields, values), params):
        _INSERTS[key] = sql
    return sql, params


# Compiled insert texts (``insert_sql``); a key whose values the compiler would
# prepare in another way than ``_prepared`` is never stored.
_INSERTS: dict[tuple[Any, ...], str] = {}


def _prepared(fields: list[Any], values: list[Any]) -> list[Any]:
    params: list[Any] = []
    for field, value in zip(fields, values, strict=True):
        if isinstance(value, RawSQL):
            params.extend(value.params)
        else:
            params.append(field.get_db_prep_save(value, connection=connection))
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
        return sql % tuple(self._name(value) for value in params)

    def _name(self, value: Any) -> str:
        key: tuple[type, Any] | None = (type(value), value)
        try:
            known = self._names.get(key)  # type: ignore[arg-type]
        except TypeError:  # unhashable (a JSON value): a name of its own
            key, known = None, None
        if known is not None:
            return known
        name = f"%(p{len(self.values)})s"
        self.values[name[2:-2]] = value
        if key is not None:
            self._names[key] = name
        return name


def model_from_row(model: type[M], values: Sequence[Any]) -> M:
    """An instance from a raw row of all of ``model``'s concrete columns, in
    field order, with the conversions a queryset would apply."""
    attnames, conversions = conversions_of(model)
    converted = list(values)
    if len(converted) != len(attnames):
        raise ValueError(f"{len(converted)} values for {len(attnames)} columns")
    for i, col, converters in conversions:
        for convert in converters:
            converted[i] = convert(converted[i], col, connection)
    return model.from_db(connection.alias, attnames, converted)


# Per connection (its operations' converters are bound to it), per model: the
# field names and, for the fields that have any, the converters a queryset
# would apply, found once instead of for every row.
_Conversions = tuple[list[str], list[tuple[int, Any, list[Any]]]]
_CONVERSIONS: WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], _Conversions]]
_CONVERSIONS = WeakKeyDictionary()


def conversions_of(model: type[Model]) -> _Conversions:
    """``model``'s field names, and its fields' converters (by position)."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    known = _CONVERSIONS.setdefault(wrapper, {})
    found = known.get(model)
    if found is None:
        fields = model._meta.concrete_fields
        conversions = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            converters = wrapper.ops.get_db_converters(col) + col.get_db_converters(
                wrapper
            )
            if converters:
                conversions.append((i, col, converters))
        found = known[model] = ([f.attname for f in fields], conversions)
    return found
