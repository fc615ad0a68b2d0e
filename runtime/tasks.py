"""django-q2 entry points: ids in, one service call each. Our tables decide the rest."""

from __future__ import annotations

from runtime.services import execution, leases


def run_queue(queue: str) -> int:
    """The doorbell of a queue: runs its claimable attempts."""
    return execution.queue_drain(queue=queue)


def reap() -> int:
    """Scheduled sweep: requeues expired leases, ends timed-out attempts, and
    runs work whose doorbell was missed (a retry that became due, a crash)."""
    return leases.lease_reap() + execution.worker_drain()
