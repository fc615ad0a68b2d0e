"""django-q2 entry points: ids in, one call each. Our tables decide the rest."""

from __future__ import annotations

from runtime.services import clusters, interrupts, reaper, store
from runtime.worker import drain


def run_queue(queue: str) -> int:
    """The doorbell of a queue: runs its claimable attempts."""
    clusters.cluster_progressed()
    return drain.queue_drain(queue=queue)


def reap() -> int:
    """Scheduled sweep: requeues expired leases, ends timed-out attempts (once),
    then runs work whose doorbell was missed (a retry that became due, a crash)."""
    clusters.cluster_progressed()
    return reaper.reap() + drain.worker_drain()


def expire_interrupts() -> int:
    """Scheduled sweep: rejects or escalates interrupts past their deadline."""
    return interrupts.interrupt_expire_due()


def sweep_store() -> int:
    """Scheduled sweep: deletes expired store items."""
    return store.store_sweep_expired()
