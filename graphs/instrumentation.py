"""An optional listener told when supersteps and node executions start and end.

The engine measures nothing itself: a host installs one listener per process
with :func:`set_listener` (Oris' runtime times supersteps and nodes for its
metrics and, while tracing, turns the calls into OpenTelemetry spans; several
listeners are one with :class:`Listeners`). Without a listener the cost is one
attribute read per superstep. A listener whose ``superstep_start`` returns
``None`` does not observe that superstep: it is told neither of its nodes nor of
its end, so a listener with nothing to do there (a sampled-out trace) costs one
call per superstep.

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
    "Handoff",
    "Listener",
    "ListenerSlot",
    "Listeners",
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
        """A superstep begins; returns its handle (``None``: not observed; a
        :class:`Handoff`: observed by another listener)."""
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


class Handoff(tuple[Listener, Any]):
    """What ``superstep_start`` returns to hand the superstep to another
    listener, ``Handoff((listener, handle))``: the engine tells ``listener`` of
    its nodes and its end, with ``handle``, as if ``listener`` had returned
    ``handle`` itself. :class:`Listeners` returns one for a superstep only one
    of them observes, so that superstep costs what that listener alone costs
    (a tuple: made in C, once per superstep)."""

    __slots__ = ()


class Listeners:
    """Several listeners as one, told in order (a host that both times and
    traces the engine installs both); each sees only its own handles, and only
    the supersteps it observes. Nested ``Listeners`` are flattened."""

    __slots__ = ("listeners",)

    listeners: tuple[Listener, ...]

    def __init__(self, *listeners: Listener) -> None:
        flat: list[Listener] = []
        for listener in listeners:
            inner = listener.listeners if isinstance(listener, Listeners) else ()
            flat.extend(inner or (listener,))
        self.listeners = tuple(flat)

    def superstep_start(self, start: SuperstepStart) -> Any:
        handles = []
        observer: Handoff | None = None  # the only one observing it, so far
        observed = 0
        for listener in self.listeners:  # a loop, not a comprehension's frame
            handle = listener.superstep_start(start)
            handles.append(handle)
            if handle is not None:
                observed += 1
                observer = Handoff((listener, handle))
        if observed == 1:  # the engine tells that listener directly
            return observer
        return handles if observed else None

    def superstep_end(
        self, handle: Any, *, error: BaseException | None, interrupted: bool
    ) -> None:
        for listener, each in zip(self.listeners, handle, strict=True):
            if each is not None:
                listener.superstep_end(each, error=error, interrupted=interrupted)

    def node_start(self, start: NodeStart) -> Any:
        return [
            None if parent is None else listener.node_start(_with_parent(start, parent))
            for listener, parent in zip(self.listeners, start.parent, strict=True)
        ]

    def node_end(
        self, handle: Any, *, error: BaseException | None, interrupted: bool
    ) -> None:
        for listener, each in zip(self.listeners, handle, strict=True):
            if each is not None:
                listener.node_end(each, error=error, interrupted=interrupted)


def _with_parent(start: NodeStart, parent: Any) -> NodeStart:
    # what dataclasses.replace does, without its introspection (once per node)
    return node_start_of(
        start.graph, start.node, start.step, start.task_id, start.attempt, parent
    )


# A frozen dataclass's __init__ sets each field through object.__setattr__ (its
# own __setattr__ refuses); the engine makes a SuperstepStart per superstep and
# a NodeStart per node execution, where setting the slots directly costs half.
_new = object.__new__
_s_graph, _s_thread, _s_namespace, _s_step, _s_nodes = (
    SuperstepStart.__dict__[f].__set__
    for f in ("graph", "thread_id", "namespace", "step", "nodes")
)
_n_graph, _n_node, _n_step, _n_task, _n_attempt, _n_parent = (
    NodeStart.__dict__[f].__set__
    for f in ("graph", "node", "step", "task_id", "attempt", "parent")
)


def superstep_start_of(
    graph: str, thread_id: str, namespace: str, step: int, nodes: tuple[str, ...]
) -> SuperstepStart:
    """``SuperstepStart(graph=graph, ...)``, as the engine makes it."""
    start = _new(SuperstepStart)
    _s_graph(start, graph)
    _s_thread(start, thread_id)
    _s_namespace(start, namespace)
    _s_step(start, step)
    _s_nodes(start, nodes)
    return start


def node_start_of(
    graph: str, node: str, step: int, task_id: str, attempt: int, parent: Any
) -> NodeStart:
    """``NodeStart(graph=graph, ...)``, as the engine makes it."""
    start = _new(NodeStart)
    _n_graph(start, graph)
    _n_node(start, node)
    _n_step(start, step)
    _n_task(start, task_id)
    _n_attempt(start, attempt)
    _n_parent(start, parent)
    return start


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
