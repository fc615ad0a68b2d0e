"""django-q2 entry points: ids in, one call each. Our tables decide the rest."""

from __future__ import annotations

from runtime.services import clusters, crons, interrupts, reaper, retention, store
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


def fire_crons() -> int:
    """Scheduled sweep: starts the runs of the Agent Server's due crons."""
    return crons.crons_fire_due()


def prune_finished() -> int:
    """Scheduled sweep: applies retention policies to finished threads."""
    return retention.prune().rows


def sweep_store() -> int:
    """Scheduled sweep: deletes expired store items."""
    return store.store_sweep_expired()
