"""Checking a run's input against its graph's input schema at submission, so an
input the graph cannot take is a 400 naming the field, not a node's ``KeyError``
minutes later.

What is checked, by schema kind (the graph's ``input_schema``, else its state
schema; a ``dict`` schema takes anything):

- every kind: the input is a JSON object and names only keys of the schema;
- keys without a reducer: the value has the annotated type, where that type is a
  JSON one (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, ``None``,
  ``Literal``, unions of those); reduced keys take updates of their reducer's
  own shapes (``add_messages`` takes a string), so they are not type-checked;
- required keys: a dataclass's fields without a default; a pydantic model is
  validated whole; a ``TypedDict`` requires only the keys it marks required
  explicitly (``total=False`` with ``Required[...]``), since LangGraph programs
  pass partial state as input.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Literal, Union

from runtime.errors import InvalidArgument

_JSON_TYPES: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
    list: (list,),
    dict: (dict,),
    type(None): (type(None),),
}


UNKNOWN = "is not in the graph's input schema"
# The reference's input when a run request has none: a human message.
DEFAULT_INPUT = "API run"


def input_default(graph: Any) -> Any:
    """The input of a run submitted without one: the reference's ``"API run"``
    message for a graph that takes messages, an empty update otherwise."""
    schema = _input_schema(graph)
    if schema is None or "messages" in _hints(schema):
        return DEFAULT_INPUT
    return {}


def input_fields(graph: Any) -> list[tuple[str, str, bool]] | None:
    """The keys of a graph's input schema as ``(key, type described, required)``,
    for people choosing an input; ``None`` when the graph takes any input."""
    schema = _input_schema(graph)
    if schema is None:
        return None
    if hasattr(schema, "model_fields"):  # pydantic
        return [
            (key, _describe(field.annotation), field.is_required())
            for key, field in schema.model_fields.items()
        ]
    hints = _hints(schema)
    required = set(_required(schema, hints))
    return [(key, _describe(hint), key in required) for key, hint in hints.items()]


def input_check(graph: Any, value: Any, *, name: str) -> None:
    """Raises ``InvalidArgument`` (fields under ``details.fields``) unless
    ``value`` fits the input schema of ``graph``, registered as ``name``."""
    schema = _input_schema(graph)
    if schema is None:
        return
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"input of graph {name!r} must be a JSON object",
            details={"fields": {"input": "must be a JSON object"}},
        )
    fields = _field_errors(schema, value)
    if fields:
        first = next(iter(fields))
        raise InvalidArgument(
            f"input does not fit graph {name!r}: {first} {fields[first]}",
            details={"fields": {f"input.{k}": error for k, error in fields.items()}},
        )


def _input_schema(graph: Any) -> Any:
    return _schema(graph, "input_schema")


def _schema(graph: Any, kind: str) -> Any:
    builder = getattr(graph, "builder", None)
    if builder is None:
        return None
    schema = getattr(builder, kind, None)
    return None if schema is dict else schema


def json_schema(graph: Any, kind: str = "input_schema") -> dict[str, Any]:
    """The JSON schema of a graph's ``input_schema`` or ``output_schema``: an
    object of the schema's keys, their JSON types where the hints name JSON
    types (``{}``, anything, otherwise), and the keys ``input_check`` requires;
    ``{"type": "object"}`` for a graph whose schema takes any keys."""
    schema = _schema(graph, kind)
    if schema is None:
        return {"type": "object"}
    if hasattr(schema, "model_json_schema"):  # pydantic
        return dict(schema.model_json_schema())
    hints = _hints(schema)
    found: dict[str, Any] = {
        "type": "object",
        "title": getattr(schema, "__name__", kind),
        "properties": {key: _hint_schema(hint) for key, hint in hints.items()},
        "additionalProperties": False,
    }
    required = _required(schema, hints)
    if required:
        found["required"] = required
    return found


_JSON_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_JSON_NAMES |= {list: "array", dict: "object", type(None): "null"}


def _hint_schema(hint: Any) -> dict[str, Any]:
    """One key's JSON schema, from its type hint (the rules ``_fits`` checks)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(hint)
        if any(callable(m) and not isinstance(m, type) for m in meta):
            return {}  # a reducer: it takes its own update shapes
        return _hint_schema(base)
    if origin in (typing.Required, typing.NotRequired):
        return _hint_schema(typing.get_args(hint)[0])
    if origin in (Union, types.UnionType):
        variants = [_hint_schema(arg) for arg in typing.get_args(hint)]
        return {} if {} in variants else {"anyOf": variants}
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    name = _JSON_NAMES.get(origin or hint)
    return {"type": name} if name else {}


@functools.cache
def _hints(schema: Any) -> dict[str, Any]:
    """A schema's keys and their annotations (read once per schema: resolving
    them is the costly part of a check)."""
    hints = typing.get_type_hints(schema, include_extras=True)
    return {k: v for k, v in hints.items() if not k.startswith("__")}


def _field_errors(schema: Any, value: dict[str, Any]) -> dict[str, str]:
    if hasattr(schema, "model_validate"):  # pydantic
        return _pydantic_errors(schema, value)
    hints = _hints(schema)
    errors = {key: UNKNOWN for key in value if key not in hints}
    for key in _required(schema, hints):
        if key not in value:
            errors[key] = "is required"
    for key, item in value.items():
        hint = hints.get(key)
        if hint is not None and not _fits(item, hint):
            errors[key] = f"must be {_describe(hint)}"
    return errors


def _required(schema: Any, hints: dict[str, Any]) -> list[str]:
    if dataclasses.is_dataclass(schema):
        return [
            f.name
            for f in dataclasses.fields(schema)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
    if typing.is_typeddict(schema) and not schema.__total__:
        # From the hints: ``__required_keys__`` misses ``Required[...]`` written
        # as a string (postponed annotations) on Python 3.11.
        return [k for k, h in hints.items() if typing.get_origin(h) is typing.Required]
    return []


def _pydantic_errors(schema: Any, value: dict[str, Any]) -> dict[str, str]:
    fields = getattr(schema, "model_fields", {})
    errors = {key: UNKNOWN for key in value if key not in fields}
    try:
        schema.model_validate(value)
    except ValueError as exc:  # pydantic's ValidationError
        for error in getattr(exc, "errors", list)():
            loc = ".".join(str(part) for part in error.get("loc", ())) or "input"
            errors.setdefault(loc, error.get("msg", "is not valid"))
    return errors


def _fits(item: Any, hint: Any) -> bool:
    """Whether ``item`` has type ``hint``; ``True`` for types that are not JSON
    ones or that carry a reducer (checked by the graph itself)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(hint)
        if any(callable(m) and not isinstance(m, type) for m in meta):
            return True  # a reducer: it takes its own update shapes
        return _fits(item, base)
    if origin in (Union, types.UnionType):
        return any(_fits(item, arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return item in typing.get_args(hint)
    if origin in (typing.Required, typing.NotRequired):
        return _fits(item, typing.get_args(hint)[0])
    accepted = _JSON_TYPES.get(origin or hint)
    if accepted is None:
        return True  # not a JSON type: the graph decides
    if isinstance(item, bool) and bool not in accepted:
        return False  # JSON true is not a number
    return isinstance(item, accepted)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Annotated, typing.Required, typing.NotRequired):
        return _describe(typing.get_args(hint)[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(origin or hint, str(hint))
