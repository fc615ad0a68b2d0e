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
from runtime.api.agent_server.runs import run_request
from runtime.api.permissions import Scope
from runtime.errors import InvalidArgument
from runtime.models import Cron
from runtime.present import rfc3339
from runtime.selectors.crons import CRON_SORTS
from runtime.services import crons

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


class CronFields(serializers.Serializer):
    """A cron's own fields; the rest of its body is what its runs are given,
    checked as a run request is (``run_request``)."""

    schedule = serializers.CharField(max_length=256)
    timezone = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=64
    )
    end_time = serializers.DateTimeField(required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False, allow_null=True)
    on_run_completed = serializers.ChoiceField(
        Cron.OnCompletion.values, required=False, allow_null=True
    )


class CronChanges(CronFields):
    schedule = serializers.CharField(required=False, max_length=256)


def run_fields(data: Any, assistant_id: str | None = None) -> dict[str, Any]:
    """The body's run fields, checked as a run request (only those given)."""
    if not isinstance(data, dict):
        raise InvalidArgument("request body must be a JSON object")
    given = {k: v for k, v in data.items() if k in crons.RUN_FIELDS}
    if assistant_id is not None:
        given["assistant_id"] = assistant_id
    elif "assistant_id" in data:
        given["assistant_id"] = data["assistant_id"]
    checked = run_request(given)
    return {k: v for k, v in checked.items() if k in given}


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
        cron = self.body(CronFields)
        run = run_fields(request.data)
        cron_obj = crons.cron_create(
            actor=self.actor(),
            assistant_id=run.pop("assistant_id"),
            schedule=cron["schedule"],
            thread_id=thread_id,
            timezone_name=cron.get("timezone") or "",
            end_time=cron.get("end_time"),
            enabled=cron.get("enabled") is not False,
            on_run_completed=cron.get("on_run_completed") or Cron.OnCompletion.DELETE,
            payload=run,
        )
        return Response(present_cron(cron_obj))


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
        given = {k: v for k, v in self.body(CronChanges).items() if v is not None}
        found = selectors.cron_get(cron_id=cron_id)
        changes = given | run_fields(request.data, str(found.assistant_id))
        changes.pop("assistant_id", None)
        if "end_time" in request.data:  # null clears it
            changes["end_time"] = given.get("end_time")
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
