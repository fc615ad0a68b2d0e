"""An idle django-q2 worker that claims notified work itself (PostgreSQL).

When rings are notifications (``dispatch.notifies()``), each q2 worker process
waits for its next q2 task (a scheduled sweep, a webhook) and, at the same time,
on a connection of its own that LISTENs on ``dispatch.WORK_CHANNEL``. A
notification makes it drain: claim (``claims.drain_claim``, the one claim of
every worker) and run attempts until nothing is claimable, or ``ORIS_DRAIN_LIMIT``
of them (then it looks at its q2 tasks first and carries on), reaping when
nothing is left, exactly as a q2 delivery of ``runtime.tasks.run_queue`` does,
without the q2 task, its pusher hop and its acknowledgement.

Nothing is lost between a notification and a claim: notifications read so far
are consumed before the claim, so one that arrives later wakes the worker again
(a notification is delivered after its commit, which a later claim sees). Every
idle worker wakes at a notification; those that find nothing go back to waiting.
A worker also drains when it starts, when its LISTEN connection (re)connects
(what was notified meanwhile is lost) and every ``ORIS_Q_IDLE_POLL_SECONDS``
(the fallback); while the connection is down, every ``Q_CLUSTER["poll"]``
seconds, reconnecting after ``RECONNECT_SECONDS``. While it drains, q2's guard
sees it busy (its timer), as with a q2 task: a drain past q2's ``timeout`` is
killed, and the leases recover what it held.

``install()`` swaps q2's worker function for ``worker`` in the cluster module,
which is how q2's sentinel spawns (and respawns) its worker processes.
"""

from __future__ import annotations

import logging
import queue as queues
from multiprocessing.connection import wait
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from time import monotonic
from typing import Any

import psycopg
from django.conf import settings
from django.db import close_old_connections
from django_q import cluster
from django_q.conf import Conf
from django_q.worker import worker as q2_worker

from runtime.services import dispatch
from runtime.services.notifications import listen_connection
from runtime.worker.drain import worker_drain

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
# After a drain failed (the database is away): when to look again.
RETRY_SECONDS = 1.0


def install() -> None:
    """Makes q2's sentinel spawn ``worker`` (idempotent)."""
    cluster.worker = worker


def worker(
    task_queue: Queue[Any],
    result_queue: Queue[Any],
    timer: Synchronized[float],
    timeout: int | None = Conf.TIMEOUT,
) -> None:
    """django-q2's worker, taking its tasks from a ``ServingQueue`` when rings
    are notifications."""
    if not dispatch.notifies():
        q2_worker(task_queue, result_queue, timer, timeout)
        return
    q2_worker(ServingQueue(task_queue, timer, timeout), result_queue, timer, timeout)


class ServingQueue:
    """The q2 worker's task queue, as its worker loop reads it (``get``); while
    no q2 task is there, it serves notified attempts."""

    def __init__(
        self, tasks: Queue[Any], timer: Synchronized[float], timeout: int | None
    ) -> None:
        self.tasks = tasks
        self.timer = timer
        self.timeout = timeout
        self.listener: psycopg.Connection[Any] | None = None
        self.due = False  # whether to drain before waiting (at first: once LISTENing)
        self.next_look = 0.0  # monotonic(): the fallback's next drain
        self.reconnect_at = 0.0

    def get(self) -> Any:
        """The next q2 task (or q2's ``"STOP"``), serving attempts meanwhile."""
        while True:
            try:
                return self.tasks.get(block=False)
            except queues.Empty:
                pass
            if self.due:
                self.due = self._drain()
            else:
                self.due = self._wait()

    def _drain(self) -> bool:
        """Drains as a q2 worker's task would; returns whether it stopped at
        the limit (so that more may be due)."""
        limit = settings.ORIS_DRAIN_LIMIT
        self.timer.value = self.timeout + 3 if self.timeout else -1  # busy
        try:
            close_old_connections()  # as q2's worker does before a task
            # (Its progress is noted when a run starts: heartbeats.keep.)
            ran = worker_drain(limit=limit, reap=True)
        except Exception:  # the database is away, most likely
            logger.exception("draining failed; looking again soon")
            close_old_connections()
            self.next_look = monotonic() + RETRY_SECONDS
            return False
        finally:
            self.timer.value = -1  # idle
        self.next_look = monotonic() + settings.ORIS_Q_IDLE_POLL_SECONDS
        return ran >= limit

    def _wait(self) -> bool:
        """Waits for a q2 task, a notification or the next look; returns
        whether to drain."""
        # The queue's reader end, a private attribute: ``multiprocessing.Queue``
        # has no public way to wait for its next item together with another
        # file descriptor. A helper thread blocked in ``get()`` would be one, but
        # it holds the queue's read lock while it waits, and a worker killed
        # meanwhile would leave that lock held and its siblings wedged.
        reader = self.tasks._reader  # type: ignore[attr-defined]
        if self.listener is None:
            if self._listen():
                return True  # what was notified before is lost: look
            wait([reader], timeout=Conf.POLL)  # down: poll
            return True
        remaining = self.next_look - monotonic()
        if remaining <= 0:
            return True
        fd = self.listener.fileno()
        ready = wait([reader, fd], timeout=remaining)
        if fd not in ready:
            return not ready  # the fallback's look, or a q2 task first
        try:
            # Runs to its end: one left suspended holds the connection's lock.
            notified = len(list(self.listener.notifies(timeout=0)))
        except psycopg.Error as exc:
            logger.warning(
                "lost the LISTEN connection (%s); polling every %s s meanwhile",
                str(exc).strip(),
                Conf.POLL,
            )
            self.close()
            return True
        return notified > 0

    def _listen(self) -> bool:
        """Opens the LISTEN connection unless a reconnection is not due yet."""
        if monotonic() < self.reconnect_at:
            return False
        try:
            self.listener = listen_connection(Conf.ORM, dispatch.WORK_CHANNEL)
        except psycopg.Error as exc:
            logger.warning("cannot LISTEN (%s); polling meanwhile", str(exc).strip())
            self.reconnect_at = monotonic() + RECONNECT_SECONDS
            return False
        logger.info("worker listens on %s", dispatch.WORK_CHANNEL)
        return True

    def close(self) -> None:
        """Closes the LISTEN connection (it reconnects when it waits next)."""
        if self.listener is not None:
            self.listener.close()
        self.listener = None
        self.reconnect_at = monotonic() + RECONNECT_SECONDS
