"""Leases: fencing a holder's writes, heartbeats, release."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from runtime import metrics
from runtime.errors import JobCancelled, LeaseLost
from runtime.models import Job, Lease

logger = logging.getLogger(__name__)


def lease_ttl() -> timedelta:
    return timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS)


_GUARD_SQL = (
    f"UPDATE {Lease._meta.db_table} SET expires_at = %s, heartbeat_at = %s"
    " WHERE id = %s AND worker_id = %s AND expires_at > %s"
    f" AND NOT EXISTS (SELECT 1 FROM {Job._meta.db_table}"
    " WHERE id = %s AND cancel_requested)"
)


@dataclass(frozen=True, slots=True)
class LeaseFence:
    """Fences writes by a lease holder: each one extends the lease if it is still
    held and the job not cancelled, and writes nothing otherwise.

    ``statement`` gives the fencing ``UPDATE`` so that a checkpoint write can carry
    it in the same SQL statement (PostgreSQL); ``check`` runs it alone, first in
    the transaction it protects.
    """

    lease: Lease

    def statement(self, at: datetime | None = None) -> tuple[str, list[Any]]:
        now = at or timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        params: list[Any] = [adapt(now + lease_ttl()), adapt(now), self.lease.pk]
        params += [self.lease.worker_id, adapt(now), self.lease.attempt.job_id]
        return _GUARD_SQL, params

    def check(self, at: datetime | None = None) -> None:
        """Raises ``LeaseLost`` or ``JobCancelled`` unless the lease is held."""
        with connection.cursor() as cursor:
            cursor.execute(*self.statement(at))
            if cursor.rowcount == 1:
                return
        self.failed()

    def failed(self) -> NoReturn:
        """Raises why a fenced write wrote nothing."""
        job_id = self.lease.attempt.job_id
        if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
            raise JobCancelled(f"job of attempt {self.lease.attempt_id} was cancelled")
        metrics.seen("lease_conflicts_total")
        raise LeaseLost(
            f"lease {self.lease.pk} is no longer held by {self.lease.worker_id}"
        )


def lease_guard(*, lease: Lease, at: datetime | None = None) -> None:
    """Fences a write by the lease holder and extends the lease.

    Raises ``LeaseLost`` when the lease expired or was reaped, and
    ``JobCancelled`` when the job's cancel flag is set; call it first inside the
    transaction it protects.
    """
    metrics.seen("lease_operations_total")
    LeaseFence(lease).check(at)


def lease_heartbeat(
    *,
    lease_id: str,
    worker_id: str,
    ttl_seconds: int | None = None,
    at: datetime | None = None,
) -> Lease:
    """Extends a lease for its owner (HTTP workers' heartbeat and extend-lease).

    A compare-and-set on the version it read: a concurrent heartbeat, another
    owner or an expired lease is a ``LeaseLost`` conflict, never a revival.
    """
    now = at or timezone.now()
    metrics.seen("lease_operations_total")
    try:
        return _heartbeat(lease_id, worker_id, ttl_seconds, now)
    except LeaseLost:
        metrics.seen("lease_conflicts_total")
        raise


def _heartbeat(
    lease_id: str, worker_id: str, ttl_seconds: int | None, now: datetime
) -> Lease:
    lease = Lease.objects.filter(pk=lease_id).first()
    if lease is None:  # reaped, or replaced by another worker's claim
        raise LeaseLost(
            "lease is not held (expired and taken over, or released)",
            details={"lease_id": lease_id, "worker_id": worker_id},
        )
    if lease.worker_id != worker_id:
        raise LeaseLost(
            "lease ownership mismatch",
            details={
                "expected_worker_id": lease.worker_id,
                "actual_worker_id": worker_id,
            },
        )
    if lease.is_expired(at=now):
        raise LeaseLost("lease expired", details={"lease_id": lease_id})
    ttl = timedelta(seconds=max(1, ttl_seconds)) if ttl_seconds else lease_ttl()
    updated = Lease.objects.filter(
        pk=lease_id, worker_id=worker_id, version=lease.version
    ).update(version=F("version") + 1, expires_at=now + ttl, heartbeat_at=now)
    if updated != 1:
        raise LeaseLost(
            "lease heartbeat version conflict", details={"lease_id": lease_id}
        )
    lease.refresh_from_db()
    return lease


def lease_release(*, lease: Lease) -> None:
    """Deletes the lease if its holder still owns it; raises ``LeaseLost`` if not."""
    deleted, _ = Lease.objects.filter(pk=lease.pk, worker_id=lease.worker_id).delete()
    if not deleted:
        metrics.seen("lease_conflicts_total")
        raise LeaseLost(f"lease {lease.pk} is no longer held by {lease.worker_id}")
