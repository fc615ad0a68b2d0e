"""The running task's context: ``interrupt()`` and ``get_stream_writer()``.

One ContextVar holds the current task; it is set around each node call only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from graphs.errors import GraphInterrupt
from graphs.types import Interrupt

if TYPE_CHECKING:
    from graphs._loop import Task

__all__ = ["current_task", "get_config", "get_stream_writer", "interrupt"]

CURRENT: ContextVar[Task | None] = ContextVar("graphs_task", default=None)

_NO_RESUME: Any = object()


def current_task() -> Task:
    """Return the running task.

    Raises:
        RuntimeError: Outside of a graph node.
    """
    task = CURRENT.get()
    if task is None:
        raise RuntimeError("called outside of a graph node")
    return task


def interrupt_id(task_id: str, index: int) -> str:
    """Deterministic id of the ``index``-th interrupt of a task."""
    return hashlib.blake2b(f"{task_id}#{index}".encode(), digest_size=16).hexdigest()


def interrupt(value: Any) -> Any:
    """Pause the run and ask for a value; return it once the run is resumed.

    Several calls in one node are matched to resume values by order. On resume the
    node runs again from its start and earlier calls return their recorded values.

    Args:
        value: JSON-serialisable payload describing what is needed.

    Returns:
        The value given with ``Command(resume=...)``.

    Raises:
        GraphInterrupt: When no resume value is available yet (caught by the engine).
    """
    task = current_task()
    index = task.interrupt_index
    task.interrupt_index = index + 1
    if index < len(task.resume_values):
        return task.resume_values[index]
    iid = interrupt_id(task.id, index)
    found = task.take_resume(iid)
    if found is not _NO_RESUME:
        task.resume_values.append(found)
        return found
    raise GraphInterrupt([Interrupt(value=value, id=iid)])


def get_stream_writer() -> Callable[[Any], None]:
    """Return a function that emits values on the ``custom`` stream mode.

    Outside of a streaming run the writer does nothing.
    """
    task = CURRENT.get()
    if task is None:
        return _noop
    return task.write_custom


def get_config() -> dict[str, Any]:
    """Return the config of the running node."""
    return current_task().config()


def _noop(_: Any) -> None:
    return None
