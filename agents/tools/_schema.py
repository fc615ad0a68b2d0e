"""JSON Schema from Python type hints and Google docstrings, and a small validator.

The validator covers the subset models and tools actually use: ``type`` (incl. lists
of types), ``properties``/``required``/``additionalProperties``, ``items``,
``enum``/``const``, numeric and length bounds, ``pattern``, ``anyOf``/``oneOf``/
``allOf`` and local ``$ref`` into ``$defs``/``definitions`` (what pydantic emits).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = [
    "json_schema_for",
    "parse_google_docstring",
    "schema_from_function",
    "validate_json_schema",
]

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    dict: {"type": "object"},
    list: {"type": "array"},
    Any: {},
}


def json_schema_for(tp: Any) -> dict[str, Any]:
    """Return the JSON schema of a Python type annotation.

    Args:
        tp: A type: primitives, ``list[T]``, ``dict[str, T]``, ``tuple``,
            ``Literal``, unions/``Optional``, ``Enum``, ``TypedDict``, dataclasses,
            ``Annotated[T, "description"]`` and pydantic models.

    Returns:
        A JSON schema dict (``{}`` for ``Any``/unknown types).
    """
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        schema = json_schema_for(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            schema["description"] = notes[0]
        return schema
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [json_schema_for(a) for a in args]
        if all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
            return {"type": [o["type"] for o in options]}
        return {"anyOf": options}
    if origin in (list, set, frozenset, typing.Sequence, typing.Iterable):
        return {"type": "array", "items": json_schema_for(args[0]) if args else {}}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": json_schema_for(args[0])}
        return {"type": "array", "prefixItems": [json_schema_for(a) for a in args]}
    if origin in (dict, typing.Mapping):
        value = json_schema_for(args[1]) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value}
    if isinstance(tp, type):
        return _class_schema(tp)
    return {}


def _class_schema(tp: type) -> dict[str, Any]:
    if issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if hasattr(tp, "model_json_schema"):  # pydantic, without importing it
        return dict(tp.model_json_schema())
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        required = sorted(getattr(tp, "__required_keys__", hints))
        return _object(hints, required, tp.__doc__)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        required = [
            f.name
            for f in dataclasses.fields(tp)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        return _object(
            {f.name: hints[f.name] for f in dataclasses.fields(tp)}, required, None
        )
    return {}


def _object(
    hints: dict[str, Any], required: list[str], doc: str | None
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {k: json_schema_for(v) for k, v in hints.items()},
        "required": required,
    }
    if doc and not doc.startswith(("dict() ->", "TypedDict")):
        schema["description"] = inspect.cleandoc(doc).split("\n\n")[0]
    return schema


_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$"
)
_ARG = re.compile(r"^(\*{0,2}\w+)(?:\s*\(([^)]*)\))?:\s*(.*)$")


def parse_google_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into a description and argument docs.

    Args:
        doc: The docstring (may be ``None``).

    Returns:
        ``(description, {arg_name: description})``; the description is every line
        before the first section header.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines:
        header = _SECTION.match(line.strip())
        if header and not line.startswith(" "):
            section, current = header.group(1), None
            continue
        if section is None:
            description.append(line)
        elif section in ("Args", "Arguments", "Parameters") and line.strip():
            match = _ARG.match(line.strip())
            indent = len(line) - len(line.lstrip())
            if match and (current is None or indent <= 4):
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current is not None:
                args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(description).strip(), args


def schema_from_function(
    func: Callable[..., Any], *, skip: Callable[[str, Any], bool] | None = None
) -> tuple[dict[str, Any], str]:
    """Build the parameters schema of a function from its hints and docstring.

    Args:
        func: The function.
        skip: Predicate ``(name, annotation) -> bool`` for injected parameters that
            must not appear in the schema.

    Returns:
        ``(schema, description)``.
    """
    description, arg_docs = parse_google_docstring(func.__doc__)
    hints = typing.get_type_hints(func, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        if skip is not None and skip(name, annotation):
            continue
        prop = json_schema_for(annotation)
        if name in arg_docs and "description" not in prop:
            prop["description"] = arg_docs[name]
        if param.default is param.empty:
            required.append(name)
        elif _jsonable(param.default):
            prop["default"] = param.default
        properties[name] = prop
    schema = {"type": "object", "properties": properties, "required": required}
    return schema, description


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        isinstance(v, int)
        and not isinstance(v, bool)
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, (list, tuple)),
}


def validate_json_schema(
    instance: Any, schema: dict[str, Any], *, root: dict[str, Any] | None = None
) -> list[str]:
    """Validate ``instance`` against ``schema``.

    Args:
        instance: Decoded JSON value.
        schema: The schema.
        root: Document used to resolve ``$ref`` (defaults to ``schema``).

    Returns:
        Error strings like ``"$.items[0].qty: expected integer"``; empty if valid.
    """
    errors: list[str] = []
    _check(instance, schema, root or schema, "$", errors)
    return errors


def _check(
    value: Any, schema: Any, root: dict[str, Any], path: str, out: list[str]
) -> None:
    if schema is True or schema == {} or not isinstance(schema, dict):
        if schema is False:
            out.append(f"{path}: no value allowed")
        return
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, path, out)
    expected = schema.get("type")
    if expected is not None:
        kinds = expected if isinstance(expected, list) else [expected]
        if not any(_TYPE_CHECKS.get(k, lambda _: True)(value) for k in kinds):
            out.append(f"{path}: expected {' or '.join(kinds)}, got {_kind(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: expected {schema['const']!r}")
    _check_combinators(value, schema, root, path, out)
    if isinstance(value, dict):
        _check_object(value, schema, root, path, out)
    elif isinstance(value, (list, tuple)):
        _check_array(list(value), schema, root, path, out)
    elif isinstance(value, str):
        _check_string(value, schema, path, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, path, out)


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPE_CHECKS[name](value):
            return name
    return type(value).__name__


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        if not part:
            continue
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
    return node


def _check_combinators(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, out: list[str]
) -> None:
    for sub in schema.get("allOf", []):
        _check(value, sub, root, path, out)
    if "anyOf" in schema:
        results = [validate_json_schema(value, s, root=root) for s in schema["anyOf"]]
        if all(results):
            out.append(f"{path}: matches none of anyOf ({results[0][0]})")
    if "oneOf" in schema:
        passing = sum(
            not validate_json_schema(value, s, root=root) for s in schema["oneOf"]
        )
        if passing != 1:
            out.append(f"{path}: must match exactly one of oneOf (matched {passing})")


def _check_object(
    value: dict[str, Any],
    schema: dict[str, Any],
    root: dict[str, Any],
    path: str,
    out: list[str],
) -> None:
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            out.append(f"{path}: missing required property {name!r}")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            _check(item, props[key], root, f"{path}.{key}", out)
        elif extra is False:
            out.append(f"{path}: unexpected property {key!r}")
        elif isinstance(extra, dict):
            _check(item, extra, root, f"{path}.{key}", out)


def _check_array(
    value: list[Any],
    schema: dict[str, Any],
    root: dict[str, Any],
    path: str,
    out: list[str],
) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(f"{path}: expected at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(f"{path}: expected at most {schema['maxItems']} items")
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items", {})
        _check(item, sub, root, f"{path}[{i}]", out)


def _check_string(
    value: str, schema: dict[str, Any], path: str, out: list[str]
) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(f"{path}: longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{path}: does not match {schema['pattern']!r}")


def _check_number(
    value: float, schema: dict[str, Any], path: str, out: list[str]
) -> None:
    bounds: tuple[tuple[str, Callable[[float], bool], str], ...] = (
        ("minimum", lambda b: value < b, "<"),
        ("maximum", lambda b: value > b, ">"),
        ("exclusiveMinimum", lambda b: value <= b, "<="),
        ("exclusiveMaximum", lambda b: value >= b, ">="),
    )
    for key, fails, op in bounds:
        bound = schema.get(key)
        if (
            isinstance(bound, (int, float))
            and not isinstance(bound, bool)
            and fails(bound)
        ):
            out.append(f"{path}: {value} {op} {key} {bound}")
