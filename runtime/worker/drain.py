"""Draining a queue: what one django-q2 delivery of a queue's doorbell does."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from runtime.models import Lease
from runtime.services import claims, dispatch, reaper
from runtime.worker.execute import Finish, execute_leased, worker_id_default


def queue_drain(
    *, queue: str, worker_id: str | None = None, limit: int | None = None
) -> int:
    """A delivery of the queue's doorbell: drains the queue, then reaps once
    (what it requeues rings the doorbell again), or rings again when it stopped
    at the limit with work left, so another delivery carries on. Returns how many
    attempts ran. Reaping comes last so it never delays a run's start. The
    delivery's answer (one fewer pending) commits with its first claim."""
    limit = limit or settings.ORIS_DRAIN_LIMIT
    answer = dispatch.dispatch_answer(queue=queue)
    ran = worker_drain(
        queue=queue, worker_id=worker_id, limit=limit, answer=answer, reap=True
    )
    if ran >= limit:
        with transaction.atomic():
            dispatch.dispatch_ring(queue=queue)
    return ran


def worker_drain(
    *,
    attempt_id: str | None = None,
    queue: str | None = None,
    worker_id: str | None = None,
    limit: int | None = None,
    answer: tuple[str, dict[str, Any]] | None = None,
    reap: bool = False,
) -> int:
    """Runs claimable attempts of ``queue`` (any queue for ``None``) in claim
    order, up to ``limit`` (``ORIS_DRAIN_LIMIT``), starting with ``attempt_id``
    when given. Returns how many ran. With ``reap`` it reaps when it stops for
    want of claimable work, with what its last claim saw (``claims.Nothing``).
    ``answer`` (a delivery's, ``dispatch.dispatch_answer``) commits with the
    first claim; each later one follows the previous run's outcome
    (``_outcome_commit``).

    When nothing is claimable but a retry is due within
    ``ORIS_MAX_DOORBELL_WAIT_SECONDS``, it waits for it; later retries are run by
    the scheduled sweep.
    """
    worker_id = worker_id or worker_id_default()
    limit = limit or settings.ORIS_DRAIN_LIMIT
    ran = 0
    finish: Finish | None = None
    last: Lease | None = None
    if attempt_id is not None:
        lease = claims.attempt_claim(
            attempt_id=attempt_id, worker_id=worker_id, together=answer
        )
        if lease is None:
            return 0  # another worker has it, or it is done
        queue = lease.attempt.queue
        finish = execute_leased(lease=lease)
        ran, answer, last = 1, None, lease
    while ran < limit:
        if finish is None:
            claimed = claims.drain_claim(
                worker_id=worker_id, queue=queue, together=answer
            )
            answer = None
        else:
            with _outcome_commit(last):  # and the next claim's
                finish()
                finish = None
                claimed = claims.drain_claim(worker_id=worker_id, queue=queue)
        if isinstance(claimed, claims.Nothing):
            if _wait_for_retry(claimed.retry_at):
                continue
            if reap:
                reaper.reap(due=claimed.reap_due)
            break
        finish, last = execute_leased(lease=claimed), claimed
        ran += 1
    if finish is not None:
        with _outcome_commit(last):
            finish()
    return ran


def _outcome_commit(lease: Lease | None) -> AbstractContextManager[Any]:
    """What a run's outcome commits in, with the next claim: a transaction, but
    none on PostgreSQL for a run no Agent Server run follows. There each outcome
    is all-or-nothing by itself (a completion is one statement, the others their
    own transaction), and the claim then commits alone, without waiting for the
    WAL flush; a crash between the two leaves nothing held. An Agent Server
    run's thread moves on in its attempt's outcome's transaction
    (``agent_run.finished``), and on SQLite one commit is cheaper than two."""
    alone = connection.vendor == "postgresql" and (
        lease is not None and lease.attempt.serves_run is False
    )
    return nullcontext() if alone else transaction.atomic()


def _wait_for_retry(retry_at: datetime | None) -> bool:
    """Sleeps until ``retry_at`` (the queue's next retry) if it is due soon;
    returns whether it slept."""
    if retry_at is None:
        return False
    wait = (retry_at - timezone.now()).total_seconds()
    if not 0 < wait <= settings.ORIS_MAX_DOORBELL_WAIT_SECONDS:
        return False
    time.sleep(wait)
    return True
