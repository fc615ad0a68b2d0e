"""/v1/jobs: run, list, resume, replay, cancel (the reads are in job_history)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present, selectors
from runtime.api import fields
from runtime.api.base import AnyJSONField, OrisApi, WaitMsField, not_empty
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, WAITED, documented
from runtime.models import Checkpoint, IdempotencyRecord, Job, RetryHistory
from runtime.services import jobs as job_services
from runtime.services import runs
from runtime.services.jobs import RETRY_STRATEGIES, TIMEOUT_STATUSES


class TimeoutPolicySerializer(serializers.Serializer):
    timeout_ms = fields.described(fields.integer(Job, "timeout_ms"), minimum=1)
    on_timeout_status = fields.described(
        fields.text(Job, "timeout_status"), pattern=fields.any_case(TIMEOUT_STATUSES)
    )


class RetryPolicySerializer(serializers.Serializer):
    strategy = fields.described(
        fields.text(RetryHistory, "strategy"), pattern=fields.any_case(RETRY_STRATEGIES)
    )
    backoff_ms = fields.described(fields.integer(RetryHistory, "backoff_ms"), minimum=1)
    max_backoff_ms = fields.described(
        fields.integer(RetryHistory, "backoff_ms", required=False, allow_null=True),
        minimum=1,
    )
    multiplier = fields.Number(required=False, allow_null=True)
    max_retries = fields.described(
        fields.integer(RetryHistory, "max_retries", required=False, default=0),
        minimum=0,
    )


class RunJobInput(serializers.Serializer):
    """The reference's ``RunJobRequest``: shapes here, rules in ``job_options``."""

    thread_id = fields.nonempty(
        fields.text(
            Job, "thread_id", required=False, allow_blank=True, trim_whitespace=False
        )
    )
    input = AnyJSONField(required=False, default=None)
    graph = fields.text(Job, "graph", required=False)
    idempotency_key = fields.nonempty(
        fields.text(
            IdempotencyRecord,
            "key",
            required=False,
            allow_null=True,
            allow_blank=True,
            trim_whitespace=False,
        )
    )
    timeout_policy = TimeoutPolicySerializer(required=False, allow_null=True)
    retry_policy = RetryPolicySerializer(required=False, allow_null=True)
    priority = fields.described(
        fields.integer(Job, "priority", required=False, allow_null=True),
        minimum=0,
        maximum=100,
    )
    # Its length is a rule of job_options (in bytes), whose message the API keeps.
    tenant_id = fields.described(
        fields.text(
            Job,
            "tenant_id",
            max_length=None,
            required=False,
            allow_null=True,
            allow_blank=True,
        ),
        pattern=r"^\s*[A-Za-z0-9\-_.:]{0,128}\s*$",
    )
    queue = fields.text(Job, "queue", required=False)
    wait_ms = WaitMsField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The reference's defaults for absent and ``null`` fields."""
        defaults = {
            "graph": settings.ORIS_DEFAULT_GRAPH,
            "priority": 0,
            "tenant_id": "",
            "queue": "default",
        }
        return attrs | {k: v for k, v in defaults.items() if attrs.get(k) is None}


RUN_DESCRIPTION = (
    "Starts a run of a registered graph (`graph`, default `ORIS_DEFAULT_GRAPH`) on "
    "a new thread; `input` must fit the graph's input schema (`GET /v1/graphs/"
    "{name}`). With `idempotency_key` a retried request answers the first "
    "response. With `wait_ms` the answer waits until the run completes, pauses at "
    "an interrupt or fails (at most `ORIS_API_MAX_WAIT_MS`) and carries its "
    "`result`, `error` and `pending_interrupts`."
)


class JobCollectionApi(OrisApi):
    """``POST /v1/jobs`` and ``/v1/jobs/run`` start a run; ``GET /v1/jobs`` lists."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "job.run", "thread"

    class ListQuery(serializers.Serializer):
        status = fields.text(
            Job, "status", required=False, allow_blank=True, default=""
        )
        limit = fields.integer(required=False, min_value=0, default=50)
        offset = fields.integer(required=False, min_value=0, default=0)

    @documented(
        "list_jobs",
        "ApiEnvelope_ListJobsResponse",
        parameters=[ListQuery],
        errors=READ_ERRORS,
        description="Jobs, most recently updated first, optionally of one status; "
        "`limit` (at most 200) and `offset` page through them.",
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.ListQuery)
        jobs = selectors.job_list(
            status=query["status"],
            limit=min(query["limit"], 200),
            offset=query["offset"],
        )
        return self.ok(present.job_list(jobs))

    @documented(
        "run_job",
        "ApiEnvelope_RunJobResponse",
        request=RunJobInput,
        data_extra=WAITED,
        description=RUN_DESCRIPTION,
    )
    def post(self, request: Request) -> Response:
        data = self.body(RunJobInput)
        traceparent = request.META.get("HTTP_TRACEPARENT")
        result = runs.job_run(actor=self.actor(), traceparent=traceparent, **data)
        return self.ok(result.response)


class JobRunApi(JobCollectionApi):
    """``POST /v1/jobs/run``: the explicit run endpoint (same as ``POST /v1/jobs``)."""

    http_method_names = ["post", "options"]

    @documented(
        "run_job_explicit",
        "ApiEnvelope_RunJobResponse",
        request=RunJobInput,
        data_extra=WAITED,
        description=RUN_DESCRIPTION,
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


def job_for(thread_id: str) -> Job:
    """The job a ``{thread_id}`` path names (404 if none)."""
    return selectors.job_get(thread_id=not_empty(thread_id, "thread_id"))


class ResumeJobInput(serializers.Serializer):
    value = AnyJSONField()
    checkpoint_id = fields.text(
        Checkpoint, "checkpoint_id", required=False, allow_null=True, allow_blank=True
    )
    wait_ms = WaitMsField()


class JobResumeApi(OrisApi):
    """``POST /v1/jobs/{thread_id}/resume``: answers the job's pending interrupt.

    With several pending interrupts ``value`` must map interrupt ids to answers.
    With ``wait_ms`` the answer waits for the run to settle again and carries its
    ``result``, ``error`` and ``pending_interrupts``.
    """

    required_scope = Scope.JOBS
    audit_action, audit_resource = "job.resume", "thread"
    audit_resource_kwarg = "thread_id"

    @documented(
        "resume_job",
        "ApiEnvelope_RunJobResponse",
        request=ResumeJobInput,
        data_extra=WAITED,
    )
    def post(self, request: Request, thread_id: str) -> Response:
        data = self.body(ResumeJobInput)
        job = runs.job_resume(
            job=job_for(thread_id),
            value=data["value"],
            actor=self.actor(),
            wait_ms=data["wait_ms"],
        )
        pending = list(selectors.interrupt_list_pending(job=job))
        response = present.run_response(job, pending=pending, trace=job.trace)
        if data["wait_ms"]:
            response = present.settled_response(response, job, pending)
        return self.ok(response)


class ReplayJobInput(serializers.Serializer):
    checkpoint_id = fields.text(
        Checkpoint, "checkpoint_id", required=False, allow_null=True, allow_blank=True
    )


class JobReplayApi(OrisApi):
    """``POST /v1/jobs/{thread_id}/replay``: re-runs from a checkpoint, once per
    target (a duplicate replay returns the first one's response)."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "job.replay", "thread"
    audit_resource_kwarg = "thread_id"

    @documented("replay_job", "ApiEnvelope_RunJobResponse", request=ReplayJobInput)
    def post(self, request: Request, thread_id: str) -> Response:
        checkpoint_id = self.body(ReplayJobInput).get("checkpoint_id") or ""
        return self.ok(
            runs.job_replay_once(
                job=job_for(thread_id), actor=self.actor(), checkpoint_id=checkpoint_id
            )
        )


class CancelJobInput(serializers.Serializer):
    reason = fields.Text(required=False, allow_null=True, allow_blank=True)


class JobCancelApi(OrisApi):
    """``POST /v1/jobs/{thread_id}/cancel``: persistent; a running job stops at its
    next superstep (``status`` is then ``cancelling`` until it does). Cancelling a
    cancelled job again answers as the first time did."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "job.cancel", "thread"
    audit_resource_kwarg = "thread_id"

    @documented("cancel_job", "ApiEnvelope_CancelJobResponse", request=CancelJobInput)
    def post(self, request: Request, thread_id: str) -> Response:
        reason = self.body(CancelJobInput).get("reason")
        job = job_for(thread_id)
        if job.status != Job.Status.CANCELLED:
            job = job_services.job_cancel(
                job=job, actor=self.actor(), reason=reason or ""
            )
        return self.ok(present.job_cancel(job, reason))
