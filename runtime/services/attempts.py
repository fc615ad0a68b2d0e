"""Attempt outcomes: completed, interrupted, failed (retry or dead letter), cancelled.

Every outcome of a leased attempt is fenced: it releases the lease first, and a
worker that lost its lease records nothing.
"""

from __future__ import annotations

import enum
import json
import traceback
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DataError, connection, transaction
from django.utils import timezone

from graphs.policy import InterruptPolicy
from runtime import metrics
from runtime.errors import InvalidTransition, LeaseLost, RecoveryLimitExceeded
from runtime.models import (
    Attempt,
    DeadLetter,
    Interrupt,
    Job,
    Lease,
    RetryHistory,
    Run,
)
from runtime.services import dispatch
from runtime.services.approvals import policy_columns
from runtime.services.claims import RUNNING, sql_statuses
from runtime.services.leases import LeaseFence, lease_release
from runtime.services.run_status import LIVE, run_follow
from runtime.services.statements import Prepared
from runtime.services.transitions import allowed_sources, transition

if TYPE_CHECKING:
    from runtime.checkpointer import DjangoSaver, Statement


class Outcome(enum.StrEnum):
    """How a worker's run of an attempt ended."""

    COMPLETED = "completed"  # the graph reached END
    INTERRUPTED = "interrupted"  # paused for a person
    RETRY_SCHEDULED = "retry_scheduled"  # failed; runs again after its backoff
    FAILED = "failed"  # failed for good: dead-lettered
    CANCELLED = "cancelled"  # its job was cancelled
    LEASE_LOST = "lease_lost"  # another worker took it over: nothing recorded
    REQUEUED = "requeued"  # stopped without an outcome; queued to run again


def error_record(exc: BaseException) -> dict[str, Any]:
    """An exception as JSON: class path, message and traceback text."""
    cls = type(exc)
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def next_backoff_ms(policy: dict[str, Any], attempt_no: int) -> int:
    """The reference's backoff: fixed, or ``backoff * multiplier^(n-1)``, capped."""
    backoff = int(policy["backoff_ms"])
    if policy.get("strategy") == "exponential":
        multiplier = float(policy.get("multiplier") or 2.0)
        backoff = round(backoff * multiplier ** (attempt_no - 1))
    if policy.get("max_backoff_ms"):
        backoff = min(backoff, int(policy["max_backoff_ms"]))
    return max(1, backoff)


def _finish(lease: Lease, now: datetime) -> Attempt:
    """Releases the lease (fenced) and completes its attempt; call it in the
    outcome's transaction."""
    lease_release(lease=lease)
    transition(
        Attempt,
        lease.attempt_id,
        to=Attempt.Status.COMPLETED,
        sources=RUNNING,
        finished_at=now,
    )
    return lease.attempt


def attempt_complete(
    *,
    lease: Lease,
    state: Any,
    at: datetime | None = None,
    saver: DjangoSaver | None = None,
) -> None:
    """The graph reached END: the attempt and its job complete with the state,
    and with ``saver``'s held final checkpoint (on PostgreSQL in the same
    statement, fenced by the lease's release: a lease that expired or a job
    whose cancel was requested writes nothing and raises as the fence does)."""
    now = at or timezone.now()
    if connection.vendor == "postgresql":
        held = saver.take_held("released") if saver is not None else None
        _complete_in_one_statement(lease, state, now, held)
    else:
        with transaction.atomic():
            if saver is not None:
                saver.flush()
            attempt = _finish(lease, now)
            transition(
                Job,
                attempt.job_id,
                to=Job.Status.COMPLETED,
                result=state,
                error=None,
                updated_at=now,
                finished_at=now,
            )
            run_follow(attempt_id=lease.attempt_id, status=Run.Status.SUCCESS, at=now)
    metrics.run_finished(graph=lease.attempt.job.graph, status=Job.Status.COMPLETED)


# The most frequent outcome, on PostgreSQL as one statement: each step runs only
# if the previous one matched (the lease released by its holder, the attempt and
# the job in a status the transition tables allow), and the counts tell which;
# the Agent Server run the attempt executes, if any, succeeds with them. It is
# all-or-nothing by itself, so it may commit alone: a lease released whose
# attempt or job did not move fails the statement (a cast of text that is no
# number; of a column, so the planner cannot fold it), and nothing is written.
_MOVED = "oris: the attempt or its job moved under a held lease"
_COMPLETE_ATTEMPT_FROM = sql_statuses(
    s for s in allowed_sources(Attempt, Attempt.Status.COMPLETED) if s in RUNNING
)
_COMPLETE_JOB_FROM = sql_statuses(allowed_sources(Job, Job.Status.COMPLETED))
_COMPLETE = f"""
WITH released AS (
    DELETE FROM {Lease._meta.db_table}
    WHERE id = %(lease_id)s AND worker_id = %(worker_id)s{{fenced}}
    RETURNING attempt_id
), {{checkpoint}}attempt AS (
    UPDATE {Attempt._meta.db_table}
    SET status = '{Attempt.Status.COMPLETED}', finished_at = %(now)s
    WHERE id IN (SELECT attempt_id FROM released)
      AND status IN ({_COMPLETE_ATTEMPT_FROM})
    RETURNING job_id
), job AS (
    UPDATE {Job._meta.db_table}
    SET status = '{Job.Status.COMPLETED}', result = %(result)s::jsonb,
        error = NULL, updated_at = %(now)s, finished_at = %(now)s
    WHERE id IN (SELECT job_id FROM attempt) AND status IN ({_COMPLETE_JOB_FROM})
    RETURNING id
), agent_run AS (
    UPDATE {Run._meta.db_table}
    SET status = '{Run.Status.SUCCESS}', updated_at = %(now)s
    WHERE attempt_id IN (SELECT %(attempt_id)s FROM job)
      AND status IN ({sql_statuses(LIVE)})
), counts AS (
    SELECT (SELECT count(*) FROM released) AS released,
           (SELECT count(*) FROM attempt) AS attempt, (SELECT count(*) FROM job) AS job
)
SELECT released, CASE WHEN released > 0 AND (attempt = 0 OR job = 0)
    THEN CAST('{_MOVED}: ' || released AS int) END
FROM counts
"""
# With a final checkpoint its release is fenced as the checkpoint's writes are
# (``leases.LeaseFence``): the lease unexpired, the job's cancel not requested.
_FENCED = (
    " AND expires_at > %(now)s AND NOT EXISTS (SELECT 1 FROM"
    f" {Job._meta.db_table} WHERE id = %(job_id)s AND cancel_requested)"
)
_COMPLETE_ALONE = Prepared(_COMPLETE.format(fenced="", checkpoint=""))


def _complete_in_one_statement(
    lease: Lease, state: Any, now: datetime, checkpoint: Statement | None
) -> None:
    params: dict[str, Any] = {
        "lease_id": lease.pk,
        "worker_id": lease.worker_id,
        "now": now,
        "result": json.dumps(state),
        "attempt_id": lease.attempt_id,  # an Agent Server run follows its attempt
    }
    sql = _COMPLETE_ALONE
    if checkpoint is not None:
        ctes, values = checkpoint
        names = [f"c{i}" for i in range(len(values))]
        params |= dict(zip(names, values, strict=True))
        params["job_id"] = lease.attempt.job_id
        sql = Prepared(
            _COMPLETE.format(
                fenced=_FENCED,
                checkpoint=ctes % tuple(f"%({name})s" for name in names) + ", ",
            )
        )
    # Alone when no transaction is open (a draining worker's job), else without
    # a savepoint of its own: inside a worker's transaction a conflict aborts
    # that whole transaction, which the lease makes safe to retry.
    alone = not connection.in_atomic_block
    try:
        with (
            nullcontext() if alone else transaction.atomic(savepoint=False),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, params)
            released, _ = cursor.fetchone()
    except DataError as exc:
        if _MOVED not in str(exc):
            raise
        raise InvalidTransition(
            f"attempt {lease.attempt_id} or its job moved under a held lease"
        ) from exc
    if released:
        return
    if checkpoint is not None:  # why the fence wrote nothing
        LeaseFence(lease).failed()
    raise LeaseLost(f"lease {lease.pk} is no longer held by {lease.worker_id}")


def attempt_interrupt(
    *,
    lease: Lease,
    interrupts: list[tuple[str, Any, InterruptPolicy | None]],
    at: datetime | None = None,
) -> list[Interrupt]:
    """The graph paused: one pending Interrupt row per ``(graph id, value,
    policy)``, the policy's assignment and deadline set from ``at``."""
    now = at or timezone.now()
    with transaction.atomic():
        attempt = _finish(lease, now)
        transition(Job, attempt.job_id, to=Job.Status.INTERRUPTED, updated_at=now)
        run_follow(attempt_id=attempt.pk, status=Run.Status.INTERRUPTED, at=now)
        return Interrupt.objects.bulk_create(
            Interrupt(
                job_id=attempt.job_id,
                attempt=attempt,
                graph_interrupt_id=graph_id,
                value=value,
                created_at=now,
                **policy_columns(policy, at=now),
            )
            for graph_id, value, policy in interrupts
        )


def attempt_fail(
    *, lease: Lease, error: dict[str, Any], at: datetime | None = None
) -> Outcome:
    """The run failed: retry with backoff while the policy allows, else dead-letter.

    ``max_retries = N`` allows N retries (N + 1 executions), as in the reference.
    """
    now = at or timezone.now()
    attempt = lease.attempt
    policy = attempt.retry_policy
    with transaction.atomic():
        lease_release(lease=lease)
        if policy and attempt.attempt_no <= int(policy.get("max_retries", 0)):
            _schedule_retry(attempt, policy, error, now)
            return Outcome.RETRY_SCHEDULED
        _dead_letter(attempt, DeadLetter.Reason.TERMINAL_FAILED, error, now)
        return Outcome.FAILED


def _schedule_retry(
    attempt: Attempt, policy: dict[str, Any], error: dict[str, Any], now: datetime
) -> None:
    backoff = next_backoff_ms(policy, attempt.attempt_no)
    retry_at = now + timedelta(milliseconds=backoff)
    transition(
        Attempt,
        attempt.pk,
        to=Attempt.Status.RETRY_BACKOFF,
        sources=RUNNING,
        attempt_no=attempt.attempt_no + 1,
        retry_at=retry_at,
        error=error,
    )
    RetryHistory.objects.create(
        attempt=attempt,
        attempt_no=attempt.attempt_no + 1,
        strategy=policy.get("strategy", "fixed"),
        backoff_ms=backoff,
        max_retries=int(policy.get("max_retries", 0)),
        error=error,
        scheduled_at=retry_at,
    )
    transition(Job, attempt.job_id, to=Job.Status.QUEUED, error=error, updated_at=now)
    run_follow(attempt_id=attempt.pk, status=Run.Status.PENDING, at=now)
    dispatch.dispatch_ring(queue=attempt.queue)
    metrics.inc("retries_scheduled_total", graph=attempt.job.graph)


def _dead_letter(
    attempt: Attempt, reason: str, error: dict[str, Any] | None, now: datetime
) -> None:
    metrics.dead_lettered(graph=attempt.job.graph, reason=reason)
    timed_out = reason == DeadLetter.Reason.EXECUTION_TIMEOUT
    run_status = Run.Status.TIMEOUT if timed_out else Run.Status.ERROR
    run_follow(attempt_id=attempt.pk, status=run_status, at=now)
    transition(
        Attempt,
        attempt.pk,
        to=Attempt.Status.FAILED,
        sources=RUNNING,
        retry_at=None,
        error=error,
        finished_at=now,
    )
    DeadLetter.objects.update_or_create(
        attempt=attempt,
        defaults={
            "job_id": attempt.job_id,
            "attempt_no": attempt.attempt_no,
            "reason": reason,
            "error": error,
            "dead_at": now,
            "replay_status": DeadLetter.ReplayStatus.PENDING,
        },
    )
    transition(
        Job,
        attempt.job_id,
        to=Job.Status.FAILED,
        error=error,
        updated_at=now,
        finished_at=now,
    )


def recoveries(attempt: Attempt) -> int:
    """How many of the attempt's dispatches ended without an outcome, the one
    running now included (a retry is one dispatch with an outcome)."""
    return attempt.dispatches - attempt.attempt_no + 1


def attempt_requeue(*, attempt: Attempt, at: datetime | None = None) -> Outcome:
    """Puts back an attempt whose run stopped without an outcome (its lease
    expired, or the database failed under it), once its lease is gone; past
    ``ORIS_MAX_RECOVERY_ATTEMPTS`` such runs it is dead-lettered instead, so a
    poison pill that kills its workers does not cycle forever."""
    now = at or timezone.now()
    if recoveries(attempt) >= settings.ORIS_MAX_RECOVERY_ATTEMPTS:
        limit = RecoveryLimitExceeded(
            f"dispatched {attempt.dispatches} times without an outcome "
            f"(ORIS_MAX_RECOVERY_ATTEMPTS={settings.ORIS_MAX_RECOVERY_ATTEMPTS}): "
            "its workers died running it or lost their lease"
        )
        _dead_letter(
            attempt, DeadLetter.Reason.RECOVERY_LIMIT, error_record(limit), now
        )
        return Outcome.FAILED
    transition(Attempt, attempt.pk, to=Attempt.Status.QUEUED, sources=RUNNING)
    transition(
        Job,
        attempt.job_id,
        to=Job.Status.QUEUED,
        sources=[Job.Status.RUNNING],
        required=False,  # a job that moved on (cancelled, say) stays
        updated_at=now,
    )
    dispatch.dispatch_ring(queue=attempt.queue)
    return Outcome.REQUEUED


def attempt_cancel(*, attempt: Attempt, at: datetime | None = None) -> None:
    """Cancels an attempt that has not finished (running ones via their lease)."""
    now = at or timezone.now()
    Lease.objects.filter(attempt=attempt).delete()
    transition(Attempt, attempt.pk, to=Attempt.Status.CANCELLED, finished_at=now)
    run_follow(attempt_id=attempt.pk, status=Run.Status.INTERRUPTED, at=now)


def attempt_time_out(
    *, attempt: Attempt, error: dict[str, Any], at: datetime | None = None
) -> None:
    """Ends a running attempt past its timeout with its policy's status; a
    ``failed`` timeout is dead-lettered. Timeouts never retry."""
    now = at or timezone.now()
    with transaction.atomic():
        Lease.objects.filter(attempt=attempt).delete()
        if attempt.timeout_status == Job.Status.CANCELLED:
            transition(
                Attempt,
                attempt.pk,
                to=Attempt.Status.CANCELLED,
                sources=RUNNING,
                error=error,
                finished_at=now,
            )
            transition(
                Job,
                attempt.job_id,
                to=Job.Status.CANCELLED,
                error=error,
                updated_at=now,
                finished_at=now,
            )
            run_follow(attempt_id=attempt.pk, status=Run.Status.TIMEOUT, at=now)
            metrics.run_finished(graph=attempt.job.graph, status=Job.Status.CANCELLED)
        else:
            _dead_letter(attempt, DeadLetter.Reason.EXECUTION_TIMEOUT, error, now)
