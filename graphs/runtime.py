"""``Runtime``: what a node gets besides its state (LangGraph's ``langgraph.runtime``).

A node with a parameter named ``runtime`` receives a :class:`Runtime`; inside any
node, :func:`get_runtime` returns the same. The run's ``context`` (``invoke(...,
context=...)``) travels on it, with the store, the custom stream writer and the
idle-timeout heartbeat.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from graphs._context import current_task

if TYPE_CHECKING:
    from graphs._task import Task
    from graphs.store.base import BaseStore

__all__ = [
    "ExecutionInfo",
    "Runtime",
    "coerce_context",
    "get_runtime",
    "takes_runtime",
    "task_runtime",
]

ContextT = TypeVar("ContextT")


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Read-only facts about the running node (LangGraph's ``ExecutionInfo``)."""

    checkpoint_id: str
    checkpoint_ns: str
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None

    def patch(self, **overrides: Any) -> ExecutionInfo:
        """A copy with ``overrides`` replaced."""
        return replace(self, **overrides)


def _no_writer(_: Any) -> None:
    return None


def _no_heartbeat() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Runtime(Generic[ContextT]):
    """Run-scoped context and utilities of a node (LangGraph's ``Runtime``).

    Attributes:
        context: The run's ``context`` (``invoke(..., context=...)``), coerced to
            the graph's ``context_schema`` when given as a dict for a dataclass
            or pydantic schema; subgraphs see their parent's.
        store: The graph's store (``compile(store=...)``), or ``None``.
        stream_writer: Writes to the ``custom`` stream (as ``get_stream_writer()``).
        heartbeat: Records progress for the node's ``idle_timeout``.
        previous: The functional API's previous return value (always ``None``:
            ``graphs`` has no functional API).
        execution_info: The running task's checkpoint, namespace, task and thread.
        server_info: Set by LangGraph's server; ``None`` here.
        control: LangGraph's drain control; ``None`` here.
    """

    context: ContextT = field(default=None)  # type: ignore[assignment]
    store: BaseStore | None = None
    stream_writer: Callable[[Any], None] = _no_writer
    heartbeat: Callable[[], None] = _no_heartbeat
    previous: Any = None
    execution_info: ExecutionInfo | None = None
    server_info: Any = None
    control: Any = None

    def override(self, **overrides: Any) -> Runtime[ContextT]:
        """A copy with ``overrides`` replaced."""
        return replace(self, **overrides)


def get_runtime(context_schema: type[ContextT] | None = None) -> Runtime[ContextT]:
    """The :class:`Runtime` of the running node.

    Args:
        context_schema: Only for type checkers (the type of ``context``).

    Raises:
        RuntimeError: Outside of a graph node.
    """
    return task_runtime(current_task())


def task_runtime(task: Task) -> Runtime[Any]:
    """The runtime handed to ``task``'s node."""
    from graphs.store.base import task_store

    run = task.run
    thread_id = (run.config.get("configurable") or {}).get("thread_id")
    own = f"{task.name}:{task.id}"  # the task's namespace, as LangGraph's
    info = ExecutionInfo(
        checkpoint_id=run.checkpoint_id,
        checkpoint_ns=f"{run.ns}|{own}" if run.ns else own,
        task_id=task.id,
        thread_id=None if run.saver is None else thread_id,
        run_id=_run_id(run.config),
    )

    def heartbeat() -> None:
        task.progress = time.monotonic()

    return Runtime(
        context=run.options.context,
        store=task_store(task),
        stream_writer=task.write_custom,
        heartbeat=heartbeat,
        execution_info=info,
    )


def _run_id(config: dict[str, Any]) -> str | None:
    run_id = config.get("run_id")
    return None if run_id is None else str(run_id)


def coerce_context(schema: Any, context: Any) -> Any:
    """LangGraph's rule: a dict context for a dataclass or pydantic
    ``context_schema`` is made into an instance; anything else is kept."""
    if context is None or schema is None or not isinstance(context, dict):
        return context
    if (isinstance(schema, type) and dataclasses.is_dataclass(schema)) or callable(
        getattr(schema, "model_validate", None)
    ):
        return schema(**context)
    return context


def takes_runtime(fn: Any) -> bool:
    """Whether a node wants the :class:`Runtime`: a parameter named ``runtime``
    (LangGraph's rule, whatever its annotation)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "runtime" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        for p in params
    )
