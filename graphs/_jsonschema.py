"""JSON schemas of a graph's input, output and context, as LangGraph gives them.

LangGraph asks pydantic: a pydantic model's own ``model_json_schema()``, a
``TypedDict`` through a ``TypeAdapter``, and for any other state (a dataclass) a
model named ``<graph name>Input`` / ``Output`` built from the state's channels.
``graphs`` imports no pydantic: a pydantic model still gives its own schema, and
the rest is written here in pydantic's shape (titles, ``$defs`` and ``$ref``,
``anyOf`` for unions, ``prefixItems`` for tuples, defaults).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import inspect
import types
import typing
import uuid
from typing import Any, get_args, get_origin

from graphs.channels import ROOT

__all__ = ["config_schema", "context_schema", "state_schema", "type_schema"]

_SCALARS: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    bytes: {"type": "string", "format": "binary"},
    dt.datetime: {"type": "string", "format": "date-time"},
    dt.date: {"type": "string", "format": "date"},
    dt.time: {"type": "string", "format": "time"},
    dt.timedelta: {"type": "string", "format": "duration"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    decimal.Decimal: {"anyOf": [{"type": "number"}, {"type": "string"}]},
}
_NO_DEFAULT: Any = ...


def state_schema(schema: Any, title: str) -> dict[str, Any]:
    """The JSON schema of a state (input or output) schema.

    Args:
        schema: The state's ``TypedDict``, pydantic model, dataclass, or
            ``Annotated`` root type.
        title: The title of a schema LangGraph would build (``LangGraphInput``).
    """
    own = _pydantic(schema)
    if own is not None:
        return own
    builder = _Builder()
    if is_typeddict(schema):
        return builder.document(schema)
    hints = _hints(schema)
    if get_origin(schema) is typing.Annotated:
        hints = {ROOT: schema}
    if set(hints) == {ROOT}:  # LangGraph's RootModel: the value under "root"
        props = {"root": {**builder.of(hints[ROOT]), "default": None, "title": "Root"}}
        return builder.wrap({"properties": props, "title": title, "type": "object"})
    props, required = {}, []
    for name, hint in hints.items():
        default = _default(schema, name, hint)
        prop = builder.titled(hint, name)
        if default is _NO_DEFAULT:
            required.append(name)
        else:
            prop["default"] = builder.value(default)
        props[name] = prop
    out: dict[str, Any] = {"properties": props, "title": title, "type": "object"}
    if required:
        out["required"] = required
    return builder.wrap(out)


def context_schema(schema: Any) -> dict[str, Any] | None:
    """The JSON schema of a context schema (``None`` for none).

    Raises:
        ValueError: If the schema is not a pydantic model, TypedDict or dataclass.
    """
    if schema is None:
        return None
    own = _pydantic(schema)
    if own is not None:
        return own
    if is_typeddict(schema) or dataclasses.is_dataclass(schema):
        return _Builder().document(schema)
    raise ValueError(
        f"Invalid context schema type: {schema}. Must be a BaseModel, TypedDict "
        "or dataclass."
    )


def config_schema(schema: Any, title: str) -> dict[str, Any]:
    """The JSON schema of a graph's config: its context schema (if any) as
    ``configurable``, which LangGraph gives as a ``$ref`` to a definition.

    Args:
        schema: The builder's context schema, or ``None``.
        title: The schema's title (``LangGraphConfig``, ``agent_config``).
    """
    out: dict[str, Any] = {"properties": {}, "title": title, "type": "object"}
    context = context_schema(schema)
    if context is None:
        return out
    defs = context.pop("$defs", {})
    name = context["title"]
    out["properties"]["configurable"] = {"$ref": f"#/$defs/{name}", "default": None}
    return {"$defs": {name: context, **defs}, **out}


def type_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of a type, as pydantic's ``TypeAdapter(hint).json_schema()``
    gives it (a pydantic model's own; a class's properties at the top)."""
    builder = _Builder()
    own = _pydantic(hint)
    if own is not None:
        return own
    if is_typeddict(hint) or dataclasses.is_dataclass(hint):
        return builder.document(hint)
    return builder.wrap(builder.of(hint))


def is_typeddict(schema: Any) -> bool:
    """A ``TypedDict`` of ``typing`` or of ``typing_extensions``."""
    return typing.is_typeddict(schema) or (
        inspect.isclass(schema)
        and issubclass(schema, dict)
        and hasattr(schema, "__required_keys__")
    )


def _pydantic(schema: Any) -> dict[str, Any] | None:
    make = getattr(schema, "model_json_schema", None)
    if inspect.isclass(schema) and callable(make):
        return dict(make())
    return None


def _hints(schema: Any) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except Exception:
        return {}
    return {k: v for k, v in hints.items() if not k.startswith("__")}


def _title(name: str) -> str:
    return name.title().replace("_", " ")


_WRAPPERS = ("Required", "NotRequired", "ReadOnly")


def _strip(hint: Any) -> Any:
    """``hint`` without ``Annotated``, ``Required``, ``NotRequired``, ``ReadOnly``."""
    while True:
        origin = get_origin(hint)
        wrapper = (
            origin is typing.Annotated or getattr(origin, "_name", "") in _WRAPPERS
        )
        if origin is None or not wrapper:
            return hint
        hint = get_args(hint)[0]


def _required(hint: Any, default: bool) -> bool:
    """Whether a TypedDict key is required: ``Required[...]`` /
    ``NotRequired[...]`` on its hint, else ``default`` (the class's totality)."""
    while get_origin(hint) is typing.Annotated:
        hint = get_args(hint)[0]
    marker = getattr(get_origin(hint), "_name", "")
    if marker in ("Required", "NotRequired"):
        return marker == "Required"
    return default


def _optional(hint: Any) -> bool:
    hint = _strip(hint)
    if get_origin(hint) in (typing.Union, types.UnionType):
        return any(a is type(None) or _optional(a) for a in get_args(hint))
    return False


def _default(schema: Any, name: str, hint: Any) -> Any:
    """LangGraph's default of a key of a built schema (``...``: required)."""
    if dataclasses.is_dataclass(schema):
        for f in dataclasses.fields(schema):
            if f.name == name:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
    return None if _optional(hint) else _NO_DEFAULT


class _Builder:
    """Schemas of types, collecting nested classes under ``$defs``."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}

    def wrap(self, out: dict[str, Any]) -> dict[str, Any]:
        return {"$defs": self.defs, **out} if self.defs else out

    def document(self, cls: Any) -> dict[str, Any]:
        """The schema of a class at the top (its nested classes in ``$defs``)."""
        return self.wrap(self.object(cls))

    def object(self, cls: Any) -> dict[str, Any]:
        own = _pydantic(cls)
        if own is not None:
            self.defs.update(own.pop("$defs", {}))
            return own
        hints = _hints(cls)
        optional: frozenset[str] = getattr(cls, "__optional_keys__", frozenset())
        fields = (
            {f.name: f for f in dataclasses.fields(cls)}
            if dataclasses.is_dataclass(cls)
            else {}
        )
        props, required = {}, []
        for name, hint in hints.items():
            prop = self.titled(hint, name)
            field = fields.get(name)
            if field is not None and field.default is not dataclasses.MISSING:
                prop["default"] = self.value(field.default)
            elif field is not None and field.default_factory is not dataclasses.MISSING:
                pass  # pydantic shows no default for a factory
            elif _required(hint, name not in optional):
                required.append(name)
            props[name] = prop
        out: dict[str, Any] = {}
        doc, name = cls.__doc__, str(cls.__name__)
        if doc and not (dataclasses.is_dataclass(cls) and doc.startswith(name + "(")):
            out["description"] = inspect.cleandoc(doc)
        out.update(properties=props)
        if required:
            out["required"] = required
        out.update(title=cls.__name__, type="object")
        return out

    def titled(self, hint: Any, name: str) -> dict[str, Any]:
        """The schema of a key: its type's, titled (a ``$ref`` is not)."""
        out = self.of(hint)
        return out if "$ref" in out else {**out, "title": _title(name)}

    def ref(self, cls: Any, make: Any) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.defs:
            self.defs[name] = {}  # reserved first: a class may refer to itself
            self.defs[name] = make(cls)
        return {"$ref": f"#/$defs/{name}"}

    def of(self, hint: Any) -> dict[str, Any]:
        """The schema of a type hint."""
        hint = _strip(hint)
        if hint is Any or hint is object:
            return {}
        scalar = _SCALARS.get(hint)
        if scalar is not None:
            return dict(scalar)
        origin, args = get_origin(hint), get_args(hint)
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.of(a) for a in args]}
        if origin is typing.Literal:
            return _literal(args)
        if inspect.isclass(hint):
            if issubclass(hint, enum.Enum):
                return self.ref(hint, _enum)
            if is_typeddict(hint) or dataclasses.is_dataclass(hint) or _pydantic(hint):
                return self.ref(hint, self.object)
        return self.container(origin or hint, args)

    def container(self, origin: Any, args: tuple[Any, ...]) -> dict[str, Any]:
        if origin in (list, typing.Sequence, set, frozenset):
            out: dict[str, Any] = {
                "items": self.of(args[0]) if args else {},
                "type": "array",
            }
            if origin in (set, frozenset):
                out["uniqueItems"] = True
            return out
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"items": self.of(args[0]), "type": "array"}
            if not args:
                return {"items": {}, "type": "array"}
            items = [self.of(a) for a in args]
            n = len(items)
            return {"maxItems": n, "minItems": n, "prefixItems": items, "type": "array"}
        if origin in (dict, typing.Mapping):
            values = self.of(args[1]) if len(args) == 2 else True
            return {"additionalProperties": values, "type": "object"}
        return {}

    def value(self, value: Any) -> Any:
        """A default as JSON."""
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        return value


def _literal(args: tuple[Any, ...]) -> dict[str, Any]:
    values = [a.value if isinstance(a, enum.Enum) else a for a in args]
    types_ = {type(v) for v in values}
    out: dict[str, Any] = {"const": values[0]} if len(values) == 1 else {"enum": values}
    if len(types_) == 1:
        kind = _SCALARS.get(types_.pop(), {}).get("type")
        if kind is not None:
            out["type"] = kind
    return out


def _enum(cls: type[enum.Enum]) -> dict[str, Any]:
    values = [m.value for m in cls]
    out: dict[str, Any] = {"enum": values, "title": cls.__name__}
    kinds = {type(v) for v in values}
    if len(kinds) == 1:
        kind = _SCALARS.get(kinds.pop(), {}).get("type")
        if kind is not None:
            out["type"] = kind
    if cls.__doc__ and cls.__doc__ != "An enumeration.":
        out["description"] = inspect.cleandoc(cls.__doc__)
    return out
