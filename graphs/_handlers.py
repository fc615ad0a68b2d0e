"""Node error handlers and node defaults (LangGraph's ``error_handler=`` and
``StateGraph.set_node_defaults``).

A node that fails after its retries, and has a handler, is replaced in its
superstep by a task of the handler node: it reads what the failed task read,
gets ``error: NodeError``, and its update (or ``Command``) is applied in the
failed task's place, by task path. The failed node's edges are not followed; a
handler that fails fails the run.

When the superstep pauses or fails, the failed task's error is stored marked as
handled; a resume then restores the handler task in its place (as LangGraph
does): the handler runs again alone (a paused one gets its answers), and the
failed node never runs again. The resumed handler's ``NodeError.error`` is
the stored failure's repr, as LangGraph's is.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from graphs._task import Task
from graphs.checkpoint.format import BOOKKEEPING, ERROR
from graphs.errors import GraphSignal, NodeError, error_row, shown_error
from graphs.state import DEFAULT_ERROR_HANDLER
from graphs.types import RetryPolicy

if TYPE_CHECKING:
    from graphs._loop import Run
    from graphs.compiled import NodeRuntime
    from graphs.state import StateGraph

__all__ = [
    "failure_row",
    "handler_task",
    "node_error",
    "restore_handled",
    "swap_handled",
    "with_defaults",
]

_HANDLED = "handled_by"
"""Key of a stored ``__error__`` row that an error handler handled."""


class _StoredFailure(Exception):
    """A handled failure read back from a checkpoint (its stored row)."""

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__(row.get("message", ""))
        self.row = row


def with_defaults(builder: StateGraph, name: str, node: NodeRuntime) -> NodeRuntime:
    """``node`` with the builder's node defaults where it has no policy of its
    own, its error handler, and whether it takes ``error: NodeError``."""
    spec = builder.nodes[name]
    defaults = builder.node_defaults
    changes: dict[str, Any] = {}
    retry = defaults.retry_policy
    if not node.retry and retry is not None:
        changes["retry"] = (retry,) if isinstance(retry, RetryPolicy) else tuple(retry)
    if node.timeout is None and defaults.timeout is not None and node.fn is not None:
        changes["timeout"] = defaults.timeout  # not a subgraph node (fn is None)
    handler = spec.error_handler
    if (
        handler is None
        and not spec.is_error_handler
        and defaults.error_handler is not None
        and DEFAULT_ERROR_HANDLER in builder.nodes
    ):
        handler = DEFAULT_ERROR_HANDLER
    if handler is not None:
        changes["error_handler"] = handler
    if _takes_error(spec.action):
        changes["takes_error"] = True
    return replace(node, **changes) if changes else node


def _takes_error(fn: Any) -> bool:
    """LangGraph's rule: a parameter ``error`` annotated ``NodeError``."""
    try:
        param = inspect.signature(fn).parameters.get("error")
    except (TypeError, ValueError):
        return False
    if param is None:
        return False
    note = param.annotation
    if isinstance(note, str):  # postponed: resolve it where the function lives
        note = getattr(fn, "__globals__", {}).get(note, note)
    return note is NodeError or note == "NodeError"


def node_error(task: Task) -> NodeError | None:
    """The failure a handler task handles (``None`` for other tasks)."""
    failed = task.failed
    if failed is None or failed.error is None:
        return None
    error: Any = failed.error
    if isinstance(error, _StoredFailure):
        error = shown_error(error.row)
    return NodeError(node=failed.name, error=error)


def failure_row(handler: Task) -> dict[str, Any]:
    """The ``__error__`` write of the task ``handler`` handles, marked handled."""
    failed = handler.failed
    assert failed is not None
    assert failed.error is not None
    error = failed.error
    if isinstance(error, _StoredFailure):
        return error.row
    return {**error_row(error), _HANDLED: handler.name}


def restore_handled(tasks: list[Task], rows: dict[str, list[tuple[str, Any]]]) -> None:
    """Put back, in place of each task whose stored error was handled, its
    handler's task (whose own rows the caller restores)."""
    for i, task in enumerate(tasks):
        row = next((v for c, v in rows.get(task.id, ()) if c == ERROR), None)
        if not isinstance(row, dict) or _HANDLED not in row:
            continue
        task.error = _StoredFailure(row)
        handler = handler_task(task)
        if handler is None:
            continue
        tasks[i] = handler
        # like LangGraph, a handler that finished runs again: only a pause's
        # interrupts and answers are kept
        kept = [(c, v) for c, v in rows.get(handler.id, ()) if c in BOOKKEEPING]
        rows[handler.id] = kept


def handler_task(task: Task) -> Task | None:
    """The handler task of a task that failed, if its node has a handler."""
    name = task.node.error_handler
    if name is None or isinstance(task.error, GraphSignal):
        return None
    run = task.run
    handler = Task(run, run.graph.nodes_rt[name], task.index, task.push, task.arg)
    handler.failed = task
    task.handler = handler
    return handler


def swap_handled(run: Run, tasks: list[Task]) -> list[Task]:
    """The superstep's tasks with each handled failure replaced by its handler
    task (the failure still reports on the ``tasks`` and ``debug`` streams)."""
    out = []
    for t in tasks:
        handler = t.handler
        if handler is None:
            out.append(t)
            continue
        if "debug" in run.modes or "tasks" in run.modes:
            from graphs._resume import debug_task  # _resume restores handlers

            event = debug_task(run, "task_result", t, run.step + 1)
            run.emit("debug", event)
            run.emit("tasks", event["payload"])
        out.append(handler)
    return out
