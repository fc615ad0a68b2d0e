"""Running attempts: claim, run the graph to its next stop, record the outcome.

Everything here is safe to call twice for the same attempt: the claim decides who
runs it, and every write of the run is fenced by the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from graphs import Command
from runtime import registry
from runtime.checkpointer import DjangoSaver
from runtime.errors import JobCancelled, LeaseLost, OrisError
from runtime.models import Attempt, Job, Lease
from runtime.present import present
from runtime.services import attempts, dispatch, leases
from runtime.services.jobs import job_mark_cancelled

logger = logging.getLogger(__name__)

Finish = Callable[[], str]


def worker_id_default() -> str:
    return f"q2:{socket.gethostname()}:{os.getpid()}"


def attempt_execute(*, attempt_id: str, worker_id: str | None = None) -> str | None:
    """Claims one attempt and runs it; ``None`` if someone else has it or it is
    not claimable (already running, finished, or not due yet)."""
    lease = leases.lease_claim(
        attempt_id=attempt_id, worker_id=worker_id or worker_id_default()
    )
    return run_leased(lease=lease) if lease else None


def queue_drain(
    *, queue: str, worker_id: str | None = None, limit: int | None = None
) -> int:
    """A delivery of the queue's doorbell: drains it, and rings again when it
    stopped at the limit with work left, so another delivery carries on."""
    dispatch.dispatch_answer(queue=queue)
    limit = limit or settings.ORIS_DRAIN_LIMIT
    ran = worker_drain(queue=queue, worker_id=worker_id, limit=limit)
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
) -> int:
    """Runs claimable attempts of ``queue`` (any queue for ``None``) by priority,
    up to ``limit`` (``ORIS_DRAIN_LIMIT``), starting with ``attempt_id`` when
    given. Returns how many ran.

    When nothing is claimable but a retry is due within
    ``ORIS_MAX_DOORBELL_WAIT_SECONDS``, it waits for it; later retries are run by
    the scheduled sweep.
    """
    worker_id = worker_id or worker_id_default()
    limit = limit or settings.ORIS_DRAIN_LIMIT
    ran = 0
    finish: Finish | None = None
    if attempt_id is not None:
        lease = leases.lease_claim(attempt_id=attempt_id, worker_id=worker_id)
        if lease is None:
            return 0  # another worker has it, or it is done
        queue = lease.attempt.queue
        finish = execute_leased(lease=lease)
        ran = 1
    reap = True  # once per delivery
    while ran < limit:
        # The last run's outcome and the next claim share one commit.
        with transaction.atomic():
            if finish is not None:
                finish()
                finish = None
            lease = leases.lease_claim_next(worker_id=worker_id, queue=queue, reap=reap)
        reap = False
        if lease is None and _wait_for_retry(queue):
            continue
        if lease is None:
            break
        finish = execute_leased(lease=lease)
        ran += 1
    if finish is not None:
        finish()
    return ran


def _wait_for_retry(queue: str | None) -> bool:
    """Sleeps until the queue's next retry if it is due soon; returns whether it
    slept."""
    retries = Attempt.objects.filter(
        status=Attempt.Status.RETRY_BACKOFF, retry_at__isnull=False
    )
    if queue is not None:
        retries = retries.filter(queue=queue)
    retry_at = retries.order_by("retry_at").values_list("retry_at", flat=True).first()
    if retry_at is None:
        return False
    wait = (retry_at - timezone.now()).total_seconds()
    if not 0 < wait <= settings.ORIS_MAX_DOORBELL_WAIT_SECONDS:
        return False
    time.sleep(wait)
    return True


def run_leased(*, lease: Lease) -> str:
    """Runs a claimed attempt to its next stop and records the outcome; returns
    the outcome's name."""
    return execute_leased(lease=lease)()


def execute_leased(*, lease: Lease) -> Finish:
    """Runs a claimed attempt to its next stop; returns what records its outcome,
    so a worker can commit it together with its next claim."""
    attempt, job = lease.attempt, lease.attempt.job
    if job.cancel_requested:
        return partial(_cancelled, job)
    try:
        graph = registry.graph_get(job.graph).graph
    except OrisError as exc:
        return partial(_fail, lease, exc)
    new_thread = attempt.kind == Attempt.Kind.RUN and attempt.dispatches == 1
    saver = DjangoSaver(fence=leases.LeaseFence(lease), new_thread=new_thread)
    graph = graph.with_checkpointer(saver)
    config: dict[str, Any] = {"configurable": {"thread_id": job.thread_id}}
    try:
        with leases.heartbeats.keep(lease):
            graph_input = _input_for(attempt, graph, saver, config)
            result = graph.run(graph_input, config)
            saver.flush()  # a run with no superstep still leaves its input
    except LeaseLost as exc:
        logger.warning("attempt %s stopped without writing: %s", attempt.pk, exc)
        return lambda: "lease_lost"
    except JobCancelled:
        return partial(_cancelled, job)
    except Exception as exc:  # the saver or the engine broke: a failed attempt
        logger.exception("attempt %s crashed", attempt.pk)
        return partial(_fail, lease, exc)
    return partial(_record, lease, result)


def _cancelled(job: Job) -> str:
    job_mark_cancelled(job=job)
    return "cancelled"


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
    logger.info(
        "attempt_run thread_id=%s attempt_id=%s worker_id=%s outcome=%s",
        lease.attempt.job.thread_id,
        lease.attempt_id,
        lease.worker_id,
        result.status,
    )
    return result.status
