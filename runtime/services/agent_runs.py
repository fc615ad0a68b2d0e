"""Runs of the Agent Server API on Oris jobs.

A thread's first run creates the thread's Oris job (``job_insert``); every later
run adds an attempt to that job, continuing the thread's state as LangGraph's
invoke on an existing thread does. Each run is an attempt the q2 workers execute
under a lease; its status follows the attempt's outcome in the outcome's
transaction (``run_status.run_follow``). While a run is pending or running on a
thread, a new one obeys its ``multitask_strategy``: ``reject`` (409), ``enqueue``
(it waits; the worker's finish of the active run starts it), ``interrupt`` (the
active run stops as ``interrupted``, the new one continues from its checkpoint)
or ``rollback`` (the active run is cancelled and deleted with its checkpoints).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from runtime import registry
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.inputs import input_check
from runtime.models import (
    Attempt,
    AuditLog,
    Checkpoint,
    CheckpointWrite,
    Interrupt,
    Job,
    Run,
    RunEvent,
    Thread,
)
from runtime.models.agent_server import RUN_FINAL
from runtime.present import json_line
from runtime.services.assistants import assistant_resolve
from runtime.services.audit import Actor, audit_entry, audit_record
from runtime.services.interrupts import interrupt_resume
from runtime.services.jobs import (
    NEW_JOB_ID,
    JobOptions,
    _cancel_now,
    job_enqueue_continuation,
    job_insert,
    normalize_input,
)
from runtime.services.run_status import LIVE
from runtime.services.statements import NamedParams, insert_sql, mark_saved
from runtime.services.threads import thread_erase
from runtime.services.transitions import transition, transition_all

THREAD_NOT_FOUND = "Thread or assistant not found."
BUSY = (
    "Thread is already running a task. Wait for it to finish or choose a "
    "different multitask strategy."
)
# Where a stateless run's temporary thread is deleted once the run is over: by
# the worker for a background run, by the request that streams or waits on it.
DISCARD_BY_WORKER = "worker"
DISCARD_BY_REQUEST = "request"
# Statuses a thread's job may start its next run from.
_RESTARTABLE: list[str] = [
    Job.Status.COMPLETED,
    Job.Status.FAILED,
    Job.Status.INTERRUPTED,
    Job.Status.CANCELLED,
]


def run_create(
    *,
    actor: Actor,
    assistant_id: str,
    request: dict[str, Any],
    thread_id: str | None = None,
    discard: str = DISCARD_BY_WORKER,
) -> Run:
    """Accepts one run (``request`` is the checked body: input, command,
    stream_mode, config, ...). ``thread_id=None`` is a stateless run on a
    temporary thread, deleted when it ends unless ``on_completion="keep"``.
    Raises ``NotFound`` (thread or assistant), ``Conflict`` (``reject`` while
    busy) or ``InvalidArgument`` (input, checkpoint)."""
    assistant = assistant_resolve(assistant_id)
    now = timezone.now()
    stateless = thread_id is None
    kwargs = dict(request)
    if thread_id is None:
        thread_id = str(uuid.uuid4())
        if kwargs.get("on_completion", "delete") == "delete":
            kwargs["_discard"] = discard
    if kwargs.get("input") is not None:
        registered = registry.graph_get(assistant.graph)
        input_check(
            registered.graph, normalize_input(kwargs["input"]), name=assistant.graph
        )
    strategy = kwargs.get("multitask_strategy") or Run.Strategy.ENQUEUE
    kwargs["config"] = _merged(assistant.config, kwargs.get("config") or {})
    kwargs["context"] = _merged(assistant.context, kwargs.get("context") or {})
    new = stateless or kwargs.get("if_not_exists") == "create"
    if new and _accepts_at_once(kwargs):
        accepted = _accept_on_new_thread(
            thread_id, assistant, kwargs, strategy, actor, now
        )
        if accepted is not None:
            return accepted
    with transaction.atomic():
        thread, created, fresh = _thread_for_run(thread_id, stateless, kwargs, now)
        if thread.job is not None and thread.job.graph != assistant.graph:
            raise Conflict(
                f"thread '{thread_id}' runs graph '{thread.job.graph}', "
                f"not '{assistant.graph}'"
            )
        active = [] if created else _live_runs(thread)
        if active and strategy == Run.Strategy.REJECT:
            raise Conflict(BUSY)
        if active and strategy == Run.Strategy.INTERRUPT:
            active = [r for r in active if not _run_stop(r, actor=actor, at=now)]
        if active and strategy == Run.Strategy.ROLLBACK:
            for run in active:
                _run_rollback(run, actor=actor, at=now)
            active = []
        rows = _rows_of(thread, assistant, kwargs, strategy, actor, now)
        run = rows.run
        job_id = thread.job_id
        if not active:  # else the worker's finish of the active run starts it
            run.attempt = _run_start(
                run, thread=thread, actor=actor, at=now, fresh=fresh, rows=rows
            )
            job_id = run.attempt.job_id
        if not rows.written:
            rows.write(job_id=job_id)
    return run


def _rows_of(
    thread: Thread,
    assistant: Any,
    kwargs: dict[str, Any],
    strategy: str,
    actor: Actor,
    now: datetime,
) -> _RunRows:
    """A new run of ``thread`` and the rows its acceptance writes with it."""
    run = Run(
        thread=thread,
        assistant_id=assistant.assistant_id,
        graph=assistant.graph,
        multitask_strategy=strategy,
        kwargs=kwargs,
        metadata=kwargs.get("metadata") or {},
        created_at=now,
        updated_at=now,
    )
    # The stream's first event, at once: its waiting client need not wait
    # for a worker (a redelivered attempt adds its own, runtime/worker).
    return _RunRows(
        run=run,
        event=RunEvent(
            run=run,
            seq=1,
            event="metadata",
            data=json_line({"run_id": str(run.run_id), "attempt": 1}),
            created_at=now,
        ),
        thread=thread,
        metadata={
            **thread.metadata,
            "graph_id": assistant.graph,
            "assistant_id": str(assistant.assistant_id),
        },
        audit=audit_entry(
            actor=actor,
            action="run.create",
            resource_type="run",
            resource_id=str(run.run_id),
            details={
                "thread_id": thread.thread_id,
                "assistant_id": str(assistant.assistant_id),
                "graph": assistant.graph,
                "multitask_strategy": strategy,
            },
            at=now,
        ),
    )


def _accepts_at_once(kwargs: dict[str, Any]) -> bool:
    """Whether a run on a new thread may be accepted as one statement outside a
    transaction (``_accept_on_new_thread``): on PostgreSQL, with no transaction
    open (the statement's deferred checks run at its own commit), and nothing
    to do after its job's insert (a delay moves the attempt; a checkpoint of a
    new thread is looked for first)."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and not kwargs.get("after_seconds")
        and not _checkpoint_of(kwargs)
    )


def _accept_on_new_thread(
    thread_id: str,
    assistant: Any,
    kwargs: dict[str, Any],
    strategy: str,
    actor: Actor,
    now: datetime,
) -> Run | None:
    """A first run on a thread that does not exist yet, accepted in one
    statement that commits alone: the thread (linked to its new job), the job,
    its attempt, the run with its first event, the audit rows, the doorbell's
    ring. ``None``, with nothing written, when the thread exists, a job of its
    id exists (a /v1 job's thread) or checkpoints of its id do (the thread's
    insert then has no key, and fails): the caller then accepts the run as on
    an existing thread."""
    thread = Thread(thread_id=thread_id, metadata={}, created_at=now, updated_at=now)
    rows = _rows_of(thread, assistant, kwargs, strategy, actor, now)
    rows.new_thread = True
    try:
        attempt = job_insert(
            graph=assistant.graph,
            input=kwargs.get("input") or {},
            actor=actor,
            options=JobOptions(),
            thread_id=thread_id,
            at=now,
            along=rows.along,
        )
    except Conflict:  # the statement failed: nothing of it was written
        return None
    thread.job_id, thread.metadata = attempt.job_id, rows.metadata
    mark_saved(thread)
    rows.run.attempt = attempt
    return rows.run


# Values of the acceptance's rows read from its statement's other parts (the
# job's id: ``NEW_JOB_ID``): the new attempt's id, a new thread's key. Made
# once (a ``RawSQL`` makes a field of its own).
_NEW_ATTEMPT = RawSQL("SELECT id FROM attempt", ())
_FRESH_KEY = RawSQL("SELECT id FROM fresh", ())

# The thread's link to the run's job (``{job}``: its id's SQL) and its metadata.
_THREAD_LINK = (
    f"UPDATE {Thread._meta.db_table} SET updated_at = %s, job_id = {{job}},"
    " metadata = %s WHERE thread_id = %s"
)


@dataclass(slots=True, kw_only=True)
class _RunRows:
    """What a run's acceptance writes besides its job and attempt: the run, its
    first event, the thread's link to the job and its ``metadata``, the audit
    row. On PostgreSQL one statement of common table expressions: of its own,
    or with a new job's (``job_insert``'s ``along``); written once."""

    run: Run
    event: RunEvent
    thread: Thread
    metadata: dict[str, Any]
    audit: AuditLog
    written: bool = False
    # The thread is new: inserted by the statement (linked to its job, unless
    # checkpoints of its id exist), not updated.
    new_thread: bool = False

    def write(self, *, job_id: int | None) -> None:
        """The rows, once the run's attempt (if any) is saved."""
        if connection.vendor != "postgresql":
            self.run.save(force_insert=True)
            self.event.save(force_insert=True)
            Thread.objects.filter(pk=self.thread.pk).update(
                updated_at=self.run.created_at, job_id=job_id, metadata=self.metadata
            )
            self.audit.save(force_insert=True)
            self.written = True
            return
        named = NamedParams()
        job = named.part("%s", [job_id])
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {self.ctes(named, job=job)} SELECT", named.values)

    def along(self, named: NamedParams) -> str:
        """The rows as CTEs of a new job's statement: the run's attempt and the
        thread's job are the ones it inserts."""
        self.run.attempt_id = _NEW_ATTEMPT
        return self.ctes(named, job=f"({NEW_JOB_ID.sql})")

    def ctes(self, named: NamedParams, *, job: str) -> str:
        at = self.run.created_at
        if self.new_thread:
            # The thread's key is read from ``fresh``, empty when checkpoints
            # of its id exist (a copy's): its insert then fails on the key's
            # NOT NULL, and the statement with it, writing nothing.
            fresh = named.part(
                f"SELECT CAST(%s AS varchar) AS id WHERE NOT EXISTS (SELECT FROM"
                f" {Checkpoint._meta.db_table} c WHERE c.thread_id = %s)",
                [self.thread.pk, self.thread.pk],
            )
            new = Thread(
                thread_id=_FRESH_KEY,
                metadata=self.metadata,
                created_at=self.thread.created_at,
                updated_at=at,
                job_id=NEW_JOB_ID,  # a new thread comes with a new job (``along``)
            )
            link = named.part(*insert_sql(new))
            sql = f"fresh AS ({fresh}), "
        else:
            link = named.part(
                _THREAD_LINK.replace("{job}", job.replace("%", "%%")),
                [
                    _THREAD_FIELDS["updated_at"].get_db_prep_save(at, connection),
                    _THREAD_FIELDS["metadata"].get_db_prep_save(
                        self.metadata, connection
                    ),
                    self.thread.pk,
                ],
            )
            sql = ""
        sql += (
            f"run AS ({named.part(*insert_sql(self.run))}),"
            f" event AS ({named.part(*insert_sql(self.event))}),"
            f" thread AS ({link}),"
            f" run_audit AS ({named.part(*insert_sql(self.audit))})"
        )
        mark_saved(self.run, self.event, self.audit)
        self.written = True
        return sql


_THREAD_FIELDS = {f.attname: f for f in Thread._meta.concrete_fields}


def _live_runs(thread: Thread) -> list[Run]:
    return list(
        Run.objects.select_related("attempt")
        .filter(thread=thread, status__in=LIVE)
        .order_by("created_at")
    )


def _thread_for_run(
    thread_id: str, stateless: bool, kwargs: dict[str, Any], now: datetime
) -> tuple[Thread, bool, bool]:
    """The run's thread, locked (runs of one thread are created one at a time),
    with its job (a stateless run's is new); whether it was created now (it has
    no runs); whether it is fresh too (no job and no checkpoints of its id)."""
    if stateless:
        new = Thread.objects.create(
            thread_id=thread_id, metadata={}, created_at=now, updated_at=now
        )
        return new, True, True
    # ``if_not_exists="create"`` inserts first: the insert answers and locks a
    # new thread in one round trip; an existing one is read as without it (and
    # created after all if it was deleted in between).
    create = kwargs.get("if_not_exists") == "create"
    locked = Thread.objects.select_for_update(of=("self",)).select_related("job")
    found = None
    for _ in range(2 if create else 1):
        created = _thread_insert(thread_id, now) if create else None
        if created is not None:
            return created
        found = locked.filter(pk=thread_id).first()
        if found is not None:
            break
    if found is None:
        raise NotFound(THREAD_NOT_FOUND)
    return found, False, False


# A thread's insert unless it exists, answering in the same statement what a
# first run would otherwise look up: the job of its id (a /v1 job's thread has
# none of its own until now) and whether checkpoints of its id exist (a copy).
_THREAD_INSERT = (
    "{insert} ON CONFLICT DO NOTHING RETURNING"
    f" (SELECT id FROM {Job._meta.db_table} WHERE thread_id = %s),"
    f" EXISTS (SELECT 1 FROM {Checkpoint._meta.db_table} WHERE thread_id = %s)"
)


def _thread_insert(thread_id: str, now: datetime) -> tuple[Thread, bool, bool] | None:
    """A new thread ``thread_id`` (locked by its insert until the transaction
    ends), as ``_thread_for_run`` answers; ``None`` if it exists."""
    new = Thread(thread_id=thread_id, metadata={}, created_at=now, updated_at=now)
    sql, params = insert_sql(new)
    with connection.cursor() as cursor:
        cursor.execute(
            _THREAD_INSERT.format(insert=sql), [*params, thread_id, thread_id]
        )
        found = cursor.fetchone()
    if found is None:
        return None
    mark_saved(new)
    job_id, copied = found
    # thread.job stays unset, as a thread row without a link has it: the run
    # finds the job of its id (``_run_start``).
    return new, True, job_id is None and not copied


def _merged(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **given}
    if "configurable" in base or "configurable" in given:
        merged["configurable"] = {
            **(base.get("configurable") or {}),
            **(given.get("configurable") or {}),
        }
    return merged


def _run_start(
    run: Run,
    *,
    thread: Thread,
    actor: Actor,
    at: datetime,
    fresh: bool = False,
    rows: _RunRows | None = None,
) -> Attempt:
    """The attempt that executes ``run`` (the caller links them and the thread to
    the attempt's job): the thread's job for a first run (``fresh``: no job and
    no checkpoints of the thread's id exist), else a new attempt of that job
    (the answers to its pending interrupts for a ``command.resume``). ``rows``:
    the run's other rows, written with a new job's statement on PostgreSQL."""
    kwargs = run.kwargs
    command = kwargs.get("command") or {}
    checkpoint_id = _checkpoint_of(kwargs)
    # A /v1 job's thread may have no link yet: the job of its thread id is its.
    job = thread.job
    if job is None and not fresh:
        job = Job.objects.filter(thread_id=thread.thread_id).first()
    if job is None:
        # A copied thread has checkpoints but no job: its first run continues them.
        copied = not fresh and (
            Checkpoint.objects.filter(thread_id=thread.thread_id).exists()
        )
        if checkpoint_id and not copied:
            raise NotFound(f"checkpoint '{checkpoint_id}' not found")
        attempt = job_insert(
            graph=run.graph,
            input=kwargs.get("input") or {},
            actor=actor,
            options=JobOptions(),
            thread_id=thread.thread_id,
            at=at,
            savepoint=False,  # a Conflict ends the run's transaction
            along=rows.along if rows and connection.vendor == "postgresql" else None,
        )
        if copied:
            attempt.kind = (
                Attempt.Kind.REPLAY if checkpoint_id else Attempt.Kind.NEXT_RUN
            )
            attempt.checkpoint_id = checkpoint_id
            attempt.save(update_fields=["kind", "checkpoint_id"])
    else:
        attempt = _continuation(job, run, command, checkpoint_id, actor, at)
    after = kwargs.get("after_seconds") or 0
    if after > 0 and attempt.status == Attempt.Status.QUEUED:
        transition(
            Attempt,
            attempt.pk,
            to=Attempt.Status.RETRY_BACKOFF,
            retry_at=at + timedelta(seconds=after),
        )
    return attempt


def _checkpoint_of(kwargs: dict[str, Any]) -> str:
    checkpoint = kwargs.get("checkpoint") or {}
    return str(kwargs.get("checkpoint_id") or checkpoint.get("checkpoint_id") or "")


def _continuation(
    job: Job,
    run: Run,
    command: dict[str, Any],
    checkpoint_id: str,
    actor: Actor,
    at: datetime,
) -> Attempt:
    pending = list(job.interrupts.filter(status=Interrupt.Status.PENDING))
    if "resume" in command and pending and not checkpoint_id:
        for interrupt, answer in _answers(pending, command["resume"]):
            interrupt_resume(interrupt=interrupt, value=answer, actor=actor, at=at)
        latest = job.attempts.order_by("-created_at").first()
        if latest is None or latest.status != Attempt.Status.QUEUED:
            raise Conflict("the resume did not start a run (the interrupt waits)")
        return latest
    if (
        checkpoint_id
        and not Checkpoint.objects.filter(
            thread_id=job.thread_id, checkpoint_ns="", checkpoint_id=checkpoint_id
        ).exists()
    ):
        raise NotFound(f"checkpoint '{checkpoint_id}' not found")
    # A new input (or a goto/update) supersedes the questions left open.
    transition_all(
        job.interrupts.all(),
        to=Interrupt.Status.CANCELLED,
        sources=[Interrupt.Status.PENDING],
        resolved_at=at,
    )
    return job_enqueue_continuation(
        job=job,
        kind=Attempt.Kind.REPLAY if checkpoint_id else Attempt.Kind.NEXT_RUN,
        sources=_RESTARTABLE,
        at=at,
        checkpoint_id=checkpoint_id,
    )


def _answers(pending: list[Interrupt], value: Any) -> list[tuple[Interrupt, Any]]:
    """A ``command.resume``: one value for every waiting interrupt, or a map of
    interrupt ids (the graph's, as clients see them) to values."""
    by_id = {i.graph_interrupt_id: i for i in pending} | {i.pk: i for i in pending}
    if isinstance(value, dict) and value and set(value) <= set(by_id):
        return [(by_id[k], v) for k, v in value.items()]
    return [(i, value) for i in pending]


def _run_stop(run: Run, *, actor: Actor, at: datetime) -> bool:
    """Stops a live run as ``interrupted``; ``True`` when it is over now, ``False``
    when its worker stops it at its next superstep."""
    attempt = run.attempt
    if attempt is None:  # waiting behind another run: it never starts
        Run.objects.filter(pk=run.pk).update(
            status=Run.Status.INTERRUPTED, updated_at=at
        )
        return True
    job = Job.objects.select_for_update().get(pk=attempt.job_id)
    if job.status == Job.Status.RUNNING:
        Job.objects.filter(pk=job.pk).update(
            cancel_requested=True, cancel_reason="run cancelled", updated_at=at
        )
        return False
    if not job.is_terminal:
        _cancel_now(job, at)  # the run's attempt, and the run with it
    Run.objects.filter(pk=run.pk, status__in=LIVE).update(
        status=Run.Status.INTERRUPTED, updated_at=at
    )
    return True


def _run_rollback(run: Run, *, actor: Actor, at: datetime) -> None:
    """Cancels a live run and deletes it with the checkpoints it wrote; its
    worker's next fenced write finds the lease gone and stops."""
    attempt = run.attempt
    if attempt is not None:
        job = Job.objects.select_for_update().get(pk=attempt.job_id)
        if not job.is_terminal:
            _cancel_now(job, at)
        written = Checkpoint.objects.filter(
            thread_id=job.thread_id, created_at__gte=attempt.created_at
        )
        ids = list(written.values_list("checkpoint_id", flat=True))
        CheckpointWrite.objects.filter(
            thread_id=job.thread_id, checkpoint_id__in=ids
        ).delete()
        written.delete()
    run.delete()
    _audit(actor, "run.rollback", run, at)


def _audit(actor: Actor, verb: str, run: Run, at: datetime, **details: Any) -> None:
    audit_record(
        actor=actor,
        action=verb,
        resource_type="run",
        resource_id=str(run.run_id),
        details={"thread_id": run.thread_id, **details},
        at=at,
    )


def run_cancel(
    *, run: Run, actor: Actor, action: str = "interrupt", at: datetime | None = None
) -> None:
    """Cancels a pending or running run: ``interrupt`` stops it (status
    ``interrupted``), ``rollback`` also deletes it and its checkpoints. Raises
    ``NotFound`` when it is already over (as LangGraph's server does)."""
    now = at or timezone.now()
    with transaction.atomic():
        Thread.objects.select_for_update().filter(pk=run.thread_id).first()
        current = Run.objects.select_related("attempt").filter(pk=run.pk).first()
        if current is None or current.status in RUN_FINAL:
            raise NotFound(
                "No matching runs to cancel: the run is over or does not exist"
            )
        if action == "rollback":
            _run_rollback(current, actor=actor, at=now)
            over = True
        else:
            over = _run_stop(current, actor=actor, at=now)
            _audit(actor, "run.cancel", current, now, action=action)
        if over:
            run_advance(thread_id=current.thread_id, actor=actor, at=now)


def run_delete(*, run: Run, actor: Actor) -> None:
    """Deletes a finished run and its events (409 while it is live)."""
    now = timezone.now()
    with transaction.atomic():
        current = Run.objects.select_for_update().filter(pk=run.pk).first()
        if current is None:
            raise NotFound(f"Run '{run.run_id}' not found")
        if current.status not in RUN_FINAL:
            raise Conflict(
                f"run '{run.run_id}' is {current.status}; cancel it first",
                details={"status": current.status},
            )
        current.delete()
        _audit(actor, "run.delete", current, now)


def run_advance(*, thread_id: str, actor: Actor, at: datetime) -> None:
    """Starts the thread's next waiting run once none is live any more (the
    ``enqueue`` and ``interrupt`` strategies); in the caller's transaction."""
    live = list(
        Run.objects.filter(thread_id=thread_id, status__in=LIVE).order_by("created_at")
    )
    if not live or any(run.attempt_id is not None for run in live):
        return
    waiting = live[0]
    thread = Thread.objects.select_related("job").get(pk=thread_id)
    attempt = _run_start(waiting, thread=thread, actor=actor, at=at)
    Run.objects.filter(pk=waiting.pk).update(attempt=attempt, updated_at=at)
    if thread.job_id != attempt.job_id:
        Thread.objects.filter(pk=thread_id).update(job=attempt.job_id)


def thread_discard(*, thread_id: str) -> None:
    """Deletes a stateless run's temporary thread and everything it holds."""
    with transaction.atomic():
        if Thread.objects.select_for_update().filter(pk=thread_id).exists():
            thread_erase(thread_id=thread_id)


def run_get(*, thread_id: str, run_id: str) -> Run:
    try:
        wanted = uuid.UUID(str(run_id))
    except ValueError:
        raise InvalidArgument(f"run id '{run_id}' is not a UUID") from None
    found = Run.objects.filter(pk=wanted, thread_id=thread_id).first()
    if found is None:
        raise NotFound(f"Run '{run_id}' not found")
    return found


def _run_key(run_id: uuid.UUID) -> Any:
    """A run id as the database stores it, for a plain query."""
    return Run._meta.pk.get_db_prep_value(run_id, connection)


_STATUS = f"SELECT status FROM {Run._meta.db_table} WHERE run_id = %s"


def run_status_of(run_id: uuid.UUID) -> str | None:
    """The run's status (``None``: no such run), one plain query: a wait or a
    stream looks at it again and again."""
    with connection.cursor() as cursor:
        cursor.execute(_STATUS, [_run_key(run_id)])
        found = cursor.fetchone()
    return None if found is None else found[0]


# A finished run's answer: its last ``values`` or ``error`` event, as plain SQL
# (the ORM's compilation of this one query was a tenth of a wait's CPU).
_LAST_OUTPUT = (
    f"SELECT event, data FROM {RunEvent._meta.db_table}"
    " WHERE run_id = %s AND event IN ('values', 'error') ORDER BY seq DESC LIMIT 1"
)


def run_output(run: Run | uuid.UUID) -> Any:
    """What ``runs.wait`` and ``runs.join`` answer for a finished run (or run
    id): its last state (with ``__interrupt__`` when it paused), or
    ``{"__error__": ...}``."""
    run_id = run.pk if isinstance(run, Run) else run
    with connection.cursor() as cursor:
        cursor.execute(_LAST_OUTPUT, [_run_key(run_id)])
        last = cursor.fetchone()
    return {} if last is None else run_answer(*last)


def run_answer(event: str, data: str) -> Any:
    """What a wait answers for a finished run whose last ``values`` or
    ``error`` event is ``event`` with ``data`` (its stored JSON)."""
    value = json.loads(data)
    return {"__error__": value} if event == "error" else value
