"""The /v1 run operations: run (with its idempotency key), replay once per target,
resume a thread. Each owns reserve → act → complete, so it is testable without HTTP.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Unpack

from django.db import transaction
from django.utils import timezone

from runtime import selectors
from runtime.errors import Conflict, InvalidArgument
from runtime.models import Interrupt, Job
from runtime.present import run_response, settled_response
from runtime.services.audit import Actor
from runtime.services.idempotency import idempotency_complete, idempotency_reserve
from runtime.services.interrupts import interrupt_resume
from runtime.services.jobs import (
    JobOptions,
    RunOptions,
    job_insert,
    job_options,
    job_replay,
)
from runtime.tracing import trace_start


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """A run request's job and its ``RunJobResponse`` (replayed for a known key)."""

    job: Job
    response: dict[str, Any]


def job_run(
    *,
    actor: Actor,
    graph: str,
    input: Any,
    thread_id: str | None = None,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
    wait_ms: int = 0,
    **options: Unpack[RunOptions],
) -> RunResult:
    """Starts a run, once per idempotency key; with ``wait_ms``, answers when the run
    settles (or the time is up).

    The key is reserved in the transaction that writes the job, so concurrent
    duplicates create one job; a repeat answers the first response (its trace
    included). Raises ``Conflict`` for a key reused with another payload.
    """
    if thread_id is not None and not thread_id.strip():
        raise InvalidArgument("thread_id must not be empty")
    checked = job_options(**options)
    key = idempotency_key
    if key is not None and not key.strip():
        raise InvalidArgument("idempotency_key must not be empty")
    trace = trace_start(traceparent)
    if not thread_id:  # a retried keyed request must land on the same thread
        seed = key or uuid.uuid4().hex
        thread_id = f"thread-{hashlib.sha256(seed.encode()).hexdigest()[:32]}"
    # Without a key the job's own transaction is the run's (no savepoint in it).
    with transaction.atomic() if key else nullcontext():
        if key:
            earlier = idempotency_reserve(
                key=key,
                operation="run",
                thread_id=thread_id,
                payload_hash=_run_hash(thread_id, input, graph, checked),
                at=timezone.now(),
            )
            if earlier is not None:
                return _replayed_run(thread_id, key, earlier.response or {})
        job = job_insert(
            graph=graph,
            input=input,
            actor=actor,
            options=checked,
            thread_id=thread_id,
            trace=trace,
        ).job
        response = run_response(job, key=key, trace=trace)  # new: no interrupts yet
        if key:
            idempotency_complete(key=key, response=response)
    if wait_ms:
        job = selectors.job_wait_settled(job=job, wait_ms=wait_ms)
        job.refresh_from_db()
        pending = list(selectors.interrupt_list_pending(job=job))
        response = run_response(job, pending=pending, key=key, trace=trace)
        response = settled_response(response, job, pending)
    return RunResult(job=job, response=response)


def _replayed_run(thread_id: str, key: str, stored: dict[str, Any]) -> RunResult:
    job = selectors.job_get(thread_id=thread_id)
    pending = selectors.interrupt_list_pending(job=job)
    response = run_response(job, pending=pending, key=key, replay=True)
    return RunResult(job=job, response={**response, "trace": stored.get("trace")})


def _run_hash(thread_id: str, input: Any, graph: str, options: JobOptions) -> str:
    """The fingerprint a reused idempotency key must match (the reference's fields)."""
    policy, retry = options.timeout_policy, options.retry_policy
    parts = [
        thread_id,
        json.dumps(input, sort_keys=True),
        json.dumps(policy, sort_keys=True) if policy else "",
        str(options.priority),
        options.tenant_id,
        graph,
        json.dumps(retry, sort_keys=True) if retry else "",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def job_replay_once(
    *, job: Job, actor: Actor, checkpoint_id: str = ""
) -> dict[str, Any]:
    """Replays a finished job from a checkpoint (default: from its input), once per
    target: a duplicate answers the first replay's ``RunJobResponse``."""
    target_id = checkpoint_id.strip()
    if target_id:
        target = f"checkpoint:{target_id}"
    else:
        values = selectors.job_state(job=job).values
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode())
        target = f"latest_state:{digest.hexdigest()}"
    fingerprint = hashlib.sha256(
        f"{job.thread_id}|{target}|job_replay_effect".encode()
    ).hexdigest()
    key = f"replay:{fingerprint}"
    with transaction.atomic():
        earlier = idempotency_reserve(
            key=key,
            operation="replay",
            thread_id=job.thread_id,
            payload_hash=fingerprint,
            at=timezone.now(),
        )
        if earlier is not None:
            return {**(earlier.response or {}), "idempotent_replay": True}
        job_replay(job=job, actor=actor, checkpoint_id=target_id)
        job.refresh_from_db()
        pending = selectors.interrupt_list_pending(job=job)
        response = run_response(job, pending=pending, trace=job.trace)
        idempotency_complete(key=key, response=response)
    return response


def job_resume(*, job: Job, value: Any, actor: Actor, wait_ms: int = 0) -> Job:
    """Answers the thread's pending interrupt; with several, ``value`` maps interrupt
    ids (or the graph's interrupt ids) to answers. Raises ``Conflict`` when nothing
    is pending or the answers do not say which interrupt they are for."""
    pending = list(selectors.interrupt_list_pending(job=job))
    if not pending:
        raise Conflict(
            f"thread '{job.thread_id}' has no pending interrupt",
            details={"status": job.status},
        )
    with transaction.atomic():
        for interrupt, answer in _answers(pending, value):
            interrupt_resume(interrupt=interrupt, value=answer, actor=actor)
    job.refresh_from_db()
    if wait_ms:
        selectors.job_wait_settled(job=job, wait_ms=wait_ms)
        job.refresh_from_db()
    return job


def _answers(pending: list[Interrupt], value: Any) -> list[tuple[Interrupt, Any]]:
    if len(pending) == 1:
        return [(pending[0], value)]
    by_id = {i.pk: i for i in pending} | {i.graph_interrupt_id: i for i in pending}
    if isinstance(value, dict) and value and set(value) <= set(by_id):
        return [(by_id[k], v) for k, v in value.items()]
    raise Conflict(
        "thread has several pending interrupts; value must map interrupt ids "
        "to answers",
        details={"interrupt_ids": [i.pk for i in pending]},
    )
