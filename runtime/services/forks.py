"""Counterfactual forks: a new job that continues another one's run from one of
its checkpoints, live, with overrides (another model, temperature, system prompt
or tool result), so the two can be compared side by side."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from runtime import registry
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.models import Attempt, Checkpoint, CheckpointBlob, CheckpointWrite, Job
from runtime.services.audit import Actor, audit_record
from runtime.services.jobs import job_enqueue_first
from runtime.tracing import trace_current

OVERRIDES = {"model", "temperature", "system_prompt", "tool_results"}
FORKABLE = (
    Job.Status.COMPLETED,
    Job.Status.FAILED,
    Job.Status.INTERRUPTED,
    Job.Status.CANCELLED,
)


def fork_overrides(value: Any) -> dict[str, Any]:
    """Checks a fork's overrides; raises ``InvalidArgument`` naming the bad one."""
    if not isinstance(value, dict):
        raise InvalidArgument("overrides must be an object")
    unknown = sorted(set(value) - OVERRIDES)
    if unknown:
        raise InvalidArgument(
            f"unknown overrides: {', '.join(unknown)}",
            details={"allowed": sorted(OVERRIDES)},
        )
    checks = {
        "model": lambda v: isinstance(v, str) and v.strip(),
        "temperature": lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 2
        ),
        "system_prompt": lambda v: isinstance(v, str),
        "tool_results": lambda v: (
            isinstance(v, dict) and all(isinstance(k, str) for k in v)
        ),
    }
    for key, ok in checks.items():
        if key in value and not ok(value[key]):
            raise InvalidArgument(f"override '{key}' is not valid")
    return dict(value)


def job_fork(
    *,
    job: Job,
    actor: Actor,
    checkpoint_id: str,
    overrides: dict[str, Any],
    at: datetime | None = None,
) -> Job:
    """Creates the fork job: the original's checkpoints up to ``checkpoint_id``
    copied to a new thread, and a replay attempt from there that runs live with
    ``overrides``. Raises ``NotFound`` for an unknown checkpoint and ``Conflict``
    while the original still runs."""
    now = at or timezone.now()
    overrides = fork_overrides(overrides)
    if job.status not in FORKABLE:
        raise Conflict(
            f"job '{job.thread_id}' is {job.status}: fork a settled run",
            details={"status": job.status},
        )
    lineage = _lineage_to(job.thread_id, checkpoint_id)
    thread_id = f"{job.thread_id}:fork-{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        fork = Job.objects.create(
            thread_id=thread_id,
            graph=job.graph,
            graph_hash=registry.graph_get(job.graph).definition_hash,
            input=job.input,
            priority=job.priority,
            tenant_id=job.tenant_id,
            queue=job.queue,
            retry_policy=job.retry_policy,
            trace=trace_current(),
            fork_of=job.thread_id,
            fork_checkpoint_id=checkpoint_id,
            effect_overrides=overrides,
            created_at=now,
            updated_at=now,
        )
        _copy_thread(job.thread_id, thread_id, lineage)
        job_enqueue_first(
            fork, kind=Attempt.Kind.REPLAY, at=now, checkpoint_id=checkpoint_id
        )
        audit_record(
            actor=actor,
            action="job.fork",
            resource_type="thread",
            resource_id=job.thread_id,
            details={
                "fork": thread_id,
                "checkpoint_id": checkpoint_id,
                "overrides": sorted(overrides),
            },
            at=now,
        )
    return fork


def _lineage_to(thread_id: str, checkpoint_id: str) -> list[str]:
    """The root checkpoints from the thread's input to ``checkpoint_id``."""
    parents = dict(
        Checkpoint.objects.filter(thread_id=thread_id, checkpoint_ns="").values_list(
            "checkpoint_id", "parent_checkpoint_id"
        )
    )
    if checkpoint_id not in parents:
        raise NotFound(
            f"checkpoint '{checkpoint_id}' not found for thread '{thread_id}'"
        )
    lineage: list[str] = []
    at: str | None = checkpoint_id
    while at and at not in lineage:
        lineage.append(at)
        at = parents.get(at) or None
    return lineage


def _copy_thread(source: str, target: str, lineage: list[str]) -> None:
    """Copies the checkpoints of ``lineage``, their pending writes and the
    thread's root blobs to ``target`` (blobs are shared by version, so copying
    them all is what keeps every copied checkpoint decodable)."""
    rows = Checkpoint.objects.filter(
        thread_id=source, checkpoint_ns="", checkpoint_id__in=lineage
    )
    Checkpoint.objects.bulk_create([_copy(row, target) for row in rows], batch_size=500)
    blobs = CheckpointBlob.objects.filter(thread_id=source, checkpoint_ns="")
    CheckpointBlob.objects.bulk_create(
        [_copy(row, target) for row in blobs], batch_size=500
    )
    writes = CheckpointWrite.objects.filter(
        thread_id=source, checkpoint_ns="", checkpoint_id__in=lineage
    )
    CheckpointWrite.objects.bulk_create(
        [_copy(row, target) for row in writes], batch_size=500
    )


def _copy(row: Any, thread_id: str) -> Any:
    row.pk = None
    row.thread_id = thread_id
    return row
