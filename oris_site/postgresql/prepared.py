"""Prepared statements for the few hot statements that ask for them.

A statement whose text is a ``str`` subclass with a true ``prepare_on_server``
class attribute (``runtime.services.statements.Prepared``) is prepared once per
connection (``PREPARE``) and then sent as ``EXECUTE name(args)``: PostgreSQL
parses and plans it once instead of on every run, which for the worker's large
data-modifying CTEs (a claim, a checkpoint, a completion) is most of the
server's work. It happens below Django's cursor wrapper, so execute wrappers,
logs and tests see the statement's own text and parameters; a statement is
still one round trip (its first run sends ``PREPARE ...; EXECUTE ...`` in one
query). Parameters keep the types their literals would have had: a string or
``None`` is left for PostgreSQL to infer from its context (at each of its
uses), other values get their SQL type; a statement with a parameter of
another kind runs unprepared.
``OPTIONS["prepare"] = False`` (``ORIS_DB_PREPARE=false``, needed behind a
transaction-pooling PgBouncer) runs every statement unprepared.
"""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg.types.json import Json, Jsonb
from psycopg.types.numeric import Int2, Int4, Int8

# The SQL type a parameter is declared with, by its Python type; ``unknown`` is
# inferred from the parameter's context, as a literal's type is.
_TYPES: dict[type, str] = {
    str: "unknown",
    type(None): "unknown",
    bool: "boolean",
    int: "bigint",
    # Django's adaptation of an integer field's value (its column's type)
    Int2: "smallint",
    Int4: "integer",
    Int8: "bigint",
    float: "double precision",
    Decimal: "numeric",
    bytes: "bytea",
    bytearray: "bytea",
    memoryview: "bytea",
    datetime.date: "date",
    uuid.UUID: "uuid",
    Jsonb: "jsonb",
    Json: "json",
}
_PLACEHOLDER = re.compile(r"%%|%(?:\((\w+)\))?s")
MAX_STATEMENTS = 256  # prepared per connection; more run unprepared


def _type_of(value: Any) -> str | None:
    if type(value) is datetime.datetime:
        return "timestamptz" if value.tzinfo is not None else "timestamp"
    found = _TYPES.get(type(value))
    if found is None and isinstance(value, str):  # a TextChoices member
        return "unknown"
    return found


class _Session:
    """The statements prepared on one connection (kept on it, so that they go
    with it): by text and parameters' Python types, the ``EXECUTE`` to send."""

    def __init__(self) -> None:
        self.executes: dict[tuple[str, tuple[type, ...]], str] = {}
        self.made = 0


SESSION = "_oris_prepared"  # the attribute of a connection that holds its _Session


def _forms(query: str, params: Any) -> tuple[str, list[str], tuple[str, ...]] | None:
    """The body of the ``PREPARE`` (``$n`` for each parameter), the placeholders
    of its ``EXECUTE``'s arguments and the parameters' types; ``None`` when a
    parameter has a type this module does not declare."""
    names: dict[str, int] = {}
    args: list[str] = []
    types: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%%"
        name = match.group(1)
        if name is None:
            value = params[len(args)]
            placeholder = "%s"
        elif name in names:
            return f"${names[name]}"
        else:
            value = params[name]
            placeholder = f"%({name})s"
        kind = _type_of(value)
        if kind is None:
            raise LookupError(name)
        # An inferred parameter used twice is two: its uses may infer two types
        # (one NULL given to a bigint column and to a jsonb one).
        if name is not None and kind != "unknown":
            names[name] = len(args) + 1
        args.append(placeholder)
        types.append(kind)
        return f"${len(args)}"

    try:
        body = _PLACEHOLDER.sub(number, query)
    except LookupError:
        return None
    return body, args, tuple(types)


class PreparingCursor(base.Cursor):  # type: ignore[name-defined]
    """Django's client-side binding cursor; prepares the statements that ask."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if not getattr(query, "prepare_on_server", False) or kwargs:
            return super().execute(query, params, **kwargs)
        session = getattr(self.connection, SESSION, None)
        if session is None:
            session = _Session()
            setattr(self.connection, SESSION, session)
        values = params if params is not None else ()
        # by the parameters' Python types (one C-level pass per call)
        key = (query, tuple(map(type, _values(values))))
        execute = session.executes.get(key)
        if execute == "":  # a parameter of a type not declared here
            return super().execute(query, params)
        if execute is not None:
            try:
                return super().execute(execute, params)
            except psycopg.errors.InvalidSqlStatementName:
                session.executes.clear()  # gone (a DISCARD): prepared anew next time
                raise
        if session.made >= MAX_STATEMENTS:
            return super().execute(query, params)
        forms = _forms(str(query), values)
        if forms is None:
            session.executes[key] = ""
            return super().execute(query, params)
        body, args, types = forms
        # A name is used once: if this run fails, whether its PREPARE took is
        # unknown, and the next run prepares under a new name.
        session.made += 1
        name = f"oris_{session.made}"
        execute = f"EXECUTE {name}({', '.join(args)})" if args else f"EXECUTE {name}"
        declared = f"({', '.join(types)})" if types else ""
        super().execute(f"PREPARE {name}{declared} AS {body}; {execute}", params)
        self.nextset()  # the EXECUTE's result
        session.executes[key] = execute
        return self


def _values(params: Any) -> Any:
    return params.values() if isinstance(params, dict) else params
