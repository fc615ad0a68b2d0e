"""The worker's side of an Agent Server run: the attempt's input, config and
stream options from the run's request, its events, and what follows its
outcome (the thread's next run, the webhook, a stateless thread's deletion)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from graphs import Command
from runtime.models import Attempt, Checkpoint, Run
from runtime.models.agent_server import RUN_FINAL
from runtime.present import agent_run
from runtime.services import agent_runs
from runtime.services.audit import Actor
from runtime.services.claims import sql_statuses
from runtime.services.jobs import normalize_input
from runtime.services.run_status import LIVE
from runtime.services.statements import (
    UNFLUSHED,
    Prepared,
    columns_of,
    commits_alone,
    model_from_row,
)
from runtime.worker.run_events import RunEvents

logger = logging.getLogger(__name__)

# Config keys the run may not set: the thread and checkpoint are the runtime's.
_RESERVED = ("thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map")


@dataclass
class Served:
    """An attempt executing an Agent Server run."""

    run: Run
    attempt: Attempt
    events: RunEvents

    def input(self, graph: Any, saver: Any, config: dict[str, Any]) -> Any:
        """The run's config merged into ``config``; what to feed the graph: the
        run's input, its command, or nothing when continuing after a crash."""
        kwargs, attempt = self.run.kwargs, self.attempt
        given = kwargs.get("config") or {}
        configurable = {
            **(kwargs.get("context") or {}),
            **(given.get("configurable") or {}),
        }
        for key in _RESERVED:
            configurable.pop(key, None)
        config["configurable"].update(configurable)
        for key in ("recursion_limit", "tags", "metadata"):
            if key in given:
                config[key] = given[key]
        if attempt.checkpoint_id and not self._wrote_checkpoints:
            config["configurable"]["checkpoint_id"] = attempt.checkpoint_id
        if attempt.dispatches > 1 and self._wrote_checkpoints:
            return None  # a crash: continue from the run's last checkpoint
        if attempt.kind == Attempt.Kind.RUN:
            return attempt.job.input
        command = kwargs.get("command")
        if command:
            resume = attempt.resume if attempt.resume else command.get("resume")
            return Command(
                update=command.get("update"),
                goto=command.get("goto") or (),
                resume=resume,
            )
        value = kwargs.get("input")
        return normalize_input(value) if value is not None else None

    @cached_property
    def _wrote_checkpoints(self) -> bool:
        """Whether the run wrote a checkpoint before this dispatch (read once)."""
        return Checkpoint.objects.filter(
            thread_id=self.attempt.job.thread_id,
            created_at__gte=self.attempt.created_at,
        ).exists()

    def step_hook(self, step: int) -> None:
        """After each superstep's checkpoint: its events are committed (a crash
        after a checkpoint loses none of the events before it)."""
        self.events.flush()

    def options(self) -> dict[str, Any]:
        """``graph.run``'s options for the run: modes, breakpoints, durability,
        context."""
        kwargs = self.run.kwargs
        options: dict[str, Any] = {
            "stream_mode": self.events.graph_modes(),
            "subgraphs": self.events.subgraphs,
            "on_chunk": self.events.chunk,
            "events": "events" in self.events.modes,
        }
        if kwargs.get("durability"):
            options["durability"] = kwargs["durability"]
        if kwargs.get("context"):  # the nodes' Runtime.context
            options["context"] = kwargs["context"]
        for key in ("interrupt_before", "interrupt_after"):
            if kwargs.get(key):
                options[key] = kwargs[key]
        return options


def served(attempt: Attempt) -> Served | None:
    """The Agent Server run ``attempt`` executes (marked running), or ``None``."""
    if attempt.serves_run is False:  # its claim read that none does
        return None
    run = _run_start(attempt, timezone.now())
    if run is None:
        return None
    return Served(run, attempt, RunEvents(run, attempt_no=attempt.dispatches))


_RUN_COLUMNS = columns_of(Run, alias="r")
_ATTEMPT_COLUMN = Run._meta.get_field("attempt").column
# The run of an attempt (as it was), marked running if it was pending, in one
# statement whose commit does not wait for the WAL flush: a server crash that
# loses it leaves the run pending, as it was, until its attempt starts again or
# ends (the outcome sets the run's status in its own, durable, commit).
_RUN_START = Prepared(
    f"WITH {UNFLUSHED}, moved AS (UPDATE {Run._meta.db_table}"
    f" SET status = %(running)s, updated_at = %(now)s"
    f" WHERE {_ATTEMPT_COLUMN} = %(attempt)s AND status = %(pending)s)"
    f" SELECT {_RUN_COLUMNS} FROM {Run._meta.db_table} r CROSS JOIN unflushed"
    f" WHERE r.{_ATTEMPT_COLUMN} = %(attempt)s"
)


# The run of an attempt, and whether a run of its thread waits to start (one
# that a strategy ``enqueue`` or ``interrupt`` left without an attempt).
_RUN_FINISHED = Prepared(
    f"SELECT {_RUN_COLUMNS}, EXISTS (SELECT 1 FROM {Run._meta.db_table} w"
    f" WHERE w.thread_id = r.thread_id AND w.status IN ({sql_statuses(LIVE)})"
    f" AND w.{_ATTEMPT_COLUMN} IS NULL)"
    f" FROM {Run._meta.db_table} r WHERE r.{_ATTEMPT_COLUMN} = %s"
)


def _run_start(attempt: Attempt, now: datetime) -> Run | None:
    """The run ``attempt`` executes, marked running if it was pending."""
    if not commits_alone():
        run = Run.objects.filter(attempt_id=attempt.pk).first()
        if run is not None:
            Run.objects.filter(pk=run.pk, status=Run.Status.PENDING).update(
                status=Run.Status.RUNNING, updated_at=now
            )
        return run
    params: dict[str, Any] = {
        "attempt": attempt.pk,
        "now": now,
        "running": Run.Status.RUNNING,
        "pending": Run.Status.PENDING,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RUN_START, params)
        row = cursor.fetchone()
    return None if row is None else model_from_row(Run, row)


def ended(served: Served | None, error: BaseException | None = None) -> None:
    """The graph stopped: the error event if it failed, and every event written
    before the outcome commits."""
    if served is None:
        return
    if error is not None:
        served.events.error(error)
    served.events.flush()


def finished(attempt: Attempt) -> None:
    """After an attempt's outcome, in its transaction: once the run is over, its
    thread's next waiting run starts, its webhook is sent (after the commit) and
    a stateless run's thread is deleted."""
    if attempt.serves_run is False:
        return
    with connection.cursor() as cursor:
        cursor.execute(_RUN_FINISHED, [attempt.pk])
        row = cursor.fetchone()
    if row is None:
        return
    run, next_waits = model_from_row(Run, row[:-1]), bool(row[-1])
    if run.status not in RUN_FINAL:
        return
    now = timezone.now()
    if next_waits:
        agent_runs.run_advance(thread_id=run.thread_id, actor=Actor.system(), at=now)
    webhook = run.kwargs.get("webhook")
    if webhook:
        body = {**agent_run(run), "values": agent_runs.run_output(run)}
        transaction.on_commit(lambda: webhook_enqueue(webhook, body))
    if run.kwargs.get("_discard") == agent_runs.DISCARD_BY_WORKER:
        agent_runs.thread_discard(thread_id=run.thread_id)


def webhook_enqueue(url: str, body: dict[str, Any]) -> None:
    from django_q.tasks import async_task

    async_task("runtime.worker.webhooks.webhook_deliver", url, body)
