"""The Agent Server's assistants routes: system assistants (one per registered
graph) and stored ones (a graph with config, context and metadata, versioned)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime.api import fields
from runtime.api.agent_server import present
from runtime.api.agent_server.base import AgentServerApi
from runtime.api.agent_server.paging import Paging, select, sort_by, sort_order
from runtime.api.permissions import Scope
from runtime.errors import InvalidArgument, NotFound
from runtime.models import Assistant
from runtime.selectors import agent_server as selectors
from runtime.services import assistants as services

ASSISTANT_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "version",
    "name",
    "description",
    "created_at",
    "updated_at",
)


def _object(**kwargs: Any) -> serializers.DictField:
    return serializers.DictField(required=False, allow_null=True, **kwargs)


def _text(name: str, **kwargs: Any) -> serializers.Field:
    return fields.text(Assistant, name, required=False, allow_null=True, **kwargs)


class SearchInput(Paging):
    graph_id = _text("graph_id")
    metadata = _object()
    name = _text("name")
    sort_by = sort_by(selectors.ASSISTANT_SORTS, "created_at")
    sort_order = sort_order()
    select = select(ASSISTANT_FIELDS)


class CountInput(serializers.Serializer):
    graph_id = _text("graph_id")
    metadata = _object()
    name = _text("name")


class ChangeInput(serializers.Serializer):
    graph_id = _text("graph_id")
    config = _object()
    context = _object()  # type: ignore[assignment]  # DRF pops declared fields
    metadata = _object()
    name = _text("name")
    description = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=10_000
    )


class CreateInput(ChangeInput):
    graph_id = fields.text(Assistant, "graph_id")
    assistant_id = serializers.UUIDField(required=False, allow_null=True)
    if_exists = serializers.ChoiceField(
        ("raise", "do_nothing"), required=False, default="raise"
    )


class VersionsInput(Paging):
    metadata = _object()


class LatestInput(serializers.Serializer):
    version = fields.integer(min_value=1, max_value=fields.COUNT_RANGE[1])


def _given(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


class AssistantCreateApi(AgentServerApi):
    """``POST /assistants``: a stored assistant of a registered graph."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "assistant.create", "assistant"

    def post(self, request: Request) -> Response:
        data = _given(self.body(CreateInput))
        created = services.assistant_create(actor=self.actor(), **data)
        return Response(present.assistant(created))


class AssistantSearchApi(AgentServerApi):
    """``POST /assistants/search``: system and stored assistants, a page of them
    (``X-Pagination-Next`` names the next page's offset)."""

    required_scope = Scope.GRAPHS

    def post(self, request: Request) -> Response:
        data = self.body(SearchInput)
        select = data.pop("select", None)
        found, more = selectors.assistant_search(**_given(data))
        answer = Response(
            [present.selected(present.assistant(a), select) for a in found]
        )
        if more:
            answer["X-Pagination-Next"] = str(data["offset"] + data["limit"])
        return answer


class AssistantCountApi(AgentServerApi):
    """``POST /assistants/count``."""

    required_scope = Scope.GRAPHS

    def post(self, request: Request) -> Response:
        data = _given(self.body(CountInput))
        return Response(selectors.assistant_count(**data))


class AssistantDetailApi(AgentServerApi):
    """``GET``, ``PATCH`` (a new version) and ``DELETE /assistants/{id}``."""

    required_scope = Scope.JOBS

    def get(self, request: Request, assistant_id: str) -> Response:
        return Response(
            present.assistant(selectors.assistant_get(assistant_id=assistant_id))
        )

    def patch(self, request: Request, assistant_id: str) -> Response:
        data = _given(self.body(ChangeInput))
        found = selectors.assistant_get(assistant_id=assistant_id)
        changed = services.assistant_update(
            actor=self.actor(), assistant_id=found.assistant_id, **data
        )
        return Response(present.assistant(changed))

    def delete(self, request: Request, assistant_id: str) -> Response:
        found = selectors.assistant_get(assistant_id=assistant_id)
        services.assistant_delete(actor=self.actor(), assistant_id=found.assistant_id)
        return Response(status=204)


def _xray(value: str | None) -> int | bool:
    if value is None or value.lower() in ("", "false", "0"):
        return False
    if value.lower() == "true":
        return True
    if value.isdigit():
        return int(value)
    raise InvalidArgument("xray must be a boolean or a positive integer")


class AssistantGraphApi(AgentServerApi):
    """``GET /assistants/{id}/graph?xray=``: LangGraph's node/edge JSON."""

    required_scope = Scope.GRAPHS

    def get(self, request: Request, assistant_id: str) -> Response:
        found = selectors.assistant_get(assistant_id=assistant_id)
        xray = _xray(request.query_params.get("xray"))
        graph = selectors.assistant_graph(assistant=found)
        return Response(graph.get_graph(xray=xray).to_json())


# What the runtime sets in ``configurable``: not the client's to configure.
_RUNTIME_KEYS = ("thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map")


def _config_schema(graph: Any) -> dict[str, Any]:
    """The graph's config schema without the runtime's ``configurable`` keys."""
    schema = graph.get_config_jsonschema()
    ref = schema["properties"].get("configurable", {}).get("$ref", "")
    context = schema.get("$defs", {}).get(ref.rpartition("/")[2])
    if context is not None:
        for key in _RUNTIME_KEYS:
            context.get("properties", {}).pop(key, None)
        required = [k for k in context.get("required", ()) if k not in _RUNTIME_KEYS]
        if "required" in context:
            context["required"] = required
    return schema


def _schemas(graph_id: str, graph: Any) -> dict[str, Any]:
    return {
        "graph_id": graph_id,
        "input_schema": graph.get_input_jsonschema(),
        "output_schema": graph.get_output_jsonschema(),
        "state_schema": graph.get_state_jsonschema(),
        "config_schema": _config_schema(graph),
        "context_schema": graph.get_context_jsonschema(),
    }


class AssistantSchemasApi(AgentServerApi):
    """``GET /assistants/{id}/schemas``: the graph's input, output, state and
    context JSON schemas."""

    required_scope = Scope.GRAPHS

    def get(self, request: Request, assistant_id: str) -> Response:
        found = selectors.assistant_get(assistant_id=assistant_id)
        graph = selectors.assistant_graph(assistant=found)
        return Response(_schemas(found.graph_id, graph))


def _subgraphs(graph: Any, prefix: str, recurse: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, node in graph.nodes_rt.items():
        sub = getattr(node, "subgraph", None)
        if sub is None:
            continue
        ns = f"{prefix}|{name}" if prefix else name
        found[ns] = _schemas(ns, sub)
        if recurse:
            found.update(_subgraphs(sub, ns, recurse))
    return found


class AssistantSubgraphsApi(AgentServerApi):
    """``GET /assistants/{id}/subgraphs[/{namespace}]?recurse=``: the schemas of
    the graph's subgraphs by namespace."""

    required_scope = Scope.GRAPHS

    def get(
        self, request: Request, assistant_id: str, namespace: str | None = None
    ) -> Response:
        found = selectors.assistant_get(assistant_id=assistant_id)
        graph = selectors.assistant_graph(assistant=found)
        recurse = request.query_params.get("recurse", "").lower() in ("true", "1")
        every = _subgraphs(graph, "", recurse or namespace is not None)
        if namespace is None:
            return Response(every)
        chosen = {
            ns: schema
            for ns, schema in every.items()
            if ns == namespace or (recurse and ns.startswith(f"{namespace}|"))
        }
        if not chosen:
            raise NotFound(f"Subgraph '{namespace}' not found")
        return Response(chosen)


class AssistantVersionsApi(AgentServerApi):
    """``POST /assistants/{id}/versions``: its versions, newest first."""

    required_scope = Scope.GRAPHS

    def post(self, request: Request, assistant_id: str) -> Response:
        data = self.body(VersionsInput)
        found = selectors.assistant_get(assistant_id=assistant_id)
        versions = selectors.assistant_version_list(assistant=found, **_given(data))
        return Response([present.assistant_version(v) for v in versions])


class AssistantLatestApi(AgentServerApi):
    """``POST /assistants/{id}/latest``: makes a version the active one."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "assistant.set_latest", "assistant"
    audit_resource_kwarg = "assistant_id"

    def post(self, request: Request, assistant_id: str) -> Response:
        data = self.body(LatestInput)
        found = selectors.assistant_get(assistant_id=assistant_id)
        chosen = services.assistant_set_latest(
            actor=self.actor(), assistant_id=found.assistant_id, version=data["version"]
        )
        return Response(present.assistant(chosen))


urlpatterns = [
    path("assistants", AssistantCreateApi.as_view(), name="assistant-create"),
    path("assistants/search", AssistantSearchApi.as_view(), name="assistant-search"),
    path("assistants/count", AssistantCountApi.as_view(), name="assistant-count"),
    path(
        "assistants/<str:assistant_id>",
        AssistantDetailApi.as_view(),
        name="assistant-detail",
    ),
    path(
        "assistants/<str:assistant_id>/graph",
        AssistantGraphApi.as_view(),
        name="assistant-graph",
    ),
    path(
        "assistants/<str:assistant_id>/schemas",
        AssistantSchemasApi.as_view(),
        name="assistant-schemas",
    ),
    path(
        "assistants/<str:assistant_id>/subgraphs",
        AssistantSubgraphsApi.as_view(),
        name="assistant-subgraphs",
    ),
    path(
        "assistants/<str:assistant_id>/subgraphs/<path:namespace>",
        AssistantSubgraphsApi.as_view(),
        name="assistant-subgraph",
    ),
    path(
        "assistants/<str:assistant_id>/versions",
        AssistantVersionsApi.as_view(),
        name="assistant-versions",
    ),
    path(
        "assistants/<str:assistant_id>/latest",
        AssistantLatestApi.as_view(),
        name="assistant-latest",
    ),
]
