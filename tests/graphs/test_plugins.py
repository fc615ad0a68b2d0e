"""NodePluginRegistry and build_graph: JSON definitions, errors naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphs.checkpoint import InMemorySaver
from graphs.plugins import GraphDefinitionError, NodePluginRegistry, build_graph


@pytest.fixture
def registry() -> NodePluginRegistry:
    registry = NodePluginRegistry()

    @registry.register(
        "say",
        config_schema={
            "type": "object",
            "properties": {"text": {"type": "string"}, "route": {"type": "string"}},
            "required": ["text"],
            "additionalProperties": False,
        },
    )
    def say(config: dict[str, Any]) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            update: dict[str, Any] = {"log": [config["text"]]}
            if "route" in config:
                update["route"] = config["route"]
            return update

        return node

    return registry


def definition(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "demo",
        "state": {"channels": {"log": {"reducer": "append"}, "route": {}}},
        "nodes": [
            {"id": "hello", "type": "say", "config": {"text": "hi", "route": "loud"}},
            {"id": "loud", "type": "say", "config": {"text": "HI"}},
            {"id": "quiet", "type": "say", "config": {"text": "hi."}},
        ],
        "edges": [{"source": "__start__", "target": "hello"}],
        "conditional_edges": [
            {
                "source": "hello",
                "key": "route",
                "map": {"loud": "loud", "quiet": "quiet"},
            }
        ],
    }
    base.update(overrides)
    return base


def test_it_builds_and_runs_a_graph_from_json(registry: NodePluginRegistry) -> None:
    builder = build_graph(json.dumps(definition()), registry)
    out = builder.compile().invoke({})
    assert out == {"log": ["hi", "HI"], "route": "loud"}


def test_it_keeps_compile_options(registry: NodePluginRegistry) -> None:
    builder = build_graph(definition(interrupt_before=["loud"]), registry)
    assert builder.definition_options["interrupt_before"] == ["loud"]
    graph = builder.compile(
        checkpointer=InMemorySaver(), **{"interrupt_before": ["loud"]}
    )
    out = graph.invoke({}, {"configurable": {"thread_id": "p"}})
    assert out["log"] == ["hi"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"nodes": [{"id": "x", "type": "nope"}]}, "nodes[0].type"),
        ({"nodes": [{"id": "x", "type": "say", "config": {}}]}, "nodes[0].config.text"),
        (
            {"nodes": [{"id": "x", "type": "say", "config": {"text": 3}}]},
            "nodes[0].config.text",
        ),
        (
            {"nodes": [{"id": "x", "type": "say", "config": {"text": "a", "z": 1}}]},
            "nodes[0].config.z",
        ),
        ({"edges": [{"source": "__start__", "target": "ghost"}]}, "edges[0].target"),
        ({"edges": [{"source": "ghost", "target": "hello"}]}, "edges[0].source"),
        (
            {
                "conditional_edges": [
                    {"source": "hello", "key": "r", "map": {"a": "zz"}}
                ]
            },
            "conditional_edges[0].map.a",
        ),
        (
            {"state": {"channels": {"log": {"reducer": "bogus"}}}},
            "state.channels.log.reducer",
        ),
        ({"interrupt_before": ["nobody"]}, "interrupt_before[0]"),
        ({"unexpected": 1}, "definition.unexpected"),
        ({"nodes": []}, "definition.nodes"),
        ({"edges": []}, "edges"),
    ],
)
def test_it_rejects_invalid_definitions_naming_the_field(
    registry: NodePluginRegistry, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(GraphDefinitionError) as info:
        build_graph(definition(**change), registry)
    assert any(error.startswith(field) for error in info.value.errors), (
        info.value.errors
    )


def test_it_rejects_malformed_json(registry: NodePluginRegistry) -> None:
    with pytest.raises(GraphDefinitionError, match="invalid JSON"):
        build_graph("{", registry)


def test_duplicate_node_ids_and_types_are_rejected(
    registry: NodePluginRegistry,
) -> None:
    nodes = [{"id": "a", "type": "say", "config": {"text": "x"}}] * 2
    with pytest.raises(GraphDefinitionError, match=r"nodes\[1\].id"):
        build_graph(
            definition(
                nodes=nodes,
                conditional_edges=[],
                edges=[{"source": "__start__", "target": "a"}],
            ),
            registry,
        )
    with pytest.raises(ValueError, match="already registered"):
        registry.register("say", lambda c: None)
    assert registry.types() == ["say"]


def test_registry_creates_nodes_with_validated_config(
    registry: NodePluginRegistry,
) -> None:
    node = registry.create("say", {"text": "x"})
    assert node({}) == {"log": ["x"]}
    with pytest.raises(GraphDefinitionError, match="config.text"):
        registry.create("say", {})
