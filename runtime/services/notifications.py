"""Waking a web process's run waits and streams with PostgreSQL's LISTEN/NOTIFY.

On PostgreSQL, triggers (migrations ``0019_run_notify``,
``0020_run_notify_status``, ``0021_run_notify_output``) send ``NOTIFY oris_runs``
when a run's status changes (payload ``'<run id> <status>'``; a final status
also carries the run's answer, ``'<run id> <status> <event> <data>'``, its last
``values`` or ``error`` event, unless it is long), when events of it are inserted
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
from collections import OrderedDict
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
# How long a run's status notification is kept when nobody here waits for it
# yet (``Hub.add(since=...)``).
RECENT_SECONDS = 2.0
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
        # What the last one carried besides: a final status's answer, as
        # ``'<event> <data>'`` (``""``: none).
        self.detail = ""
        # Whether every notification of the run since ``watch(since=...)`` reaches
        # this waiter (the listener was up all along): no first look is needed.
        self.heard_all = False

    def ring(self, kind: str = "", detail: str = "") -> None:  # listener's thread
        if self.wants is None or self.wants(kind):
            self.loop.call_soon_threadsafe(self._set, kind, detail)

    def _set(self, kind: str, detail: str) -> None:
        self.woken += 1
        self.kind, self.detail = kind, detail
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
        # The last status notification (its kind, when) of each run that had no
        # waiter here, for RECENT_SECONDS: a request that created a run and
        # watches it only after the commit hears what came in between.
        self.recent: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
        self.up = threading.Event()  # set while LISTENing
        self.up_since = 0.0  # monotonic(): when the current LISTEN began
        self.stopping = threading.Event()
        self.connection: psycopg.Connection[Any] | None = None
        self.thread = threading.Thread(target=self._listen, daemon=True, name=CHANNEL)
        self.thread.start()

    def add(self, run_id: str, waiter: Waiter, since: float | None = None) -> None:
        """Registers ``waiter``; with ``since`` (a ``monotonic()`` before run
        ``run_id`` was created), when the listener has been up since then, it
        is rung with what the run was notified of meanwhile, and ``heard_all``."""
        with self.lock:
            self.waiters.setdefault(run_id, set()).add(waiter)
            if since is None or not self.up.is_set() or self.up_since > since:
                return
            if time.monotonic() - since >= RECENT_SECONDS:
                return  # what was heard may be forgotten already
            waiter.heard_all = True
            heard = self.recent.pop(run_id, None)
        if heard is not None:
            waiter.ring(heard[1], heard[2])

    def remove(self, run_id: str, waiter: Waiter) -> None:
        with self.lock:
            found = self.waiters.get(run_id)
            if found is not None:
                found.discard(waiter)
                if not found:
                    del self.waiters[run_id]

    def wake(self, payload: str) -> None:
        run_id, _, kind = payload.partition(" ")
        kind, _, detail = kind.partition(" ")
        with self.lock:
            found = list(self.waiters.get(run_id, ()))
            if not found and kind != "event":
                self._remember(run_id, kind, detail)
        for waiter in found:
            waiter.ring(kind, detail)

    def _remember(self, run_id: str, kind: str, detail: str) -> None:
        now = time.monotonic()
        self.recent[run_id] = (now, kind, detail)
        self.recent.move_to_end(run_id)
        while self.recent:
            first = next(iter(self.recent.values()))
            if now - first[0] < RECENT_SECONDS:
                break
            self.recent.popitem(last=False)

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
            self.up_since = time.monotonic()
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
    run_id: Any,
    *,
    wants: Callable[[str], bool] | None = None,
    since: float | None = None,
) -> Iterator[Waiter]:
    """A waiter woken whenever run ``run_id`` changes (in a way it ``wants``), in
    an async function; register before the first look so that no change falls
    between the two. ``since``: a ``monotonic()`` taken before the run was
    created; when the waiter ``heard_all`` since then, no first look is needed."""
    found = hub()
    waiter = Waiter(found, wants)
    key = str(run_id)
    if found is not None:
        found.add(key, waiter, since)
    try:
        yield waiter
    finally:
        if found is not None:
            found.remove(key, waiter)
