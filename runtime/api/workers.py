"""/v1/workers: the data plane for workers outside the Django process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import metrics
from runtime.api.base import OrisApi, not_empty, rfc3339
from runtime.api.jobs import RetryPolicySerializer
from runtime.api.schema import documented
from runtime.errors import InvalidArgument, LeaseLost
from runtime.services import leases, workers
from runtime.services.jobs import validate_retry_policy
from runtime.tracing import trace_response

TERMINAL = ("completed", "failed", "cancelled")


class PollInput(serializers.Serializer):
    worker_id = serializers.CharField(trim_whitespace=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    max_active_leases = serializers.IntegerField(
        required=False, allow_null=True, min_value=0
    )
    tenant_max_active_leases = serializers.IntegerField(
        required=False, allow_null=True, min_value=0
    )


class WorkerPollApi(OrisApi):
    """Dispatches at most one attempt, with the job's thread, graph and input."""

    required_scope = "workers"

    @documented("worker_poll", "ApiEnvelope_WorkerPollResponse", request=PollInput)
    def post(self, request: Request) -> Response:
        data = self.body(PollInput)
        worker_id = not_empty(data["worker_id"], "worker_id")
        decision = workers.worker_poll(
            worker_id=worker_id,
            max_active_leases=max(
                1,
                data.get("max_active_leases")
                or settings.ORIS_MAX_ACTIVE_LEASES_PER_WORKER,
            ),
            tenant_max_active_leases=max(
                1,
                data.get("tenant_max_active_leases")
                or settings.ORIS_MAX_ACTIVE_LEASES_PER_TENANT,
            ),
        )
        lease = decision.lease
        body: dict[str, Any] = {
            "decision": decision.decision,
            "attempt_id": lease.attempt_id if lease else None,
            "lease_id": lease.pk if lease else None,
            "lease_expires_at": rfc3339(lease.expires_at) if lease else None,
            "reason": decision.reason,
            "worker_active_leases": decision.worker_active_leases,
            "worker_limit": decision.worker_limit,
            "tenant_id": decision.tenant_id,
            "tenant_active_leases": decision.tenant_active_leases,
            "tenant_limit": decision.tenant_limit,
            "trace": trace_response(decision.trace),
        }
        if lease:
            job = lease.attempt.job
            body |= {"thread_id": job.thread_id, "graph": job.graph, "input": job.input}
        return self.ok(body)


class HeartbeatInput(serializers.Serializer):
    lease_id = serializers.CharField()
    lease_ttl_seconds = serializers.IntegerField(required=False, allow_null=True)


class WorkerHeartbeatApi(OrisApi):
    """Heartbeat and extend-lease: the owner, a live lease, the version it read."""

    required_scope = "workers"

    @documented(
        "worker_heartbeat", "ApiEnvelope_WorkerLeaseResponse", request=HeartbeatInput
    )
    def post(self, request: Request, worker_id: str) -> Response:
        data = self.body(HeartbeatInput)
        not_empty(worker_id, "worker_id")
        metrics.inc("lease_operations_total")
        try:
            lease = leases.lease_heartbeat(
                lease_id=data["lease_id"],
                worker_id=worker_id,
                ttl_seconds=data.get("lease_ttl_seconds") or 30,
            )
        except LeaseLost:
            metrics.inc("lease_conflicts_total")
            raise
        trace = workers.attempt_trace_advance(attempt_id=lease.attempt_id)
        return self.ok(
            {
                "worker_id": worker_id,
                "lease_id": lease.pk,
                "lease_expires_at": rfc3339(lease.expires_at),
                "trace": trace_response(trace),
            }
        )


class ReportStepInput(serializers.Serializer):
    attempt_id = serializers.CharField(allow_blank=True, trim_whitespace=False)
    action_id = serializers.CharField(allow_blank=True, trim_whitespace=False)
    status = serializers.CharField(allow_blank=True, trim_whitespace=False)
    dedupe_token = serializers.CharField(allow_blank=True, trim_whitespace=False)


class WorkerReportStepApi(OrisApi):
    """Deduplicated on ``(attempt_id, dedupe_token)``; the reporter holds the lease."""

    required_scope = "workers"

    @documented(
        "worker_report_step", "ApiEnvelope_WorkerAckResponse", request=ReportStepInput
    )
    def post(self, request: Request, worker_id: str) -> Response:
        data = self.body(ReportStepInput)
        not_empty(worker_id, "worker_id")
        for name in ("attempt_id", "action_id", "status", "dedupe_token"):
            not_empty(data[name], name)
        status = workers.worker_report_step(
            worker_id=worker_id,
            **{
                k: data[k].strip()
                for k in ("attempt_id", "action_id", "status", "dedupe_token")
            },
        )
        trace = workers.attempt_trace_advance(attempt_id=data["attempt_id"].strip())
        return self.ok(
            {
                "attempt_id": data["attempt_id"].strip(),
                "status": status,
                "next_retry_at": None,
                "next_attempt_no": None,
                "trace": trace_response(trace),
            }
        )


class AckInput(serializers.Serializer):
    attempt_id = serializers.CharField(allow_blank=True, trim_whitespace=False)
    terminal_status = serializers.CharField(trim_whitespace=False)
    retry_policy = RetryPolicySerializer(required=False, allow_null=True)


class WorkerAckApi(OrisApi):
    """Ends the worker's attempt; failures retry per the policy, then dead-letter."""

    required_scope = "workers"

    @documented("worker_ack", "ApiEnvelope_WorkerAckResponse", request=AckInput)
    def post(self, request: Request, worker_id: str) -> Response:
        data = self.body(AckInput)
        not_empty(worker_id, "worker_id")
        attempt_id = not_empty(data["attempt_id"], "attempt_id").strip()
        if data["terminal_status"] not in TERMINAL:
            raise InvalidArgument(
                "terminal_status must be one of: completed|failed|cancelled"
            )
        policy = validate_retry_policy(data.get("retry_policy"))
        outcome = workers.worker_ack(
            worker_id=worker_id,
            attempt_id=attempt_id,
            terminal_status=data["terminal_status"],
            retry_policy=policy,
        )
        trace = workers.attempt_trace_advance(attempt_id=attempt_id)
        return self.ok(
            {
                "attempt_id": attempt_id,
                "status": outcome.status,
                "next_retry_at": rfc3339(outcome.next_retry_at),
                "next_attempt_no": outcome.next_attempt_no,
                "trace": trace_response(trace),
            }
        )


class WorkerExtendLeaseApi(WorkerHeartbeatApi):
    """``extend-lease``: the same as a heartbeat, under the reference's second name."""

    @documented(
        "worker_extend_lease", "ApiEnvelope_WorkerLeaseResponse", request=HeartbeatInput
    )
    def post(self, request: Request, worker_id: str) -> Response:
        return super().post(request, worker_id)
