"""Leases: claiming attempts, heartbeats, fencing, and reaping what workers left."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

from runtime.errors import InvalidTransition, JobCancelled, LeaseLost, NotFound
from runtime.models import Attempt, Job, Lease
from runtime.models.jobs import ATTEMPT_DISPATCHABLE, ATTEMPT_TERMINAL, new_lease_id
from runtime.services import dispatch
from runtime.services.transitions import transition

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)


def lease_ttl() -> timedelta:
    return timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS)


def dispatchable(*, at: datetime) -> QuerySet[Attempt]:
    """Attempts a worker may claim now: queued, or in backoff and due."""
    due = Q(status=Attempt.Status.QUEUED) | Q(
        Q(retry_at__isnull=True) | Q(retry_at__lte=at),
        status=Attempt.Status.RETRY_BACKOFF,
    )
    return Attempt.objects.filter(due)


def lease_claim(
    *, attempt_id: str, worker_id: str, at: datetime | None = None
) -> Lease | None:
    """Claims one attempt for an in-process worker; ``None`` if it is not claimable."""
    now = at or timezone.now()
    with transaction.atomic():
        attempt = (
            dispatchable(at=now)
            .select_related("job")
            .select_for_update(skip_locked=True, of=("self",))
            .filter(pk=attempt_id)
            .first()
        )
        return lease_grant(attempt, worker_id=worker_id, now=now) if attempt else None


def lease_claim_next(
    *,
    worker_id: str,
    queue: str | None = "default",
    at: datetime | None = None,
    reap: bool = True,
) -> Lease | None:
    """Claims the next dispatchable attempt of ``queue`` (any queue for ``None``):
    priority, then age. Reaps expired leases first unless told not to (a worker
    draining a queue reaps once per delivery).

    On PostgreSQL concurrent claimers skip each other's locked rows; on SQLite the
    ``IMMEDIATE`` transaction serialises them and the guarded update decides.
    """
    now = at or timezone.now()
    if reap:
        lease_reap(at=now)
    return _claim_next(worker_id, queue, now)


# The claim is the hot path of every run: plain SQL, one statement on PostgreSQL
# (data-modifying CTEs), three plus a read of the job on SQLite, all returning the
# rows the run needs. (``WHERE true`` lets SQLite parse an upsert from a SELECT.)
_ATTEMPT_COLUMNS = ", ".join(f.column for f in Attempt._meta.concrete_fields)
_JOB_COLUMNS = ", ".join(f"j.{f.column}" for f in Job._meta.concrete_fields)
_PICK = f"""
    SELECT id FROM {Attempt._meta.db_table}
    WHERE (%(queue)s IS NULL OR queue = %(queue)s)
      AND (status = 'queued' OR (status = 'retry_backoff'
           AND (retry_at IS NULL OR retry_at <= %(now)s)))
    ORDER BY priority DESC, created_at, id
    LIMIT 1"""
_CLAIM = f"""
    UPDATE {Attempt._meta.db_table}
    SET status = 'running', retry_at = NULL,
        started_at = COALESCE(started_at, %(now)s), dispatches = dispatches + 1
    WHERE id = ({_PICK}{{lock}})
    RETURNING {_ATTEMPT_COLUMNS}"""
_LEASE = f"""
    INSERT INTO {Lease._meta.db_table}
        (id, attempt_id, worker_id, version, expires_at, heartbeat_at, created_at)
    SELECT %(lease_id)s, id, %(worker_id)s, 1, %(expires_at)s, %(now)s, %(now)s
    FROM {{claimed}} WHERE true
    ON CONFLICT (attempt_id) DO UPDATE SET id = excluded.id,
        worker_id = excluded.worker_id, version = 1,
        expires_at = excluded.expires_at, heartbeat_at = excluded.heartbeat_at,
        created_at = excluded.created_at"""
_RUNNING = f"""
    UPDATE {Job._meta.db_table} SET status = 'running', updated_at = %(now)s
    WHERE id IN (SELECT job_id FROM {{claimed}}) AND status IN ('queued', 'running')"""
_JOB_ID = [f.attname for f in Attempt._meta.concrete_fields].index("job_id")
_JOB = f"SELECT {_JOB_COLUMNS} FROM {Job._meta.db_table} j WHERE j.id = %(job_id)s"
_CLAIM_POSTGRES = (
    "WITH claimed AS ("
    + _CLAIM.format(lock=" FOR UPDATE SKIP LOCKED").replace(
        "%(queue)s IS NULL", "%(queue)s::text IS NULL"
    )
    + "), lease AS ("
    + _LEASE.format(claimed="claimed")
    + "), job AS ("
    + _RUNNING.format(claimed="claimed")
    + f") SELECT claimed.*, {_JOB_COLUMNS}"
    + f" FROM claimed JOIN {Job._meta.db_table} j ON j.id = claimed.job_id"
)


def _claim_next(worker_id: str, queue: str | None, now: datetime) -> Lease | None:
    """Locks the next dispatchable attempt (PostgreSQL skips rows other claimers
    hold; SQLite's ``IMMEDIATE`` transaction serialises claimers), moves it to
    ``running``, replaces any stale lease with a fresh one, marks the job running."""
    adapt = connection.ops.adapt_datetimefield_value
    lease_id, expires_at = new_lease_id(), now + lease_ttl()
    params = {
        "queue": queue,
        "now": adapt(now),
        "lease_id": lease_id,
        "worker_id": worker_id,
        "expires_at": adapt(expires_at),
    }
    # No savepoint: in a draining worker's transaction a failed claim aborts the
    # whole of it, and the previous outcome with it, which the leases make safe.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_CLAIM_POSTGRES, params)
            row = cursor.fetchone()
        else:
            cursor.execute(_CLAIM.format(lock=""), params)
            row = cursor.fetchone()
            if row is not None:
                claimed = {**params, "attempt_id": row[0], "job_id": row[_JOB_ID]}
                cursor.execute(_LEASE.format(claimed=_ONE_ROW), claimed)
                cursor.execute(_RUNNING.format(claimed=_ONE_ROW), claimed)
                cursor.execute(_JOB, claimed)
                row += cursor.fetchone()
    if row is None:
        return None
    split = len(Attempt._meta.concrete_fields)
    attempt = model_from_row(Attempt, row[:split])
    # PostgreSQL returns the job as it was before the claim's update: apply it.
    attempt.job = model_from_row(Job, row[split:])
    if attempt.job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        attempt.job.status, attempt.job.updated_at = Job.Status.RUNNING, now
    return Lease(
        id=lease_id,
        attempt=attempt,
        worker_id=worker_id,
        version=1,
        expires_at=expires_at,
        heartbeat_at=now,
        created_at=now,
    )


def model_from_row(model: type[M], values: Sequence[Any]) -> M:
    """An instance from a raw row of all of ``model``'s concrete columns, in
    field order, with the conversions a queryset would apply."""
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        col = field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(col) + col.get_db_converters(
            connection
        ):
            value = convert(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


_ONE_ROW = "(SELECT %(attempt_id)s AS id, %(job_id)s AS job_id)"


def lease_grant(
    attempt: Attempt,
    *,
    worker_id: str,
    now: datetime,
    status: str = Attempt.Status.RUNNING,
) -> Lease | None:
    """Leases a dispatchable attempt to a worker, moving it to ``status``
    (``running`` for in-process workers, ``leased`` for HTTP ones). ``None`` when
    someone else took it first. Runs in the caller's transaction.

    The compare-and-set on the attempt comes first: once it succeeds the attempt
    was dispatchable, so any lease row left on it is stale and is replaced.
    """
    started_at = attempt.started_at or now
    claimed = Attempt.objects.filter(
        pk=attempt.pk, status__in=ATTEMPT_DISPATCHABLE
    ).update(
        status=status,
        retry_at=None,
        started_at=started_at,
        dispatches=F("dispatches") + 1,
    )
    if claimed != 1:
        return None  # another worker claimed it first
    Lease.objects.filter(attempt=attempt).delete()
    lease = Lease.objects.create(
        attempt=attempt,
        worker_id=worker_id,
        expires_at=now + lease_ttl(),
        heartbeat_at=now,
        created_at=now,
    )
    Job.objects.filter(
        pk=attempt.job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
    ).update(status=Job.Status.RUNNING, updated_at=now)
    attempt.status, attempt.retry_at, attempt.started_at = status, None, started_at
    attempt.dispatches += 1
    return lease


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
        raise LeaseLost(
            f"lease {self.lease.pk} is no longer held by {self.lease.worker_id}"
        )


def lease_guard(*, lease: Lease, at: datetime | None = None) -> None:
    """Fences a write by the lease holder and extends the lease.

    Raises ``LeaseLost`` when the lease expired or was reaped, and
    ``JobCancelled`` when the job's cancel flag is set; call it first inside the
    transaction it protects.
    """
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
    lease = Lease.objects.filter(pk=lease_id).first()
    if lease is None:
        raise NotFound("lease not found")
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
        raise LeaseLost(f"lease {lease.pk} is no longer held by {lease.worker_id}")


def lease_reap(*, at: datetime | None = None) -> int:
    """Requeues attempts whose lease expired and ends attempts that timed out.

    Runs on every claim and on a django-q2 schedule. Returns how many attempts it
    moved.
    """
    from runtime.services import attempts  # outcomes import leases

    now = at or timezone.now()
    moved = attempts.attempt_reap_timed_out(at=now)
    expired = Lease.objects.filter(expires_at__lte=now)
    for lease in expired.select_related("attempt")[:100]:
        try:
            moved += _requeue_expired(lease, now)
        except InvalidTransition:
            continue  # the attempt moved on meanwhile
    return moved


def _requeue_expired(lease: Lease, now: datetime) -> int:
    with transaction.atomic():
        if not Lease.objects.filter(pk=lease.pk, expires_at__lte=now).delete()[0]:
            return 0  # a heartbeat or another reaper got there first
        attempt = lease.attempt
        if attempt.status in ATTEMPT_TERMINAL:
            return 0
        transition(
            Attempt,
            attempt.pk,
            to=Attempt.Status.QUEUED,
            sources=[Attempt.Status.LEASED, Attempt.Status.RUNNING],
        )
        Job.objects.filter(pk=attempt.job_id, status=Job.Status.RUNNING).update(
            status=Job.Status.QUEUED, updated_at=now
        )
        dispatch.dispatch_ring(queue=attempt.queue)
        logger.warning(
            "lease %s of worker %s expired; attempt %s requeued",
            lease.pk,
            lease.worker_id,
            attempt.pk,
        )
        return 1


class Heartbeats:
    """Heartbeats the leases of the graphs this process runs, from one background
    thread, so starting a run costs no thread of its own.

    A lease is beaten every ``ORIS_HEARTBEAT_INTERVAL_SECONDS`` from its run's
    start, so a run shorter than that costs no beat (its checkpoint writes
    extend the lease as well). A lease that cannot be extended (lost, or its
    job cancelled) is dropped: the run finds out at its next fenced write.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: dict[str, tuple[float, Lease]] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def keep(self, lease: Lease) -> Iterator[None]:
        """Heartbeats ``lease`` while the block runs."""
        interval = settings.ORIS_HEARTBEAT_INTERVAL_SECONDS
        with self._changed:
            self._due[lease.pk] = (time.monotonic() + interval, lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="oris-heartbeats", daemon=True
                )
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._due.pop(lease.pk, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._take_due()
                while not due:
                    soonest = min((at for at, _ in self._due.values()), default=None)
                    wait = None if soonest is None else soonest - time.monotonic()
                    self._changed.wait(wait)
                    due = self._take_due()
            try:
                for lease in due:
                    self._beat(lease)
            finally:
                connection.close()  # beats are rare: hold no connection between

    def _take_due(self) -> list[Lease]:
        now, interval = time.monotonic(), settings.ORIS_HEARTBEAT_INTERVAL_SECONDS
        due = [lease for at, lease in self._due.values() if at <= now]
        for lease in due:
            self._due[lease.pk] = (now + interval, lease)
        return due

    def _beat(self, lease: Lease) -> None:
        try:
            with transaction.atomic():
                lease_guard(lease=lease)
        except (LeaseLost, JobCancelled) as exc:
            logger.info("heartbeat stopped: %s", exc)
            with self._changed:
                self._due.pop(lease.pk, None)
        except Exception:  # the database is away: the next beat tries again
            logger.exception("heartbeat of lease %s failed", lease.pk)


heartbeats = Heartbeats()
