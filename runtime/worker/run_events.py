"""Recording an Agent Server run's stream as ``RunEvent`` rows, from the worker.

The graph's chunks become the Server-Sent Events the Agent Server sends: event
names are the stream modes (``messages-tuple`` as ``messages``, a subgraph's as
``mode|ns``), data is one line of JSON. Events commit on their own, outside the
run's transactions (short autocommit inserts, the ones that arrive within a few
milliseconds batched together; on PostgreSQL without waiting for the WAL flush,
which the run's next durable commit does), so an API process tails them while
the run goes;
a resumed attempt continues the run's sequence. The first event, ``metadata``, is
written with the run (``agent_runs.run_create``); a redelivered attempt writes
its own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import Max
from django.utils import timezone

from graphs.types import Interrupt as GraphInterrupt
from runtime.models import Run, RunEvent
from runtime.present import json_line, present_lc
from runtime.services.statements import UNFLUSHED, Prepared

logger = logging.getLogger(__name__)

# Client modes -> the graph's modes that feed them.
GRAPH_MODE = {
    "values": "values",
    "updates": "updates",
    "custom": "custom",
    "messages-tuple": "messages",
    "messages": "messages",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
}
BATCH_SECONDS = 0.005  # events arriving this close together share one insert


def wire(value: Any) -> Any:
    """A chunk as the Agent Server sends it: interrupts as ``{"value", "id"}``,
    LangChain messages as their ``model_dump()`` (``present_lc``)."""
    if isinstance(value, GraphInterrupt):
        return {"value": wire(value.value), "id": value.id}
    if isinstance(value, dict):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return present_lc(value)


class RunEvents:
    """The event log of one run, written by the attempt executing it."""

    def __init__(self, run: Run, *, attempt_no: int) -> None:
        self.run = run
        kwargs = run.kwargs
        self.modes = list(kwargs.get("stream_mode") or ["values"])
        self.subgraphs = bool(kwargs.get("stream_subgraphs"))
        if attempt_no == 1:  # after the metadata event of the run's creation
            self.seq = 1
        else:
            last = RunEvent.objects.filter(run=run).aggregate(m=Max("seq"))["m"]
            self.seq = last or 0
        self.pending: list[RunEvent] = []
        self.flushed_at = 0.0
        self.gone = False  # the run was deleted (rolled back): record nothing
        self.values: Any = None
        self.partial: dict[str, Any] = {}  # legacy messages mode: id -> message
        self.meta = {
            "graph_id": run.graph,
            "assistant_id": str(run.assistant_id),
            "run_id": str(run.run_id),
            "thread_id": run.thread_id,
        }
        if attempt_no > 1:  # the stream shows where a redelivery starts again
            self.emit("metadata", {"run_id": str(run.run_id), "attempt": attempt_no})
            self.flush()

    def graph_modes(self) -> list[str]:
        """What the graph streams: the asked modes, and always ``values`` (a
        background run's join and wait read them)."""
        wanted = {GRAPH_MODE[m] for m in self.modes if m in GRAPH_MODE}
        return sorted(wanted | {"values"})

    def emit(self, event: str, data: Any) -> None:
        if self.gone:
            return
        self.seq += 1
        self.pending.append(
            RunEvent(
                run_id=self.run.run_id,
                seq=self.seq,
                event=event,
                data=json_line(data),
                created_at=timezone.now(),
            )
        )

    def chunk(self, ns: tuple[str, ...], mode: str, payload: Any) -> None:
        """One chunk of the graph's stream (``graph.run``'s ``on_chunk``)."""
        if ns and not self.subgraphs:
            return
        suffix = f"|{'|'.join(ns)}" if ns else ""
        if mode == "values" and not ns:
            payload = self._values(payload)
        if mode == "messages":
            self._messages(suffix, payload)
        elif mode in self.modes or (mode == "values" and not ns):
            self.emit(f"{mode}{suffix}", wire(payload))
        if time.monotonic() - self.flushed_at >= BATCH_SECONDS:
            self.flush()

    def _values(self, payload: Any) -> Any:
        """The state; the pause's own chunk is the state plus ``__interrupt__``."""
        if isinstance(payload, dict) and set(payload) == {"__interrupt__"}:
            return {**(self.values or {}), **payload}
        self.values = payload
        return payload

    def _messages(self, suffix: str, payload: Any) -> None:
        message, metadata = payload
        metadata = {**metadata, **self.meta}
        if "messages-tuple" in self.modes:
            self.emit(f"messages{suffix}", [wire(message), wire(metadata)])
        if "messages" not in self.modes:
            return
        key = str(getattr(message, "id", None) or id(message))
        if key not in self.partial:
            self.emit(f"messages/metadata{suffix}", {key: {"metadata": wire(metadata)}})
        whole = self.partial.get(key)
        chunked = type(message).__name__.endswith("Chunk")
        if chunked:
            whole = message if whole is None else whole + message
            self.partial[key] = whole
            self.emit(f"messages/partial{suffix}", [wire(whole)])
        else:
            self.partial[key] = message
            self.emit(f"messages/complete{suffix}", [wire(message)])

    def error(self, exc: BaseException | None) -> None:
        name = type(exc).__name__ if exc is not None else "Error"
        self.emit("error", {"error": name, "message": str(exc or "")})

    def flush(self) -> None:
        """Commits the events so far, unless a transaction is open (then they
        commit with the next flush outside it)."""
        if not self.pending or self.gone or connection.in_atomic_block:
            return
        rows, self.pending = self.pending, []
        try:
            _insert(rows)
        except IntegrityError:  # the run was deleted under us (rolled back)
            logger.info("run %s is gone: its events are dropped", self.run.run_id)
            self.gone = True
        self.flushed_at = time.monotonic()


_FIELDS = [f for f in RunEvent._meta.concrete_fields if not f.primary_key]
# Flushes of at most this many events run prepared (each count its own text).
PREPARED_ROWS = 4
_COLUMNS = ", ".join(f.column for f in _FIELDS)


def _insert(rows: list[RunEvent]) -> None:
    """Inserts ``rows`` outside a transaction. On PostgreSQL their commit does
    not wait for the WAL flush: the run's next durable commit (its outcome, a
    checkpoint with effects) makes them durable too, and a server crash before
    that loses only events of work the run's next attempt repeats from its last
    durable checkpoint (which records them again)."""
    if connection.vendor != "postgresql":
        RunEvent.objects.bulk_create(rows)
        return
    casts = ", ".join(f"r.{f.column}::{f.db_type(connection)}" for f in _FIELDS)
    one = f"({', '.join(['%s'] * len(_FIELDS))})"
    sql = (
        f"WITH {UNFLUSHED} INSERT INTO {RunEvent._meta.db_table} ({_COLUMNS})"
        f" SELECT {casts} FROM (VALUES {', '.join([one] * len(rows))})"
        f" AS r({_COLUMNS}) CROSS JOIN unflushed"
    )
    params = [
        f.get_db_prep_save(getattr(row, f.attname), connection)
        for row in rows
        for f in _FIELDS
    ]
    with connection.cursor() as cursor:
        # the usual few rows of a flush: prepared (a text for each count)
        cursor.execute(Prepared(sql) if len(rows) <= PREPARED_ROWS else sql, params)
