"""A task: one node execution in a superstep (also the node's context)."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from graphs._context import _NO_RESUME
from graphs.checkpoint.format import new_checkpoint_id
from graphs.types import START, Interrupt, Send

if TYPE_CHECKING:
    from graphs._loop import Run
    from graphs.compiled import NodeRuntime

__all__ = [
    "DONE",
    "GOTO",
    "NULL_TASK",
    "PULL",
    "PUSH",
    "SEND",
    "Task",
    "by_path",
    "path_order",
    "task_id",
]

GOTO, SEND, DONE = "__goto__", "__send__", "__done__"
NULL_TASK = "00000000-0000-0000-0000-000000000000"
"""Task id of writes that belong to no task (a resume's ``Command.update``)."""
PULL, PUSH = "__pregel_pull", "__pregel_push"  # LangGraph's langgraph_path tags


def path_order(push: bool, index: int, name: str) -> tuple[int, int, str]:
    """LangGraph's order of a superstep's writes, by task path: pulled nodes by
    name, then pushed (``Send``) tasks by position."""
    return (1, index, "") if push else (0, 0, name)


def by_path(task: Task) -> tuple[int, int, str]:
    """:func:`path_order` of a task (a sort key); an error handler's task sorts
    where the task it replaces would."""
    failed = task.failed
    if failed is not None:
        task = failed
    return path_order(task.push, task.index, task.name)


def task_id(checkpoint_id: str, ns: str, index: int, name: str) -> str:
    """Deterministic task id: checkpoint, namespace, position and node name."""
    key = f"{checkpoint_id}|{ns}|{index}|{name}"
    h = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Task:
    """One node execution in a superstep (also the node's context)."""

    __slots__ = (
        "_id",
        "arg",
        "cached",
        "custom",
        "effect_index",
        "error",
        "failed",
        "gotos",
        "handler",
        "index",
        "interrupt_index",
        "interrupts",
        "name",
        "node",
        "null_resume",
        "observer",
        "progress",
        "push",
        "restored",
        "resume_map",
        "resume_values",
        "run",
        "sends",
        "update",
        "view",
        "writes",
    )

    def __init__(
        self, run: Run, node: NodeRuntime, index: int, push: bool, arg: Any
    ) -> None:
        self.run = run
        self.node = node
        self.name = node.name
        self.index = index
        self.push = push
        self.arg = arg
        self._id: str | None = None
        self.reset()
        self.interrupts: tuple[Interrupt, ...] | None = None  # None: not paused
        self.resume_values: list[Any] = []
        self.resume_map: dict[str, Any] | None = None
        self.null_resume: Any = _NO_RESUME
        self.restored = False
        self.cached = False  # restored from the node cache (graphs._caching)
        # the instrumentation listener and its superstep's handle, when one listens
        self.observer: tuple[Any, Any] | None = None
        self.failed: Task | None = None  # the task an error handler's task handles
        self.handler: Task | None = None  # the error handler's task, once run
        self.progress = 0.0  # last progress (monotonic), for an idle timeout

    def reset(self) -> None:
        """Forget the outputs of a previous attempt."""
        self.writes: list[tuple[str, Any]] = []
        self.gotos: list[str] = []
        self.sends: list[Send] = []
        self.update: Any = None
        self.error: BaseException | None = None
        self.view: dict[str, Any] | None = None
        self.custom: list[Any] | None = None
        self.interrupt_index = 0
        self.effect_index = 0  # effects are matched to the ledger by order

    @property
    def hidden(self) -> bool:
        """The input task (``__start__``): not streamed, never a breakpoint."""
        return self.name == START

    @property
    def id(self) -> str:
        """Deterministic id: checkpoint, namespace, position and node name."""
        if self._id is None:
            run = self.run
            if not run.checkpoint_id:
                run.checkpoint_id = new_checkpoint_id()
            self._id = task_id(run.checkpoint_id, run.ns, self.index, self.name)
        return self._id

    def take_resume(self, interrupt_id: str) -> Any:
        """Return the resume value for ``interrupt_id`` (consuming it), if any."""
        if self.resume_map and interrupt_id in self.resume_map:
            return self.resume_map.pop(interrupt_id)
        if self.null_resume is not _NO_RESUME:
            value, self.null_resume = self.null_resume, _NO_RESUME
            return value
        return self.run.take_null_resume()

    def write_custom(self, value: Any) -> None:
        """Emit ``value`` on the ``custom`` stream mode."""
        run = self.run
        self.touch()
        if "custom" in run.modes:
            run.out.put((run.stream_ns, "custom", value))

    def touch(self) -> None:
        """The node streamed a chunk: progress under ``refresh_on="auto"``."""
        policy = self.node.timeout
        if policy is not None and policy.refresh_on == "auto":
            self.progress = time.monotonic()

    def config(self) -> dict[str, Any]:
        """The config passed to nodes that accept one (while the task runs)."""
        run = self.run
        return {
            **run.config,
            "configurable": {
                **(run.config.get("configurable") or {}),
                "checkpoint_ns": run.ns,
                "checkpoint_id": run.checkpoint_id,
            },
            # run.step is the last finished superstep until this one completes
            "metadata": self.metadata(run.step + 1),
        }

    def metadata(self, step: int) -> dict[str, Any]:
        """LangGraph's task metadata, for ``config["metadata"]`` and stream chunks.

        Args:
            step: The task's superstep (the ``step`` of the checkpoint it writes).
        """
        run = self.run
        config = run.config
        meta = dict(config.get("metadata") or {})
        thread_id = (config.get("configurable") or {}).get("thread_id")
        if thread_id is not None:
            meta.setdefault("thread_id", thread_id)
        own_ns = f"{self.name}:{self.id}"
        meta["langgraph_step"] = step
        meta["langgraph_node"] = self.name
        meta["langgraph_triggers"] = self.triggers()
        meta["langgraph_path"] = self.path()
        meta["langgraph_checkpoint_ns"] = f"{run.ns}|{own_ns}" if run.ns else own_ns
        return meta

    def path(self) -> tuple[Any, ...]:
        """LangGraph's task path (an error handler's extends the failed task's)."""
        failed = self.failed
        if failed is not None:
            return (*failed.path(), "node_error_handler", False)
        return (PUSH, self.index) if self.push else (PULL, self.name)

    def triggers(self) -> tuple[str, ...]:
        """LangGraph's names of the channels that trigger this task."""
        if self.push or self.failed is not None:
            return (PUSH,)
        graph = self.run.graph
        if not graph.joins:
            return (f"branch:to:{self.name}",)
        joins = [
            key
            for key, (_, target) in zip(graph.join_keys, graph.joins, strict=True)
            if target == self.name
        ]
        return (f"branch:to:{self.name}", *joins)

    def stored_writes(self) -> list[tuple[str, Any]]:
        """Writes persisted for a task that finished while a sibling did not."""
        rows = list(self.writes)
        rows += [(GOTO, g) for g in self.gotos]
        rows += [(SEND, s) for s in self.sends]
        return rows or [(DONE, None)]
