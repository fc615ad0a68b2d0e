"""Ringing a queue's doorbell; the attempt rows are the ledger.

On PostgreSQL with ``ORIS_Q_LISTEN`` (``notifies()``) a ring is a notification,
``NOTIFY oris_attempts, '<queue>'`` sent in the ringing transaction: it is
delivered when the transaction commits, never when it rolls back, and the idle
django-q2 workers that LISTEN on the channel claim the work themselves
(``runtime/worker/serve.py``), with no q2 task in between. Otherwise (SQLite, a
transaction-pooling PgBouncer, q2's sync mode) a ring queues a q2 task; on
PostgreSQL outside q2's sync mode it sends that notification too, so a cluster
that listens never waits for its fallback poll when a submitter does not (a
NOTIFY, unlike a LISTEN, works through any pooler). A
delivery of ``runtime.tasks.run_queue`` drains its queue (``ORIS_DRAIN_LIMIT``
attempts, then it rings again if work remains), so a run does not need a q2 task
of its own: at most one delivery per q2 worker waits for each queue. Accepted work is
never lost to a missing doorbell: the attempt row is committed, and the scheduled
sweep (and a listening worker's fallback poll) runs whatever is claimable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from time import monotonic
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from runtime.models import QueueDoorbell
from runtime.services import claims
from runtime.services.statements import Prepared

logger = logging.getLogger(__name__)

RUN_QUEUE = "runtime.tasks.run_queue"
# A pending count not rung for this long is assumed lost (a delivery that crashed
# before answering) and starts over.
STALE = timedelta(seconds=60)


# One statement for every ring, as job creation rings once per job: the bell row
# is created, or counts one more pending delivery while fewer than one per q2
# worker wait, or starts over when stale; otherwise nothing changes and nothing
# is returned. Parameters: queue, now, slots, slots, stale (``_ring_params``).
_RING = f"""
    INSERT INTO {QueueDoorbell._meta.db_table} AS bell (queue, pending, rung_at)
    VALUES (%s, 1, %s)
    ON CONFLICT (queue) DO UPDATE SET rung_at = excluded.rung_at,
        pending = CASE WHEN bell.pending < %s THEN bell.pending + 1 ELSE 1 END
    WHERE bell.pending < %s OR bell.rung_at < %s
    RETURNING pending"""

# The channel of a ring that is a notification (``notifies()``); its payload is
# the queue.
WORK_CHANNEL = "oris_attempts"
_NOTIFY = "SELECT pg_notify(%s, %s)"
# A ring that queues q2 tasks, on PostgreSQL: the bell, and the notification
# to a listening cluster's workers (every ring); ``pending`` is NULL when the
# bell did not ring. Parameters: ``_ring_params``, the channel and the queue.
_RING_NOTIFIED = (
    f"WITH bell AS ({_RING}), notified AS ({_NOTIFY})"
    " SELECT (SELECT pending FROM bell), (SELECT count(*) FROM notified)"
)

# The q2 task a ring enqueues on PostgreSQL when rings are q2 tasks, with the
# notification that wakes a listening pusher (runtime/worker/broker.py) when the
# row commits.
Q_CHANNEL = "django_q_ormq"
_TASKS = OrmQ._meta.db_table
ENQUEUE = f"""
    WITH task AS (
        INSERT INTO {_TASKS} (key, payload, lock)
        VALUES (%(key)s, %(payload)s, %(now)s) RETURNING id)
    SELECT id, pg_notify(%(channel)s, %(key)s) FROM task"""


def notifies() -> bool:
    """Whether a ring is a notification to the listening workers (PostgreSQL
    with ``ORIS_Q_LISTEN``, outside q2's sync mode) rather than a q2 task."""
    return (
        connection.vendor == "postgresql" and settings.ORIS_Q_LISTEN and not Conf.SYNC
    )


def _ring_params(queue: str, now: datetime) -> list[Any]:
    adapt = connection.ops.adapt_datetimefield_value
    slots = settings.Q_CLUSTER.get("workers", 1)
    return [queue, adapt(now), slots, slots, adapt(now - STALE)]


def dispatch_ring(*, queue: str, at: datetime | None = None) -> bool:
    """Rings ``queue`` in the caller's transaction: a notification (it always
    rings, ``notifies()``), or a q2 delivery unless one per q2 worker is already
    waiting (on PostgreSQL with the notification as well, for a cluster that
    listens). Returns whether it rang.

    With the ORM broker the task row (and its notification) commits or rolls back
    with the attempt. In
    q2's sync mode (tests, ``ORIS_Q_SYNC``) the task would run inside the open
    transaction, so it waits for the commit instead.
    """
    if notifies():
        with connection.cursor() as cursor:
            cursor.execute(_NOTIFY, [WORK_CHANNEL, queue])
        return True
    now = at or timezone.now()
    params = _ring_params(queue, now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not Conf.SYNC:
            cursor.execute(_RING_NOTIFIED, [*params, WORK_CHANNEL, queue])
        else:
            cursor.execute(_RING, params)
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return False
    ring = _ring_task(queue)
    if Conf.SYNC:
        transaction.on_commit(ring)
    else:
        ring()
    return True


def _ring_task(queue: str) -> partial[Any]:
    return partial(async_task, RUN_QUEUE, queue, task_name=f"drain:{queue}")


@dataclass(frozen=True, slots=True)
class RingCtes:
    """A ring as common table expressions of a caller's PostgreSQL statement
    (``dispatch_ring_ctes``); pass it to ``dispatch_rang`` afterwards."""

    sql: str
    params: list[Any]
    queue: str
    package: str | None  # the q2 task it inserts if it rings
    packed_at: float = 0.0  # monotonic()
    sync: bool = False  # q2's sync mode: the task is queued after the commit


def dispatch_ring_ctes(*, queue: str, at: datetime) -> RingCtes:
    """``dispatch_ring`` as common table expressions of a caller's statement
    (whose commit is the ring's): ``bell``, the bell's row when it rang, and
    ``notified``, which the statement must read: the q2 task's row is inserted
    when the bell rang and notified when it commits, and the listening
    workers are notified in any case. Tell ``dispatch_rang``
    whether ``bell`` returned a row: in q2's sync mode, where the statement has
    no task, it queues one after the commit. When rings are notifications
    (``notifies()``), ``bell`` always has its row and ``notified`` is the
    notification."""
    if notifies():
        ring = f"bell AS (SELECT 1), notified AS ({_NOTIFY})"
        return RingCtes(ring, [WORK_CHANNEL, queue], queue, None)
    ring = f"bell AS ({_RING})"
    params = _ring_params(queue, at)
    if Conf.SYNC:
        return RingCtes(
            f"{ring}, notified AS (SELECT 1 WHERE false)",
            params,
            queue,
            None,
            sync=True,
        )
    # (A listening cluster's workers are notified of every ring too.)
    task = (
        f"task AS (INSERT INTO {_TASKS} (key, payload, lock)"
        " SELECT %s, %s, %s FROM bell RETURNING id),"
        " notified AS (SELECT pg_notify(%s, %s) FROM task"
        " UNION ALL SELECT pg_notify(%s, %s))"
    )
    key, (packed_at, package) = Conf.CLUSTER_NAME, _package_take(queue)
    lock = connection.ops.adapt_datetimefield_value(at)
    params += [key, package, lock, Q_CHANNEL, key, WORK_CHANNEL, queue]
    return RingCtes(f"{ring}, {task}", params, queue, package, packed_at)


def dispatch_rang(ring: RingCtes, *, rang: bool) -> None:
    """After the statement of ``ring``: whether its bell rang."""
    if rang and ring.sync:
        transaction.on_commit(_ring_task(ring.queue))
    elif not rang and ring.package is not None:  # unused: the next ring's
        _packages.setdefault(ring.queue, (ring.packed_at, ring.package))


class _Capture:
    """A q2 broker that keeps the package it is given instead of enqueueing it."""

    list_key = Conf.CLUSTER_NAME

    def __init__(self) -> None:
        self.package = ""

    def enqueue(self, package: str) -> int:
        self.package = package
        return 0


# Signing a q2 task costs about as much as a round trip, and most rings of a
# busy queue do not ring (a delivery per q2 worker already waits): a package a
# statement did not use serves the next ring of its queue in this process, if
# it is younger than this (its task's ``started`` is when it was packed).
PACKAGE_REUSE_SECONDS = 1.0
_packages: dict[str, tuple[float, str]] = {}
os.register_at_fork(after_in_child=_packages.clear)  # a task id is used once


def _package_take(queue: str) -> tuple[float, str]:
    """A signed q2 task of a ring of ``queue``, as ``async_task`` packs it (a
    new id, its name, function and signature), and when it was packed: an
    unused one, or a new one."""
    kept = _packages.pop(queue, None)  # atomic: two threads never share one
    if kept is not None and monotonic() - kept[0] < PACKAGE_REUSE_SECONDS:
        return kept
    capture = _Capture()
    packed_at = monotonic()
    _ring_task(queue)(broker=capture)
    return packed_at, capture.package


@dataclass(frozen=True, slots=True)
class HintUpdate:
    """An UPDATE of a hint (a q2 task's lock) that a cluster runs on the path of
    a run's start.

    As a transaction of its own on PostgreSQL, its commit does not wait for the
    WAL flush (``set_config(..., true)`` is a ``SET LOCAL`` for that transaction):
    a hint lost in a server crash is repaired (a task is delivered again) and the
    next durable commit flushes it anyway. Inside a
    caller's transaction it stays durable, as that commit is the caller's.
    """

    durable: str
    unflushed: str

    @classmethod
    def of(cls, template: str) -> HintUpdate:
        """``template`` has ``{with_unflushed}`` before the ``UPDATE`` and
        ``{from_unflushed}`` after its ``SET`` list."""
        return cls(
            durable=Prepared(template.format(with_unflushed="", from_unflushed="")),
            unflushed=Prepared(
                template.format(
                    with_unflushed="WITH unflushed AS "
                    "(SELECT set_config('synchronous_commit', 'off', true)) ",
                    from_unflushed=" FROM unflushed",
                )
            ),
        )

    def sql(self, using: str = DEFAULT_DB_ALIAS) -> str:
        db = connections[using]
        alone = db.vendor == "postgresql" and db.get_autocommit()
        return self.unflushed if alone else self.durable


def dispatch_answer(*, queue: str) -> tuple[str, dict[str, Any]]:
    """A delivery for ``queue`` started: one fewer is pending. The SQL and its
    parameters, which the delivery's first claim commits with itself
    (``claims.attempt_claim(together=...)``): no commit of its own."""
    sql = (
        f"UPDATE {QueueDoorbell._meta.db_table} SET pending = pending - 1"
        " WHERE queue = %(answered_queue)s AND pending > 0"
    )
    return sql, {"answered_queue": queue}


def dispatch_forget(*, queues: Iterable[str] | None = None) -> int:
    """Forgets the pending deliveries of ``queues`` (all for ``None``): once a
    worker or a cluster is known dead, what it had prefetched will not start,
    and must not hold back the next ring. Returns how many bells it reset."""
    bells = QueueDoorbell.objects.filter(pending__gt=0)
    if queues is not None:
        bells = bells.filter(queue__in=list(queues))
    return bells.update(pending=0)


def dispatch_ring_due(*, at: datetime | None = None) -> list[str]:
    """Rings every queue that has claimable attempts; returns those it rang."""
    rang = []
    for queue in claims.claimable_queues(at=at):
        with transaction.atomic():
            if dispatch_ring(queue=queue, at=at):
                rang.append(queue)
    return rang
