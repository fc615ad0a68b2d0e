"""/v1/jobs: run, list, resume, replay, cancel (the reads are in job_history)."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import selectors
from runtime.api.base import AnyJSONField, OrisApi, not_empty, rfc3339
from runtime.api.job_history import compiled_for, config_for, job_for
from runtime.api.schema import documented
from runtime.errors import Conflict, InvalidArgument
from runtime.models import Interrupt, Job
from runtime.present import present
from runtime.services import interrupts as interrupt_services
from runtime.services import jobs as job_services
from runtime.services.idempotency import idempotency_complete, idempotency_reserve
from runtime.tracing import trace_response, trace_start

SETTLED = {
    Job.Status.INTERRUPTED,
    Job.Status.COMPLETED,
    Job.Status.FAILED,
    Job.Status.CANCELLED,
}
TENANT = re.compile(r"^[A-Za-z0-9\-_.:]*$")


class TimeoutPolicySerializer(serializers.Serializer):
    timeout_ms = serializers.IntegerField()
    on_timeout_status = serializers.CharField()


class RetryPolicySerializer(serializers.Serializer):
    strategy = serializers.CharField()
    backoff_ms = serializers.IntegerField()
    max_backoff_ms = serializers.IntegerField(required=False, allow_null=True)
    multiplier = serializers.FloatField(required=False, allow_null=True)
    max_retries = serializers.IntegerField(required=False, default=0)


def wait_until_settled(job: Job, wait_ms: int) -> Job:
    """Blocks until the job completes, interrupts or fails, or ``wait_ms`` passes."""
    deadline = time.monotonic() + wait_ms / 1000
    while job.status not in SETTLED and time.monotonic() < deadline:
        time.sleep(0.02)
        job.refresh_from_db(fields=["status", "updated_at"])
    return job


def run_response(
    job: Job,
    *,
    key: str | None = None,
    replay: bool = False,
    trace: Any = None,
    new: bool = False,
) -> dict[str, Any]:
    """The reference's ``RunJobResponse`` for a job as it stands (a ``new`` one
    cannot have interrupts yet)."""
    pending = job.interrupts.filter(status=Interrupt.Status.PENDING)
    return {
        "thread_id": job.thread_id,
        "status": job.status,
        "interrupts": [] if new else [i.value for i in pending.order_by("created_at")],
        "idempotency_key": key,
        "idempotent_replay": replay,
        "trace": trace_response(trace),
    }


class RunJobInput(serializers.Serializer):
    thread_id = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False
    )
    input = AnyJSONField(required=False)
    graph = serializers.CharField(required=False)
    idempotency_key = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False
    )
    timeout_policy = TimeoutPolicySerializer(required=False, allow_null=True)
    retry_policy = RetryPolicySerializer(required=False, allow_null=True)
    priority = serializers.IntegerField(required=False, allow_null=True)
    tenant_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    queue = serializers.CharField(required=False, max_length=64)
    wait_ms = serializers.IntegerField(required=False, min_value=0)


class JobCollectionApi(OrisApi):
    """``POST /v1/jobs`` and ``/v1/jobs/run`` start a run; ``GET /v1/jobs`` lists."""

    required_scope = "jobs"

    class ListQuery(serializers.Serializer):
        status = serializers.CharField(required=False, allow_blank=True)
        limit = serializers.IntegerField(required=False, min_value=0, default=50)
        offset = serializers.IntegerField(required=False, min_value=0, default=0)

    @documented("list_jobs", "ApiEnvelope_ListJobsResponse", parameters=[ListQuery])
    def get(self, request: Request) -> Response:
        query = self.query(self.ListQuery)
        jobs = selectors.job_list(
            status=query.get("status", ""),
            limit=min(query["limit"], 200),
            offset=query["offset"],
        )
        return self.ok(
            {
                "jobs": [
                    {
                        "thread_id": j.thread_id,
                        "status": j.status,
                        "graph": j.graph,
                        "updated_at": rfc3339(j.updated_at),
                    }
                    for j in jobs
                ]
            }
        )

    @documented("run_job", "ApiEnvelope_RunJobResponse", request=RunJobInput)
    def post(self, request: Request) -> Response:
        data = self.body(RunJobInput)
        thread_id = data.get("thread_id")
        if thread_id is not None:
            not_empty(thread_id, "thread_id")
        input_value = data.get("input")
        priority = data.get("priority") or 0
        if not 0 <= priority <= 100:
            raise InvalidArgument("priority must be between 0 and 100")
        tenant = (data.get("tenant_id") or "").strip()
        if len(tenant.encode()) > 128:
            raise InvalidArgument("tenant_id must be 128 characters or fewer")
        if not TENANT.match(tenant):
            raise InvalidArgument("tenant_id contains unsupported characters")
        policy = data.get("timeout_policy")
        if policy is not None:
            if policy["timeout_ms"] <= 0:
                raise InvalidArgument("timeout_policy.timeout_ms must be > 0")
            status = policy["on_timeout_status"].strip().lower()
            if status not in ("failed", "cancelled"):
                raise InvalidArgument(
                    "timeout_policy.on_timeout_status must be one of: failed|cancelled"
                )
            policy = {"timeout_ms": policy["timeout_ms"], "on_timeout_status": status}
        retry = job_services.validate_retry_policy(data.get("retry_policy"))
        wait_ms = min(data.get("wait_ms") or 0, settings.ORIS_API_MAX_WAIT_MS)
        key = data.get("idempotency_key")
        if key is not None and not key.strip():
            raise InvalidArgument("idempotency_key must not be empty")
        trace = trace_start(request.headers.get("traceparent"))
        graph = data.get("graph") or settings.ORIS_DEFAULT_GRAPH
        if not thread_id:  # a retried keyed request must land on the same thread
            seed = key or uuid.uuid4().hex
            thread_id = f"thread-{hashlib.sha256(seed.encode()).hexdigest()[:32]}"
        payload_hash = hashlib.sha256(
            "|".join(
                [
                    thread_id,
                    json.dumps(input_value, sort_keys=True),
                    json.dumps(policy, sort_keys=True) if policy else "",
                    str(priority),
                    tenant,
                    graph,
                    json.dumps(retry, sort_keys=True) if retry else "",
                ]
            ).encode()
        ).hexdigest()
        with transaction.atomic():
            if key:
                earlier = idempotency_reserve(
                    key=key,
                    operation="run",
                    thread_id=thread_id,
                    payload_hash=payload_hash,
                    at=timezone.now(),
                )
                if earlier is not None:
                    job = selectors.job_get(thread_id=thread_id)
                    stored = (earlier.response or {}).get("trace")
                    response = run_response(job, key=key, replay=True)
                    return self.ok({**response, "trace": stored})
            job = job_services.job_create(
                graph=graph,
                input=input_value,
                actor=self.actor(),
                thread_id=thread_id,
                priority=priority,
                tenant_id=tenant,
                queue=data.get("queue") or "default",
                timeout_ms=policy["timeout_ms"] if policy else None,
                timeout_status=policy["on_timeout_status"] if policy else "",
                retry_policy=retry,
                trace=trace,
            )
            response = run_response(job, key=key, trace=trace, new=True)
            if key:
                idempotency_complete(key=key, response=response)
        if wait_ms:
            response = run_response(
                wait_until_settled(job, wait_ms), key=key, trace=trace
            )
        return self.ok(response)


class ResumeJobInput(serializers.Serializer):
    value = AnyJSONField()
    checkpoint_id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )
    wait_ms = serializers.IntegerField(required=False, min_value=0)


class JobResumeApi(OrisApi):
    """``POST /v1/jobs/{thread_id}/resume``: answers the job's pending interrupt.

    With several pending interrupts ``value`` must map interrupt ids to answers.
    """

    required_scope = "jobs"

    @documented("resume_job", "ApiEnvelope_RunJobResponse", request=ResumeJobInput)
    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(ResumeJobInput)
        job = job_for(thread_id)
        pending = list(selectors.interrupt_list_pending(job=job))
        if not pending:
            raise Conflict(
                f"thread '{job.thread_id}' has no pending interrupt",
                details={"status": job.status},
            )
        answers = self._answers(pending, data["value"])
        for interrupt, value in answers:
            interrupt_services.interrupt_resume(
                interrupt=interrupt, value=value, actor=self.actor()
            )
        job.refresh_from_db()
        wait_ms = min(data.get("wait_ms") or 0, settings.ORIS_API_MAX_WAIT_MS)
        if wait_ms:
            wait_until_settled(job, wait_ms)
        return self.ok(run_response(job))

    def _answers(
        self, pending: list[Interrupt], value: Any
    ) -> list[tuple[Interrupt, Any]]:
        if len(pending) == 1:
            return [(pending[0], value)]
        by_id = {i.pk: i for i in pending} | {i.graph_interrupt_id: i for i in pending}
        if isinstance(value, dict) and value and set(value) <= set(by_id):
            return [(by_id[k], v) for k, v in value.items()]
        raise Conflict(
            "thread has several pending interrupts; value must map interrupt ids "
            "to answers",
            details={"interrupt_ids": [i.pk for i in pending]},
        )


class ReplayJobInput(serializers.Serializer):
    checkpoint_id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True
    )


class JobReplayApi(OrisApi):
    """``POST /v1/jobs/{thread_id}/replay``: re-runs from a checkpoint, once per
    target (a duplicate replay returns the first one's response)."""

    required_scope = "jobs"

    @documented("replay_job", "ApiEnvelope_RunJobResponse", request=ReplayJobInput)
    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(ReplayJobInput)
        job = job_for(thread_id)
        target_id = (data.get("checkpoint_id") or "").strip()
        if target_id:
            target = f"checkpoint:{target_id}"
        else:
            values = present(compiled_for(job).get_state(config_for(job)).values)
            digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode())
            target = f"latest_state:{digest.hexdigest()}"
        fingerprint = hashlib.sha256(
            f"{job.thread_id}|{target}|job_replay_effect".encode()
        ).hexdigest()
        with transaction.atomic():
            earlier = idempotency_reserve(
                key=f"replay:{fingerprint}",
                operation="replay",
                thread_id=job.thread_id,
                payload_hash=fingerprint,
                at=timezone.now(),
            )
            if earlier is not None:
                return self.ok({**(earlier.response or {}), "idempotent_replay": True})
            job_services.job_replay(
                job=job, actor=self.actor(), checkpoint_id=target_id
            )
            job.refresh_from_db()
            response = run_response(job)
            idempotency_complete(key=f"replay:{fingerprint}", response=response)
        return self.ok(response)


class CancelJobInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class JobCancelApi(OrisApi):
    """``POST /v1/jobs/{thread_id}/cancel``: persistent; a running job stops at its
    next superstep (``status`` is then ``cancelling`` until it does)."""

    required_scope = "jobs"

    @documented("cancel_job", "ApiEnvelope_CancelJobResponse", request=CancelJobInput)
    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(CancelJobInput)
        job = job_for(thread_id)
        reason = data.get("reason")
        if job.status != Job.Status.CANCELLED:
            job = job_services.job_cancel(
                job=job, actor=self.actor(), reason=reason or ""
            )
        status = "cancelled" if job.status == Job.Status.CANCELLED else "cancelling"
        return self.ok({"thread_id": job.thread_id, "status": status, "reason": reason})


class JobRunApi(JobCollectionApi):
    """``POST /v1/jobs/run``: the explicit run endpoint (same as ``POST /v1/jobs``)."""

    http_method_names = ["post", "options"]

    @documented("run_job_explicit", "ApiEnvelope_RunJobResponse", request=RunJobInput)
    def post(self, request: Request) -> Response:
        return super().post(request)
