"""Building the checkpoint of a superstep (versions, delta hints, the header)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from graphs.checkpoint.format import MIN_DELTA_CHAIN, now_iso
from graphs.types import START

if TYPE_CHECKING:
    from graphs._loop import Run
    from graphs._task import Task

__all__ = ["build_checkpoint", "debug_checkpoint"]


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


def debug_checkpoint(run: Run, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The ``debug`` stream event of a checkpoint."""
    return {
        "step": run.step,
        "timestamp": checkpoint["ts"],
        "type": "checkpoint",
        "payload": {
            "id": checkpoint["id"],
            "values": run.output(),
            "next": [t.name for t in run._next],
        },
    }
