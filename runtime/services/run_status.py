"""An Agent Server run's status follows its Oris attempt: each attempt outcome
moves the run it executes, in the outcome's own transaction."""

from __future__ import annotations

from datetime import datetime

from runtime.models import Run

LIVE = (Run.Status.PENDING, Run.Status.RUNNING)


def run_follow(*, attempt_id: str, status: str, at: datetime) -> None:
    """Moves the live run executed by ``attempt_id`` (if any) to ``status``."""
    Run.objects.filter(attempt_id=attempt_id, status__in=LIVE).update(
        status=status, updated_at=at
    )
