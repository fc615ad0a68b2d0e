"""Value types of the public API: Send, Command, Interrupt, RetryPolicy, snapshots.

Shapes follow LangGraph so that code ports by changing imports.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from graphs.cache.base import CachePolicy
from graphs.errors import NodeTimeoutError
from graphs.policy import InterruptPolicy

__all__ = [
    "END",
    "START",
    "CachePolicy",
    "Command",
    "Interrupt",
    "Overwrite",
    "RetryPolicy",
    "RunResult",
    "Send",
    "StateSnapshot",
    "StateTask",
    "StateUpdate",
    "TimeoutPolicy",
    "default_retry_on",
]


def node_name(name: Any) -> str:
    """A node name as the engine keys it: a ``str`` Enum member is its value
    (``str()`` of it would be ``"Color.RED"``)."""
    if isinstance(name, enum.Enum) and isinstance(name.value, str):
        return name.value
    return str(name)


START = "__start__"
"""The virtual node the graph starts from."""
END = "__end__"
"""The virtual node that ends the graph."""


class Send:
    """Schedule ``node`` in the next superstep with ``arg`` as its input (map-reduce).

    Args:
        node: Name of the node to run.
        arg: The state (or any value) passed to that node instead of the graph state.
    """

    __slots__ = ("arg", "node")

    def __init__(self, node: str, arg: Any) -> None:
        self.node = node
        self.arg = arg

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Send)
            and self.node == other.node
            and self.arg == other.arg
        )

    def __hash__(self) -> int:
        return hash(self.node)


@dataclass(frozen=True, slots=True, init=False)
class Interrupt:
    """A pause requested by ``interrupt(value)``; ``id`` is unique per interrupt.

    Args:
        value: The payload shown to whoever resumes the run.
        id: Identifier used to resume this interrupt with ``{id: value}``.
        resumable: Older LangGraph keyword, accepted and ignored (with a warning).
        ns: Older LangGraph keyword, accepted and ignored (with a warning).
        when: Older LangGraph keyword, accepted and ignored (with a warning).
        response_schema: The JSON schema of the value expected on resume
            (``interrupt(value, response_schema=...)``), or ``None``.
        policy: The approval policy declared with ``interrupt(value, policy=...)``
            (an Oris addition, not shown in the repr).
    """

    value: Any
    id: str
    response_schema: dict[str, Any] | None = None
    policy: InterruptPolicy | None = field(default=None, repr=False)

    def __init__(
        self,
        value: Any,
        id: str = "placeholder-id",
        *,
        resumable: Any = None,
        ns: Any = None,
        when: Any = None,
        response_schema: dict[str, Any] | None = None,
        policy: InterruptPolicy | None = None,
    ) -> None:
        if resumable is not None or ns is not None or when is not None:
            warnings.warn(
                "Interrupt(resumable=, ns=, when=) are no longer used; ignored",
                DeprecationWarning,
                stacklevel=2,
            )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "response_schema", response_schema)
        object.__setattr__(self, "policy", policy)


OVERWRITE: Literal["__overwrite__"] = "__overwrite__"


@dataclass(frozen=True, slots=True)
class Overwrite:
    """Write ``value`` to a reduced key as is, bypassing its reducer.

    ``{"log": Overwrite(["fresh"])}`` replaces the list instead of appending.
    Writes of the same superstep before it are discarded and writes after it
    ignored; two ``Overwrite`` of one key in one superstep raise
    :class:`~graphs.errors.InvalidUpdateError`. The JSON forms
    ``{"__overwrite__": value}`` and ``{"value": value, "type": "__overwrite__"}``
    mean the same, as in LangGraph.

    Args:
        value: The new value of the key.
    """

    value: Any
    type: Literal["__overwrite__"] = OVERWRITE


def overwritten(value: Any) -> tuple[bool, Any]:
    """``(True, new value)`` if ``value`` is an :class:`Overwrite` (or one of
    its JSON forms), else ``(False, value)``."""
    if type(value) is Overwrite:
        return True, value.value
    if type(value) is dict:
        if len(value) == 1 and OVERWRITE in value:
            return True, value[OVERWRITE]
        if value.get("type") == OVERWRITE and "value" in value:
            return True, value["value"]
    return False, value


N = TypeVar("N")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command(Generic[N]):
    """Update state and choose where to go, or resume an interrupted run.

    Args:
        graph: ``None`` for the current graph, ``Command.PARENT`` for the parent.
        update: Update applied to the state (as if the node returned it).
        resume: Value for a pending ``interrupt()``, or ``{interrupt_id: value}``.
        goto: Node name(s) or :class:`Send` objects to run next.

    ``-> Command[Literal["a", "b"]]`` on a node names where it may go (drawn as
    its edges).
    """

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Any = ()

    PARENT: ClassVar[str] = "__parent__"

    def goto_list(self) -> list[Any]:
        """Return ``goto`` as a list."""
        goto = self.goto
        if not goto:
            return []
        if isinstance(goto, (str, Send)):
            return [goto]
        return list(goto)


def default_retry_on(exc: Exception) -> bool:
    """LangGraph's default: retry everything except programming errors."""
    if isinstance(exc, (ConnectionError, NodeTimeoutError)):
        return True
    return not isinstance(
        exc,
        (
            ValueError,
            TypeError,
            ArithmeticError,
            ImportError,
            LookupError,
            NameError,
            SyntaxError,
            RuntimeError,
            ReferenceError,
            StopIteration,
            StopAsyncIteration,
            OSError,
        ),
    )


RetryOn = (
    type[BaseException] | Sequence[type[BaseException]] | Callable[[Exception], bool]
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing node is retried (LangGraph's fields).

    Args:
        initial_interval: Seconds before the first retry.
        backoff_factor: Multiplier applied to the interval after each retry.
        max_interval: Upper bound of the interval, in seconds.
        max_attempts: Total attempts, the first one included.
        jitter: Add up to 1 s of random jitter to each interval.
        retry_on: Exception class(es) to retry, or a predicate.
    """

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: RetryOn = default_retry_on

    def should_retry(self, exc: Exception) -> bool:
        """Return whether ``exc`` is retryable under this policy."""
        retry_on = self.retry_on
        if isinstance(retry_on, type):
            return isinstance(exc, retry_on)
        if isinstance(retry_on, Sequence):
            return isinstance(exc, tuple(retry_on))
        return bool(retry_on(exc))

    def interval(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = self.initial_interval * self.backoff_factor ** (attempt - 1)
        return min(self.max_interval, base)


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """How long one attempt of a node may run (LangGraph's fields).

    Args:
        run_timeout: Wall-clock cap in seconds (or a ``timedelta``), never
            refreshed.
        idle_timeout: Most seconds an attempt may go without progress.
        refresh_on: What counts as progress for ``idle_timeout``: ``"auto"``
            (chunks the node streams: ``custom`` writes and message chunks,
            and :func:`~graphs.heartbeat`), or ``"heartbeat"`` (only
            :func:`~graphs.heartbeat`).
    """

    run_timeout: float | timedelta | None = None
    idle_timeout: float | timedelta | None = None
    refresh_on: Literal["auto", "heartbeat"] = "auto"


class StateUpdate(NamedTuple):
    """One update of :meth:`~graphs.CompiledGraph.bulk_update_state`.

    Args:
        values: The update, as if ``as_node`` returned it.
        as_node: The node the update is attributed to.
        task_id: Accepted for LangGraph compatibility; unused.
    """

    values: dict[str, Any] | None
    as_node: str | None = None
    task_id: str | None = None


class StateTask(NamedTuple):
    """A task of a snapshot: what will run (or ran and paused) next."""

    id: str
    name: str
    path: tuple[Any, ...] = ()
    error: Any = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    """The state of a thread at one checkpoint (``get_state`` / history)."""

    values: Any  # a dict of the state's keys (a root state: its one value)
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: Mapping[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[StateTask, ...]
    interrupts: tuple[Interrupt, ...] = ()


RunStatus = Literal["completed", "interrupted", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """Outcome of :meth:`CompiledGraph.run`, the runtime's entry point.

    Args:
        status: ``completed``, ``interrupted`` or ``failed``.
        state: The state values at the end of the run.
        interrupts: Pending interrupts when ``status == "interrupted"``.
        trace: JSON-serialisable events (``node_started``, ``node_completed``,
            ``interrupt_reached``, ``resume_received``, ``retry``, ``error``).
        checkpoint_id: Id of the last checkpoint, or ``None`` without a saver.
        error: The exception when ``status == "failed"``.
    """

    status: RunStatus
    state: dict[str, Any]
    interrupts: list[Interrupt] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_id: str | None = None
    error: BaseException | None = None
