"""State API of compiled graphs: get_state, history, update_state (forks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from graphs._task import (
    DONE,
    GOTO,
    NULL_TASK,
    PULL,
    PUSH,
    SEND,
    path_order,
    task_id,
)
from graphs._updates import bulk_update
from graphs.channels import ROOT, apply_writes
from graphs.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, mapped
from graphs.checkpoint.format import BOOKKEEPING, ERROR, INTERRUPT
from graphs.errors import shown_error
from graphs.types import StateSnapshot, StateTask, StateUpdate

if TYPE_CHECKING:
    from graphs.compiled import CompiledGraph

__all__ = ["StateAPI"]


class StateAPI:
    """Mixin of :class:`~graphs.compiled.CompiledGraph` reading and forking threads."""

    def _saver(self: CompiledGraph) -> BaseCheckpointSaver:  # type: ignore[misc]
        saver = self.checkpointer
        if not isinstance(saver, BaseCheckpointSaver):
            raise ValueError("No checkpointer set: compile(checkpointer=...) first")
        return saver

    def _snapshot(  # type: ignore[misc]
        self: CompiledGraph, saved: CheckpointTuple, latest: bool = False
    ) -> StateSnapshot:
        """The snapshot of ``saved``; for the thread's latest state (``latest``),
        as in LangGraph, the writes of tasks that finished in a superstep that did
        not (a sibling failed or paused) are applied and those tasks are not next."""
        cp = saved.checkpoint
        conf = saved.config["configurable"]
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for tid, channel, value in saved.pending_writes or ():
            by_task.setdefault(tid, []).append((channel, value))
        tasks = []
        nxt = []
        interrupts: list[Any] = []
        finished: list[tuple[tuple[int, int, str], list[tuple[str, Any]]]] = []
        for i, spec in enumerate(cp.get("next") or ()):
            tid = task_id(cp["id"], conf.get("checkpoint_ns", ""), i, spec["name"])
            rows = by_task.get(tid, [])
            regular = [(c, v) for c, v in rows if c not in BOOKKEEPING]
            intr = tuple(i for c, v in rows if c == INTERRUPT for i in v)
            error = next((shown_error(v) for c, v in rows if c == ERROR), None)
            result = None
            if regular:
                writes = [(c, v) for c, v in regular if c not in (GOTO, SEND, DONE)]
                result = dict(writes)
                finished.append((path_order("arg" in spec, i, spec["name"]), writes))
            if not (regular and latest):
                nxt.append(spec["name"])
            interrupts.extend(intr)
            path = (PUSH, i) if "arg" in spec else (PULL, spec["name"])
            tasks.append(StateTask(tid, spec["name"], path, error, intr, None, result))
        # reduced channels never written show their empty value, as in LangGraph
        values = {**self.initial_values(), **(cp.get("channel_values") or {})}
        if NULL_TASK in by_task:  # a resume's update, part of this checkpoint
            apply_writes(values, self.channels, by_task[NULL_TASK])
        if latest and finished:
            finished.sort(key=lambda f: f[0])  # by task path, as a superstep does
            apply_writes(values, self.channels, [w for _, ws in finished for w in ws])
        keys = self.output_keys
        if keys is not None:
            values = {k: values[k] for k in keys if k in values}
        parents = (saved.metadata or {}).get("parents") or {}
        parent = saved.parent_config
        return StateSnapshot(
            values=values.get(ROOT) if self.root else values,
            next=tuple(nxt),
            config=mapped(saved.config, parents),
            metadata=saved.metadata,
            created_at=cp.get("ts"),
            parent_config=None if parent is None else mapped(parent, parents),
            tasks=tuple(tasks),
            interrupts=tuple(interrupts),
        )

    def get_state(  # type: ignore[misc]
        self: CompiledGraph, config: dict[str, Any], *, subgraphs: bool = False
    ) -> StateSnapshot:
        """The thread's state at ``checkpoint_id`` (or the latest checkpoint).

        Args:
            config: Thread config, optionally with ``checkpoint_id``.
            subgraphs: Fill ``tasks[i].state`` of subgraph nodes with their
                snapshots (recursively); otherwise it is the config addressing
                the subgraph's checkpoints.

        Returns:
            The snapshot; empty values and no ``next`` for an unknown thread.
        """
        config = self.merged_config(config) or {}
        graph = self._addressed(config)
        return graph._state_at(self._saver(), config, subgraphs)

    def _addressed(self: CompiledGraph, config: dict[str, Any]) -> CompiledGraph:  # type: ignore[misc]
        """The graph whose checkpoints ``config`` addresses: this one, or (its
        ``checkpoint_ns`` naming subgraph nodes, as a subgraph snapshot's config
        does) the subgraph, however deep.

        Raises:
            ValueError: If a namespace part names no subgraph node.
        """
        ns = (config.get("configurable") or {}).get("checkpoint_ns") or ""
        graph = self
        for part in ns.split("|") if ns else ():
            name = part.split(":")[0]
            node = graph.nodes_rt.get(name)
            if node is None or node.subgraph is None:
                raise ValueError(f"Subgraph {name} not found")
            graph = node.subgraph
        return graph

    def _state_at(  # type: ignore[misc]
        self: CompiledGraph,
        saver: BaseCheckpointSaver,
        config: dict[str, Any],
        subgraphs: bool,
    ) -> StateSnapshot:
        saved = saver.get_tuple(config)
        if saved is None:
            return StateSnapshot({}, (), config, None, None, None, (), ())
        latest = not (config.get("configurable") or {}).get("checkpoint_id")
        snapshot = self._snapshot(saved, latest)
        return self._with_subgraphs(snapshot, saver, subgraphs)

    def _with_subgraphs(  # type: ignore[misc]
        self: CompiledGraph,
        snapshot: StateSnapshot,
        saver: BaseCheckpointSaver,
        recurse: bool,
    ) -> StateSnapshot:
        """LangGraph's ``tasks[i].state`` for subgraph nodes: the subgraph's
        snapshot (``subgraphs=True``), else the config that addresses it."""
        conf = snapshot.config["configurable"]
        tasks = []
        for t in snapshot.tasks:
            node = self.nodes_rt.get(t.name)
            sub = node.subgraph if node is not None else None
            if sub is None:
                tasks.append(t)
                continue
            ns = sub.child_ns(conf.get("checkpoint_ns", ""), t.name, t.id)
            cfg = {
                "configurable": {"thread_id": conf["thread_id"], "checkpoint_ns": ns}
            }
            state = sub._state_at(saver, cfg, True) if recurse else cfg
            tasks.append(t._replace(state=state))
        return snapshot._replace(tasks=tuple(tasks))

    def _history(  # type: ignore[misc]
        self: CompiledGraph,
        config: dict[str, Any],
        filter: dict[str, Any] | None,
        before: dict[str, Any] | None,
        limit: int | None,
    ) -> Iterator[StateSnapshot]:
        saver = self._saver()
        graph = self._addressed(config)
        conf = dict(config.get("configurable") or {})
        conf.setdefault("checkpoint_ns", "")
        conf.pop("checkpoint_map", None)
        # like LangGraph's, a config naming a checkpoint lists that one alone
        for saved in saver.list(
            {"configurable": conf}, filter=filter, before=before, limit=limit
        ):
            yield graph._snapshot(saved)

    def get_state_history(  # type: ignore[misc]
        self: CompiledGraph,
        config: dict[str, Any],
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Snapshots of the thread, newest first.

        Args:
            config: Thread config.
            filter: Metadata that must match (e.g. ``{"source": "loop"}``).
            before: Only checkpoints older than this config's checkpoint.
            limit: Maximum number of snapshots.
        """
        config = self.merged_config(config) or {}
        yield from self._history(config, filter, before, limit)

    def update_state(  # type: ignore[misc]
        self: CompiledGraph,
        config: dict[str, Any],
        values: dict[str, Any] | Any | None,
        as_node: str | None = None,
    ) -> dict[str, Any]:
        """Write ``values`` as if ``as_node`` returned them; creates a new checkpoint.

        Updating an older checkpoint forks the thread from there. The next tasks are
        those triggered by ``as_node`` (its edges and conditional edges).

        Args:
            config: Thread config, optionally with ``checkpoint_id``.
            values: Update dict (or ``Command``), applied with the reducers.
            as_node: The node the update is attributed to; ``"__copy__"`` copies
                the checkpoint as a fork (``values``: ``None``, or a list of
                ``(values, as_node)`` applied to the copy), ``"__input__"``
                makes ``values`` the input of the next run, ``END`` with
                ``values=None`` drops the pending tasks.

        Returns:
            The config of the new checkpoint.

        Raises:
            InvalidUpdateError: If ``as_node`` is ambiguous or unknown.
        """
        return self.bulk_update_state(config, [[StateUpdate(values, as_node)]])

    def bulk_update_state(  # type: ignore[misc]
        self: CompiledGraph,
        config: dict[str, Any],
        supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]],
    ) -> dict[str, Any]:
        """Apply updates superstep by superstep, one checkpoint per superstep.

        Args:
            config: Thread config, optionally with ``checkpoint_id``.
            supersteps: Lists of :class:`~graphs.StateUpdate` (or
                ``(values, as_node)`` tuples); the updates of one superstep are
                applied together, in order (each needs its ``as_node`` when
                there are several).

        Returns:
            The config of the last checkpoint written.

        Raises:
            ValueError: If there are no supersteps or a superstep is empty.
            InvalidUpdateError: If an update is invalid.
        """
        saver = self._saver()
        config = self.merged_config(config) or {}
        return bulk_update(self, saver, config, supersteps)

    async def abulk_update_state(
        self,
        config: dict[str, Any],
        supersteps: Sequence[Sequence[StateUpdate | tuple[Any, ...]]],
    ) -> dict[str, Any]:
        """Async :meth:`bulk_update_state`."""
        return cast("CompiledGraph", self).bulk_update_state(config, supersteps)

    async def aget_state(
        self, config: dict[str, Any], *, subgraphs: bool = False
    ) -> StateSnapshot:
        """Async :meth:`get_state`."""
        return cast("CompiledGraph", self).get_state(config, subgraphs=subgraphs)

    async def aget_state_history(
        self, config: dict[str, Any], **kw: Any
    ) -> AsyncIterator[StateSnapshot]:
        """Async :meth:`get_state_history`."""
        for snap in cast("CompiledGraph", self).get_state_history(config, **kw):
            yield snap

    async def aupdate_state(
        self, config: dict[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Async :meth:`update_state`."""
        return cast("CompiledGraph", self).update_state(config, values, as_node)
