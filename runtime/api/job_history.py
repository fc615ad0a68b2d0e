"""/v1/jobs/{thread_id}: state, detail, history, timeline and checkpoints (reads)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from runtime import registry, selectors
from runtime.api.base import OrisApi, not_empty, rfc3339
from runtime.api.schema import documented
from runtime.checkpointer import DjangoSaver
from runtime.errors import NotFound
from runtime.models import Interrupt, Job
from runtime.present import present
from runtime.tracing import trace_response


def compiled_for(job: Job) -> Any:
    return registry.graph_get(job.graph).graph.with_checkpointer(DjangoSaver())


def config_for(job: Job, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": job.thread_id}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def history(job: Job) -> list[Any]:
    """Checkpoints oldest first, as the reference lists them."""
    return list(reversed(list(compiled_for(job).get_state_history(config_for(job)))))


def history_items(snapshots: list[Any]) -> list[dict[str, Any]]:
    return [
        {"checkpoint_id": checkpoint_id(s), "created_at": s.created_at}
        for s in snapshots
    ]


def timeline_items(snapshots: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "seq": seq,
            "event_type": "checkpoint_saved",
            "checkpoint_id": checkpoint_id(s),
            "created_at": s.created_at,
        }
        for seq, s in enumerate(snapshots, start=1)
    ]


def checkpoint_id(snapshot: Any) -> str | None:
    return ((snapshot.config or {}).get("configurable") or {}).get("checkpoint_id")


def job_for(thread_id: str) -> Job:
    return selectors.job_get(thread_id=not_empty(thread_id, "thread_id"))


class JobStateApi(OrisApi):
    """``GET /v1/jobs/{thread_id}``: the latest checkpoint's state."""

    required_scope = "jobs"

    @documented("inspect_job", "ApiEnvelope_JobStateResponse")
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        snapshot = compiled_for(job).get_state(config_for(job))
        return self.ok(
            {
                "thread_id": job.thread_id,
                "checkpoint_id": checkpoint_id(snapshot),
                "created_at": snapshot.created_at or rfc3339(job.created_at),
                "values": present(snapshot.values),
            }
        )


class JobDetailApi(OrisApi):
    """``GET /v1/jobs/{thread_id}/detail``: state, history, interrupt, attempts."""

    required_scope = "jobs"

    @documented("job_detail", "ApiEnvelope_JobDetailResponse")
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        snapshots = history(job)
        latest = snapshots[-1] if snapshots else None
        pending = job.interrupts.filter(status=Interrupt.Status.PENDING).last()
        attempt = job.attempts.order_by("-created_at").first()
        return self.ok(
            {
                "thread_id": job.thread_id,
                "status": job.status,
                "graph": job.graph,
                "checkpoint_id": checkpoint_id(latest) if latest else None,
                "values": present(latest.values) if latest else {},
                "history": history_items(snapshots),
                "timeline": timeline_items(snapshots),
                "pending_interrupt": interrupt_detail(pending) if pending else None,
                "trace": trace_response(attempt.trace if attempt else job.trace),
                "attempts": [
                    {
                        "attempt_id": a.pk,
                        "attempt_no": a.attempt_no,
                        "kind": a.kind,
                        "status": a.status,
                        "created_at": rfc3339(a.created_at),
                    }
                    for a in job.attempts.order_by("created_at")
                ],
                "error": job.error,
            }
        )


class JobHistoryApi(OrisApi):
    required_scope = "jobs"

    @documented("job_history", "ApiEnvelope_JobHistoryResponse")
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        return self.ok(
            {"thread_id": job.thread_id, "history": history_items(history(job))}
        )


def timeline_of(job: Job) -> list[Any]:
    """The history, which a timeline needs to be non-empty (404 otherwise)."""
    snapshots = history(job)
    if not snapshots:
        raise NotFound(f"No timeline found for thread: {job.thread_id}")
    return snapshots


class JobTimelineApi(OrisApi):
    required_scope = "jobs"

    @documented("job_timeline", "ApiEnvelope_JobTimelineResponse")
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        snapshots = timeline_of(job)
        return self.ok(
            {"thread_id": job.thread_id, "timeline": timeline_items(snapshots)}
        )


class JobTimelineExportApi(OrisApi):
    required_scope = "jobs"

    @documented("job_timeline_export", "ApiEnvelope_TimelineExportResponse")
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        snapshots = timeline_of(job)
        return self.ok(
            {
                "thread_id": job.thread_id,
                "timeline": timeline_items(snapshots),
                "history": history_items(snapshots),
            }
        )


class JobCheckpointApi(OrisApi):
    required_scope = "jobs"

    @documented("inspect_checkpoint", "ApiEnvelope_CheckpointInspectResponse")
    def get(self, request: Request, thread_id: str, checkpoint: str) -> Response:
        not_empty(checkpoint, "checkpoint_id")
        job = job_for(thread_id)
        saver = DjangoSaver()
        if saver.get_tuple(config_for(job, checkpoint)) is None:
            raise NotFound(f"Checkpoint not found: {checkpoint}")
        snapshot = compiled_for(job).get_state(config_for(job, checkpoint))
        return self.ok(
            {
                "thread_id": job.thread_id,
                "checkpoint_id": checkpoint,
                "created_at": snapshot.created_at,
                "values": present(snapshot.values),
            }
        )


def interrupt_detail(interrupt: Interrupt) -> dict[str, Any]:
    return {
        "interrupt_id": interrupt.pk,
        "thread_id": interrupt.job.thread_id,
        "run_id": interrupt.job.thread_id,
        "attempt_id": interrupt.attempt_id,
        "value": interrupt.value,
        "status": interrupt.status,
        "created_at": rfc3339(interrupt.created_at),
    }
