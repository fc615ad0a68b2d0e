"""SQL of model rows for the few hot paths written as one statement on PostgreSQL.

The columns, placeholders and parameters come from Django's own insert compiler,
so a model's fields stay declared once; a value may be an expression, such as a
reference to the id another part of the same statement returned.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model
from django.db.models.sql import InsertQuery


def insert_sql(obj: Model) -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<columns>) VALUES (...)`` of unsaved ``obj`` (an
    auto-incremented primary key left to the database) and its parameters."""
    opts = obj._meta
    fields = [f for f in opts.local_concrete_fields if not f.generated]
    if opts.auto_field is not None and getattr(obj, opts.auto_field.attname) is None:
        fields.remove(opts.auto_field)
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    [(sql, params)] = query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
    return sql, list(params)


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
