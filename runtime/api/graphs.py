"""/v1/graphs: the registered graphs, with their schemas and diagrams (read-only;
not in the reference contract)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present, registry
from runtime.api.base import OrisApi, not_empty
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, documented, envelope_schema
from runtime.errors import NotFound

GRAPH_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["name", "source"],
    "properties": {
        "name": {"type": "string"},
        "source": {"type": "string", "description": "module:builder"},
        "nodes": {"type": "array", "items": {"type": "string"}},
        "definition_hash": {"type": "string"},
        "error": {"type": "string", "description": "why the graph cannot be loaded"},
    },
}
GRAPH_DETAIL: dict[str, Any] = {
    **GRAPH_ITEM,
    "properties": {
        **GRAPH_ITEM["properties"],
        "edges": {"type": "array", "items": {"type": "object"}},
        "input_schema": {"type": "object", "description": "JSON Schema"},
        "output_schema": {"type": "object", "description": "JSON Schema"},
        "mermaid": {"type": "string"},
    },
}


class GraphListApi(OrisApi):
    """Every graph a run may name (built in, `ORIS_GRAPHS`, `@register`), with its
    nodes and the hash runs are pinned to."""

    required_scope = Scope.GRAPHS
    in_contract = False

    @documented(
        "list_graphs",
        envelope_schema(
            {
                "type": "object",
                "required": ["graphs"],
                "properties": {"graphs": {"type": "array", "items": GRAPH_ITEM}},
            }
        ),
        errors=READ_ERRORS,
        summary="List registered graphs",
    )
    def get(self, request: Request) -> Response:
        entries = registry.graph_catalog()
        return self.ok({"graphs": [present.graph_item(e) for e in entries]})


class GraphDetailApi(OrisApi):
    """One registered graph: its nodes and edges, the JSON schemas of its input
    (what a run's `input` must fit) and output, and its Mermaid diagram."""

    required_scope = Scope.GRAPHS
    in_contract = False

    @documented(
        "inspect_graph",
        envelope_schema(GRAPH_DETAIL),
        errors=READ_ERRORS,
        summary="Inspect a registered graph",
    )
    def get(self, request: Request, name: str) -> Response:
        if not_empty(name, "name") not in registry.graph_names():
            raise NotFound(
                f"graph {name!r} is not registered",
                details={"known_graphs": registry.graph_names()},
            )
        (entry,) = registry.graph_catalog([name])
        return self.ok(present.graph_detail(entry))
