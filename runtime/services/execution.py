"""Running attempts: claim, run the graph to its next stop, record the outcome.

Everything here is safe to call twice for the same attempt: the claim decides who
runs it, and every write of the run is fenced by the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from functools import partial
from typing import Any

from django.conf import settings
from django.utils import timezone

from graphs import Command
from runtime import registry
from runtime.checkpointer import DjangoSaver
from runtime.errors import JobCancelled, LeaseLost, OrisError
from runtime.models import Attempt, Lease
from runtime.present import present
from runtime.services import attempts, leases
from runtime.services.jobs import job_mark_cancelled

logger = logging.getLogger(__name__)


def worker_id_default() -> str:
    return f"q2:{socket.gethostname()}:{os.getpid()}"


def attempt_execute(*, attempt_id: str, worker_id: str | None = None) -> str | None:
    """Claims one attempt and runs it; ``None`` if someone else has it or it is
    not claimable (already running, finished, or not due yet)."""
    lease = leases.lease_claim(
        attempt_id=attempt_id, worker_id=worker_id or worker_id_default()
    )
    return run_leased(lease=lease) if lease else None


def worker_drain(
    *,
    attempt_id: str | None = None,
    worker_id: str | None = None,
    limit: int | None = None,
) -> int:
    """Runs ``attempt_id``, then further claimable attempts of its queue, up to
    ``limit`` (``ORIS_DRAIN_LIMIT``); without an id, claimable attempts of any
    queue. Returns how many ran.

    A delivery whose attempt another worker already has, or finished, does
    nothing: that worker is draining the queue.
    """
    worker_id = worker_id or worker_id_default()
    limit = limit or settings.ORIS_DRAIN_LIMIT
    queue = None
    ran = 0
    if attempt_id is not None:
        lease = leases.lease_claim(attempt_id=attempt_id, worker_id=worker_id)
        if lease is None and _wait_until_due(attempt_id):
            lease = leases.lease_claim(attempt_id=attempt_id, worker_id=worker_id)
        if lease is None:
            return 0
        queue = lease.attempt.queue
        run_leased(lease=lease)
        ran = 1
    reap = attempt_id is None  # a doorbell's claim above was not a reaping one
    while ran < limit:
        lease = leases.lease_claim_next(worker_id=worker_id, queue=queue, reap=reap)
        if lease is None:
            break
        reap = False  # once per delivery
        run_leased(lease=lease)
        ran += 1
    return ran


def _wait_until_due(attempt_id: str) -> bool:
    """Waits for a retry due within ``ORIS_MAX_DOORBELL_WAIT_SECONDS``; later ones
    are picked up by the scheduled sweep. Returns whether it waited."""
    retry_at = (
        Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.RETRY_BACKOFF)
        .values_list("retry_at", flat=True)
        .first()
    )
    if retry_at is None:
        return False
    wait = (retry_at - timezone.now()).total_seconds()
    if not 0 < wait <= settings.ORIS_MAX_DOORBELL_WAIT_SECONDS:
        return False
    time.sleep(wait)
    return True


def run_leased(*, lease: Lease) -> str:
    """Runs a claimed attempt to its next stop; returns the outcome's name."""
    attempt, job = lease.attempt, lease.attempt.job
    if job.cancel_requested:
        job_mark_cancelled(job=job)
        return "cancelled"
    try:
        graph = registry.graph_get(job.graph).graph
    except OrisError as exc:
        attempts.attempt_fail(lease=lease, error=attempts.error_record(exc))
        return "failed"
    saver = DjangoSaver(guard=partial(leases.lease_guard, lease=lease))
    graph = graph.with_checkpointer(saver)
    config: dict[str, Any] = {"configurable": {"thread_id": job.thread_id}}
    try:
        with leases.LeaseKeeper(lease):
            graph_input = _input_for(attempt, graph, saver, config)
            result = graph.run(graph_input, config)
    except LeaseLost as exc:
        logger.warning("attempt %s stopped without writing: %s", attempt.pk, exc)
        return "lease_lost"
    except JobCancelled:
        job_mark_cancelled(job=job)
        return "cancelled"
    except Exception as exc:  # the saver or the engine broke: a failed attempt
        logger.exception("attempt %s crashed", attempt.pk)
        return _fail(lease, exc)
    outcome = _record(lease, result)
    logger.info(
        "attempt_run thread_id=%s attempt_id=%s worker_id=%s outcome=%s",
        job.thread_id,
        attempt.pk,
        lease.worker_id,
        outcome,
    )
    return outcome


def _fail(lease: Lease, exc: BaseException) -> str:
    try:
        return attempts.attempt_fail(lease=lease, error=attempts.error_record(exc))
    except LeaseLost:
        return "lease_lost"


def _input_for(
    attempt: Attempt, graph: Any, saver: DjangoSaver, config: dict[str, Any]
) -> Any:
    """What to feed the graph: the job's input on a first run, the answers on a
    resume, nothing when continuing after a crash or a failure."""
    first_dispatch = attempt.dispatches == 1
    if attempt.kind == Attempt.Kind.RUN and first_dispatch:
        return attempt.job.input  # a new thread: nothing to continue from
    if attempt.kind == Attempt.Kind.REPLAY and first_dispatch:
        if attempt.checkpoint_id:
            config["configurable"]["checkpoint_id"] = attempt.checkpoint_id
        return None
    if saver.get_tuple(config) is None:
        return attempt.job.input
    if attempt.kind == Attempt.Kind.RESUME and graph.get_state(config).interrupts:
        return Command(resume=attempt.resume)
    return None


def _record(lease: Lease, result: Any) -> str:
    try:
        if result.status == "completed":
            attempts.attempt_complete(lease=lease, state=present(result.state))
        elif result.status == "interrupted":
            attempts.attempt_interrupt(
                lease=lease,
                interrupts=[(i.id, present(i.value)) for i in result.interrupts],
            )
        else:
            return _fail(lease, result.error)
    except LeaseLost as exc:
        logger.warning("outcome of %s dropped: %s", lease.attempt_id, exc)
        return "lease_lost"
    return result.status
