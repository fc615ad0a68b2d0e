"""Ringing django-q2's doorbell for an attempt; the attempt row is the ledger."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django_q.conf import Conf
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

RUN_ATTEMPT = "runtime.tasks.run_attempt"


def dispatch_ring(*, attempt_id: str) -> None:
    """Queues a q2 task for the attempt, in the caller's transaction.

    With the ORM broker the task row commits or rolls back with the attempt, so
    accepted work cannot be lost before it is queued. In q2's sync mode (tests,
    ``ORIS_Q_SYNC``) the task would run inside the open transaction, so it waits
    for the commit instead.
    """
    ring = partial(async_task, RUN_ATTEMPT, attempt_id, task_name=attempt_id)
    if Conf.SYNC:
        transaction.on_commit(ring)
    else:
        ring()
