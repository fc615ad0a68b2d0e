"""One background thread per process heartbeats the leases of the graphs it runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction

from runtime.errors import JobCancelled, LeaseLost
from runtime.models import Lease
from runtime.services import clusters
from runtime.services.leases import lease_guard

logger = logging.getLogger(__name__)


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
        clusters.cluster_progressed()  # a run starts: its cluster is not wedged
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
            clusters.cluster_progressed()  # a long run is progress too
        except (LeaseLost, JobCancelled) as exc:
            logger.info("heartbeat stopped: %s", exc)
            with self._changed:
                self._due.pop(lease.pk, None)
        except Exception:  # the database is away: the next beat tries again
            logger.exception("heartbeat of lease %s failed", lease.pk)


heartbeats = Heartbeats()
