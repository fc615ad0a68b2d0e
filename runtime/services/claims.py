"""Claiming: the one way any worker, in process or over HTTP, takes an attempt.

An attempt is claimable when it is queued, or in backoff and due. Claimers take
the most urgent first: the highest ``priority``, then the oldest (``created_at``;
a retry keeps its attempt row, so it keeps its age), then the one retried most
(``attempt_no``), then ``id`` so that the order is total. The statement is plain
SQL, one statement on PostgreSQL (data-modifying CTEs), three plus a read of the
job on SQLite, and returns the rows the run needs. Statuses are rendered from the
models' ``TextChoices`` and transition tables, never typed into the SQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypedDict, Unpack

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from runtime import metrics
from runtime.models import Attempt, Job, Lease, Run
from runtime.models.jobs import ATTEMPT_DISPATCHABLE, new_lease_id
from runtime.services.leases import lease_ttl
from runtime.services.statements import (
    UNFLUSHED,
    Prepared,
    commits_alone,
    conversions_of,
    model_from_row,
)
from runtime.services.transitions import allowed_sources

CLAIM_ORDER = "priority DESC, created_at, attempt_no DESC, id"
# Held by a worker (leased by an HTTP worker, or running).
RUNNING = [Attempt.Status.LEASED, Attempt.Status.RUNNING]
# Claimable once due (``retry_at``); the other dispatchable statuses at once.
WAITS_FOR_RETRY_AT = frozenset({Attempt.Status.RETRY_BACKOFF})


def sql_statuses(statuses: Iterable[str]) -> str:
    """A status set as a SQL list of literals, in a stable order."""
    return ", ".join(f"'{status}'" for status in sorted(statuses))


_ATTEMPTS, _JOBS, _LEASES = (model._meta.db_table for model in (Attempt, Job, Lease))
CLAIMABLE = (
    f"(status IN ({sql_statuses(ATTEMPT_DISPATCHABLE - WAITS_FOR_RETRY_AT)})"
    f" OR (status IN ({sql_statuses(WAITS_FOR_RETRY_AT)})"
    " AND (retry_at IS NULL OR retry_at <= %(now)s)))"
)
# Tenants holding their limit of live leases; their attempts wait.
_TENANTS_AT_LIMIT = f"""
    SELECT a.tenant_id FROM {_LEASES} l JOIN {_ATTEMPTS} a ON a.id = l.attempt_id
    WHERE l.expires_at > %(now)s AND a.tenant_id <> ''
    GROUP BY a.tenant_id HAVING count(*) >= %(tenant_limit)s"""
_ATTEMPT_COLUMNS = ", ".join(f.column for f in Attempt._meta.concrete_fields)
_JOB_COLUMNS = ", ".join(f"j.{f.column}" for f in Job._meta.concrete_fields)
_JOB_ID = [f.attname for f in Attempt._meta.concrete_fields].index("job_id")
# (``WHERE true`` lets SQLite parse an upsert from a SELECT.)
_LEASE = f"""
    INSERT INTO {_LEASES}
        (id, attempt_id, worker_id, version, expires_at, heartbeat_at, created_at)
    SELECT %(lease_id)s, id, %(worker_id)s, 1, %(expires_at)s, %(now)s, %(now)s
    FROM {{claimed}} WHERE true
    ON CONFLICT (attempt_id) DO UPDATE SET id = excluded.id,
        worker_id = excluded.worker_id, version = 1,
        expires_at = excluded.expires_at, heartbeat_at = excluded.heartbeat_at,
        created_at = excluded.created_at"""
_JOB_RUNNING = f"""
    UPDATE {_JOBS} SET status = '{Job.Status.RUNNING}', updated_at = %(now)s
    WHERE id IN (SELECT job_id FROM {{claimed}})
      AND status IN ({sql_statuses(allowed_sources(Job, Job.Status.RUNNING))})"""
# Whether an Agent Server run executes the claimed attempt (``Attempt.serves_run``).
_SERVES_RUN = (
    f"EXISTS (SELECT 1 FROM {Run._meta.db_table} r"
    f" WHERE r.{Run._meta.get_field('attempt').column} = {{attempt}})"
)
_JOB = (
    f"SELECT {_JOB_COLUMNS}, {_SERVES_RUN.format(attempt='%(attempt_id)s')}"
    f" FROM {_JOBS} j WHERE j.id = %(job_id)s"
)
_ONE_ROW = "(SELECT %(attempt_id)s AS id, %(job_id)s AS job_id)"
# When the next attempt in backoff falls due (of the queue, or of any) ...
_NEXT_RETRY = (
    f"SELECT retry_at FROM {_ATTEMPTS} WHERE status IN"
    f" ({sql_statuses(WAITS_FOR_RETRY_AT)}) AND retry_at IS NOT NULL{{queue}}"
    " ORDER BY retry_at LIMIT 1"
)
_NEXT_RETRY_ANY, _NEXT_RETRY_IN = (
    _NEXT_RETRY.format(queue=""),
    _NEXT_RETRY.format(queue=" AND queue = %(queue)s"),
)
# ... and whether the reaper has work: a lease expired, or an attempt with a
# timeout is held (the reaper decides whether it is past it).
REAP_DUE = (
    f"EXISTS (SELECT 1 FROM {_LEASES} WHERE expires_at <= %(now)s)"
    f" OR EXISTS (SELECT 1 FROM {_ATTEMPTS}"
    " WHERE timeout_ms IS NOT NULL AND started_at IS NOT NULL"
    f" AND status IN ({sql_statuses(RUNNING)}))"
)


@dataclass(frozen=True, slots=True)
class Nothing:
    """What a draining worker's claim that found nothing claimable saw ahead:
    when the queue's next retry falls due (``None``: none waits for one) and
    whether the reaper has work (``REAP_DUE``)."""

    retry_at: datetime | None
    reap_due: bool


def _ahead_sql(queue: bool) -> str:
    return f"({_NEXT_RETRY_IN if queue else _NEXT_RETRY_ANY}), ({REAP_DUE})"


@cache
def _statements(
    postgres: bool,
    status: str,
    *,
    queue: bool,
    attempt: bool,
    tenant_limit: bool,
    unflushed: bool = False,
    ahead: bool = False,
) -> tuple[str, ...]:
    """The claim's SQL for one combination of filters (rendered once each);
    ``ahead``: on PostgreSQL, when it claims nothing, its one row is what
    ``Nothing`` holds instead (after as many ``NULL`` as a claim's columns)."""
    pick = f"SELECT id FROM {_ATTEMPTS} WHERE {CLAIMABLE}"
    pick += " AND queue = %(queue)s" if queue else ""
    pick += " AND id = %(attempt_id)s" if attempt else ""
    if tenant_limit:
        pick += f" AND (tenant_id = '' OR tenant_id NOT IN ({_TENANTS_AT_LIMIT}))"
    pick += f" ORDER BY {CLAIM_ORDER} LIMIT 1"
    if postgres:
        pick += " FOR UPDATE SKIP LOCKED"
    moved_from = sql_statuses(
        ATTEMPT_DISPATCHABLE.intersection(allowed_sources(Attempt, status))
    )
    claim = f"""
        UPDATE {_ATTEMPTS}
        SET status = '{status}', retry_at = NULL,
            started_at = COALESCE(started_at, %(now)s), dispatches = dispatches + 1
        WHERE id = ({pick}) AND status IN ({moved_from})
        RETURNING {_ATTEMPT_COLUMNS}"""
    if not postgres:
        return (
            claim,
            _LEASE.format(claimed=_ONE_ROW),
            _JOB_RUNNING.format(claimed=_ONE_ROW),
            _JOB,
        )
    statement = (
        f"WITH {UNFLUSHED + ', ' if unflushed else ''}claimed AS ({claim}),"
        f" lease AS ({_LEASE.format(claimed='claimed')}),"
        f" job AS ({_JOB_RUNNING.format(claimed='claimed')})"
        f" SELECT claimed.*, {_JOB_COLUMNS},"
        f" {_SERVES_RUN.format(attempt='claimed.id')}"
        f"{', NULL, NULL' if ahead else ''}"
        f" FROM claimed JOIN {_JOBS} j ON j.id = claimed.job_id"
        f"{' CROSS JOIN unflushed' if unflushed else ''}"
    )
    if ahead:
        claimed = len(Attempt._meta.concrete_fields) + len(Job._meta.concrete_fields)
        statement += (
            f" UNION ALL SELECT {', '.join(['NULL'] * (claimed + 1))},"
            f" {_ahead_sql(queue)} WHERE NOT EXISTS (SELECT FROM claimed)"
        )
    return (statement,)


class ClaimOptions(TypedDict, total=False):
    """What a claim may be asked (``attempt_claim``).

    Attributes:
        queue: only this queue's attempts (any queue when absent or ``None``).
        attempt_id: only this attempt.
        tenant_limit: skip tenants that hold this many live leases already.
        status: what the attempt becomes: ``running`` (the default) for
            in-process workers, ``leased`` for HTTP workers (which report it
            running themselves).
        at: the claim's clock (now by default).
        since: when (``time.perf_counter()``) the worker began looking for work,
            for the dispatch latency; the claim's own start by default.
        together: another write (SQL and its named parameters) to commit with
            the claim, claimed or not: on PostgreSQL a CTE of the claim's
            statement, on SQLite a statement before it.
    """

    queue: str | None
    attempt_id: str | None
    tenant_limit: int | None
    status: Attempt.Status
    at: datetime | None
    since: float | None
    together: tuple[str, dict[str, Any]] | None


def attempt_claim(*, worker_id: str, **options: Unpack[ClaimOptions]) -> Lease | None:
    """Claims the next claimable attempt for ``worker_id``, in claim order;
    ``None`` when there is none. ``options``: ``ClaimOptions``.

    The attempt moves to ``status``, any stale lease on it is replaced by a fresh
    one and its job is marked running, in one transaction (on PostgreSQL one
    statement). On PostgreSQL a claim that is a transaction of its own commits
    without waiting for the WAL flush (``statements.UNFLUSHED``): a server crash
    that loses it loses a lease no write of the worker got past (each one is
    fenced by it, and the first durable one flushes the claim too), and the
    attempt is claimable again. Concurrent claimers
    skip each other's locked rows there; on SQLite the ``IMMEDIATE`` transaction
    serialises them.
    """
    lease = _claim(worker_id, options)
    assert not isinstance(lease, Nothing)
    return lease


def drain_claim(
    *,
    worker_id: str,
    queue: str | None = None,
    together: tuple[str, dict[str, Any]] | None = None,
) -> Lease | Nothing:
    """``attempt_claim`` for a worker draining ``queue``: when nothing is
    claimable, what it saw ahead (``Nothing``), so that the worker knows whether
    to wait for a retry and whether to reap without asking again. On PostgreSQL
    the claim's statement answers it; on SQLite one more read does."""
    claimed = _claim(worker_id, {"queue": queue, "together": together}, ahead=True)
    assert claimed is not None  # with ahead, Nothing instead
    return claimed


def _claim(
    worker_id: str, options: ClaimOptions, *, ahead: bool = False
) -> Lease | Nothing | None:
    started = options.get("since") or time.perf_counter()
    now = options.get("at") or timezone.now()
    queue, attempt_id = options.get("queue"), options.get("attempt_id")
    tenant_limit, together = options.get("tenant_limit"), options.get("together")
    adapt = connection.ops.adapt_datetimefield_value
    lease_id, expires_at = new_lease_id(), now + lease_ttl()
    params = {
        "queue": queue,
        "attempt_id": attempt_id,
        "tenant_limit": tenant_limit,
        "now": adapt(now),
        "lease_id": lease_id,
        "worker_id": worker_id,
        "expires_at": adapt(expires_at),
    }
    postgres = connection.vendor == "postgresql"
    claim, *rest = _statements(
        postgres,
        options.get("status", Attempt.Status.RUNNING),
        queue=queue is not None,
        attempt=attempt_id is not None,
        tenant_limit=tenant_limit is not None,
        unflushed=commits_alone(),
        ahead=ahead,
    )
    first: tuple[str, dict[str, Any]] | None = None
    if together is not None and postgres:
        claim = f"WITH together AS ({together[0]}), {claim.removeprefix('WITH ')}"
        params |= together[1]
    elif together is not None:
        first = together
    if postgres:
        claim = Prepared(claim)
    # No savepoint: in a draining worker's transaction a failed claim aborts the
    # whole of it, and the previous outcome with it, which the leases make safe.
    # On PostgreSQL the claim is one statement, a transaction by itself when no
    # transaction is open: no BEGIN and COMMIT around it.
    atomic = nullcontext() if postgres else transaction.atomic(savepoint=False)
    with atomic, connection.cursor() as cursor:
        if first is not None:
            cursor.execute(*first)
        cursor.execute(claim, params)
        row = cursor.fetchone()
        if row is not None and rest:  # SQLite: the lease, the job, then read it
            claimed = {**params, "attempt_id": row[0], "job_id": row[_JOB_ID]}
            for statement in rest:
                cursor.execute(statement, claimed)
            row += cursor.fetchone()
        elif row is None and ahead:  # SQLite: what it saw ahead
            cursor.execute(f"SELECT {_ahead_sql(queue is not None)}", params)
            row = (None, *cursor.fetchone())
    if ahead and row is not None and row[0] is None:
        field = Attempt._meta.get_field("retry_at")
        return Nothing(_converted(Attempt, field, row[-2]), bool(row[-1]))
    if row is None:
        return None
    if ahead and postgres:
        row = row[:-2]  # the NULL look ahead of a claim
    split = len(Attempt._meta.concrete_fields)
    attempt = model_from_row(Attempt, row[:split])
    # PostgreSQL returns the job as it was before the claim's update: apply it.
    attempt.job = model_from_row(Job, row[split:-1])
    attempt.serves_run = bool(row[-1])
    if attempt.job.status in allowed_sources(Job, Job.Status.RUNNING):
        attempt.job.status, attempt.job.updated_at = Job.Status.RUNNING, now
    metrics.attempt_claimed(
        graph=attempt.job.graph,
        kind=attempt.kind,
        dispatches=attempt.dispatches,
        waited_s=(now - attempt.created_at).total_seconds(),
        dispatch_ms=(time.perf_counter() - started) * 1000,
    )
    return Lease(
        id=lease_id,
        attempt=attempt,
        worker_id=worker_id,
        version=1,
        expires_at=expires_at,
        heartbeat_at=now,
        created_at=now,
    )


def _converted(model: type[Model], field: Any, value: Any) -> Any:
    """One column's value as a queryset would give it."""
    _, conversions = conversions_of(model)
    for _, col, converters in conversions:
        if col.target is field:
            for convert in converters:
                value = convert(value, col, connection)
    return value


def _claimable(
    columns: str, tail: str = "", *, at: datetime | None, **params: Any
) -> list[tuple[Any, ...]]:
    """``SELECT columns`` of the claimable attempts, with ``tail`` after the
    predicate (more conditions, an order, a limit)."""
    now = connection.ops.adapt_datetimefield_value(at or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {_ATTEMPTS} WHERE {CLAIMABLE}{tail}",
            {"now": now, **params},
        )
        return list(cursor.fetchall())


def claimable_count(*, at: datetime | None = None) -> int:
    """How many attempts a worker could claim now (the queue depth)."""
    return int(_claimable("count(*)", at=at)[0][0])


def claimable_since(*, at: datetime | None = None) -> datetime | None:
    """Since when the longest-waiting claimable attempt has been claimable (its
    creation, or its retry falling due); ``None`` when none is claimable."""
    oldest = " ORDER BY COALESCE(retry_at, created_at) LIMIT 1"
    rows = _claimable("retry_at, created_at", oldest, at=at)
    if not rows:
        return None
    field = Attempt._meta.get_field("created_at")
    retry_at, created_at = (_converted(Attempt, field, value) for value in rows[0])
    return retry_at or created_at


def claimable_head(*, at: datetime | None = None) -> str | None:
    """The attempt any worker would claim next; ``None`` when none is claimable."""
    rows = _claimable("id", f" ORDER BY {CLAIM_ORDER} LIMIT 1", at=at)
    return rows[0][0] if rows else None


def claimable_queues(*, at: datetime | None = None) -> list[str]:
    """The queues that have claimable attempts now."""
    return [row[0] for row in _claimable("DISTINCT queue", " ORDER BY queue", at=at)]


def tenant_blocked(*, tenant_limit: int, at: datetime | None = None) -> str | None:
    """The tenant whose claimable attempt waits first only because the tenant
    holds ``tenant_limit`` live leases; ``None`` when none waits for that."""
    rows = _claimable(
        "tenant_id",
        f" AND tenant_id IN ({_TENANTS_AT_LIMIT}) ORDER BY {CLAIM_ORDER} LIMIT 1",
        at=at,
        tenant_limit=tenant_limit,
    )
    return rows[0][0] if rows else None
