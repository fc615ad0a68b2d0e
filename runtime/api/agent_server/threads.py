"""The Agent Server's threads routes: threads (a /v1 job is one too), their state
at the head or at a checkpoint, their history, and state updates (forks)."""

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
from runtime.api.base import AnyJSONField
from runtime.api.permissions import Scope
from runtime.errors import InvalidArgument
from runtime.models import Checkpoint, Thread
from runtime.selectors import agent_server as selectors
from runtime.services import threads as services

THREAD_FIELDS = (
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "interrupts",
    "error",
)


MAX_TTL_MINUTES = 60 * 24 * 365 * 100  # a century: beyond, datetimes overflow


def _object() -> serializers.DictField:
    return serializers.DictField(required=False, allow_null=True)


class CheckpointInput(serializers.Serializer):
    thread_id = fields.text(Thread, "thread_id", required=False, allow_null=True)
    checkpoint_ns = fields.text(
        Checkpoint, "checkpoint_ns", required=False, allow_blank=True, allow_null=True
    )
    checkpoint_id = fields.text(
        Checkpoint, "checkpoint_id", required=False, allow_null=True
    )
    checkpoint_map = _object()


class CreateInput(serializers.Serializer):
    thread_id = fields.text(Thread, "thread_id", required=False, allow_null=True)
    metadata = _object()
    if_exists = serializers.ChoiceField(
        ("raise", "do_nothing"), required=False, default="raise"
    )
    supersteps = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True
    )
    ttl = AnyJSONField(required=False)


class UpdateInput(serializers.Serializer):
    metadata = serializers.DictField()
    ttl = AnyJSONField(required=False)


class SearchInput(Paging):
    metadata = _object()
    values = _object()
    status = serializers.ChoiceField(
        selectors.THREAD_STATUSES, required=False, allow_null=True
    )
    ids = serializers.ListField(
        child=fields.text(Thread, "thread_id"), required=False, allow_null=True
    )
    sort_by = sort_by(selectors.THREAD_SORTS, "updated_at")
    sort_order = sort_order()
    select = select(THREAD_FIELDS)


class CountInput(serializers.Serializer):
    metadata = _object()
    values = _object()
    status = serializers.ChoiceField(
        selectors.THREAD_STATUSES, required=False, allow_null=True
    )


class PruneInput(serializers.Serializer):
    thread_ids = serializers.ListField(
        child=fields.text(Thread, "thread_id"), max_length=1000
    )
    strategy = serializers.ChoiceField(
        ("delete", "keep_latest"), required=False, default="delete"
    )


class StateCheckpointInput(serializers.Serializer):
    checkpoint = CheckpointInput()
    subgraphs = serializers.BooleanField(required=False, default=False)


class UpdateStateInput(serializers.Serializer):
    values = AnyJSONField(required=False)
    as_node = serializers.CharField(required=False, allow_null=True, max_length=256)
    checkpoint = CheckpointInput(required=False, allow_null=True)
    checkpoint_id = fields.text(
        Checkpoint, "checkpoint_id", required=False, allow_null=True
    )


class HistoryInput(serializers.Serializer):
    limit = fields.integer(required=False, min_value=1, max_value=1000, default=10)
    before = AnyJSONField(required=False)
    metadata = _object()
    checkpoint = CheckpointInput(required=False, allow_null=True)


def _ttl_minutes(data: dict[str, Any]) -> float | None:
    """A thread's ``ttl`` as the SDK sends it: minutes, or ``{"ttl": minutes,
    "strategy": "delete"}`` (the only strategy)."""
    value = data.get("ttl")
    if value is None:
        return None
    if isinstance(value, dict):
        strategy = value.get("strategy", "delete")
        if strategy != "delete":
            raise InvalidArgument(f"ttl strategy '{strategy}' is not 'delete'")
        value = value.get("ttl")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidArgument("ttl must be a positive number of minutes")
    if value > MAX_TTL_MINUTES:
        raise InvalidArgument(f"ttl must be at most {MAX_TTL_MINUTES} minutes")
    return float(value)


def _thread(found: Thread, select: list[str] | None = None) -> dict[str, Any]:
    snapshot = selectors.thread_snapshot(thread=found)
    job = selectors.thread_job(found) if found.status == "error" else None  # type: ignore[attr-defined]
    return present.selected(present.thread(found, snapshot, job), select)


def _subgraphs(request: Request) -> bool:
    return request.query_params.get("subgraphs", "").lower() in ("true", "1")


class ThreadCreateApi(AgentServerApi):
    """``POST /threads``: a new idle thread (``if_exists``: ``raise`` is a 409)."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "thread.create", "thread"

    def post(self, request: Request) -> Response:
        data = self.body(CreateInput)
        created = services.thread_create(
            actor=self.actor(),
            thread_id=data.get("thread_id"),
            metadata=data.get("metadata"),
            if_exists=data["if_exists"],
            supersteps=data.get("supersteps"),
            ttl_minutes=_ttl_minutes(data),
        )
        return Response(_thread(selectors.thread_get(thread_id=created.thread_id)))


class ThreadSearchApi(AgentServerApi):
    """``POST /threads/search``."""

    required_scope = Scope.JOBS

    def post(self, request: Request) -> Response:
        data = self.body(SearchInput)
        select = data.pop("select", None)
        found = selectors.thread_search(
            **{k: v for k, v in data.items() if v is not None}
        )
        return Response([_thread(t, select) for t in found])


class ThreadCountApi(AgentServerApi):
    """``POST /threads/count``."""

    required_scope = Scope.JOBS

    def post(self, request: Request) -> Response:
        data = self.body(CountInput)
        return Response(
            selectors.thread_count(**{k: v for k, v in data.items() if v is not None})
        )


class ThreadPruneApi(AgentServerApi):
    """``POST /threads/prune``: deletes idle threads (or all but their latest
    checkpoint)."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "thread.prune", "thread"

    def post(self, request: Request) -> Response:
        data = self.body(PruneInput)
        pruned = services.thread_prune(actor=self.actor(), **data)
        return Response({"pruned_count": pruned})


class ThreadDetailApi(AgentServerApi):
    """``GET``, ``PATCH`` (merge metadata) and ``DELETE /threads/{id}``."""

    required_scope = Scope.JOBS

    def get(self, request: Request, thread_id: str) -> Response:
        return Response(_thread(selectors.thread_get(thread_id=thread_id)))

    def patch(self, request: Request, thread_id: str) -> Response:
        data = self.body(UpdateInput)
        ttl_minutes = _ttl_minutes(data)
        found = selectors.thread_get(thread_id=thread_id)
        services.thread_update(
            actor=self.actor(),
            thread=found,
            metadata=data["metadata"],
            ttl_minutes=ttl_minutes,
        )
        return Response(_thread(selectors.thread_get(thread_id=thread_id)))

    def delete(self, request: Request, thread_id: str) -> Response:
        found = selectors.thread_get(thread_id=thread_id)
        services.thread_delete(actor=self.actor(), thread=found)
        return Response(status=204)


class ThreadCopyApi(AgentServerApi):
    """``POST /threads/{id}/copy``: a new thread with the whole history."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "thread.copy", "thread"
    audit_resource_kwarg = "thread_id"

    def post(self, request: Request, thread_id: str) -> Response:
        found = selectors.thread_get(thread_id=thread_id)
        copy = services.thread_copy(actor=self.actor(), thread=found)
        return Response(_thread(selectors.thread_get(thread_id=copy.thread_id)))


def _state(found: Thread, checkpoint: dict[str, Any] | None, subgraphs: bool) -> Any:
    snapshot = selectors.thread_snapshot(
        thread=found, checkpoint=checkpoint, subgraphs=subgraphs
    )
    if snapshot is None:
        return present.empty_state(found.thread_id)
    return present.thread_state(snapshot)


class ThreadStateApi(AgentServerApi):
    """``GET /threads/{id}/state[?subgraphs=true]``: the head state;
    ``POST``: ``update_state`` (``as_node``; from a past checkpoint it forks)."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "thread.update_state", "thread"
    audit_resource_kwarg = "thread_id"

    def get(self, request: Request, thread_id: str) -> Response:
        found = selectors.thread_get(thread_id=thread_id)
        return Response(_state(found, None, _subgraphs(request)))

    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(UpdateStateInput)
        checkpoint = dict(data.get("checkpoint") or {})
        if data.get("checkpoint_id"):
            checkpoint["checkpoint_id"] = data["checkpoint_id"]
        found = selectors.thread_get(thread_id=thread_id)
        written = services.thread_state_update(
            actor=self.actor(),
            thread=found,
            values=data.get("values"),
            as_node=data.get("as_node"),
            checkpoint=checkpoint,
        )
        return Response({"checkpoint": present.checkpoint(written)})


class ThreadStateAtApi(AgentServerApi):
    """``GET /threads/{id}/state/{checkpoint_id}``."""

    required_scope = Scope.JOBS

    def get(self, request: Request, thread_id: str, checkpoint_id: str) -> Response:
        found = selectors.thread_get(thread_id=thread_id)
        wanted = {"checkpoint_id": checkpoint_id}
        return Response(_state(found, wanted, _subgraphs(request)))


class ThreadStateCheckpointApi(AgentServerApi):
    """``POST /threads/{id}/state/checkpoint``: the state at ``checkpoint``."""

    required_scope = Scope.JOBS

    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(StateCheckpointInput)
        found = selectors.thread_get(thread_id=thread_id)
        return Response(_state(found, data["checkpoint"], data["subgraphs"]))


def _before(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return {"checkpoint_id": value}
    if isinstance(value, dict) and isinstance(value.get("checkpoint_id"), str):
        return {"checkpoint_id": value["checkpoint_id"]}
    raise InvalidArgument("before must be a checkpoint id or a checkpoint")


class ThreadHistoryApi(AgentServerApi):
    """``POST /threads/{id}/history``: its states, newest first."""

    required_scope = Scope.JOBS

    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(HistoryInput)
        found = selectors.thread_get(thread_id=thread_id)
        states = selectors.thread_history(
            thread=found,
            limit=data["limit"],
            before=_before(data.get("before")),
            metadata=data.get("metadata"),
            checkpoint=data.get("checkpoint"),
        )
        return Response([present.thread_state(s) for s in states])

    def get(self, request: Request, thread_id: str) -> Response:
        found = selectors.thread_get(thread_id=thread_id)
        limit = request.query_params.get("limit", "10")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise InvalidArgument("limit must be an integer from 1 to 1000")
        states = selectors.thread_history(thread=found, limit=int(limit))
        return Response([present.thread_state(s) for s in states])


urlpatterns = [
    path("threads", ThreadCreateApi.as_view(), name="thread-create"),
    path("threads/search", ThreadSearchApi.as_view(), name="thread-search"),
    path("threads/count", ThreadCountApi.as_view(), name="thread-count"),
    path("threads/prune", ThreadPruneApi.as_view(), name="thread-prune"),
    path("threads/<str:thread_id>", ThreadDetailApi.as_view(), name="thread-detail"),
    path("threads/<str:thread_id>/copy", ThreadCopyApi.as_view(), name="thread-copy"),
    path(
        "threads/<str:thread_id>/state", ThreadStateApi.as_view(), name="thread-state"
    ),
    path(
        "threads/<str:thread_id>/state/checkpoint",
        ThreadStateCheckpointApi.as_view(),
        name="thread-state-checkpoint",
    ),
    path(
        "threads/<str:thread_id>/state/<str:checkpoint_id>",
        ThreadStateAtApi.as_view(),
        name="thread-state-at",
    ),
    path(
        "threads/<str:thread_id>/history",
        ThreadHistoryApi.as_view(),
        name="thread-history",
    ),
]
