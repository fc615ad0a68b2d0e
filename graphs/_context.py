"""The running task's context: ``interrupt()`` and the stream writers.

One ContextVar holds the current task; it is set around each node call only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from graphs._response import json_schema, validate
from graphs.errors import GraphInterrupt
from graphs.policy import InterruptPolicy
from graphs.types import Interrupt

if TYPE_CHECKING:
    from graphs._task import Task

__all__ = [
    "MessageWriter",
    "current_task",
    "get_config",
    "get_message_writer",
    "get_stream_writer",
    "interrupt",
]

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


def interrupt(
    value: Any,
    *,
    response_schema: Any = None,
    policy: InterruptPolicy | None = None,
) -> Any:
    """Pause the run and ask for a value; return it once the run is resumed.

    Several calls in one node are matched to resume values by order. On resume the
    node runs again from its start and earlier calls return their recorded values.

    Args:
        value: JSON-serialisable payload describing what is needed.
        response_schema: The schema of the value expected on resume, shown on
            the :class:`Interrupt` as JSON schema: a JSON schema ``dict`` (kept
            as it is, the resume value is not checked), or a pydantic model,
            ``TypedDict`` or dataclass (its schema; the resume value is
            validated and converted, see :mod:`graphs._response`).
        policy: Who may answer, by when and how many must agree; carried on the
            :class:`Interrupt` and enforced by the durable runtime (see
            :class:`graphs.InterruptPolicy`).

    Returns:
        The value given with ``Command(resume=...)`` (validated against a
        ``response_schema`` type).

    Raises:
        GraphInterrupt: When no resume value is available yet (caught by the engine).
        ValueError: When the resume value does not match a ``response_schema``
            type (pydantic's ``ValidationError`` when pydantic validates it);
            the value is not recorded, so the interrupt can be answered again.
    """
    task = current_task()
    index = task.interrupt_index
    task.interrupt_index = index + 1
    if index < len(task.resume_values):
        return _checked(response_schema, task.resume_values[index])
    iid = interrupt_id(task.id, index)
    found = task.take_resume(iid)
    if found is not _NO_RESUME:
        checked = _checked(response_schema, found)
        task.resume_values.append(found)
        return checked
    schema = None if response_schema is None else json_schema(response_schema)
    raise GraphInterrupt(
        [Interrupt(value=value, id=iid, response_schema=schema, policy=policy)]
    )


def _checked(schema: Any, value: Any) -> Any:
    return (
        value if schema is None or isinstance(schema, dict) else validate(schema, value)
    )


def get_stream_writer() -> Callable[[Any], None]:
    """Return a function that emits values on the ``custom`` stream mode.

    Outside of a streaming run the writer does nothing.
    """
    task = CURRENT.get()
    if task is None:
        return _noop
    return task.write_custom


class MessageWriter:
    """Emits ``(message, metadata)`` pairs on the ``messages`` stream mode.

    Returned by :func:`get_message_writer`; call it with each message chunk (an
    ``AIMessageChunk``) as a model produces it.
    """

    __slots__ = ("_metadata", "_task")

    def __init__(self, task: Task | None) -> None:
        self._task = task
        self._metadata: dict[str, Any] | None = None

    @property
    def enabled(self) -> bool:
        """Whether the run streams ``messages`` (otherwise calls do nothing).

        A model node can use it to choose between a streaming and a plain call.
        """
        return self._task is not None

    def __call__(self, message: Any, metadata: Mapping[str, Any] | None = None) -> None:
        """Emit ``message`` with the node's metadata (plus ``metadata``, if given).

        Args:
            message: A message or message chunk. Give the chunks of one reply the
                id of the final message: the engine then does not send that
                message again when the node returns it.
            metadata: Extra keys for this chunk's metadata (e.g. the model name).
        """
        task = self._task
        if task is None:
            return
        task.touch()
        meta = self._metadata
        if meta is None:
            # the task is running: its superstep is the one after the last finished
            meta = self._metadata = task.metadata(task.run.step + 1)
        task.run.stream_message(message, {**meta, **metadata} if metadata else meta)


_MESSAGES_OFF = MessageWriter(None)


def get_message_writer() -> MessageWriter:
    """Return a function that streams message chunks on the ``messages`` mode.

    The chunks reach ``stream(..., stream_mode="messages")`` as
    ``(chunk, metadata)`` with LangGraph's metadata (``langgraph_node``,
    ``langgraph_step``, ``langgraph_path``, ``langgraph_checkpoint_ns``, the
    config's ``metadata`` and ``thread_id``). Call it in the node's own thread
    or task (the context is not inherited by threads the node starts).

    Returns:
        A :class:`MessageWriter`; outside of a node, or when the run does not
        stream ``messages``, one that does nothing (``enabled`` is ``False``).
    """
    task = CURRENT.get()
    if task is None or "messages" not in task.run.modes:
        return _MESSAGES_OFF
    return MessageWriter(task)


def get_config() -> dict[str, Any]:
    """Return the config of the running node."""
    return current_task().config()


def _noop(_: Any) -> None:
    return None
