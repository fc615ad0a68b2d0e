"""django-q2 entry points: ids in, one service call each. Our tables decide the rest."""

from __future__ import annotations

from runtime.services import execution, leases


def run_attempt(attempt_id: str) -> int:
    """The doorbell for an attempt: runs it, then drains other claimable work."""
    return execution.worker_drain(attempt_id=attempt_id)


def reap() -> int:
    """Scheduled sweep: requeues expired leases, ends timed-out attempts, and
    runs work whose doorbell was missed (a retry that became due, a crash)."""
    return leases.lease_reap() + execution.worker_drain()
