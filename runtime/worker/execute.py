"""Running one claimed attempt: its graph to the next stop, then its outcome.

Everything here is safe to call twice for the same attempt: the claim decides who
runs it, and every write of the run is fenced by the lease.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from graphs import Command, EffectOptions
from runtime import metrics, registry, telemetry
from runtime.checkpointer import DjangoSaver
from runtime.errors import JobCancelled, LeaseLost, OrisError
from runtime.models import Attempt, Job, Lease
from runtime.present import present
from runtime.services import attempts, budgets, claims, leases
from runtime.services.attempts import Outcome
from runtime.services.clusters import CLUSTER_ID_ENV
from runtime.services.jobs import job_mark_cancelled
from runtime.services.store import DjangoStore
from runtime.worker import agent_run
from runtime.worker.heartbeats import heartbeats

logger = logging.getLogger(__name__)

Finish = Callable[[], Outcome]


def worker_id_default() -> str:
    """``q2:<cluster id>:<pid>`` in a supervised cluster (the console lists its
    leases under it), else ``q2:<host>:<pid>``."""
    cluster = os.environ.get(CLUSTER_ID_ENV) or socket.gethostname()
    return f"q2:{cluster}:{os.getpid()}"


def attempt_execute(*, attempt_id: str, worker_id: str | None = None) -> Outcome | None:
    """Claims one attempt and runs it; ``None`` if someone else has it or it is
    not claimable (already running, finished, or not due yet)."""
    lease = claims.attempt_claim(
        attempt_id=attempt_id, worker_id=worker_id or worker_id_default()
    )
    return run_leased(lease=lease) if lease else None


def run_leased(*, lease: Lease) -> Outcome:
    """Runs a claimed attempt to its next stop and records the outcome."""
    finish = execute_leased(lease=lease)
    with transaction.atomic():
        return finish()


def execute_leased(*, lease: Lease) -> Finish:
    """Runs a claimed attempt to its next stop; returns what records its outcome,
    to be called in a transaction (a worker's with its next claim), or, on
    PostgreSQL for an attempt that serves no Agent Server run, outside one (each
    outcome is all-or-nothing by itself there).
    Both run in the attempt's log context and, while tracing, its span; the
    outcome is counted."""
    with telemetry.attempt_span(lease) as observed:
        return observed(partial(_finished, lease, _execute(lease)))


def _finished(lease: Lease, finish: Finish) -> Outcome:
    outcome = finish()
    if outcome not in (Outcome.LEASE_LOST, Outcome.REQUEUED):
        agent_run.finished(lease.attempt)  # the thread's next run, webhook
    metrics.attempt_finished(
        graph=lease.attempt.job.graph,
        outcome=outcome,
        seconds=(timezone.now() - lease.created_at).total_seconds(),
    )
    return outcome


def _execute(lease: Lease) -> Finish:
    attempt, job = lease.attempt, lease.attempt.job
    if job.cancel_requested:
        return partial(_cancelled, job)
    try:
        graph = registry.graph_get(job.graph).graph
    except OrisError as exc:
        return _failed(lease, exc)
    new_thread = attempt.kind == Attempt.Kind.RUN and attempt.dispatches == 1
    # A completed run's last checkpoint is written with its outcome (_record).
    saver = DjangoSaver(
        fence=leases.LeaseFence(lease), new_thread=new_thread, hold_final=True
    )
    saver.supports_effects = settings.ORIS_RECORD_EFFECTS
    graph = graph.with_checkpointer(saver).copy({"store": DjangoStore()})
    config: dict[str, Any] = {"configurable": {"thread_id": job.thread_id}}
    served = agent_run.served(attempt)  # an Agent Server run, or None
    config["effects"] = effect_options(job, budgets.RunMeter(job, attempt))
    try:
        with (
            heartbeats.keep(lease),
            metrics.attempt_steps(graph=job.graph, thread_id=job.thread_id),
        ):
            if served is None:
                graph_input = _input_for(attempt, graph, saver, config)
                result = graph.run(graph_input, config)
            else:
                graph_input = served.input(graph, saver, config)
                result = graph.run(
                    graph_input,
                    config,
                    step_hook=served.step_hook,
                    **served.options(),
                )
            if result.status != "completed":
                saver.flush()  # a run with no superstep still leaves its input
    except LeaseLost as exc:
        logger.warning("attempt %s stopped without writing: %s", attempt.pk, exc)
        return lambda: Outcome.LEASE_LOST
    except JobCancelled:
        agent_run.ended(served)
        return partial(_cancelled, job)
    except KeyboardInterrupt:
        raise  # the worker is stopping: the lease recovers the attempt
    except BaseException as exc:  # SystemExit from a node too: a failed attempt
        agent_run.ended(served, exc)
        return _failed(lease, exc)
    if result.status not in ("completed", "interrupted"):
        agent_run.ended(served, result.error)
        return _failed(lease, result.error)
    agent_run.ended(served)
    return partial(_record, lease, result, saver)


def effect_options(job: Job, meter: budgets.RunMeter) -> EffectOptions:
    """How the run treats its effects: recorded and answered from the ledger
    (the default), checked against its budgets and metered by ``meter`` before
    and after each one that is sent, with a counterfactual fork's overrides."""
    return meter.options(overrides=job.effect_overrides or {})


def is_transient(exc: BaseException | None) -> bool:
    """Whether the database, not the run, failed: a lost connection, a
    serialization failure or a deadlock. Such a run is requeued, never recorded
    as failed."""
    return isinstance(exc, OperationalError | InterfaceError)


def _cancelled(job: Job) -> Outcome:
    job_mark_cancelled(job=job)
    return Outcome.CANCELLED


def _failed(lease: Lease, exc: BaseException) -> Finish:
    """What records a run that raised: a failure, unless the database failed
    under it (then it runs again)."""
    if not is_transient(exc):
        logger.error("attempt %s failed", lease.attempt_id, exc_info=exc)
        return partial(_fail, lease, exc)
    logger.warning("attempt %s: the database failed mid-run: %s", lease.attempt_id, exc)
    connection.close()  # broken: the outcome's first query opens a new one
    return partial(_requeue, lease)


def _fail(lease: Lease, exc: BaseException) -> Outcome:
    try:
        return attempts.attempt_fail(lease=lease, error=attempts.error_record(exc))
    except LeaseLost:
        return Outcome.LEASE_LOST


def _requeue(lease: Lease) -> Outcome:
    """Puts back a run the database failed under. If the database is still away
    this raises, and the lease recovers the attempt once it expires."""
    try:
        with transaction.atomic():
            leases.lease_release(lease=lease)
            return attempts.attempt_requeue(attempt=lease.attempt)
    except LeaseLost:
        return Outcome.LEASE_LOST


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


def _record(lease: Lease, result: Any, saver: DjangoSaver) -> Outcome:
    try:
        if result.status == "completed":  # with the final checkpoint, fenced
            attempts.attempt_complete(
                lease=lease, state=present(result.state), saver=saver
            )
            outcome = Outcome.COMPLETED
        else:
            attempts.attempt_interrupt(
                lease=lease,
                interrupts=[
                    (i.id, present(i.value), i.policy) for i in result.interrupts
                ],
            )
            outcome = Outcome.INTERRUPTED
    except LeaseLost as exc:
        logger.warning("outcome of %s dropped: %s", lease.attempt_id, exc)
        return Outcome.LEASE_LOST
    except JobCancelled:  # while its final checkpoint was being written
        return _cancelled(lease.attempt.job)
    logger.info(
        "attempt_run thread_id=%s attempt_id=%s worker_id=%s outcome=%s",
        lease.attempt.job.thread_id,
        lease.attempt_id,
        lease.worker_id,
        outcome,
    )
    return outcome
