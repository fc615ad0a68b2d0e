"""django-q2's ORM broker, woken on PostgreSQL by a notification instead of a poll.

On PostgreSQL every enqueued task sends ``NOTIFY django_q_ormq, '<queue>'`` in the
enqueuing statement, so the notification is delivered when the task row commits and
never when it rolls back. A cluster's pusher waits for it on a connection of its own
that LISTENs, and reads the task table only when woken, right after (re)connecting
(notifications sent before are lost), and every ``ORIS_Q_IDLE_POLL_SECONDS`` as a
fallback (a task whose lock expired; a submitter with ``ORIS_Q_LISTEN`` off). While
that connection is down it polls every ``Q_CLUSTER["poll"]`` seconds and reconnects
after ``RECONNECT_SECONDS``. On SQLite it is django-q2's ORM broker, unchanged.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from time import monotonic, sleep
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from runtime.services.dispatch import ENQUEUE, Q_CHANNEL, HintUpdate
from runtime.services.notifications import listen_connection

logger = logging.getLogger(__name__)

CHANNEL = Q_CHANNEL
# The pusher looks whether its cluster is stopping between two dequeues: a wait
# for a notification is cut into slices this long so that a stop is not delayed.
SLICE_SECONDS = 0.5
RECONNECT_SECONDS = 1.0

_TABLE = OrmQ._meta.db_table
# The ORM broker's claim (due tasks of the queue, each locked until ``retry``
# from now) as one statement; SKIP LOCKED leaves a task another cluster is
# claiming to that cluster instead of waiting for it. The lock is a hint: a lost
# one only delivers the task again, which q2's at-least-once delivery allows and
# our leases absorb.
_CLAIM = HintUpdate.of(
    f"""
    {{with_unflushed}}UPDATE {_TABLE} SET lock = %(until)s{{from_unflushed}}
    WHERE id IN (
        SELECT id FROM {_TABLE} WHERE key = %(key)s AND lock < %(now)s
        ORDER BY id LIMIT %(bulk)s FOR UPDATE SKIP LOCKED)
    RETURNING id, payload"""
)


class Listener:
    """A connection of this process that LISTENs on ``CHANNEL``."""

    def __init__(self, alias: str) -> None:
        self.pid = os.getpid()
        self.connection = listen_connection(alias, CHANNEL)

    def wait(self, key: str, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for a notification about queue ``key``;
        raises ``psycopg.Error`` if the connection broke."""
        # Each generator runs to its end: one left suspended holds the lock of
        # the connection, and the next one would wait for it forever.
        notifies = self.connection.notifies(timeout=timeout, stop_after=1)
        payloads = [notify.payload for notify in notifies]
        if key not in payloads:
            return False
        # Everything notified so far is committed and is read by the next claim.
        for _ in self.connection.notifies(timeout=0):
            pass
        return True

    def close(self) -> None:
        if self.pid == os.getpid():  # never the socket of a parent process
            self.connection.close()


class ListeningBroker(ORM):
    """The ORM broker; on PostgreSQL it notifies on enqueue and waits to dequeue."""

    _listener: Listener | None = None
    _due = True  # whether the next dequeue reads the table
    _next_poll = 0.0
    _reconnect_at = 0.0

    def enqueue(self, task: str) -> int:
        if not self._on_postgres():
            return super().enqueue(task)
        self.get_connection()  # drops a stale connection, as the ORM broker does
        params = {
            "key": self.list_key or Conf.CLUSTER_NAME,
            "payload": task,
            "now": timezone.now(),
            "channel": CHANNEL,
        }
        with connections[Conf.ORM].cursor() as cursor:
            cursor.execute(ENQUEUE, params)
            return cursor.fetchone()[0]

    def dequeue(self) -> list[tuple[int, str]] | None:
        if not self._on_postgres():
            return super().dequeue()
        if not self._due:
            self._due = self._wait()
            if not self._due:
                return None
        tasks = self._claim()
        self._due = bool(tasks)  # more may be waiting behind a full batch
        if not tasks:
            self._next_poll = monotonic() + settings.ORIS_Q_IDLE_POLL_SECONDS
        return tasks or None

    def _on_postgres(self) -> bool:
        return connections[Conf.ORM].vendor == "postgresql"

    def _claim(self) -> list[tuple[int, str]]:
        self.get_connection()
        now = timezone.now()
        params: dict[str, Any] = {
            "key": self.list_key,
            "now": now,
            "until": now + timedelta(seconds=Conf.RETRY),
            "bulk": Conf.BULK,
        }
        with connections[Conf.ORM].cursor() as cursor:
            cursor.execute(_CLAIM.sql(Conf.ORM), params)
            return sorted(cursor.fetchall())

    def _wait(self) -> bool:
        """Waits for a reason to read the table; returns whether there is one."""
        if self._listener is None or self._listener.pid != os.getpid():
            if not self._listen():
                sleep(Conf.POLL)
            return True
        remaining = self._next_poll - monotonic()
        if remaining <= 0:
            return True
        try:
            return self._listener.wait(
                self.list_key, timeout=min(remaining, SLICE_SECONDS)
            )
        except psycopg.Error as exc:
            logger.warning(
                "lost the LISTEN connection (%s); polling every %s s meanwhile",
                str(exc).strip(),
                Conf.POLL,
            )
            self._listener.close()
            self._listener = None
            self._reconnect_at = monotonic() + RECONNECT_SECONDS
            return True

    def _listen(self) -> bool:
        """Opens the LISTEN connection unless a reconnection is not due yet."""
        if monotonic() < self._reconnect_at:
            return False
        try:
            self._listener = Listener(Conf.ORM)
        except psycopg.Error as exc:
            logger.warning("cannot LISTEN (%s); polling meanwhile", str(exc).strip())
            self._reconnect_at = monotonic() + RECONNECT_SECONDS
            return False
        logger.info("queue %s listens on %s", self.list_key, CHANNEL)
        return True
