"""An optional listener told when supersteps and node executions start and end.

The engine traces nothing itself: a host installs one listener per process with
:func:`set_listener` (Oris' runtime turns the calls into OpenTelemetry spans).
Without a listener the cost is one attribute read per superstep and per node.

A superstep's ``superstep_start`` and ``superstep_end`` run in the thread that
drives the run (for a subgraph: the thread running its parent's node); a node's
``node_start`` and ``node_end`` run in the thread that executes the node, around
the node's call, so what the listener makes current there (a span) is current for
whatever the node calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "Listener",
    "ListenerSlot",
    "NodeStart",
    "SuperstepStart",
    "get_listener",
    "set_listener",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SuperstepStart:
    """A superstep about to run.

    Args:
        graph: The compiled graph's name.
        thread_id: The run's thread id (``""`` without a checkpointer).
        namespace: The checkpoint namespace (``""`` for the root graph).
        step: The superstep's number (the ``step`` of the checkpoint it writes).
        nodes: Names of the nodes the superstep runs.
    """

    graph: str
    thread_id: str
    namespace: str
    step: int
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStart:
    """One execution of a node (each retry of a ``RetryPolicy`` is another).

    Args:
        graph: The compiled graph's name.
        node: The node's name.
        step: The superstep the node runs in.
        task_id: The task's deterministic id.
        attempt: 1 for the first execution, 2 for its first retry, ...
        parent: What ``superstep_start`` returned for the node's superstep.
    """

    graph: str
    node: str
    step: int
    task_id: str
    attempt: int
    parent: Any


class Listener(Protocol):
    """What the engine calls; each ``*_start`` returns a handle for its ``*_end``."""

    def superstep_start(self, start: SuperstepStart) -> Any:
        """A superstep begins; returns its handle."""
        ...

    def superstep_end(
        self, handle: Any, *, error: BaseException | None, interrupted: bool
    ) -> None:
        """The superstep ended: committed, paused (``interrupted``) or failed."""
        ...

    def node_start(self, start: NodeStart) -> Any:
        """A node execution begins, in the thread that runs it; returns its handle."""
        ...

    def node_end(
        self, handle: Any, *, error: BaseException | None, interrupted: bool
    ) -> None:
        """The node returned, raised ``error`` or paused at an ``interrupt()``."""
        ...


L = TypeVar("L")


class ListenerSlot(Generic[L]):
    """The one process-wide listener of a kind (``None``: nobody listens)."""

    __slots__ = ("listener",)

    def __init__(self) -> None:
        self.listener: L | None = None

    def set(self, listener: L | None) -> L | None:
        """Installs ``listener`` (``None`` removes it); returns the one replaced."""
        previous, self.listener = self.listener, listener
        return previous


_slot: ListenerSlot[Listener] = ListenerSlot()


def set_listener(listener: Listener | None) -> Listener | None:
    """Installs ``listener`` for every run in this process (``None`` removes it).

    Returns:
        The listener it replaces.
    """
    return _slot.set(listener)


def get_listener() -> Listener | None:
    """The installed listener, if any."""
    return _slot.listener
