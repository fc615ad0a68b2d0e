"""The HTTP worker data plane: poll, report-step and ack, fenced by leases."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from runtime import metrics
from runtime.errors import Conflict, LeaseLost, NotFound
from runtime.models import Attempt, Lease, StepReport
from runtime.models.jobs import ATTEMPT_TERMINAL
from runtime.services import attempts, claims, leases, reaper
from runtime.services.jobs import job_mark_cancelled
from runtime.tracing import trace_advance


@dataclass(slots=True)
class PollDecision:
    decision: str  # dispatched | backpressure | noop
    worker_active_leases: int
    worker_limit: int
    lease: Lease | None = None
    reason: str | None = None
    tenant_id: str | None = None
    tenant_active_leases: int | None = None
    tenant_limit: int | None = None
    trace: dict[str, Any] | None = field(default=None)


def _active(leases_qs: Any, now: datetime) -> int:
    return leases_qs.filter(expires_at__gt=now).count()


def worker_poll(
    *,
    worker_id: str,
    max_active_leases: int,
    tenant_max_active_leases: int,
    at: datetime | None = None,
) -> PollDecision:
    """Dispatches at most one attempt to an HTTP worker, within its limits, in
    the one claim order every worker uses."""
    started = time.perf_counter()
    now = at or timezone.now()
    reaper.reap(at=now)
    active = _active(Lease.objects.filter(worker_id=worker_id), now)
    if active >= max_active_leases:
        metrics.inc("backpressure_total", reason="worker_limit")
        return PollDecision(
            "backpressure", active, max_active_leases, reason="worker_limit"
        )
    lease = claims.attempt_claim(
        worker_id=worker_id,
        tenant_limit=tenant_max_active_leases,
        status=Attempt.Status.LEASED,
        at=now,
        since=started,
    )
    if lease is not None:
        return PollDecision(
            "dispatched",
            active,
            max_active_leases,
            lease=lease,
            tenant_id=lease.attempt.tenant_id or None,
            trace=attempt_trace_advance(attempt_id=lease.attempt_id),
        )
    blocked = claims.tenant_blocked(tenant_limit=tenant_max_active_leases, at=now)
    if blocked:
        metrics.inc("backpressure_total", reason="tenant_limit")
        return PollDecision(
            "backpressure",
            active,
            max_active_leases,
            reason="tenant_limit",
            tenant_id=blocked,
            tenant_active_leases=_active(
                Lease.objects.filter(attempt__tenant_id=blocked), now
            ),
            tenant_limit=tenant_max_active_leases,
        )
    return PollDecision(
        "noop", active, max_active_leases, tenant_limit=tenant_max_active_leases
    )


def attempt_trace_advance(*, attempt_id: str) -> dict[str, Any] | None:
    """Moves the attempt's trace to a new span; returns it (``None`` if untraced)."""
    trace = (
        Attempt.objects.filter(pk=attempt_id).values_list("trace", flat=True).first()
    )
    advanced = trace_advance(trace)
    if advanced:
        Attempt.objects.filter(pk=attempt_id).update(trace=advanced)
    return advanced


def _held_lease(attempt_id: str, worker_id: str) -> tuple[Attempt, Lease]:
    attempt = Attempt.objects.select_related("job").filter(pk=attempt_id).first()
    if attempt is None:
        raise NotFound("attempt not found")
    lease = Lease.objects.filter(attempt_id=attempt_id).first()
    if lease is None or lease.worker_id != worker_id:
        raise LeaseLost(
            "worker does not hold the lease of this attempt",
            details={
                "attempt_id": attempt_id,
                "lease_owner": lease.worker_id if lease else None,
                "worker_id": worker_id,
            },
        )
    lease.attempt = attempt
    return attempt, lease


def worker_report_step(
    *,
    worker_id: str,
    attempt_id: str,
    action_id: str,
    status: str,
    dedupe_token: str,
    at: datetime | None = None,
) -> str:
    """Records a step report once per ``(attempt, dedupe_token)``; returns
    ``reported`` or ``reported_idempotent``."""
    now = at or timezone.now()
    _held_lease(attempt_id, worker_id)
    try:
        with transaction.atomic():
            StepReport.objects.create(
                attempt_id=attempt_id,
                worker_id=worker_id,
                action_id=action_id,
                status=status,
                dedupe_token=dedupe_token,
                created_at=now,
            )
        return "reported"
    except IntegrityError:
        earlier = StepReport.objects.get(
            attempt_id=attempt_id, dedupe_token=dedupe_token
        )
        if (earlier.action_id, earlier.status) == (action_id, status):
            return "reported_idempotent"
        raise Conflict(
            f"dedupe_token '{dedupe_token}' already used with different payload "
            f"for attempt '{attempt_id}'"
        ) from None


@dataclass(slots=True)
class AckOutcome:
    status: str  # retry_scheduled | completed | failed | cancelled
    next_attempt_no: int
    next_retry_at: datetime | None


def worker_ack(
    *,
    worker_id: str,
    attempt_id: str,
    terminal_status: str,
    retry_policy: dict[str, Any] | None = None,
    result: Any = None,
    error: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AckOutcome:
    """Ends the worker's attempt: completed (with the job's ``result`` when given),
    cancelled, or failed with ``error`` (retried while the policy allows, then
    dead-lettered). Terminal attempts cannot be re-acked."""
    now = at or timezone.now()
    attempt = Attempt.objects.filter(pk=attempt_id).first()
    if attempt is not None and attempt.status in ATTEMPT_TERMINAL:
        raise Conflict(
            f"attempt '{attempt_id}' is already {attempt.status}",
            details={"status": attempt.status},
        )
    with transaction.atomic():
        attempt, lease = _held_lease(attempt_id, worker_id)
        if retry_policy is not None:
            Attempt.objects.filter(pk=attempt_id).update(retry_policy=retry_policy)
            attempt.retry_policy = retry_policy
        if terminal_status == "completed":
            state = attempt.job.result if result is None else result
            attempts.attempt_complete(lease=lease, state=state, at=now)
        elif terminal_status == "cancelled":
            leases.lease_release(lease=lease)
            job_mark_cancelled(job=attempt.job, at=now)
        else:
            reported = {"type": "WorkerReportedFailure", "message": "failed ack"}
            reported |= error or {}
            outcome = attempts.attempt_fail(lease=lease, error=reported, at=now)
            attempt.refresh_from_db()
            if outcome == attempts.Outcome.RETRY_SCHEDULED:
                _acked(lease, outcome, now)
                return AckOutcome(
                    "retry_scheduled", attempt.attempt_no, attempt.retry_at
                )
        _acked(lease, terminal_status, now)
    return AckOutcome(terminal_status, attempt.attempt_no, None)


def _acked(lease: Lease, outcome: str, now: datetime) -> None:
    metrics.attempt_finished(
        graph=lease.attempt.job.graph,
        outcome=outcome,
        seconds=(now - lease.created_at).total_seconds(),
    )
