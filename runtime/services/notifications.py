"""Waking a web process's run waits and streams with PostgreSQL's LISTEN/NOTIFY.

On PostgreSQL, triggers (migrations ``0019_run_notify``,
``0020_run_notify_status``) send ``NOTIFY oris_runs`` when a run's status
changes (payload ``'<run id> <status>'``), when events of it are inserted
(``'<run id> event'``) and when it is deleted (``'<run id>'``); a notification is
delivered when the writing transaction commits, never when it rolls back. Each
process that waits on runs keeps one connection of its own that LISTENs, read by a
daemon thread that wakes the waiters of the notified run (``watch``): a stream
looks at its run at each notification, a ``runs.wait`` or ``join`` only at those
that may mean the run is over (``wants``); each looks at least every
``FALLBACK_SECONDS`` besides, so a missed notification (the listener reconnecting)
delays it and loses nothing. Waiters hold no database connection. On
SQLite, or with ``ORIS_Q_LISTEN`` off (a transaction-pooling PgBouncer), there is no
listener and the waiters poll (``poll_pause``).

``listen_connection`` is also the q2 broker's (``runtime/worker/broker.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

logger = logging.getLogger(__name__)

CHANNEL = "oris_runs"
# How long a waiter sleeps at most while the listener is up (a missed
# notification costs this much delay, no more).
FALLBACK_SECONDS = 1.0
RECONNECT_SECONDS = 1.0
SLICE_SECONDS = 0.5
# Without a listener: often while a run is young (most runs end within a
# fraction of a second), then less often.
POLL_FAST_SECONDS, POLL_SECONDS, FAST_FOR_SECONDS = 0.005, 0.05, 0.5


def listen_connection(alias: str, channel: str) -> psycopg.Connection[Any]:
    """A new autocommit connection to database ``alias`` that LISTENs on
    ``channel``; raises ``psycopg.Error`` when it cannot."""
    params = connections[alias].get_connection_params()
    params.setdefault("connect_timeout", 5)
    # A peer that vanished without closing the socket is noticed by the
    # kernel's keepalives rather than never.
    params.setdefault("keepalives_idle", 30)
    params.setdefault("keepalives_interval", 10)
    params.setdefault("keepalives_count", 3)
    found = psycopg.connect(**params, autocommit=True)
    try:
        found.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    except psycopg.Error:
        found.close()
        raise
    return found


def poll_pause(since: float) -> float:
    """How long to wait, without a listener, before the next look at a run
    watched since ``since``."""
    young = time.monotonic() - since < FAST_FOR_SECONDS
    return POLL_FAST_SECONDS if young else POLL_SECONDS


class Waiter:
    """One waiting request's doorbell for one run, rung from the listener for
    the notifications it ``wants`` (their kind: a status, ``"event"``, or ``""``
    for a deletion or anything unknown; all of them for ``None``)."""

    def __init__(self, hub: Hub | None, wants: Callable[[str], bool] | None) -> None:
        self.hub = hub
        self.wants = wants
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.since = time.monotonic()
        self.woken = 0  # notifications received (tests read it)
        self.kind = ""  # of the last one since the last wait

    def ring(self, kind: str = "") -> None:  # from the listener's thread
        if self.wants is None or self.wants(kind):
            self.loop.call_soon_threadsafe(self._set, kind)

    def _set(self, kind: str) -> None:
        self.woken += 1
        self.kind = kind
        self.event.set()

    async def wait(self) -> str:
        """Until the run is notified, or the time to look again anyway; answers
        the kind of the last notification since the last wait (``""``: none)."""
        if self.hub is None or not self.hub.up.is_set():
            await asyncio.sleep(poll_pause(self.since))
            return ""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), FALLBACK_SECONDS)
        self.event.clear()
        kind, self.kind = self.kind, ""
        return kind


class Hub:
    """The process's listener and the waiters it wakes, by run id."""

    def __init__(self, alias: str = DEFAULT_DB_ALIAS) -> None:
        self.alias = alias
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.waiters: dict[str, set[Waiter]] = {}
        self.up = threading.Event()  # set while LISTENing
        self.stopping = threading.Event()
        self.connection: psycopg.Connection[Any] | None = None
        self.thread = threading.Thread(target=self._listen, daemon=True, name=CHANNEL)
        self.thread.start()

    def add(self, run_id: str, waiter: Waiter) -> None:
        with self.lock:
            self.waiters.setdefault(run_id, set()).add(waiter)

    def remove(self, run_id: str, waiter: Waiter) -> None:
        with self.lock:
            found = self.waiters.get(run_id)
            if found is not None:
                found.discard(waiter)
                if not found:
                    del self.waiters[run_id]

    def wake(self, payload: str) -> None:
        run_id, _, kind = payload.partition(" ")
        with self.lock:
            found = list(self.waiters.get(run_id, ()))
        for waiter in found:
            waiter.ring(kind)

    def wake_all(self) -> None:
        with self.lock:
            found = [w for waiters in self.waiters.values() for w in waiters]
        for waiter in found:
            waiter.ring()

    def stop(self) -> None:
        """Stops listening (within ``SLICE_SECONDS``) and closes the connection."""
        self.stopping.set()
        self.thread.join()

    def _listen(self) -> None:
        while not self.stopping.is_set():
            try:
                self.connection = listen_connection(self.alias, CHANNEL)
            except psycopg.Error as exc:
                logger.warning("cannot LISTEN on %s (%s)", CHANNEL, str(exc).strip())
                self.stopping.wait(RECONNECT_SECONDS)
                continue
            self.up.set()
            self.wake_all()  # what was notified before now is lost: look again
            try:
                while not self.stopping.is_set():
                    # Each generator runs to its end (one left suspended holds
                    # the connection's lock); the slices let a stop through.
                    for notify in self.connection.notifies(timeout=SLICE_SECONDS):
                        self.wake(notify.payload)
            except psycopg.Error as exc:
                logger.warning("lost LISTEN on %s (%s)", CHANNEL, str(exc).strip())
                self.stopping.wait(RECONNECT_SECONDS)
            finally:
                self.up.clear()
                self.connection.close()


_hub: Hub | None = None
_hub_lock = threading.Lock()


def hub() -> Hub | None:
    """This process's listener (started on first use), or ``None`` where waiters
    poll (SQLite, ``ORIS_Q_LISTEN`` off)."""
    global _hub
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return None
    if not settings.ORIS_Q_LISTEN:
        return None
    with _hub_lock:
        if _hub is None or _hub.pid != os.getpid():  # never a parent's thread
            _hub = Hub()
        return _hub


def hub_stop() -> None:
    """Stops this process's listener, if any (tests: before the test database
    is dropped)."""
    global _hub
    with _hub_lock:
        found, _hub = _hub, None
    if found is not None and found.pid == os.getpid():
        found.stop()


@contextmanager
def watch(
    run_id: Any, *, wants: Callable[[str], bool] | None = None
) -> Iterator[Waiter]:
    """A waiter woken whenever run ``run_id`` changes (in a way it ``wants``), in
    an async function; register before the first look so that no change falls
    between the two."""
    found = hub()
    waiter = Waiter(found, wants)
    key = str(run_id)
    if found is not None:
        found.add(key, waiter)
    try:
        yield waiter
    finally:
        if found is not None:
            found.remove(key, waiter)
