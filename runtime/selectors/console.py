"""Reads only the operator console needs: front-page counts, run timelines, where a
run stands in its graph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.utils import timezone

from graphs import serde
from runtime import registry
from runtime.checkpointer import DjangoSaver
from runtime.errors import OrisError
from runtime.inputs import input_default, input_fields
from runtime.models import Attempt, AuditLog, DeadLetter, Interrupt, Job, RetryHistory
from runtime.selectors.history import (
    CheckpointEntry,
    job_graph,
    job_history,
    thread_config,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEvent:
    at: datetime
    kind: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRun:
    """One node's run in one superstep, from the checkpoints around it."""

    node: str
    step: int | None
    status: str  # done | running | failed | interrupted | waiting
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(
            0, round((self.finished_at - self.started_at).total_seconds() * 1000)
        )


def job_node_runs(
    *, job: Job, history: list[CheckpointEntry] | None = None
) -> list[NodeRun]:
    """Every node the run has run or is running, in order: a node of step ``s``
    starts at the checkpoint before it (or when its attempt started, if later)
    and finishes at the checkpoint of step ``s``. The nodes after the latest
    checkpoint are running, failed (the run failed or backs off there) or
    waiting (paused, queued)."""
    entries = history if history is not None else job_history(job=job)
    starts = sorted(
        a.started_at for a in job.attempts.all() if a.started_at is not None
    )
    runs: list[NodeRun] = []
    for before, after in zip(entries, entries[1:], strict=False):
        begin, end = _ts(before.created_at), _ts(after.created_at)
        begin = _latest_start(starts, begin, end)
        runs.extend(
            NodeRun(
                node=node,
                step=after.step,
                status="done",
                started_at=begin,
                finished_at=end,
            )
            for node in before.next_nodes
            if not node.startswith("__")
        )
    if not entries and job.status == Job.Status.RUNNING:
        # Its first checkpoints are written with the first step's result: until
        # then the run stands in the nodes its graph starts with.
        runs.extend(
            NodeRun(
                node=node,
                step=0,
                status="running",
                started_at=starts[-1] if starts else None,
                finished_at=None,
            )
            for node in _entry_nodes(job)
        )
    if entries and entries[-1].next_nodes:
        last = entries[-1]
        status = _open_status(job)
        begin = _latest_start(starts, _ts(last.created_at), None)
        runs.extend(
            NodeRun(
                node=node,
                step=(last.step or 0) + 1 if last.step is not None else None,
                status=status,
                started_at=begin if status != "waiting" else None,
                finished_at=job.finished_at if status == "failed" else None,
            )
            for node in last.next_nodes
            if not node.startswith("__")
        )
    return runs


def _entry_nodes(job: Job) -> list[str]:
    """The nodes a graph surely starts with (its plain edges from START)."""
    try:
        edges = job_graph(job=job).get_graph().edges
    except OrisError:
        return []
    starts = [e for e in edges if e.source == "__start__"]
    if any(e.conditional for e in starts):
        return []
    return [e.target for e in starts if not e.target.startswith("__")]


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _latest_start(
    starts: list[datetime], begin: datetime | None, end: datetime | None
) -> datetime | None:
    """The later of ``begin`` and the last attempt start before ``end``."""
    if begin is None:
        return None
    later = [s for s in starts if s > begin and (end is None or s <= end)]
    return later[-1] if later else begin


def _open_status(job: Job) -> str:
    if job.status == Job.Status.FAILED:
        return "failed"
    latest = job.attempts.order_by("-created_at").first()
    if latest is not None and latest.status == Attempt.Status.RETRY_BACKOFF:
        return "failed"
    if job.status == Job.Status.RUNNING:
        return "running"
    if job.status == Job.Status.INTERRUPTED:
        return "interrupted"
    return "waiting"


def job_next_retry(*, job: Job) -> Attempt | None:
    """The attempt backing off before its next try, if the run is waiting so."""
    return job.attempts.filter(status=Attempt.Status.RETRY_BACKOFF).first()


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphInfo:
    """A registered graph as the console's start-a-run form shows it."""

    name: str
    fields: list[tuple[str, str, bool]] | None  # (key, type, required); None: any
    example: Any  # the input a run without one gets


def graph_catalog() -> list[GraphInfo]:
    """Every registered graph with its input schema, by name."""
    found = []
    for name in registry.graph_names():
        try:
            graph = registry.graph_get(name).graph
        except OrisError:
            continue  # a graph that does not build is not offered
        found.append(
            GraphInfo(
                name=name, fields=input_fields(graph), example=input_default(graph)
            )
        )
    return found


def console_counts(*, at: datetime | None = None) -> dict[str, int]:
    """What the console's front page counts: work waiting for people, and load."""
    now = at or timezone.now()
    jobs = Job.objects.all()
    return {
        "pending_interrupts": Interrupt.objects.filter(
            status=Interrupt.Status.PENDING
        ).count(),
        "pending_dead_letters": DeadLetter.objects.filter(
            replay_status=DeadLetter.ReplayStatus.PENDING
        ).count(),
        "running": jobs.filter(status=Job.Status.RUNNING).count(),
        "queued": jobs.filter(status=Job.Status.QUEUED).count(),
        "failed_24h": jobs.filter(
            status=Job.Status.FAILED, finished_at__gte=now - timedelta(hours=24)
        ).count(),
    }


def job_latest_state(*, job: Job) -> dict[str, Any] | None:
    """The state in the thread's latest checkpoint, as JSON; ``None`` without one."""
    found = DjangoSaver().get_tuple(thread_config(job.thread_id))
    if found is None:
        return None
    return serde.to_jsonable(found.checkpoint.get("channel_values") or {})


def job_current_nodes(*, job: Job) -> tuple[str, ...]:
    """Where the run stands in its graph: the next nodes, or start/end."""
    if job.status == Job.Status.COMPLETED:
        return ("__end__",)
    try:
        snapshot = job_graph(job=job).get_state(thread_config(job.thread_id))
    except OrisError:
        return ()
    if snapshot is None or not snapshot.config:
        return ("__start__",)
    return tuple(snapshot.next) or ("__start__",)


def job_timeline(*, job: Job) -> list[TimelineEvent]:
    """What happened to a run, in order: attempts, retries, interrupts, actions."""
    events = [TimelineEvent(at=job.created_at, kind="job", text="run accepted")]
    for attempt in job.attempts.order_by("created_at"):
        events.extend(_attempt_events(attempt))
    for retry in RetryHistory.objects.filter(attempt__job=job):
        message = (retry.error or {}).get("message", "")
        events.append(
            TimelineEvent(
                at=retry.scheduled_at,
                kind="retry",
                text=f"attempt #{retry.attempt_no - 1} failed ({message}); "
                f"attempt #{retry.attempt_no} in {retry.backoff_ms} ms",
            )
        )
    for interrupt in job.interrupts.all():
        events.extend(_interrupt_events(interrupt))
    for dead in job.dead_letters.all():
        events.append(
            TimelineEvent(at=dead.dead_at, kind="dead_letter", text=dead.reason)
        )
    events.extend(_audit_events(job))
    return sorted(events, key=lambda event: event.at)


def _attempt_events(attempt: Attempt) -> list[TimelineEvent]:
    label = f"attempt #{attempt.attempt_no} ({attempt.kind})"
    events = [
        TimelineEvent(at=attempt.created_at, kind="attempt", text=f"{label} queued")
    ]
    if attempt.started_at:
        events.append(
            TimelineEvent(
                at=attempt.started_at, kind="attempt", text=f"{label} started"
            )
        )
    if attempt.finished_at:
        error = (attempt.error or {}).get("message", "")
        text = f"{label} {attempt.status}" + (f": {error}" if error else "")
        events.append(TimelineEvent(at=attempt.finished_at, kind="attempt", text=text))
    return events


def _interrupt_events(interrupt: Interrupt) -> list[TimelineEvent]:
    events = [
        TimelineEvent(at=interrupt.created_at, kind="interrupt", text="interrupted")
    ]
    if interrupt.resolved_at:
        who = f" by {interrupt.resolved_by}" if interrupt.resolved_by else ""
        reason = f": {interrupt.reason}" if interrupt.reason else ""
        events.append(
            TimelineEvent(
                at=interrupt.resolved_at,
                kind="interrupt",
                text=f"interrupt {interrupt.status}{who}{reason}",
            )
        )
    return events


def _audit_events(job: Job) -> list[TimelineEvent]:
    ids = [job.thread_id, *job.attempts.values_list("id", flat=True)]
    ids += list(job.interrupts.values_list("id", flat=True))
    rows = AuditLog.objects.filter(resource_id__in=ids).exclude(action="job.run")
    return [_audit_event(row) for row in rows]


def _audit_event(row: AuditLog) -> TimelineEvent:
    by = f"{row.actor_type}:{row.actor_id}"
    if row.action == AuditLog.DEFINITION_CHANGED:
        details = cast(dict[str, Any], row.details)  # written with both hashes
        pinned, registered = details["pinned_hash"], details["registered_hash"]
        return TimelineEvent(
            at=row.created_at,
            kind="warning",
            text=f"continued by {by} on a changed graph definition "
            f"({pinned[:12]} → {registered[:12]})",
        )
    if row.action == AuditLog.LEASE_EXPIRED:
        details = cast(dict[str, Any], row.details)  # written by the reaper
        outcome = details["outcome"].replace("_", "-")
        return TimelineEvent(
            at=row.created_at,
            kind="warning",
            text=f"worker {details['worker_id']} went silent "
            f"({details['silent_ms'] / 1000:.1f} s since its last heartbeat); "
            f"its attempt {outcome} by {by}",
        )
    text = f"{row.action} by {by}{_policy_note(row)}"
    return TimelineEvent(at=row.created_at, kind="action", text=text)


def _policy_note(row: AuditLog) -> str:
    """What an approval-policy action adds to its timeline line."""
    details = row.details or {}
    if row.action == "interrupt.vote":
        counted = details.get("approvals")
        tally = f", {counted} of {details['quorum']}" if counted is not None else ""
        reason = f": {details['reason']}" if details.get("reason") else ""
        return f" ({details.get('vote')}{tally}){reason}"
    if row.action == "interrupt.escalate":
        return f" (from {details.get('from')} to group {details.get('to')})"
    if row.action == "interrupt.expire":
        return f" (no answer by {details.get('deadline_at')})"
    return ""


def job_definition_change(*, job: Job) -> dict[str, str] | None:
    """The pinned and the registered definition hash of a run's graph, and the
    policy (``ORIS_GRAPH_DEFINITION_CHANGED``), when they differ (the graph
    changed since the run started); ``None`` when they match or the graph is not
    registered any more."""
    try:
        registered = registry.graph_get(job.graph).definition_hash
    except OrisError:
        return None
    if registered == job.graph_hash:
        return None
    return {
        "pinned_hash": job.graph_hash,
        "registered_hash": registered,
        "policy": settings.ORIS_GRAPH_DEFINITION_CHANGED,
    }
