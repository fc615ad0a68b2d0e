"""``interrupt(response_schema=...)``: the schema shown on the interrupt, and the
resume value checked against it, as LangGraph does with pydantic.

A JSON schema ``dict`` is shown as it is and checks nothing. A type (a pydantic
model, ``TypedDict``, dataclass, or any type pydantic knows) is shown as its JSON
schema and validates the resume value: with pydantic's ``TypeAdapter`` when
pydantic is installed (imported only then, so ``graphs`` itself still needs only
the standard library), else with the plain checks of :func:`_plain`.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

__all__ = ["json_schema", "validate"]


def json_schema(schema: Any) -> dict[str, Any]:
    """The JSON schema an interrupt shows for ``response_schema``."""
    if isinstance(schema, dict):
        return schema
    from graphs._jsonschema import type_schema

    return type_schema(schema)


def validate(schema: Any, value: Any) -> Any:
    """``value`` validated against the type ``schema`` (and converted: a dict
    becomes the dataclass or model).

    Raises:
        ValueError: When it does not match (pydantic's ``ValidationError`` is
            one).
    """
    own = getattr(schema, "model_validate", None)
    if callable(own):  # a pydantic model: pydantic is there
        return own(value)
    try:
        from pydantic import TypeAdapter
    except ImportError:
        return _plain(schema, value)
    return TypeAdapter(schema).validate_python(value)


def _plain(schema: Any, value: Any) -> Any:
    """Without pydantic: a dataclass is built from a dict of its fields, a
    ``TypedDict`` needs a dict with its required keys, any other class an
    instance of it."""
    if dataclasses.is_dataclass(schema) and isinstance(schema, type):
        if isinstance(value, schema):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected {schema.__name__} or a dict, got {value!r}")
        try:
            return schema(**value)
        except TypeError as exc:
            raise ValueError(f"invalid {schema.__name__}: {exc}") from None
    if typing.is_typeddict(schema):
        missing = set(getattr(schema, "__required_keys__", ())) - set(
            value if isinstance(value, dict) else ()
        )
        if not isinstance(value, dict) or missing:
            raise ValueError(f"invalid {schema.__name__}: {value!r}")
        return value
    if isinstance(schema, type) and not isinstance(value, schema):
        raise ValueError(f"expected {schema.__name__}, got {value!r}")
    return value
