"""Exceptions raised by the graph engine.

Names follow LangGraph (``GraphRecursionError``, ``InvalidUpdateError``,
``GraphInterrupt``) so ported code catches the same things. Checkpoint encoding has
its own pair: :class:`SerializationError` when a value cannot be written and
:class:`CheckpointDecodeError` when stored bytes cannot be read back (a value is never
silently replaced by ``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    "NodeError",
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
    """A node attempt passed its ``run_timeout`` or ``idle_timeout``.

    An async node is cancelled at the deadline. A sync node cannot be stopped: its
    thread is abandoned and keeps running until the function returns, and its
    result is discarded. Unlike other ``TimeoutError``s it is retried by the
    default ``RetryPolicy``, as in LangGraph.

    Args:
        node: The node that timed out.
        elapsed: Seconds the attempt ran.
        kind: ``"run"`` (wall clock) or ``"idle"`` (no progress).
        idle_timeout: The node's idle timeout, if any.
        run_timeout: The node's run timeout, if any.
    """

    def __init__(
        self,
        node: str,
        elapsed: float,
        *,
        kind: str,
        idle_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> None:
        limit = {"idle": idle_timeout, "run": run_timeout}.get(kind)
        if kind not in ("idle", "run"):
            raise ValueError("kind must be 'idle' or 'run'")
        if limit is None:
            raise ValueError(f"{kind}_timeout is required when kind={kind!r}")
        self.timeout = limit
        if kind == "idle":
            message = (
                f"Node '{node}' exceeded its idle timeout of {limit:.3f}s "
                f"without making progress (elapsed: {elapsed:.3f}s)."
            )
        else:
            message = (
                f"Node '{node}' exceeded its run timeout of {limit:.3f}s "
                f"(elapsed: {elapsed:.3f}s)."
            )
        super().__init__(message)
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout

    def __reduce__(self) -> Any:
        return (
            _timeout_error,
            (self.node, self.elapsed, self.kind, self.idle_timeout, self.run_timeout),
        )


def _timeout_error(
    node: str, elapsed: float, kind: str, idle: float | None, run: float | None
) -> NodeTimeoutError:
    return NodeTimeoutError(
        node, elapsed, kind=kind, idle_timeout=idle, run_timeout=run
    )


class EmptyInputError(GraphError, ValueError):
    """The graph was invoked without input and there is no checkpoint to resume."""


class SerializationError(GraphError, TypeError):
    """A value cannot be encoded as checkpoint JSON (the message names its type)."""


class CheckpointDecodeError(GraphError, ValueError):
    """Stored checkpoint bytes cannot be decoded (unknown tag, malformed payload)."""


@dataclass(frozen=True, slots=True)
class NodeError:
    """What an error handler is told about the failure it handles.

    A handler (``add_node(..., error_handler=fn)`` or
    ``StateGraph.set_node_defaults(error_handler=fn)``) receives it through a
    parameter ``error: NodeError``.

    Args:
        node: The node that failed.
        error: The exception it raised (after its retries).
    """

    node: str
    error: BaseException


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
