"""/v1/jobs/{thread_id}: state, detail, history, timeline and checkpoints (reads)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present, selectors
from runtime.api.base import OrisApi, not_empty
from runtime.api.jobs import job_for
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, documented, envelope_schema


class JobStateApi(OrisApi):
    """``GET /v1/jobs/{thread_id}``: the latest checkpoint's state."""

    required_scope = Scope.JOBS

    @documented("inspect_job", "ApiEnvelope_JobStateResponse", errors=READ_ERRORS)
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        return self.ok(present.job_state(job, selectors.job_state(job=job)))


class JobDetailApi(OrisApi):
    """``GET /v1/jobs/{thread_id}/detail``: state, history, interrupt, attempts."""

    required_scope = Scope.JOBS

    @documented("job_detail", "ApiEnvelope_JobDetailResponse", errors=READ_ERRORS)
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        detail = present.job_detail(
            job,
            entries=selectors.job_history(job=job),
            state=selectors.job_state(job=job),
            pending=selectors.interrupt_last_pending(job=job),
            attempts=selectors.job_attempts(job=job),
            latest_attempt=selectors.job_latest_attempt(job=job),
        )
        return self.ok(detail)


class JobHistoryApi(OrisApi):
    """The thread's checkpoints, oldest first: the ids to inspect, replay or fork
    from."""

    required_scope = Scope.JOBS

    @documented("job_history", "ApiEnvelope_JobHistoryResponse", errors=READ_ERRORS)
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        return self.ok(present.job_history(job, selectors.job_history(job=job)))


class JobTimelineApi(OrisApi):
    """The thread's checkpoints as numbered `checkpoint_saved` events."""

    required_scope = Scope.JOBS

    @documented("job_timeline", "ApiEnvelope_JobTimelineResponse", errors=READ_ERRORS)
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        entries = selectors.job_timeline_history(job=job)
        return self.ok(present.job_timeline(job, entries))


class JobTimelineExportApi(OrisApi):
    """The timeline and the history together, for archiving a run."""

    required_scope = Scope.JOBS

    @documented(
        "job_timeline_export", "ApiEnvelope_TimelineExportResponse", errors=READ_ERRORS
    )
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        entries = selectors.job_timeline_history(job=job)
        return self.ok(present.job_timeline_export(job, entries))


class JobCheckpointApi(OrisApi):
    """The state saved in one checkpoint of the thread (404 if the thread has no
    such checkpoint)."""

    required_scope = Scope.JOBS

    @documented(
        "inspect_checkpoint",
        "ApiEnvelope_CheckpointInspectResponse",
        errors=READ_ERRORS,
    )
    def get(self, request: Request, thread_id: str, checkpoint: str) -> Response:
        not_empty(checkpoint, "checkpoint_id")
        job = job_for(thread_id)
        state = selectors.job_checkpoint_state(job=job, checkpoint_id=checkpoint)
        return self.ok(present.checkpoint_state(job, state))


STORAGE: dict[str, Any] = {
    "type": "object",
    "required": ["thread_id", "checkpoints", "blobs", "writes", "bytes"],
    "properties": {
        "thread_id": {"type": "string"},
        "checkpoints": {"type": "integer"},
        "blobs": {"type": "integer"},
        "writes": {"type": "integer"},
        "bytes": {"type": "integer", "description": "all of the thread's rows"},
        "checkpoint_bytes": {"type": "integer"},
        "blob_bytes": {"type": "integer"},
        "write_bytes": {"type": "integer"},
        "pruned_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}


class JobStorageApi(OrisApi):
    """What the thread stores (checkpoints, blobs, pending writes and their
    bytes), and when retention last pruned it."""

    required_scope = Scope.JOBS
    in_contract = False

    @documented(
        "job_storage",
        envelope_schema(STORAGE),
        errors=READ_ERRORS,
        summary="A thread's stored rows and bytes",
    )
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        storage = selectors.thread_storage(thread_id=job.thread_id)
        return self.ok(present.job_storage(job, storage))


_SPENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input_tokens": {"type": "integer"},
        "output_tokens": {"type": "integer"},
        "tokens": {"type": "integer"},
        "cost_usd": {"type": "number"},
        "model_calls": {"type": "integer"},
        "tool_calls": {"type": "integer"},
        "wall_seconds": {"type": "number"},
    },
}
USAGE: dict[str, Any] = {
    "type": "object",
    "required": ["thread_id", "tenant_id", "run", "grants", "tenant"],
    "properties": {
        "thread_id": {"type": "string"},
        "tenant_id": {"type": "string"},
        "run": _SPENT,
        "grants": {
            "type": "object",
            "description": "budget approved by operators, per pause",
            "additionalProperties": {"type": "number"},
        },
        "tenant": {**_SPENT, "description": "totals of the tenant's runs"},
    },
}


class JobUsageApi(OrisApi):
    """What the run spent (tokens, cost, model and tool calls, wall time), the
    extra budget operators approved it, and its tenant's totals."""

    required_scope = Scope.JOBS
    in_contract = False

    @documented(
        "job_usage",
        envelope_schema(USAGE),
        errors=READ_ERRORS,
        summary="A run's usage and its tenant's totals",
    )
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        return self.ok(present.job_usage(job, selectors.job_usage(job=job)))
