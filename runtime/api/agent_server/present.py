"""The Agent Server's JSON shapes of assistants, threads and thread states (what
LangGraph's SDK types as ``Assistant``, ``Thread``, ``ThreadState``)."""

from __future__ import annotations

from typing import Any

from graphs.types import StateSnapshot, StateTask
from runtime.models import Assistant, AssistantVersion, Job, Thread
from runtime.present import present_lc, rfc3339

JSON = dict[str, Any]


def assistant_version(found: Assistant | AssistantVersion) -> JSON:
    return {
        "assistant_id": str(found.assistant_id),
        "graph_id": found.graph_id,
        "config": found.config,
        "context": found.context,
        "metadata": found.metadata,
        "version": found.version,
        "name": found.name,
        "description": found.description,
        "created_at": rfc3339(found.created_at),
    }


def assistant(found: Assistant) -> JSON:
    return {**assistant_version(found), "updated_at": rfc3339(found.updated_at)}


def selected(data: JSON, select: list[str] | None) -> JSON:
    """Only the fields of ``select`` (all without one)."""
    return {k: v for k, v in data.items() if k in select} if select else data


def checkpoint(config: dict[str, Any] | None) -> JSON | None:
    if not config:
        return None
    conf = config.get("configurable") or {}
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
    }


def interrupt(found: Any) -> JSON:
    return {"value": present_lc(found.value), "id": found.id}


def _task(task: StateTask) -> JSON:
    sub = task.state
    return {
        "id": task.id,
        "name": task.name,
        "path": list(present_lc(task.path)),
        "error": None if task.error is None else str(task.error),
        "interrupts": [interrupt(i) for i in task.interrupts],
        "checkpoint": checkpoint(sub) if isinstance(sub, dict) else None,
        "state": thread_state(sub) if isinstance(sub, StateSnapshot) else None,
        "result": present_lc(task.result),
    }


def thread_state(snapshot: StateSnapshot) -> JSON:
    head = checkpoint(snapshot.config)
    parent = checkpoint(snapshot.parent_config)
    return {
        "values": present_lc(snapshot.values),
        "next": list(snapshot.next),
        "tasks": [_task(t) for t in snapshot.tasks],
        "metadata": present_lc(dict(snapshot.metadata or {})),
        "created_at": snapshot.created_at,
        "checkpoint": head,
        "parent_checkpoint": parent,
        "interrupts": [interrupt(i) for i in snapshot.interrupts],
        "checkpoint_id": (head or {}).get("checkpoint_id"),
        "parent_checkpoint_id": (parent or {}).get("checkpoint_id"),
    }


def empty_state(thread_id: str) -> JSON:
    """A thread with no checkpoint yet, as LangGraph's server shows it."""
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": None,
        },
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def thread(
    found: Thread, snapshot: StateSnapshot | None, job: Job | None = None
) -> JSON:
    status = getattr(found, "status", "idle")
    return {
        "thread_id": found.thread_id,
        "created_at": rfc3339(found.created_at),
        "updated_at": rfc3339(found.updated_at),
        "state_updated_at": rfc3339(getattr(found, "state_updated_at", None))
        or rfc3339(found.updated_at),
        "metadata": found.metadata,
        "status": status,
        "config": {},
        "values": present_lc(snapshot.values) if snapshot is not None else None,
        "interrupts": {
            t.id: [interrupt(i) for i in t.interrupts]
            for t in (snapshot.tasks if snapshot is not None else ())
            if t.interrupts
        },
        "error": present_lc(job.error) if status == "error" and job else None,
    }
