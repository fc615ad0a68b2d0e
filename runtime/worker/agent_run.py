"""The worker's side of an Agent Server run: the attempt's input, config and
stream options from the run's request, its events, and what follows its
outcome (the thread's next run, the webhook, a stateless thread's deletion)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from graphs import Command
from runtime.models import Attempt, Checkpoint, Run
from runtime.models.agent_server import RUN_FINAL
from runtime.present import agent_run
from runtime.services import agent_runs
from runtime.services.audit import Actor
from runtime.services.jobs import normalize_input
from runtime.services.run_status import LIVE
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
    run = Run.objects.filter(attempt_id=attempt.pk).first()
    if run is None:
        return None
    Run.objects.filter(pk=run.pk, status=Run.Status.PENDING).update(
        status=Run.Status.RUNNING, updated_at=timezone.now()
    )
    return Served(run, attempt, RunEvents(run, attempt_no=attempt.dispatches))


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
    # Read with the run: whether a run of its thread waits to start (one that
    # a strategy ``enqueue`` or ``interrupt`` left without an attempt).
    waiting = Run.objects.filter(
        thread_id=OuterRef("thread_id"), status__in=LIVE, attempt__isnull=True
    )
    run = (
        Run.objects.filter(attempt_id=attempt.pk)
        .annotate(next_waits=Exists(waiting))
        .first()
    )
    if run is None or run.status not in RUN_FINAL:
        return
    now = timezone.now()
    if run.next_waits:
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
