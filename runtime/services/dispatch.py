"""Ringing django-q2's doorbell for a queue; the attempt rows are the ledger.

A delivery of ``runtime.tasks.run_queue`` drains its queue (``ORIS_DRAIN_LIMIT``
attempts, then it rings again if work remains), so a run does not need a q2 task of
its own: at most one delivery per q2 worker waits for each queue. Accepted work is
never lost to a missing doorbell: the attempt row is committed, and the scheduled
sweep runs whatever is claimable. On PostgreSQL the q2 task's row carries a NOTIFY
(``runtime/worker/broker.py``), so an idle cluster takes the delivery as soon as the
ringing transaction commits instead of at its next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task

from runtime.models import QueueDoorbell
from runtime.services import claims

logger = logging.getLogger(__name__)

RUN_QUEUE = "runtime.tasks.run_queue"
# A pending count not rung for this long is assumed lost (a delivery that crashed
# before answering) and starts over.
STALE = timedelta(seconds=60)


# One statement for every ring, as job creation rings once per job: the bell row
# is created, or counts one more pending delivery while fewer than one per q2
# worker wait, or starts over when stale; otherwise nothing changes and nothing
# is returned.
_RING = f"""
    INSERT INTO {QueueDoorbell._meta.db_table} AS bell (queue, pending, rung_at)
    VALUES (%(queue)s, 1, %(now)s)
    ON CONFLICT (queue) DO UPDATE SET rung_at = excluded.rung_at,
        pending = CASE WHEN bell.pending < %(slots)s THEN bell.pending + 1 ELSE 1 END
    WHERE bell.pending < %(slots)s OR bell.rung_at < %(stale)s
    RETURNING pending"""


def dispatch_ring(*, queue: str, at: datetime | None = None) -> bool:
    """Queues a delivery for ``queue`` in the caller's transaction, unless one per
    q2 worker is already waiting. Returns whether it rang.

    With the ORM broker the task row (and its notification) commits or rolls back
    with the attempt. In
    q2's sync mode (tests, ``ORIS_Q_SYNC``) the task would run inside the open
    transaction, so it waits for the commit instead.
    """
    now = at or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params: dict[str, Any] = {
        "queue": queue,
        "now": adapt(now),
        "slots": settings.Q_CLUSTER.get("workers", 1),
        "stale": adapt(now - STALE),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RING, params)
        if cursor.fetchone() is None:
            return False
    ring = partial(async_task, RUN_QUEUE, queue, task_name=f"drain:{queue}")
    if Conf.SYNC:
        transaction.on_commit(ring)
    else:
        ring()
    return True


@dataclass(frozen=True, slots=True)
class HintUpdate:
    """An UPDATE of a hint (a pending count, a q2 task's lock) that a worker runs
    on the path of a run's start.

    As a transaction of its own on PostgreSQL, its commit does not wait for the
    WAL flush (``set_config(..., true)`` is a ``SET LOCAL`` for that transaction):
    a hint lost in a server crash is repaired (a pending count goes stale, a task
    is delivered again) and the next durable commit flushes it anyway. Inside a
    caller's transaction it stays durable, as that commit is the caller's.
    """

    durable: str
    unflushed: str

    @classmethod
    def of(cls, template: str) -> HintUpdate:
        """``template`` has ``{with_unflushed}`` before the ``UPDATE`` and
        ``{from_unflushed}`` after its ``SET`` list."""
        return cls(
            durable=template.format(with_unflushed="", from_unflushed=""),
            unflushed=template.format(
                with_unflushed="WITH unflushed AS "
                "(SELECT set_config('synchronous_commit', 'off', true)) ",
                from_unflushed=" FROM unflushed",
            ),
        )

    def sql(self, using: str = DEFAULT_DB_ALIAS) -> str:
        db = connections[using]
        alone = db.vendor == "postgresql" and db.get_autocommit()
        return self.unflushed if alone else self.durable


_ANSWER = HintUpdate.of(
    f"{{with_unflushed}}UPDATE {QueueDoorbell._meta.db_table} "
    "SET pending = pending - 1{from_unflushed} WHERE queue = %s AND pending > 0"
)


def dispatch_answer(*, queue: str) -> None:
    """A delivery for ``queue`` started: one fewer is pending."""
    with connection.cursor() as cursor:
        cursor.execute(_ANSWER.sql(), [queue])


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
