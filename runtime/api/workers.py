"""/v1/workers: the data plane for workers outside the Django process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present
from runtime.api import fields
from runtime.api.base import AnyJSONField, OrisApi, not_empty
from runtime.api.jobs import RetryPolicySerializer
from runtime.api.permissions import Scope
from runtime.api.schema import documented
from runtime.errors import InvalidArgument
from runtime.models import Attempt, DeadLetter, Lease, StepReport
from runtime.services import leases, workers
from runtime.services.jobs import validate_retry_policy

TERMINAL = ("completed", "failed", "cancelled")
STEP_FIELDS = ("attempt_id", "action_id", "status", "dedupe_token")


class WorkersApi(OrisApi):
    """A /v1/workers operation: for the worker role, on the worker the path names."""

    required_scope = Scope.WORKERS


class PollInput(serializers.Serializer):
    worker_id = fields.nonempty(
        fields.text(Lease, "worker_id", trim_whitespace=False, allow_blank=True)
    )
    limit = fields.integer(required=False, allow_null=True, min_value=0)
    max_active_leases = fields.integer(required=False, allow_null=True, min_value=0)
    tenant_max_active_leases = fields.integer(
        required=False, allow_null=True, min_value=0
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The worker id is required; absent or zero limits take the defaults."""
        worker = settings.ORIS_MAX_ACTIVE_LEASES_PER_WORKER
        tenant = settings.ORIS_MAX_ACTIVE_LEASES_PER_TENANT
        return {
            "worker_id": not_empty(attrs["worker_id"], "worker_id"),
            "max_active_leases": max(1, attrs.get("max_active_leases") or worker),
            "tenant_max_active_leases": max(
                1, attrs.get("tenant_max_active_leases") or tenant
            ),
        }


class WorkerPollApi(WorkersApi):
    """Dispatches at most one attempt, with the job's thread, graph and input."""

    @documented("worker_poll", "ApiEnvelope_WorkerPollResponse", request=PollInput)
    def post(self, request: Request) -> Response:
        decision = workers.worker_poll(**self.body(PollInput))
        return self.ok(present.worker_poll(decision))


class HeartbeatInput(serializers.Serializer):
    lease_id = fields.text(Lease, "id")
    lease_ttl_seconds = fields.integer(required=False, allow_null=True)


class WorkerHeartbeatApi(WorkersApi):
    """Heartbeat and extend-lease: the owner, a live lease, the version it read."""

    @documented(
        "worker_heartbeat", "ApiEnvelope_WorkerLeaseResponse", request=HeartbeatInput
    )
    def post(self, request: Request, worker_id: str) -> Response:
        data = self.body(HeartbeatInput)
        not_empty(worker_id, "worker_id")
        lease = leases.lease_heartbeat(
            lease_id=data["lease_id"],
            worker_id=worker_id,
            ttl_seconds=data.get("lease_ttl_seconds") or 30,
        )
        trace = workers.attempt_trace_advance(attempt_id=lease.attempt_id)
        return self.ok(present.worker_lease(worker_id, lease, trace))


class WorkerExtendLeaseApi(WorkerHeartbeatApi):
    """``extend-lease``: the same as a heartbeat, under the reference's second name."""

    @documented(
        "worker_extend_lease", "ApiEnvelope_WorkerLeaseResponse", request=HeartbeatInput
    )
    def post(self, request: Request, worker_id: str) -> Response:
        return super().post(request, worker_id)


def step_text(model: type, name: str) -> fields.Text:
    return fields.nonempty(
        fields.text(model, name, allow_blank=True, trim_whitespace=False)
    )


class ReportStepInput(serializers.Serializer):
    attempt_id = step_text(Attempt, "id")
    action_id = step_text(StepReport, "action_id")
    status = step_text(StepReport, "status")
    dedupe_token = step_text(StepReport, "dedupe_token")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {name: not_empty(attrs[name], name).strip() for name in STEP_FIELDS}


class WorkerReportStepApi(WorkersApi):
    """Deduplicated on ``(attempt_id, dedupe_token)``; the reporter holds the lease."""

    @documented(
        "worker_report_step", "ApiEnvelope_WorkerAckResponse", request=ReportStepInput
    )
    def post(self, request: Request, worker_id: str) -> Response:
        data = self.body(ReportStepInput)
        not_empty(worker_id, "worker_id")
        status = workers.worker_report_step(worker_id=worker_id, **data)
        trace = workers.attempt_trace_advance(attempt_id=data["attempt_id"])
        return self.ok(present.worker_step(data["attempt_id"], status, trace))


class AckErrorInput(serializers.Serializer):
    type = fields.Text(required=False, max_length=256)
    message = fields.Text(max_length=10_000)
    details = AnyJSONField(required=False)


class AckInput(serializers.Serializer):
    attempt_id = step_text(Attempt, "id")
    terminal_status = fields.described(
        fields.text(DeadLetter, "terminal_status", trim_whitespace=False),
        enum=list(TERMINAL),
    )
    retry_policy = RetryPolicySerializer(required=False, allow_null=True)
    result = AnyJSONField(required=False)  # the job's result, on completed
    error = AckErrorInput(required=False, allow_null=True)  # on failed

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["terminal_status"] not in TERMINAL:
            raise InvalidArgument(
                "terminal_status must be one of: completed|failed|cancelled"
            )
        return {
            "attempt_id": not_empty(attrs["attempt_id"], "attempt_id").strip(),
            "terminal_status": attrs["terminal_status"],
            "retry_policy": validate_retry_policy(attrs.get("retry_policy")),
            "result": attrs.get("result"),
            "error": attrs.get("error"),
        }


class WorkerAckApi(WorkersApi):
    """Ends the worker's attempt; failures retry per the policy, then dead-letter."""

    @documented("worker_ack", "ApiEnvelope_WorkerAckResponse", request=AckInput)
    def post(self, request: Request, worker_id: str) -> Response:
        data = self.body(AckInput)
        not_empty(worker_id, "worker_id")
        outcome = workers.worker_ack(worker_id=worker_id, **data)
        trace = workers.attempt_trace_advance(attempt_id=data["attempt_id"])
        return self.ok(present.worker_ack(data["attempt_id"], outcome, trace))
