"""Restoring a checkpoint's tasks on resume, and per-task stream events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphs._commit import interrupt_dict
from graphs._context import _NO_RESUME
from graphs._handlers import restore_handled
from graphs._task import DONE, GOTO, NULL_TASK, SEND, Task
from graphs.checkpoint.format import BOOKKEEPING, INTERRUPT, RESUME, now_iso
from graphs.types import START

if TYPE_CHECKING:
    from graphs._loop import Run

__all__ = [
    "debug_task",
    "emit_update",
    "message_ids",
    "restore_tasks",
    "restore_writes",
    "route_resume",
]


def restore_tasks(self: Run, saved: Any, resume: Any) -> list[Task]:
    """Tasks of a saved checkpoint, with finished ones restored from pending writes."""
    graph = self.graph
    tasks = []
    for i, spec in enumerate(saved.checkpoint.get("next") or ()):
        if spec["name"] == START:  # an input checkpoint: the input not yet applied
            start = Task(self, graph.start_node, i, False, None)
            start.writes = [(c, v) for c, v in spec.get("input") or ()]
            start.update = dict(start.writes)
            start.restored = True
            tasks.append(start)
            continue
        node = graph.node_runtime(spec["name"])
        tasks.append(Task(self, node, i, "arg" in spec, spec.get("arg")))
    by_id = {t.id: t for t in tasks}
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in saved.pending_writes or ():
        grouped.setdefault(task_id, []).append((channel, value))
    null = grouped.pop(NULL_TASK, None)
    if null:
        self.apply_null_writes(null)
    if graph.error_handlers and grouped:
        restore_handled(tasks, grouped)
        by_id = {t.id: t for t in tasks}
    pending: dict[str, Task] = {}
    for task_id, rows in grouped.items():
        task = by_id.get(task_id)
        if task is None:
            continue
        regular = [(c, v) for c, v in rows if c not in BOOKKEEPING]
        if regular:
            restore_writes(task, regular)
            continue
        for channel, value in rows:
            if channel == RESUME:
                task.resume_values = list(value)
            elif channel == INTERRUPT:
                task.interrupts = tuple(value)
                for intr in value:
                    pending[intr.id] = task
    if resume is not _NO_RESUME:
        route_resume(self, resume, pending)
    return tasks


def restore_writes(task: Task, rows: list[tuple[str, Any]]) -> None:
    """Restore a finished task from its stored writes (``Task.stored_writes``)."""
    task.restored = True
    task.writes = [(c, v) for c, v in rows if c not in (GOTO, SEND, DONE)]
    task.gotos = [v for c, v in rows if c == GOTO]
    task.sends = [v for c, v in rows if c == SEND]


def route_resume(self: Run, resume: Any, pending: dict[str, Task]) -> None:
    """Give resume values to paused tasks: by interrupt id, or the only one."""
    if isinstance(resume, dict) and resume and all(k in pending for k in resume):
        for iid, value in resume.items():
            task = pending[iid]
            task.resume_map = {**(task.resume_map or {}), iid: value}
        return
    owners = {id(t): t for t in pending.values()}
    if len(owners) > 1:
        raise RuntimeError(  # LangGraph's error
            "When there are multiple pending interrupts, you must specify the "
            "interrupt id when resuming: Command(resume={interrupt_id: value})"
        )
    if owners:
        next(iter(owners.values())).null_resume = resume
    else:
        self.null_resume = resume


def emit_update(self: Run, task: Task) -> None:
    """Queue the ``messages`` and ``updates`` chunks of a finished task."""
    update = task.update
    if "messages" in self.modes and update:
        # Like LangGraph, a message already on the stream (streamed as chunks by
        # the node, sent by an earlier node, or in the state the run started
        # from) is not sent again.
        seen = self.streamed
        meta: dict[str, Any] | None = None
        parts = update if isinstance(update, list) else (update,)
        values = [v for part in parts if isinstance(part, dict) for v in part.values()]
        for value in values:
            for item in value if isinstance(value, list) else (value,):
                if not (hasattr(item, "content") and hasattr(item, "type")):
                    continue
                message_id = getattr(item, "id", None)
                if message_id is not None:
                    if message_id in seen:
                        continue
                    seen.add(message_id)
                if meta is None:
                    meta = task.metadata(self.step)
                self.emit("messages", (item, meta))
    # after its messages: LangGraph sends those as the node ends
    if "updates" in self.modes:
        if task.restored:
            # finished before the pause or failure: not run again, marked cached
            chunk = {task.name: dict(task.writes), "__metadata__": {"cached": True}}
            self.emit("updates", chunk)
        else:
            self.emit("updates", {task.name: update})


def message_ids(values: dict[str, Any]) -> set[Any]:
    """Ids of the messages held by the state's channels."""
    ids: set[Any] = set()
    for value in values.values():
        for item in value if isinstance(value, list) else (value,):
            if hasattr(item, "content") and hasattr(item, "type"):
                message_id = getattr(item, "id", None)
                if message_id is not None:
                    ids.add(message_id)
    return ids


_OWN_METADATA = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)


def debug_task(
    self: Run, kind: str, task: Task, step: int | None = None
) -> dict[str, Any]:
    """The ``debug`` stream event of a task (``task`` or ``task_result``);
    ``step`` defaults to the task's superstep."""
    payload: dict[str, Any] = {"id": task.id, "name": task.name}
    if kind == "task":
        payload["input"] = task.arg if task.push else self.output()
        payload["triggers"] = task.triggers()
        # LangGraph forwards the user's metadata and tags, not its own keys
        meta = {
            k: v
            for k, v in (self.config.get("metadata") or {}).items()
            if k not in _OWN_METADATA
        }
        tags = [
            t for t in self.config.get("tags") or () if not t.startswith("seq:step")
        ]
        if tags:
            meta["tags"] = tags
        if meta:
            payload["metadata"] = meta
    else:
        paused = task.interrupts is not None
        payload.update(
            error=task.error,  # the exception itself, as LangGraph streams it
            # a task that failed or paused reports an empty result
            result={} if paused or task.error or task.update is None else task.update,
            interrupts=[interrupt_dict(i) for i in task.interrupts or ()],
        )
    if step is None:  # a task runs in the step after the last finished one
        step = self.step + 1 if kind == "task" else self.step
    return {
        "step": step,
        "timestamp": now_iso(),
        "type": kind,
        "payload": payload,
    }
