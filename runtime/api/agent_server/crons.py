"""The Agent Server's crons: ``POST /threads/{id}/runs/crons``, ``POST /runs/crons``,
``POST /runs/crons/search`` and ``/count``, ``PATCH`` and ``DELETE
/runs/crons/{cron_id}``."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import selectors
from runtime.api.agent_server.base import AgentServerApi
from runtime.api.base import AnyJSONField
from runtime.api.permissions import Scope
from runtime.models import Cron
from runtime.present import rfc3339
from runtime.selectors.crons import CRON_SORTS
from runtime.services import crons

STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")
DURABILITY = ("sync", "async", "exit")
CRON_FIELDS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "payload",
    "user_id",
    "next_run_date",
    "metadata",
    "enabled",
)


class NodesField(serializers.JSONField):
    """``interrupt_before`` / ``interrupt_after``: ``"*"`` or a list of node names."""

    def to_internal_value(self, data: Any) -> Any:
        if data == "*" or (
            isinstance(data, list) and all(isinstance(n, str) for n in data)
        ):
            return data
        raise serializers.ValidationError('must be "*" or a list of node names')


class StreamModeField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) or (
            isinstance(data, list) and all(isinstance(m, str) for m in data)
        ):
            return data
        raise serializers.ValidationError("must be a stream mode or a list of them")


class CronRunFields(serializers.Serializer):
    """What each of the cron's runs is given."""

    input = AnyJSONField(required=False)
    metadata = serializers.DictField(required=False, allow_null=True)
    config = serializers.DictField(required=False, allow_null=True)
    interrupt_before = NodesField(required=False, allow_null=True)
    interrupt_after = NodesField(required=False, allow_null=True)
    webhook = serializers.URLField(required=False, allow_null=True)
    multitask_strategy = serializers.ChoiceField(STRATEGIES, required=False)
    stream_mode = StreamModeField(required=False, allow_null=True)
    stream_subgraphs = serializers.BooleanField(required=False)
    stream_resumable = serializers.BooleanField(required=False)
    durability = serializers.ChoiceField(DURABILITY, required=False)
    checkpoint_during = serializers.BooleanField(required=False)  # deprecated
    end_time = serializers.DateTimeField(required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    on_run_completed = serializers.ChoiceField(Cron.OnCompletion.values, required=False)


class CronCreate(CronRunFields):
    assistant_id = serializers.CharField(max_length=256)
    schedule = serializers.CharField(max_length=256)


class CronUpdate(CronRunFields):
    schedule = serializers.CharField(required=False, max_length=256)


class CronSearch(serializers.Serializer):
    assistant_id = serializers.CharField(required=False, max_length=256)
    thread_id = serializers.CharField(required=False, max_length=256)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    metadata = serializers.DictField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    offset = serializers.IntegerField(required=False, min_value=0)
    sort_by = serializers.ChoiceField(CRON_SORTS, required=False)
    sort_order = serializers.ChoiceField(("asc", "desc"), required=False)
    select = serializers.ListField(
        child=serializers.ChoiceField(CRON_FIELDS), required=False
    )


class CronCount(serializers.Serializer):
    assistant_id = serializers.CharField(required=False, max_length=256)
    thread_id = serializers.CharField(required=False, max_length=256)
    metadata = serializers.DictField(required=False)


def present_cron(cron: Cron, select: list[str] | None = None) -> dict[str, Any]:
    data = {
        "cron_id": str(cron.cron_id),
        "assistant_id": str(cron.assistant_id),
        "thread_id": cron.thread_id,
        "on_run_completed": None if cron.thread_id else cron.on_run_completed,
        "end_time": rfc3339(cron.end_time),
        "schedule": cron.schedule,
        "timezone": cron.timezone or None,
        "created_at": rfc3339(cron.created_at),
        "updated_at": rfc3339(cron.updated_at),
        "payload": {"assistant_id": str(cron.assistant_id), **cron.payload},
        "user_id": cron.user_id or None,
        "next_run_date": rfc3339(cron.next_run_date),
        "metadata": cron.metadata,
        "enabled": cron.enabled,
    }
    return {k: data[k] for k in select} if select else data


class CronCreateApi(AgentServerApi):
    """``POST /runs/crons`` (a new thread each run) and ``POST
    /threads/{thread_id}/runs/crons`` (runs on that thread)."""

    required_scope = Scope.JOBS
    audit_action = "cron.create"
    audit_resource = "cron"

    def post(self, request: Request, thread_id: str | None = None) -> Response:
        body = self.body(CronCreate)
        cron = crons.cron_create(
            actor=self.actor(),
            assistant_id=body.pop("assistant_id"),
            schedule=body.pop("schedule"),
            thread_id=thread_id,
            timezone_name=body.pop("timezone", "") or "",
            end_time=body.pop("end_time", None),
            enabled=body.pop("enabled", True),
            on_run_completed=body.pop("on_run_completed", Cron.OnCompletion.DELETE),
            payload={k: v for k, v in body.items() if v is not None},
        )
        return Response(present_cron(cron))


class CronSearchApi(AgentServerApi):
    required_scope = Scope.JOBS

    def post(self, request: Request) -> Response:
        body = self.body(CronSearch)
        select = body.pop("select", None)
        found = selectors.cron_search(**body)
        return Response([present_cron(c, select) for c in found])


class CronCountApi(AgentServerApi):
    required_scope = Scope.JOBS

    def post(self, request: Request) -> Response:
        return Response(selectors.crons_matching(**self.body(CronCount)).count())


class CronApi(AgentServerApi):
    """``PATCH`` (update) and ``DELETE`` a cron."""

    required_scope = Scope.JOBS
    audit_action = "cron.update"
    audit_resource = "cron"
    audit_resource_kwarg = "cron_id"

    def patch(self, request: Request, cron_id: uuid.UUID) -> Response:
        changes = self.body(CronUpdate)
        cron = crons.cron_update(actor=self.actor(), cron_id=cron_id, changes=changes)
        return Response(present_cron(cron))

    def delete(self, request: Request, cron_id: uuid.UUID) -> Response:
        crons.cron_delete(actor=self.actor(), cron_id=cron_id)
        return Response(status=204)


urlpatterns = [
    path("runs/crons", CronCreateApi.as_view(), name="crons"),
    path("runs/crons/search", CronSearchApi.as_view(), name="crons-search"),
    path("runs/crons/count", CronCountApi.as_view(), name="crons-count"),
    path("runs/crons/<uuid:cron_id>", CronApi.as_view(), name="cron"),
    path(
        "threads/<str:thread_id>/runs/crons",
        CronCreateApi.as_view(),
        name="thread-crons",
    ),
]
