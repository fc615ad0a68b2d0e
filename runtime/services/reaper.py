"""The reaper: what workers left behind. Expired leases are requeued, attempts
past their timeout are ended. It runs on every HTTP poll, once per drain of a
queue, every second in each worker supervisor, and on a django-q2 schedule."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from runtime import metrics
from runtime.errors import ExecutionTimeout, InvalidTransition
from runtime.models import Attempt, AuditLog, Lease
from runtime.models.jobs import ATTEMPT_TERMINAL
from runtime.services import attempts, dispatch
from runtime.services.audit import Actor, audit_record
from runtime.services.claims import REAP_DUE, sql_statuses
from runtime.services.statements import columns_of, model_from_row

logger = logging.getLogger(__name__)

BATCH = 100  # expired leases requeued per sweep; the next sweep takes the rest

# A sweep follows every drain and usually finds nothing: one look whether
# anything is due (claims.REAP_DUE, which a draining worker's last claim
# answers already), then the two finds; plain SQL rendered once (statuses from
# the models' tables), not a queryset built per sweep.
_TIMED = ("id", "job_id", "attempt_no", "started_at", "timeout_ms", "timeout_status")
_ATTEMPTS, _LEASES = Attempt._meta.db_table, Lease._meta.db_table
_TIMED_SQL = (
    f"SELECT {columns_of(Attempt, _TIMED)} FROM {_ATTEMPTS}"
    f" WHERE timeout_ms IS NOT NULL AND started_at IS NOT NULL"
    f" AND status IN ({sql_statuses(attempts.RUNNING)})"
)
_EXPIRED_SQL = (
    f"SELECT {columns_of(Lease, alias='l')}, {columns_of(Attempt, alias='a')}"
    f" FROM {_LEASES} l JOIN {_ATTEMPTS} a ON a.id = l.attempt_id"
    f" WHERE l.expires_at <= %s LIMIT {BATCH}"
)
_DUE_SQL = f"SELECT {REAP_DUE}"


def reap(*, at: datetime | None = None, due: bool | None = None) -> int:
    """One sweep: ends timed-out attempts, then requeues the attempts whose lease
    expired. Returns how many attempts it moved. ``due``: whether anything is,
    when the caller has just seen it (``claims.Nothing.reap_due``)."""
    now = at or timezone.now()
    if not (_anything_due(now) if due is None else due):
        return 0
    return _time_out_overdue(now) + _requeue_expired(now)


def _anything_due(now: datetime) -> bool:
    """Whether a lease expired or a running attempt has a timeout: one cheap
    look, as most sweeps (one after each drain) find nothing to do."""
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, {"now": connection.ops.adapt_datetimefield_value(now)})
        return bool(cursor.fetchone()[0])


def _time_out_overdue(now: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_TIMED_SQL)
        rows = cursor.fetchall()
    moved = 0
    for row in rows:
        attempt = model_from_row(Attempt, row, _TIMED)
        assert attempt.started_at is not None  # both excluded by the filter
        assert attempt.timeout_ms is not None
        if attempt.started_at + timedelta(milliseconds=attempt.timeout_ms) > now:
            continue
        timeout = ExecutionTimeout(f"attempt ran longer than {attempt.timeout_ms} ms")
        try:
            attempts.attempt_time_out(
                attempt=attempt, error=attempts.error_record(timeout), at=now
            )
        except InvalidTransition:
            continue  # it finished meanwhile
        moved += 1
    return moved


def _requeue_expired(now: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRED_SQL, [connection.ops.adapt_datetimefield_value(now)])
        rows = cursor.fetchall()
    moved, split = 0, len(Lease._meta.concrete_fields)
    for row in rows:
        lease = model_from_row(Lease, row[:split])
        lease.attempt = model_from_row(Attempt, row[split:])
        try:
            moved += _requeue(lease, now)
        except InvalidTransition:
            continue  # the attempt moved on meanwhile
    return moved


def _requeue(lease: Lease, now: datetime) -> int:
    with transaction.atomic():
        if not Lease.objects.filter(pk=lease.pk, expires_at__lte=now).delete()[0]:
            return 0  # a heartbeat or another reaper got there first
        attempt = lease.attempt
        if attempt.status in ATTEMPT_TERMINAL:
            return 0
        # Its worker is dead, and what its cluster had prefetched with it: the
        # ring below must not wait for those deliveries.
        dispatch.dispatch_forget(queues=[attempt.queue])
        outcome = attempts.attempt_requeue(attempt=attempt, at=now)
        requeued = outcome == attempts.Outcome.REQUEUED
        # From its worker's last sign of life to its requeue (and ring).
        latency = (now - lease.heartbeat_at).total_seconds() * 1000
        # The takeover in the run's timeline: the attempt row alone keeps only
        # its last start.
        audit_record(
            actor=Actor.system(),
            action=AuditLog.LEASE_EXPIRED,
            resource_type="attempt",
            resource_id=attempt.pk,
            details={
                "worker_id": lease.worker_id,
                "heartbeat_at": lease.heartbeat_at.isoformat(),
                "silent_ms": round(latency),
                "outcome": "requeued" if requeued else "dead_lettered",
            },
            at=now,
        )
    if requeued:
        metrics.observe("recovery_latency_ms", latency)
    logger.warning(
        "lease %s of worker %s expired; attempt %s %s",
        lease.pk,
        lease.worker_id,
        attempt.pk,
        "requeued" if requeued else "dead-lettered",
    )
    return 1
