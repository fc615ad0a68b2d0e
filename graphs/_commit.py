"""Building the checkpoint of a superstep (versions, delta hints, the header)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from graphs.checkpoint.base import mapped
from graphs.checkpoint.format import MIN_DELTA_CHAIN, now_iso
from graphs.types import START, Interrupt

if TYPE_CHECKING:
    from graphs._loop import Run
    from graphs._task import Task

__all__ = [
    "build_checkpoint",
    "checkpoint_payload",
    "debug_checkpoint",
    "interrupt_dict",
]


def _grew(new: Any, old: Any) -> bool:
    """Whether ``new`` is ``old`` with items appended (same objects, same order)."""
    return (
        type(new) is list
        and type(old) is list
        and len(new) >= len(old)
        and all(map(operator.is_, new, old))
    )


def build_checkpoint(
    run: Run, exit_mode: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the new checkpoint and its ``new_versions``.

    A channel's version is the id of the checkpoint that changed it. A list channel
    that only grew is marked as a delta of its previous version, unless that version
    was never persisted (``exit`` durability) or the delta chain is long enough that
    a full copy keeps total storage linear (chains grow to the last full length).
    """
    cid = run.checkpoint_id
    versions = run.versions
    chain = run.chain
    prev = run._prev or {}
    unsaved = run.unsaved
    new_versions: dict[str, str] = dict(unsaved) if exit_mode else {}
    deltas: dict[str, list[Any]] = {}
    for ch in run._updated:
        old_v = versions.get(ch)
        versions[ch] = cid
        new_versions[ch] = cid
        new = run.values.get(ch)
        if (
            old_v is not None
            and old_v not in unsaved.values()
            and _grew(new, prev.get(ch))
        ):
            depth, full_len, base = chain.get(ch) or (0, len(prev[ch]), old_v)
            if depth < max(MIN_DELTA_CHAIN, full_len):
                deltas[ch] = [old_v, len(prev[ch])]
                chain[ch] = [depth + 1, full_len, base]
                continue
        if type(new) is list:
            chain[ch] = [0, len(new), cid]
        else:
            chain.pop(ch, None)
    checkpoint = {
        "v": 1,
        "id": cid,
        "ts": now_iso(),
        "channel_values": dict(run.values),
        "channel_versions": dict(versions),
        "versions_seen": {},
        "next": [task_spec(t) for t in run._next],
        "barriers": {k: sorted(v) for k, v in run.barriers.items()},
        "deferred": sorted(run.deferred),
        "last": run._last,
        "chain": {k: list(v) for k, v in chain.items()},
        "deltas": deltas,
    }
    return checkpoint, new_versions


def task_spec(task: Task) -> dict[str, Any]:
    """How a checkpoint's ``next`` records a task (the START task keeps its input
    writes, which the input checkpoint holds until the START superstep)."""
    if task.push:
        return {"name": task.name, "arg": task.arg}
    if task.name == START:
        return {"name": task.name, "input": [list(w) for w in task.writes]}
    return {"name": task.name}


def checkpoint_payload(
    run: Run,
    metadata: dict[str, Any],
    parent_config: dict[str, Any] | None,
    config: dict[str, Any] | None = None,
    tasks: list[Task] | None = None,
) -> dict[str, Any]:
    """LangGraph's ``checkpoints`` stream chunk (also the ``debug`` payload): the
    checkpoint just committed, or the loaded one (``config``, ``tasks``) with what
    its tasks wrote before the pause."""
    entries = []
    for t in run._next if tasks is None else tasks:
        entry: dict[str, Any] = {"id": t.id, "name": t.name}
        if tasks is not None and t.restored and t.writes:
            keys = run.graph.output_keys
            entry["result"] = {k: v for k, v in t.writes if keys is None or k in keys}
        entry["interrupts"] = tuple(interrupt_dict(i) for i in t.interrupts or ())
        # a subgraph node: the config that signals where its checkpoints go
        entry["state"] = (
            None
            if t.node.subgraph is None
            else {
                "configurable": {
                    "thread_id": run.thread_id,
                    "checkpoint_ns": f"{run.ns}|{t.name}:{t.id}"
                    if run.ns
                    else f"{t.name}:{t.id}",
                }
            }
        )
        entries.append(entry)
    own = run.parent_config if config is None else config
    assert own is not None  # a checkpoint was written or loaded
    return {
        "config": mapped(own, run.parents),
        "parent_config": None
        if parent_config is None
        else mapped(parent_config, run.parents),
        "values": run.output(),
        "metadata": metadata,
        "next": [e["name"] for e in entries],
        "tasks": entries,
    }


def interrupt_dict(interrupt: Interrupt) -> dict[str, Any]:
    """An interrupt as LangGraph's stream events show it (``asdict``)."""
    return {
        "value": interrupt.value,
        "id": interrupt.id,
        "response_schema": interrupt.response_schema,
    }


def debug_checkpoint(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``debug`` stream event of a checkpoint."""
    return {
        "step": payload["metadata"]["step"],
        "timestamp": now_iso(),
        "type": "checkpoint",
        "payload": payload,
    }
