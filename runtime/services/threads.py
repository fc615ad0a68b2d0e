"""Threads of the Agent Server API. A thread's first run creates the Oris job of the
same thread id; from then on the thread's state is the job's checkpoints. A /v1 job
is a thread too: its row is written when the thread is first changed here."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from graphs.errors import GraphError
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.models import (
    Checkpoint,
    CheckpointBlob,
    CheckpointWrite,
    Effect,
    IdempotencyRecord,
    Job,
    Run,
    Thread,
)
from runtime.selectors.agent_server import thread_graph, thread_graph_name, thread_rows
from runtime.selectors.history import graph_on_saver, thread_config
from runtime.services.audit import Actor, audit_record
from runtime.services.jobs import _cancel_now
from runtime.services.run_status import LIVE as RUN_LIVE

CHECKPOINT_MODELS = (Checkpoint, CheckpointBlob, CheckpointWrite)


def thread_ensure(*, thread_id: str, metadata: dict[str, Any] | None = None) -> Thread:
    """The thread ``thread_id``, created (with ``metadata``) if it does not exist:
    what a run with ``if_not_exists="create"`` and a stateless run need."""
    found = Thread.objects.filter(pk=thread_id).first()
    if found is not None:
        return found
    now = timezone.now()
    try:
        with transaction.atomic():
            return Thread.objects.create(
                thread_id=thread_id,
                metadata=metadata or {},
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # created meanwhile by a concurrent request
        return Thread.objects.get(pk=thread_id)


def _row(thread: Thread) -> Thread:
    """The thread's row: a /v1 job shown as a thread gets one, linked to its job."""
    if not thread._state.adding:
        return thread
    found = thread_ensure(thread_id=thread.thread_id, metadata=thread.metadata)
    if found.job_id is None and thread.job is not None:
        Thread.objects.filter(pk=found.pk, job__isnull=True).update(job=thread.job)
        found.job = thread.job
    return found


def _check_idle(thread: Thread) -> None:
    if getattr(thread, "status", "idle") == "busy":
        raise Conflict(f"Thread '{thread.thread_id}' is busy")


def _seed(thread_id: str, graph: str | None, supersteps: list[dict[str, Any]]) -> None:
    """Writes ``supersteps`` (each ``{"updates": [{values, as_node, command}]}``)
    as the thread's first checkpoints, as ``bulk_update_state`` does."""
    if graph is None:
        raise InvalidArgument("supersteps need a registered graph_id in metadata")
    steps = [
        [(u.get("values"), u.get("as_node")) for u in step.get("updates") or []]
        for step in supersteps
    ]
    try:
        graph_on_saver(graph).bulk_update_state(thread_config(thread_id), steps)
    except (GraphError, ValueError) as error:
        raise InvalidArgument(str(error)) from None


def thread_create(
    *,
    actor: Actor,
    thread_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    if_exists: Literal["raise", "do_nothing"] = "raise",
    supersteps: list[dict[str, Any]] | None = None,
    ttl_minutes: float | None = None,
) -> Thread:
    """A new idle thread (erased by the retention sweep ``ttl_minutes`` from now,
    when given); an existing id (a thread or a /v1 job) is a ``Conflict``, or
    (``if_exists="do_nothing"``) the existing thread."""
    thread_id = thread_id or str(uuid.uuid4())
    metadata = metadata or {}
    now = timezone.now()
    job = Job.objects.filter(thread_id=thread_id).first()
    try:
        with transaction.atomic():
            if job is not None:
                raise IntegrityError("a job holds this thread id")
            thread = Thread.objects.create(
                thread_id=thread_id,
                metadata=metadata,
                created_at=now,
                updated_at=now,
                **_ttl_fields(ttl_minutes, now),
            )
            if supersteps:
                _seed(thread_id, thread_graph_name(thread), supersteps)
            audit_record(
                actor=actor,
                action="thread.create",
                resource_type="thread",
                resource_id=thread_id,
                at=now,
            )
            return thread
    except IntegrityError:
        if if_exists == "do_nothing":
            return Thread.objects.filter(pk=thread_id).first() or Thread(
                thread_id=thread_id,
                job=job,
                metadata={},
                created_at=now,
                updated_at=now,
            )
        raise Conflict(f"Thread '{thread_id}' already exists") from None


def _ttl_fields(ttl_minutes: float | None, now: datetime) -> dict[str, Any]:
    """A TTL's fields: the thread expires ``ttl_minutes`` after ``now``."""
    if ttl_minutes is None:
        return {}
    return {
        "ttl_minutes": ttl_minutes,
        "expires_at": now + timedelta(minutes=ttl_minutes),
    }


def thread_update(
    *,
    actor: Actor,
    thread: Thread,
    metadata: dict[str, Any],
    ttl_minutes: float | None = None,
) -> Thread:
    """Merges ``metadata`` into the thread's; a ``ttl_minutes`` replaces its TTL
    (it expires that long after now)."""
    now = timezone.now()
    ttl = _ttl_fields(ttl_minutes, now)
    with transaction.atomic():
        row = _row(thread)
        locked = Thread.objects.select_for_update().get(pk=row.pk)
        merged = {**locked.metadata, **metadata}
        Thread.objects.filter(pk=row.pk).update(metadata=merged, updated_at=now, **ttl)
        audit_record(
            actor=actor,
            action="thread.update",
            resource_type="thread",
            resource_id=row.thread_id,
            details={"keys": sorted(metadata), "ttl_minutes": ttl_minutes},
            at=now,
        )
    thread.metadata, thread.updated_at = merged, now
    return thread


def thread_erase(*, thread_id: str) -> None:
    """Deletes everything of a thread, in the caller's transaction: its job
    (attempts, interrupts...), checkpoints, effects, runs and their events, and
    idempotency records naming it. The audit log keeps what was done."""
    Thread.objects.filter(pk=thread_id).delete()  # runs and events cascade
    Job.objects.filter(thread_id=thread_id).delete()
    IdempotencyRecord.objects.filter(thread_id=thread_id).delete()
    for model in (*CHECKPOINT_MODELS, Effect):
        model.objects.filter(thread_id=thread_id).delete()


def thread_delete(*, actor: Actor, thread: Thread) -> None:
    """Deletes the thread and everything it holds, in one transaction. A busy
    thread's runs are cancelled first, as LangGraph's server does."""
    with transaction.atomic():
        Thread.objects.select_for_update().filter(pk=thread.thread_id).first()
        _remove(thread.thread_id, actor, "thread.delete", timezone.now())


def thread_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Erases the threads whose TTL has passed (as ``thread_delete`` does, audited
    as ``thread.expire`` by the system), each in its own short transaction; a
    thread another transaction holds is left to the next sweep. Answers how many
    went."""
    now = now or timezone.now()
    due = Thread.objects.filter(expires_at__lte=now).order_by("expires_at")
    expired = 0
    for thread_id in list(due.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            locked = (
                Thread.objects.select_for_update(skip_locked=True)
                .filter(pk=thread_id, expires_at__lte=now)
                .exists()
            )
            if locked:
                _remove(thread_id, Actor.system(), "thread.expire", now)
                expired += 1
    return expired


def _remove(thread_id: str, actor: Actor, action: str, now: datetime) -> None:
    """Erases a (locked) thread, in the caller's transaction, audited as
    ``action``. Its live runs are cancelled first: its job is cancelled (a
    running worker's next fenced write finds its lease gone and stops) and each
    live run is audited as cancelled."""
    live = list(
        Run.objects.filter(thread_id=thread_id, status__in=RUN_LIVE).values_list(
            "run_id", flat=True
        )
    )
    job = Job.objects.select_for_update().filter(thread_id=thread_id).first()
    if job is not None and not job.is_terminal:
        _cancel_now(job, now)
    for run_id in live:
        audit_record(
            actor=actor,
            action="run.cancel",
            resource_type="run",
            resource_id=str(run_id),
            details={"thread_id": thread_id, "action": action},
            at=now,
        )
    thread_erase(thread_id=thread_id)
    audit_record(
        actor=actor,
        action=action,
        resource_type="thread",
        resource_id=thread_id,
        details={"cancelled_runs": [str(r) for r in live]},
        at=now,
    )


def thread_prune(
    *, actor: Actor, thread_ids: list[str], strategy: str = "delete"
) -> int:
    """Deletes the idle threads of ``thread_ids`` (``keep_latest``: drops all
    but their latest checkpoint); answers how many were pruned."""
    found = list(thread_rows().filter(pk__in=thread_ids))
    pruned = 0
    with transaction.atomic():
        for thread in found:
            if getattr(thread, "status", "idle") == "busy":
                continue
            if strategy == "keep_latest":
                _keep_latest(thread.thread_id)
            else:
                thread_erase(thread_id=thread.thread_id)
            pruned += 1
        audit_record(
            actor=actor,
            action="thread.prune",
            resource_type="thread",
            resource_id=None,
            details={"strategy": strategy, "pruned": pruned},
        )
    return pruned


def _keep_latest(thread_id: str) -> None:
    """The thread's head checkpoint stays (with the channel values it reads);
    older checkpoints and their pending writes go."""
    rows = Checkpoint.objects.filter(thread_id=thread_id, checkpoint_ns="")
    head = rows.order_by("-checkpoint_id").first()
    if head is None:
        return
    older = rows.exclude(pk=head.pk)
    old_ids = list(older.values_list("checkpoint_id", flat=True))
    CheckpointWrite.objects.filter(
        thread_id=thread_id, checkpoint_ns="", checkpoint_id__in=old_ids
    ).delete()
    older.delete()
    Checkpoint.objects.filter(pk=head.pk).update(parent_checkpoint_id="")


def thread_copy(*, actor: Actor, thread: Thread) -> Thread:
    """A new thread with the same metadata, TTL (counted from now) and the whole
    checkpoint history of ``thread`` (every namespace), under a new thread id;
    it has no runs."""
    new_id = str(uuid.uuid4())
    now = timezone.now()
    metadata = dict(thread.metadata or {})
    graph = thread_graph_name(thread)
    if graph is not None:
        metadata.setdefault("graph_id", graph)
    with transaction.atomic():
        copy = Thread.objects.create(
            thread_id=new_id,
            metadata=metadata,
            created_at=now,
            updated_at=now,
            **_ttl_fields(thread.ttl_minutes, now),
        )
        model: Any
        for model in CHECKPOINT_MODELS:
            rows = list(model.objects.filter(thread_id=thread.thread_id))
            for row in rows:
                row.pk = None
                row.thread_id = new_id
            model.objects.bulk_create(rows, batch_size=500)
        audit_record(
            actor=actor,
            action="thread.copy",
            resource_type="thread",
            resource_id=thread.thread_id,
            details={"copy": new_id},
            at=now,
        )
    return copy


def thread_state_update(
    *,
    actor: Actor,
    thread: Thread,
    values: Any,
    as_node: str | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes ``values`` as if ``as_node`` returned them, at the thread's head or
    (``checkpoint``) at a past checkpoint, which forks the thread from there.
    Answers the new checkpoint's config. A busy thread is a ``Conflict``."""
    _check_idle(thread)
    graph = thread_graph(thread)
    if graph is None:
        raise InvalidArgument(f"Thread '{thread.thread_id}' has no graph yet")
    config = thread_config(thread.thread_id)
    config["configurable"].update(
        {k: v for k, v in (checkpoint or {}).items() if k != "thread_id" and v}
    )
    named = bool(checkpoint and checkpoint.get("checkpoint_id"))
    if named and graph.get_state(config).created_at is None:
        raise NotFound(f"Checkpoint not found for thread '{thread.thread_id}'")
    now = timezone.now()
    with transaction.atomic():
        row = _row(thread)
        try:
            written = graph.update_state(config, values, as_node=as_node)
        except (GraphError, ValueError, TypeError) as error:
            raise InvalidArgument(str(error)) from None
        Thread.objects.filter(pk=row.pk).update(updated_at=now)
        audit_record(
            actor=actor,
            action="thread.update_state",
            resource_type="thread",
            resource_id=thread.thread_id,
            details={
                "as_node": as_node,
                "checkpoint_id": written["configurable"].get("checkpoint_id"),
                "from": (checkpoint or {}).get("checkpoint_id"),
            },
            at=now,
        )
    return written
