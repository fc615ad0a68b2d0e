"""Jobs: create, cancel, replay from a checkpoint."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from runtime import metrics, registry
from runtime.errors import Conflict, GraphDefinitionChanged, InvalidArgument, NotFound
from runtime.inputs import input_check, input_default
from runtime.models import Attempt, AuditLog, Checkpoint, Interrupt, Job
from runtime.models.jobs import ATTEMPT_TERMINAL
from runtime.services import dispatch
from runtime.services.attempts import attempt_cancel
from runtime.services.audit import Actor, audit_entry, audit_record
from runtime.services.statements import NamedParams, Prepared, insert_sql, mark_saved
from runtime.services.transitions import transition, transition_all
from runtime.tracing import trace_current

logger = logging.getLogger(__name__)

RETRY_STRATEGIES = ("fixed", "exponential")


def normalize_input(value: Any) -> Any:
    """A string input becomes a human message, as in the reference."""
    if isinstance(value, str):
        return {"messages": [{"role": "user", "content": value}]}
    return value


def validate_retry_policy(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """Checks a retry policy with the reference's rules; returns it normalised."""
    if policy is None:
        return None
    strategy = str(policy.get("strategy", "")).strip().lower()
    if strategy not in RETRY_STRATEGIES:
        raise InvalidArgument("retry_policy.strategy must be one of: fixed|exponential")
    backoff = policy.get("backoff_ms")
    if not isinstance(backoff, int) or backoff <= 0:
        raise InvalidArgument("retry_policy.backoff_ms must be > 0")
    cap = policy.get("max_backoff_ms")
    if cap is not None and (not isinstance(cap, int) or cap <= 0):
        raise InvalidArgument("retry_policy.max_backoff_ms must be > 0")
    if cap is not None and cap < backoff:
        raise InvalidArgument(
            "retry_policy.max_backoff_ms must be >= retry_policy.backoff_ms"
        )
    multiplier = policy.get("multiplier")
    if strategy == "exponential":
        multiplier = 2.0 if multiplier is None else multiplier
        if not isinstance(multiplier, int | float) or multiplier <= 1.0:
            raise InvalidArgument(
                "retry_policy.multiplier must be > 1.0 for exponential backoff"
            )
    retries = policy.get("max_retries", 0)
    if not isinstance(retries, int) or retries < 0:
        raise InvalidArgument("retry_policy.max_retries must be >= 0")
    return {
        "strategy": strategy,
        "backoff_ms": backoff,
        "max_backoff_ms": cap,
        "multiplier": (
            float(multiplier)
            if strategy == "exponential" and multiplier is not None
            else None
        ),
        "max_retries": retries,
    }


TENANT = re.compile(r"^[A-Za-z0-9\-_.:]*$")
TIMEOUT_STATUSES = ("failed", "cancelled")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOptions:
    """A run's checked and normalised options (see ``job_options``)."""

    priority: int = 0
    tenant_id: str = ""
    queue: str = "default"
    timeout_policy: dict[str, Any] | None = None
    retry_policy: dict[str, Any] | None = None


def validate_timeout_policy(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """Checks a timeout policy with the reference's rules; returns it normalised."""
    if policy is None:
        return None
    if policy["timeout_ms"] <= 0:
        raise InvalidArgument("timeout_policy.timeout_ms must be > 0")
    status = str(policy["on_timeout_status"]).strip().lower()
    if status not in TIMEOUT_STATUSES:
        raise InvalidArgument(
            "timeout_policy.on_timeout_status must be one of: failed|cancelled"
        )
    return {"timeout_ms": policy["timeout_ms"], "on_timeout_status": status}


class RunOptions(TypedDict, total=False):
    """A run's options as a caller gives them (checked by ``job_options``)."""

    priority: int
    tenant_id: str
    queue: str
    timeout_policy: dict[str, Any] | None
    retry_policy: dict[str, Any] | None


def job_options(**options: Unpack[RunOptions]) -> JobOptions:
    """Checks a run's options: the one place their rules live (API, CLI, console).
    An option it does not know is refused, never ignored."""
    unknown = set(options) - set(RunOptions.__annotations__)
    if unknown:
        raise TypeError(f"unknown run options: {', '.join(sorted(unknown))}")
    priority = options.get("priority", 0)
    if not 0 <= priority <= 100:
        raise InvalidArgument("priority must be between 0 and 100")
    tenant = options.get("tenant_id", "").strip()
    if len(tenant.encode()) > 128:
        raise InvalidArgument("tenant_id must be 128 characters or fewer")
    if not TENANT.match(tenant):
        raise InvalidArgument("tenant_id contains unsupported characters")
    return JobOptions(
        priority=priority,
        tenant_id=tenant,
        queue=options.get("queue", "default"),
        timeout_policy=validate_timeout_policy(options.get("timeout_policy")),
        retry_policy=validate_retry_policy(options.get("retry_policy")),
    )


def job_create(
    *,
    graph: str,
    input: Any,
    actor: Actor,
    thread_id: str | None = None,
    trace: dict[str, Any] | None = None,
    at: datetime | None = None,
    **options: Unpack[RunOptions],
) -> Job:
    """Accepts a run: the job, its first attempt and the q2 task, in one transaction.

    ``options`` are a run's options as the API takes them (``RunOptions``),
    checked by ``job_options``; ``runs.job_run`` adds the idempotency key and the
    wait around the same insert.
    """
    return job_insert(
        graph=graph,
        input=input,
        actor=actor,
        options=job_options(**options),
        thread_id=thread_id,
        trace=trace,
        at=at,
    ).job


def job_insert(
    *,
    graph: str,
    input: Any,
    actor: Actor,
    options: JobOptions,
    thread_id: str | None = None,
    trace: dict[str, Any] | None = None,
    at: datetime | None = None,
    savepoint: bool = True,
    along: Callable[[NamedParams], str] | None = None,
) -> Attempt:
    """``job_create`` for options ``job_options`` already checked; answers the
    job's first attempt (its ``job`` the new job) rather than reading it back.
    ``savepoint=False``: a caller with ``along`` that lets the ``Conflict`` of
    a taken thread id end its transaction needs no savepoint to keep it usable
    (without ``along`` a taken thread id fails no statement). ``along``
    (PostgreSQL only): more common table expressions of the acceptance's one
    statement, rendered with its parameters; they may read the new ids in
    ``job`` and ``attempt``."""
    now = at or timezone.now()
    registered = registry.graph_get(graph)
    timeout = options.timeout_policy or {}
    if input is None:
        input = input_default(registered.graph)
    input = normalize_input(input)
    input_check(registered.graph, input, name=graph)
    thread_id = thread_id or f"thread-{uuid.uuid4().hex}"
    job = Job(
        thread_id=thread_id,
        graph=graph,
        graph_hash=registered.definition_hash,
        input=input,
        priority=options.priority,
        tenant_id=options.tenant_id,
        queue=options.queue,
        timeout_ms=timeout.get("timeout_ms"),
        timeout_status=timeout.get("on_timeout_status", ""),
        retry_policy=options.retry_policy,
        trace=trace or trace_current(),
        created_at=now,
        updated_at=now,
    )
    audit = audit_entry(
        actor=actor,
        action="job.run",
        resource_type="thread",
        resource_id=thread_id,
        details={"graph": graph},
        at=now,
    )
    attempt = _attempt_of(job, kind=Attempt.Kind.RUN, at=now)
    try:
        if connection.vendor == "postgresql":
            _insert_at_once(job, attempt, audit, savepoint=savepoint, along=along)
        elif along is not None:
            raise ValueError("along: PostgreSQL only")
        else:
            with transaction.atomic():
                job.save(force_insert=True)
                attempt.job = job
                _enqueue(attempt)
                audit.save(force_insert=True)
    except IntegrityError:  # the thread id is taken: nothing was written
        raise _taken(thread_id) from None
    return attempt


def _taken(thread_id: str) -> Conflict:
    return Conflict(
        f"thread '{thread_id}' already exists", details={"thread_id": thread_id}
    )


# The id of the job the acceptance's statement inserts (its ``job`` CTE), as a
# value of the statement's other rows; made once (a ``RawSQL`` makes a field of
# its own).
NEW_JOB_ID = RawSQL("SELECT id FROM job", ())


# A run's acceptance, the most frequent write, on PostgreSQL as one statement:
# the job, its first attempt (referring to the job's new id), the audit row and
# the doorbell's ring with its q2 task and notification, each a CTE, one round
# trip. A taken thread id fails nothing: the job's insert does nothing on the
# conflict and the attempt's and the audit's insert a row for each job it
# inserted (``insert_sql``'s ``per_row_of``), so inside a caller's transaction
# (a batch of submissions) it needs no savepoint to leave that transaction
# usable (two round trips fewer per run). What the statement rings for nothing
# on a conflict is a wake-up that finds nothing. With ``along`` the statement
# fails on a conflict instead (their CTEs need the job's id), in a savepoint
# when the caller asks for one.
def _insert_at_once(
    job: Job,
    attempt: Attempt,
    audit: AuditLog,
    *,
    savepoint: bool = True,
    along: Callable[[NamedParams], str] | None = None,
) -> None:
    attempt.job_id = NEW_JOB_ID
    ring = dispatch.dispatch_ring_ctes(queue=attempt.queue, at=attempt.created_at)
    named = NamedParams()
    job_sql, job_params = insert_sql(job)
    of_job = ""
    if along is None:  # a taken thread id writes nothing and fails nothing
        job_sql, of_job = f"{job_sql} ON CONFLICT (thread_id) DO NOTHING", "job"
    insert_job = (job_sql, job_params)
    insert_attempt = insert_sql(attempt, per_row_of=of_job)
    insert_audit = insert_sql(audit, per_row_of=of_job)
    statement = (
        f"WITH job AS ({named.part(*insert_job)} RETURNING id),"
        f" attempt AS ({named.part(*insert_attempt)} RETURNING id),"
        f" audit AS ({named.part(*insert_audit)}),"
        f"{f' {along(named)},' if along else ''}"
        f" {named.part(ring.sql, ring.params)}"
        " SELECT (SELECT id FROM job), (SELECT id FROM attempt),"
        " EXISTS (SELECT FROM bell), (SELECT count(*) FROM notified)"
    )
    params = named.values
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of ``connection`` looks it up
    inside = along is not None and savepoint and db.in_atomic_block
    atomic = transaction.atomic() if inside else nullcontext()
    with atomic, db.cursor() as cursor:
        cursor.execute(Prepared(statement), params)
        job.pk, attempt.pk, rang, _ = cursor.fetchone()
    dispatch.dispatch_rang(ring, rang=rang)
    if job.pk is None:  # the thread id is taken: nothing of the run was written
        raise _taken(job.thread_id)
    mark_saved(job, attempt)
    attempt.job = job


def _attempt_of(
    job: Job,
    *,
    kind: str,
    at: datetime,
    resume: Any = None,
    checkpoint_id: str = "",
) -> Attempt:
    """A new attempt of ``job``, unsaved."""
    return Attempt(
        job=job,
        kind=kind,
        queue=job.queue,
        priority=job.priority,
        tenant_id=job.tenant_id,
        retry_policy=job.retry_policy,
        timeout_ms=job.timeout_ms,
        timeout_status=job.timeout_status,
        resume=resume,
        checkpoint_id=checkpoint_id,
        trace=job.trace,
        created_at=at,
    )


def _enqueue(attempt: Attempt) -> Attempt:
    """Saves the new ``attempt`` and rings its queue's doorbell."""
    attempt.save(force_insert=True)
    dispatch.dispatch_ring(queue=attempt.queue)
    return attempt


def job_enqueue_first(
    job: Job, *, kind: str, at: datetime, checkpoint_id: str = ""
) -> Attempt:
    """Queues the first attempt of a job written by another service (a fork),
    in the caller's transaction."""
    return _enqueue(_attempt_of(job, kind=kind, at=at, checkpoint_id=checkpoint_id))


def job_check_definition(*, job: Job, actor: Actor, at: datetime) -> None:
    """Refuses to continue a run on a graph whose definition changed since the
    run started (``GraphDefinitionChanged``); with
    ``ORIS_GRAPH_DEFINITION_CHANGED=warn`` it records the change instead, which
    the run's timeline shows."""
    registered = registry.graph_get(job.graph).definition_hash
    if registered == job.graph_hash:
        return
    details = {
        "graph": job.graph,
        "pinned_hash": job.graph_hash,
        "registered_hash": registered,
    }
    if settings.ORIS_GRAPH_DEFINITION_CHANGED != "warn":
        raise GraphDefinitionChanged(
            f"graph {job.graph!r} changed since thread {job.thread_id!r} started; "
            "continuing it could take paths its checkpoints never saw",
            details=details,
        )
    logger.warning("thread %s continues on a changed graph: %s", job.thread_id, details)
    audit_record(
        actor=actor,
        action=AuditLog.DEFINITION_CHANGED,
        resource_type="thread",
        resource_id=job.thread_id,
        details=details,
        at=at,
    )


def job_enqueue_continuation(
    *,
    job: Job,
    kind: str,
    sources: list[str],
    at: datetime,
    resume: Any = None,
    checkpoint_id: str = "",
) -> Attempt:
    """Queues a resume or replay attempt and moves the job from ``sources`` back
    to ``queued``; ``InvalidTransition`` if the job is in none of them. Callers
    check the graph's definition first (``job_check_definition``)."""
    transition(
        Job,
        job.pk,
        to=Job.Status.QUEUED,
        sources=sources,
        updated_at=at,
        finished_at=None,
        cancel_requested=False,
    )
    return _enqueue(
        _attempt_of(job, kind=kind, at=at, resume=resume, checkpoint_id=checkpoint_id)
    )


def job_cancel(
    *, job: Job, actor: Actor, reason: str = "", at: datetime | None = None
) -> Job:
    """Cancels a job persistently.

    A queued or interrupted job is cancelled at once; a running one stops at its
    next superstep, when its worker sees the flag.
    """
    now = at or timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_terminal:
            raise Conflict(
                f"job '{job.thread_id}' is already {job.status}",
                details={"status": job.status},
            )
        Job.objects.filter(pk=job.pk).update(
            cancel_requested=True, cancel_reason=reason, updated_at=now
        )
        if job.status in (Job.Status.QUEUED, Job.Status.INTERRUPTED):
            _cancel_now(job, now)
        audit_record(
            actor=actor,
            action="job.cancel",
            resource_type="thread",
            resource_id=job.thread_id,
            details={"reason": reason},
            at=now,
        )
    job.refresh_from_db()
    return job


def _cancel_now(job: Job, now: datetime) -> None:
    for attempt in job.attempts.exclude(status__in=ATTEMPT_TERMINAL):
        attempt_cancel(attempt=attempt, at=now)
    transition_all(
        job.interrupts.all(),
        to=Interrupt.Status.CANCELLED,
        sources=[Interrupt.Status.PENDING],
        resolved_at=now,
    )
    transition(Job, job.pk, to=Job.Status.CANCELLED, updated_at=now, finished_at=now)
    metrics.run_finished(graph=job.graph, status=Job.Status.CANCELLED)


def job_mark_cancelled(*, job: Job, at: datetime | None = None) -> None:
    """Records the stop of a running job whose cancel flag its worker saw."""
    now = at or timezone.now()
    with transaction.atomic():
        _cancel_now(job, now)


def job_replay(
    *,
    job: Job,
    actor: Actor,
    checkpoint_id: str = "",
    at: datetime | None = None,
) -> Attempt:
    """Re-runs a finished job from one of its checkpoints, as a fork; without one,
    from its first checkpoint (the input), so the whole run is reproduced."""
    now = at or timezone.now()
    checkpoints = Checkpoint.objects.filter(thread_id=job.thread_id, checkpoint_ns="")
    if checkpoint_id and not checkpoints.filter(checkpoint_id=checkpoint_id).exists():
        raise NotFound(
            f"checkpoint '{checkpoint_id}' not found for thread '{job.thread_id}'"
        )
    first = checkpoints.order_by("checkpoint_id").first()
    if first is None:
        raise NotFound(f"no checkpoint found for thread '{job.thread_id}'")
    checkpoint_id = checkpoint_id or first.checkpoint_id
    with transaction.atomic():
        job_check_definition(job=job, actor=actor, at=now)
        attempt = job_enqueue_continuation(
            job=job,
            kind=Attempt.Kind.REPLAY,
            sources=[Job.Status.COMPLETED, Job.Status.FAILED],
            at=now,
            checkpoint_id=checkpoint_id,
        )
        audit_record(
            actor=actor,
            action="job.replay",
            resource_type="thread",
            resource_id=job.thread_id,
            details={"checkpoint_id": checkpoint_id or None},
            at=now,
        )
    return attempt
