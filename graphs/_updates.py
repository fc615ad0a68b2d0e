"""Writing state from outside a run: ``update_state`` and ``bulk_update_state``.

Each superstep of updates becomes one checkpoint, as if the named nodes had run:
their writes are applied together (in the order given) and the nodes their edges
and conditional edges lead to are next. Special ``as_node`` values, as in
LangGraph: ``"__input__"`` (an input checkpoint: the update is the next run's
input), ``"__copy__"`` (a fork of the checkpoint, optionally followed by
updates) and ``END`` with no values (the pending tasks are dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from graphs._context import _NO_RESUME
from graphs._loop import Run
from graphs._resume import restore_tasks
from graphs._start import commit_unchanged, fork
from graphs._task import Task, by_path
from graphs._work import _branches as branches_of
from graphs._work import _output as output_of
from graphs.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from graphs.errors import InvalidUpdateError
from graphs.types import END, START, StateUpdate

if TYPE_CHECKING:
    from graphs.compiled import CompiledGraph, NodeRuntime

__all__ = ["COPY", "INPUT", "bulk_update"]

COPY = "__copy__"
"""``as_node`` that copies the checkpoint as a fork."""
INPUT = "__input__"
"""``as_node`` that makes the update the input of the next run."""


def bulk_update(
    graph: CompiledGraph,
    saver: BaseCheckpointSaver,
    config: dict[str, Any],
    supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]],
) -> dict[str, Any]:
    """Apply ``supersteps`` of updates, one checkpoint each; return the config
    of the last one.

    Raises:
        ValueError: No supersteps, or a superstep without updates.
        InvalidUpdateError: An unknown or ambiguous ``as_node``, or updates the
            state cannot accept.
    """
    if not supersteps:
        raise ValueError("No supersteps provided")
    if any(len(updates) == 0 for updates in supersteps):
        raise ValueError("No updates provided")
    current = config
    for updates in supersteps:
        current = _superstep(graph, saver, current, [_update(u) for u in updates])
    return current


def _update(item: StateUpdate | tuple[Any, ...]) -> StateUpdate:
    if isinstance(item, StateUpdate):
        return item
    if not isinstance(item, Sequence) or isinstance(item, (str, dict)):
        raise InvalidUpdateError(f"Invalid update item: {item!r}")
    return StateUpdate(*item)


def _superstep(
    graph: CompiledGraph,
    saver: BaseCheckpointSaver,
    config: dict[str, Any],
    updates: list[StateUpdate],
) -> dict[str, Any]:
    saved = saver.get_tuple(config)
    run = Run(graph, None, config)
    if saved is not None:
        run._load(saved)
    else:
        run.values = graph.initial_values()
    first = updates[0]
    special = {
        END: "Cannot apply multiple updates when clearing state",
        INPUT: "Cannot apply multiple updates when updating as input",
        COPY: "Cannot copy checkpoint with multiple updates",
    }.get(first.as_node or "")
    if special is not None and (first.as_node != END or first.values is None):
        if len(updates) > 1:
            raise InvalidUpdateError(special)
        if first.as_node == INPUT:
            return _as_input(run, saver, saved, first.values)
        if first.as_node == COPY:
            return _copy(graph, saver, run, saved, first.values)
    if len(updates) == 1:
        names = [first.as_node or _default_as_node(graph, saved)]
        tasks = [_task(run, names[0], first.values, 0, False)]
        if names[0] == END and first.values is None and saved is not None:
            tasks[0].writes = _finished_writes(run, saved)
    else:
        names, tasks = [], []
        for i, update in enumerate(updates):
            if update.as_node is None:
                raise InvalidUpdateError(
                    "as_node is required when applying multiple updates"
                )
            # as pushed tasks, the updates apply in the order given
            tasks.append(_task(run, update.as_node, update.values, i, True))
            names.append(update.as_node)
    run._advance(tasks)
    run._last = names  # the default as_node of the next update_state
    return _put(run, saver, "update")


def _task(run: Run, name: str, values: Any, index: int, ordered: bool) -> Task:
    """A task standing for ``name`` that returned ``values``."""
    graph = run.graph
    node: NodeRuntime
    if name == START:
        node = graph.start_node
    elif name == END:
        node = graph.start_goto  # leads nowhere: the thread ends here
    elif name in graph.nodes_rt:
        node = graph.nodes_rt[name]
    else:
        raise InvalidUpdateError(f"Node {name} does not exist")
    task = Task(run, node, index, ordered, None)
    output_of(task, values)
    if node.branches:
        branches_of(task)
    return task


def _finished_writes(run: Run, saved: CheckpointTuple) -> list[tuple[str, Any]]:
    """Writes of the tasks that finished in the loaded superstep (a sibling
    failed or paused): kept when the pending tasks are dropped."""
    tasks = restore_tasks(run, saved, _NO_RESUME)
    done = sorted((t for t in tasks if t.restored and not t.hidden), key=by_path)
    return [w for t in done for w in t.writes]


def _as_input(
    run: Run, saver: BaseCheckpointSaver, saved: CheckpointTuple | None, values: Any
) -> dict[str, Any]:
    graph = run.graph
    writes, _, _ = graph.input_writes(values)
    if not writes:
        raise InvalidUpdateError(f"Received no input writes for {values!r}")
    start = Task(run, graph.start_node, 0, False, None)
    start.writes = writes
    start.restored = True
    run.step = run.step + 1 if saved is not None else -1
    for _kind, payload in commit_unchanged(run, "input", [start], []):
        saver.put(*payload)
    return run.parent_config or {}


def _copy(
    graph: CompiledGraph,
    saver: BaseCheckpointSaver,
    run: Run,
    saved: CheckpointTuple | None,
    values: Any,
) -> dict[str, Any]:
    """A fork of the checkpoint; a list of ``(values, as_node)`` in ``values``
    is then applied to the copy as one superstep."""
    if saved is None:
        raise InvalidUpdateError("Cannot copy a non-existent checkpoint")
    for _kind, payload in fork(run, saved):
        saver.put(*payload)
    copied = run.parent_config or {}
    if isinstance(values, list) and values:
        return _superstep(graph, saver, copied, [_update(v) for v in values])
    return copied


def _put(run: Run, saver: BaseCheckpointSaver, source: str) -> dict[str, Any]:
    for _kind, payload in run._commit(source):
        saver.put(*payload)
    return run.parent_config or {}


def _default_as_node(graph: CompiledGraph, saved: CheckpointTuple | None) -> str:
    # LangGraph's rule: the node that wrote the checkpoint (``__start__`` for the
    # input's superstep, also in a graph of one node)
    last = (saved.checkpoint.get("last") or []) if saved else []
    names = list(dict.fromkeys(last))
    if len(names) == 1:
        return str(names[0])
    if not saved:
        return START
    raise InvalidUpdateError("Ambiguous update, specify as_node")
