"""Supervising django-q2 clusters, so that no cluster can wedge silently.

A django-q2 cluster's sentinel restarts a dead worker, but a worker killed while
it waits for a task dies holding the lock of the queue its cluster's workers
share: every other worker and the pusher then block for good while the sentinel
reports itself alive. The supervisor runs each cluster as a child process in its
own process group and, every second:

- reaps expired leases (the short schedule of the reaper);
- restarts a cluster whose process exited, or that is wedged: work has been due
  for ``ORIS_CLUSTER_STALL_SECONDS`` and none of its workers progressed within
  that bound (``runtime.services.clusters.cluster_check``). Work counts as due
  while the same attempt heads the claim order: a queue that other clusters
  drain is not a wedge of an idle one. A restart kills the
  cluster's whole process group, starts a new one, forgets the deliveries the
  old one had prefetched and rings every queue with work;
- forgets clusters no supervisor sees any more (a host that died with its
  supervisor).

Used by ``oris_serve`` (``make run``) and ``oris_worker`` (production).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from runtime.models import WorkerCluster
from runtime.services import claims, clusters, dispatch, reaper

logger = logging.getLogger(__name__)

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
TICK_SECONDS = 1.0
GRACE_SECONDS = 15


def stop_requested() -> Callable[[], bool]:
    """Catches SIGINT and SIGTERM from now on; returns whether one came."""
    signals: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        signals.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return lambda: bool(signals)


@dataclass(slots=True)
class _Slot:
    cluster_id: str
    process: subprocess.Popen[bytes] | None = None


class Supervisor:
    """Runs ``clusters`` django-q2 clusters and keeps them serving."""

    def __init__(self, *, clusters: int = 1, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, MANAGE, "qcluster"]
        prefix = f"{socket.gethostname()}:{os.getpid()}"
        self.slots = [_Slot(f"{prefix}:{n}") for n in range(clusters)]
        self._head: str | None = None  # the next attempt to claim, and since when
        self._due_since: datetime | None = None

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Starts the clusters and supervises them until ``should_stop()``,
        then stops them."""
        for slot in self.slots:
            self._spawn(slot, note="")
        next_tick = time.monotonic()
        try:
            while not should_stop():
                if time.monotonic() >= next_tick:
                    self.tick()
                    next_tick = time.monotonic() + TICK_SECONDS
                time.sleep(0.1)
        finally:
            self.stop()

    def tick(self) -> None:
        """One round of supervision; a database outage skips it (the clusters
        are not to blame for it)."""
        try:
            self._tick(timezone.now())
        except DatabaseError as exc:
            logger.warning("supervision skipped: the database failed: %s", exc)
            # No worker could progress meanwhile: the stall bound starts over.
            self._head = self._due_since = None
        finally:
            close_old_connections()

    def _tick(self, now: datetime) -> None:
        reaper.reap(at=now)
        head = claims.claimable_head(at=now)
        if head != self._head:
            self._head, self._due_since = head, (now if head else None)
        for slot in self.slots:
            assert slot.process is not None
            status = slot.process.poll()
            if status is not None:
                self._restart(slot, f"exited with status {status}")
            elif self._check(slot, now) == WorkerCluster.State.WEDGED:
                self._restart(
                    slot,
                    f"wedged: work due since {self._due_since:%H:%M:%S} and no "
                    f"worker progressed for {settings.ORIS_CLUSTER_STALL_SECONDS} s",
                )
        if clusters.clusters_expire(at=now):
            dispatch.dispatch_ring_due(at=now)

    def _check(self, slot: _Slot, now: datetime) -> WorkerCluster.State:
        assert slot.process is not None
        try:
            return clusters.cluster_check(
                cluster_id=slot.cluster_id, due_since=self._due_since, at=now
            )
        except WorkerCluster.DoesNotExist:  # expired while we could not tick
            clusters.cluster_started(cluster_id=slot.cluster_id, pid=slot.process.pid)
            return WorkerCluster.State.STARTING

    def _restart(self, slot: _Slot, why: str) -> None:
        assert slot.process is not None
        logger.error(
            "cluster %s (pid %s) %s; restarting it",
            slot.cluster_id,
            slot.process.pid,
            why,
        )
        self._kill(slot)
        self._spawn(slot, note=why)
        # What the old cluster had prefetched died with it.
        dispatch.dispatch_forget()
        dispatch.dispatch_ring_due()

    def _spawn(self, slot: _Slot, *, note: str) -> None:
        env = {**os.environ, clusters.CLUSTER_ID_ENV: slot.cluster_id}
        # Its own process group, so that a restart can kill all of it at once.
        slot.process = subprocess.Popen(self.command, env=env, start_new_session=True)
        clusters.cluster_started(
            cluster_id=slot.cluster_id, pid=slot.process.pid, note=note
        )

    def _kill(self, slot: _Slot) -> None:
        assert slot.process is not None
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.killpg(slot.process.pid, signal.SIGKILL)
        slot.process.wait()

    def stop(self) -> None:
        """Stops every cluster gracefully (SIGTERM lets q2 finish its tasks),
        killing what is left after ``GRACE_SECONDS``."""
        running = [s for s in self.slots if s.process and s.process.poll() is None]
        for slot in running:
            assert slot.process is not None
            slot.process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for slot in running:
            assert slot.process is not None
            try:
                slot.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("cluster %s did not stop in time", slot.cluster_id)
            self._kill(slot)  # and whatever of its group is left
        for slot in self.slots:
            try:
                clusters.cluster_remove(cluster_id=slot.cluster_id)
            except DatabaseError:
                logger.warning("cluster %s left recorded", slot.cluster_id)
