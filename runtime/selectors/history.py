"""A thread's checkpoints, read one way for the API and the console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphs import serde
from runtime import registry
from runtime.checkpointer import DjangoSaver
from runtime.errors import NotFound
from runtime.models import Job
from runtime.present import present


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChange:
    """One channel that differs between two consecutive checkpoints."""

    key: str
    kind: str  # added | changed | removed
    before: Any = None
    after: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointEntry:
    """A checkpoint of a thread with the state change since the previous one."""

    checkpoint_id: str
    step: int | None
    source: str
    created_at: str | None
    next_nodes: tuple[str, ...]
    state: dict[str, Any]  # every channel, as stored (JSON)
    changes: tuple[StateChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobState:
    """The state of a thread at one checkpoint, as the graph presents it."""

    checkpoint_id: str | None
    created_at: str | None
    values: dict[str, Any]  # the graph's output channels, as JSON


def thread_config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def job_graph(*, job: Job) -> Any:
    """The job's registered graph on the Django checkpointer."""
    return graph_on_saver(job.graph)


def graph_on_saver(name: str) -> Any:
    """The registered graph ``name`` on the Django checkpointer."""
    return registry.graph_get(name).graph.with_checkpointer(DjangoSaver())


def job_state(*, job: Job, checkpoint_id: str | None = None) -> JobState:
    """The thread's state at ``checkpoint_id`` (default: its latest checkpoint)."""
    snapshot = job_graph(job=job).get_state(thread_config(job.thread_id, checkpoint_id))
    return JobState(
        checkpoint_id=_checkpoint_id(snapshot.config),
        created_at=snapshot.created_at,
        values=present(snapshot.values),
    )


def job_progress(*, job: Job) -> tuple[tuple[str, ...], int | None]:
    """Where a run stands, cheaply (one read of its latest checkpoint): the nodes
    it runs next and the superstep it saved last; ``((), None)`` before any."""
    found = DjangoSaver().get_tuple(thread_config(job.thread_id))
    if found is None:
        return (), None
    step = (found.metadata or {}).get("step")
    return _node_names(found.checkpoint.get("next") or ()), step


def job_checkpoint_state(*, job: Job, checkpoint_id: str) -> JobState:
    """The state at one checkpoint of the thread; ``NotFound`` if it has none such."""
    if DjangoSaver().get_tuple(thread_config(job.thread_id, checkpoint_id)) is None:
        raise NotFound(f"Checkpoint not found: {checkpoint_id}")
    return job_state(job=job, checkpoint_id=checkpoint_id)


def job_history(*, job: Job) -> list[CheckpointEntry]:
    """The thread's root checkpoints, oldest first, each with its state change."""
    tuples = list(DjangoSaver().list(thread_config(job.thread_id)))
    entries: list[CheckpointEntry] = []
    previous: dict[str, Any] = {}
    for item in reversed(tuples):
        checkpoint = item.checkpoint
        state = serde.to_jsonable(checkpoint.get("channel_values") or {})
        entries.append(
            CheckpointEntry(
                checkpoint_id=item.config["configurable"]["checkpoint_id"],
                step=(item.metadata or {}).get("step"),
                source=str((item.metadata or {}).get("source", "")),
                created_at=checkpoint.get("ts"),
                next_nodes=_node_names(checkpoint.get("next") or ()),
                state=state,
                changes=tuple(state_changes(previous, state)),
            )
        )
        previous = state
    return entries


def job_timeline_history(*, job: Job) -> list[CheckpointEntry]:
    """The history, which a timeline needs to be non-empty (``NotFound`` otherwise)."""
    entries = job_history(job=job)
    if not entries:
        raise NotFound(f"No timeline found for thread: {job.thread_id}")
    return entries


def state_changes(before: dict[str, Any], after: dict[str, Any]) -> list[StateChange]:
    """Channels added, changed or removed from ``before`` to ``after``."""
    changes = []
    for key in sorted({*before, *after}):
        if key not in before:
            changes.append(StateChange(key=key, kind="added", after=after[key]))
        elif key not in after:
            changes.append(StateChange(key=key, kind="removed", before=before[key]))
        elif before[key] != after[key]:
            changes.append(
                StateChange(
                    key=key, kind="changed", before=before[key], after=after[key]
                )
            )
    return changes


def _checkpoint_id(config: dict[str, Any] | None) -> str | None:
    return ((config or {}).get("configurable") or {}).get("checkpoint_id")


def _node_names(tasks: Any) -> tuple[str, ...]:
    """Node names from a checkpoint's ``next`` (names, or task dicts with one)."""
    return tuple(
        str(task.get("name", "")) if isinstance(task, dict) else str(task)
        for task in tasks
    )
