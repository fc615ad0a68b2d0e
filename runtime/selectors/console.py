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
from runtime.models import Attempt, AuditLog, DeadLetter, Interrupt, Job, RetryHistory
from runtime.selectors.history import job_graph, thread_config


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEvent:
    at: datetime
    kind: str
    text: str


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
                text=f"retry #{retry.attempt_no} in {retry.backoff_ms} ms: {message}",
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
