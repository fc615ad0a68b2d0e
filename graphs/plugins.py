"""Build graphs from JSON definitions with a registry of node factories.

A node *plugin* is a factory registered under a type name with a JSON schema for its
config. :func:`build_graph` validates a definition (every error names its field, e.g.
``nodes[1].config.url``) and returns a :class:`~graphs.StateGraph`.

Definition format::

    {
      "name": "triage",
      "state": {"channels": {"messages": {"reducer": "add_messages"},
                             "route": {}}},
      "nodes": [{"id": "classify", "type": "llm", "config": {...},
                 "retry": {"max_attempts": 3}, "defer": false}],
      "edges": [{"source": "__start__", "target": "classify"},
                {"source": ["a", "b"], "target": "join"}],
      "conditional_edges": [{"source": "classify", "key": "route",
                             "map": {"bug": "fix", "other": "__end__"}}],
      "interrupt_before": [], "interrupt_after": []
    }

Reducers by name: ``add_messages``, ``append`` (list concatenation), ``merge``
(dict update), ``sum``; no reducer means last value. A conditional edge routes on
``state[key]`` through ``map``.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from graphs.errors import InvalidGraphError
from graphs.state import StateGraph
from graphs.types import END, START, RetryPolicy

__all__ = [
    "GraphDefinitionError",
    "NodePlugin",
    "NodePluginRegistry",
    "build_graph",
    "validate_schema",
]

NodeFactory = Callable[[dict[str, Any]], Callable[..., Any]]


class GraphDefinitionError(InvalidGraphError):
    """A JSON graph definition is invalid; ``errors`` lists ``"field: problem"``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid graph definition: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class NodePlugin:
    """A node type: its factory and the JSON schema of its config."""

    type_name: str
    factory: NodeFactory
    config_schema: dict[str, Any] = field(default_factory=dict)
    description: str = ""


class NodePluginRegistry:
    """Node factories by type name.

    Example:
        >>> registry = NodePluginRegistry()
        >>> @registry.register("const", config_schema={"type": "object",
        ...     "properties": {"value": {"type": "integer"}}, "required": ["value"]})
        ... def const(config):
        ...     return lambda state: {"n": config["value"]}
    """

    def __init__(self) -> None:
        self._plugins: dict[str, NodePlugin] = {}

    def register(
        self,
        type_name: str,
        factory: NodeFactory | None = None,
        *,
        config_schema: dict[str, Any] | None = None,
        description: str = "",
    ) -> Any:
        """Register ``factory`` under ``type_name`` (usable as a decorator).

        Raises:
            ValueError: If the type name is already registered.
        """

        def add(fn: NodeFactory) -> NodeFactory:
            if type_name in self._plugins:
                raise ValueError(f"node type {type_name!r} is already registered")
            self._plugins[type_name] = NodePlugin(
                type_name, fn, dict(config_schema or {}), description
            )
            return fn

        return add if factory is None else add(factory)

    def get(self, type_name: str) -> NodePlugin | None:
        """The plugin registered under ``type_name``, or ``None``."""
        return self._plugins.get(type_name)

    def types(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._plugins)

    def create(
        self, type_name: str, config: dict[str, Any], where: str = "config"
    ) -> Any:
        """Validate ``config`` and build a node action.

        Raises:
            GraphDefinitionError: If the type is unknown or the config is invalid.
        """
        plugin = self._plugins.get(type_name)
        if plugin is None:
            raise GraphDefinitionError([f"type: unknown node type {type_name!r}"])
        errors = validate_schema(config, plugin.config_schema, where)
        if errors:
            raise GraphDefinitionError(errors)
        return plugin.factory(config)


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate_schema(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Validate ``value`` against a JSON-schema subset; return ``"path: problem"``s.

    Supported keywords: ``type``, ``properties``, ``required``,
    ``additionalProperties`` (bool), ``items``, ``enum``, ``minimum``, ``maximum``,
    ``minLength``, ``minItems``.
    """
    errors: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        ok = any(
            isinstance(value, _TYPES[n])
            and not (n in ("integer", "number") and isinstance(value, bool))
            for n in names
        )
        if not ok:
            return [
                f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"
            ]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: must be one of {schema['enum']!r}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}.{key}: is required")
        for key, item in value.items():
            if key in props:
                errors += validate_schema(item, props[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}.{key}: is not allowed")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: needs at least {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate_schema(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        errors.append(f"{path}: shorter than {schema['minLength']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: must be <= {schema['maximum']}")
    return errors


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {**(a or {}), **(b or {})}


def _reducers() -> dict[str, Any]:
    from graphs.messages import add_messages

    return {
        "add_messages": add_messages,
        "append": operator.add,
        "merge": _merge,
        "sum": operator.add,
    }


_STR = {"type": "string", "minLength": 1}
_DEFINITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["state", "nodes", "edges"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "state": {
            "type": "object",
            "required": ["channels"],
            "properties": {"channels": {"type": "object"}},
        },
        "nodes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type"],
                "additionalProperties": False,
                "properties": {
                    "id": _STR,
                    "type": _STR,
                    "config": {"type": "object"},
                    "defer": {"type": "boolean"},
                    "retry": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "max_attempts": {"type": "integer", "minimum": 1},
                            "initial_interval": {"type": "number", "minimum": 0},
                            "backoff_factor": {"type": "number", "minimum": 1},
                            "max_interval": {"type": "number", "minimum": 0},
                            "jitter": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "edges": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "target"],
                "additionalProperties": False,
                "properties": {"source": {"type": ["string", "array"]}, "target": _STR},
            },
        },
        "conditional_edges": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "key", "map"],
                "additionalProperties": False,
                "properties": {
                    "source": _STR,
                    "key": _STR,
                    "map": {"type": "object"},
                    "default": _STR,
                },
            },
        },
        "interrupt_before": {"type": "array", "items": _STR},
        "interrupt_after": {"type": "array", "items": _STR},
    },
}


def _state_schema(channels: dict[str, Any], errors: list[str]) -> type:
    reducers = _reducers()
    fields: dict[str, Any] = {}
    for key, spec in channels.items():
        where = f"state.channels.{key}"
        if not isinstance(spec, dict):
            errors.append(f"{where}: expected object, got {type(spec).__name__}")
            continue
        name = spec.get("reducer")
        if name is None:
            fields[key] = Any
        elif name in reducers:
            base = {"merge": dict, "sum": float}.get(name, list)
            fields[key] = Annotated[base, reducers[name]]
        else:
            errors.append(f"{where}.reducer: unknown reducer {name!r}")
    return TypedDict("DefinedState", fields)  # type: ignore[operator,no-any-return]


def _router(key: str, mapping: dict[str, str], default: str | None) -> Any:
    def route(state: dict[str, Any]) -> str:
        value = state.get(key)
        target = mapping.get(str(value), default)
        return END if target is None else target

    return route


def build_graph(
    definition: str | bytes | dict[str, Any], registry: NodePluginRegistry
) -> StateGraph:
    """Build a :class:`StateGraph` from a JSON definition (see module docstring).

    Args:
        definition: The definition as JSON text or an already-parsed dict.
        registry: Node factories by type name.

    Returns:
        The builder; call ``.compile(...)`` on it. Compile-time options of the
        definition are stored in ``builder.definition_options``.

    Raises:
        GraphDefinitionError: Listing every problem as ``"field: problem"``.
    """
    if isinstance(definition, (str, bytes)):
        try:
            definition = json.loads(definition)
        except ValueError as exc:
            raise GraphDefinitionError([f"definition: invalid JSON ({exc})"]) from exc
    errors = validate_schema(definition, _DEFINITION_SCHEMA, "definition")
    if errors:
        raise GraphDefinitionError(errors)
    assert isinstance(definition, dict)
    schema = _state_schema(definition["state"]["channels"], errors)
    graph = StateGraph(schema)
    ids: set[str] = set()
    for i, node in enumerate(definition["nodes"]):
        where = f"nodes[{i}]"
        if node["id"] in ids:
            errors.append(f"{where}.id: duplicate node id {node['id']!r}")
            continue
        ids.add(node["id"])
        plugin = registry.get(node["type"])
        if plugin is None:
            errors.append(f"{where}.type: unknown node type {node['type']!r}")
            continue
        config = node.get("config", {})
        problems = validate_schema(config, plugin.config_schema, f"{where}.config")
        if problems:
            errors += problems
            continue
        retry = RetryPolicy(**node["retry"]) if "retry" in node else None
        try:
            graph.add_node(
                node["id"],
                plugin.factory(config),
                retry_policy=retry,
                defer=node.get("defer", False),
            )
        except InvalidGraphError as exc:
            errors.append(f"{where}.id: {exc}")
    known = ids | {START, END}
    for i, edge in enumerate(definition["edges"]):
        sources = (
            edge["source"] if isinstance(edge["source"], list) else [edge["source"]]
        )
        for src in sources:
            if src not in known:
                errors.append(f"edges[{i}].source: unknown node {src!r}")
        if edge["target"] not in known:
            errors.append(f"edges[{i}].target: unknown node {edge['target']!r}")
    for i, cond in enumerate(definition.get("conditional_edges", [])):
        if cond["source"] not in known:
            errors.append(
                f"conditional_edges[{i}].source: unknown node {cond['source']!r}"
            )
        for label, target in cond["map"].items():
            if target not in known:
                errors.append(
                    f"conditional_edges[{i}].map.{label}: unknown node {target!r}"
                )
    for opt in ("interrupt_before", "interrupt_after"):
        for i, name in enumerate(definition.get(opt, [])):
            if name not in ids and name != "*":
                errors.append(f"{opt}[{i}]: unknown node {name!r}")
    if errors:
        raise GraphDefinitionError(errors)
    for edge in definition["edges"]:
        graph.add_edge(edge["source"], edge["target"])
    for cond in definition.get("conditional_edges", []):
        graph.add_conditional_edges(
            cond["source"],
            _router(cond["key"], cond["map"], cond.get("default")),
            sorted(
                set(cond["map"].values())
                | ({cond["default"]} if "default" in cond else set())
            ),
        )
    try:
        graph.validate()
    except InvalidGraphError as exc:
        raise GraphDefinitionError([f"edges: {exc}"]) from exc
    graph.definition_options = {
        "interrupt_before": list(definition.get("interrupt_before", [])),
        "interrupt_after": list(definition.get("interrupt_after", [])),
        "name": definition.get("name"),
    }
    return graph
