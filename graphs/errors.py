"""Exceptions raised by the graph engine.

Names follow LangGraph (``GraphRecursionError``, ``InvalidUpdateError``,
``GraphInterrupt``) so ported code catches the same things. Checkpoint encoding has
its own pair: :class:`SerializationError` when a value cannot be written and
:class:`CheckpointDecodeError` when stored bytes cannot be read back (a value is never
silently replaced by ``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphs.types import Command, Interrupt

__all__ = [
    "CheckpointDecodeError",
    "EmptyInputError",
    "GraphError",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphSignal",
    "InvalidGraphError",
    "InvalidUpdateError",
    "NodeTimeoutError",
    "ParentCommand",
    "RecursionLimitError",
    "SerializationError",
]


class GraphError(Exception):
    """Root of the engine's errors."""


class InvalidGraphError(GraphError, ValueError):
    """The graph definition is invalid; the message names the node or edge."""


class InvalidUpdateError(GraphError, ValueError):
    """A node produced an update the state cannot accept.

    Raised for two writes to a last-value channel in one superstep, for updates to
    unknown keys, and for updates that are not a dict or :class:`~graphs.Command`.
    """


class GraphRecursionError(GraphError, RecursionError):
    """The run reached ``recursion_limit`` supersteps without finishing."""


RecursionLimitError = GraphRecursionError
"""House-style alias of :class:`GraphRecursionError`."""


class NodeTimeoutError(GraphError, TimeoutError):
    """A node ran longer than its ``timeout`` (``add_node(..., timeout=...)``).

    An async node is cancelled at the deadline. A sync node cannot be stopped: its
    thread is abandoned and keeps running until the function returns, and its
    result is discarded.
    """


class EmptyInputError(GraphError, ValueError):
    """The graph was invoked without input and there is no checkpoint to resume."""


class SerializationError(GraphError, TypeError):
    """A value cannot be encoded as checkpoint JSON (the message names its type)."""


class CheckpointDecodeError(GraphError, ValueError):
    """Stored checkpoint bytes cannot be decoded (unknown tag, malformed payload)."""


class GraphSignal(Exception):
    """Control flow that unwinds a node; never a failure (not a ``GraphError``)."""


class GraphInterrupt(GraphSignal):
    """Raised inside a node to pause the run; carries the interrupts.

    Args:
        interrupts: The :class:`~graphs.Interrupt` objects that paused the run.
    """

    def __init__(self, interrupts: Sequence[Interrupt] = ()) -> None:
        super().__init__(tuple(interrupts))
        self.interrupts: tuple[Interrupt, ...] = tuple(interrupts)


class ParentCommand(GraphSignal):
    """Internal: a subgraph node returned ``Command(graph=Command.PARENT)``."""

    def __init__(self, command: Command[Any]) -> None:
        super().__init__(command)
        self.command = command


def describe(exc: BaseException) -> dict[str, Any]:
    """Return a JSON-serialisable description of an exception."""
    return {"type": type(exc).__name__, "message": str(exc)}


def error_row(exc: BaseException) -> dict[str, Any]:
    """The ``__error__`` write of a failed task: :func:`describe` and the repr
    that ``StateTask.error`` shows, as LangGraph shows it."""
    return {**describe(exc), "repr": repr(exc)}


def shown_error(row: Any) -> Any:
    """``StateTask.error`` of a stored ``__error__`` write (older rows have no
    ``repr``: it is rebuilt from the type and message)."""
    if not isinstance(row, dict):
        return row
    shown = row.get("repr")
    if shown is None:
        shown = f"{row.get('type')}({row.get('message', '')!r})"
    return shown
