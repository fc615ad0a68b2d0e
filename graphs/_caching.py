"""The node cache in a run: cached writes restore a task instead of running it.

A task whose node has a ``CachePolicy`` looks up its writes (by the node and the
key of its input) before the superstep runs; a hit restores the task from them, as
a resume restores a finished task from pending writes, and is streamed marked
``"__metadata__": {"cached": True}``. A miss that finishes (no error, no
interrupt) stores its writes, gotos and sends for the policy's TTL.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from graphs._resume import emit_update, restore_writes
from graphs.cache.base import CachePolicy, FullKey, Namespace

if TYPE_CHECKING:
    from graphs._loop import Run
    from graphs._task import Task
    from graphs.cache.base import BaseCache
    from graphs.compiled import CompiledGraph

__all__ = ["CACHE_NS", "cache_lookup", "cache_store", "node_namespace"]

CACHE_NS = "__pregel_ns_writes"  # LangGraph's namespace of cached writes

Miss = tuple["Task", FullKey, "int | None"]


def node_namespace(graph: CompiledGraph, name: str) -> Namespace:
    """The cache namespace of a node: its action and name, so graphs that share
    a cache do not read each other's writes."""
    action = graph.builder.nodes[name].action
    kind = action if isinstance(action, type) else type(action)
    qualname = getattr(action, "__qualname__", kind.__qualname__)
    module = getattr(action, "__module__", kind.__module__)
    return (CACHE_NS, f"{module}.{qualname}", name)


def cache_lookup(run: Run, tasks: list[Task]) -> list[Miss]:
    """Restore the tasks whose writes are cached; the keys of the others."""
    wanted: dict[FullKey, list[Task]] = {}
    ttls: dict[FullKey, int | None] = {}
    for task in tasks:
        policy: CachePolicy | None = task.node.cache_policy
        if policy is None or task.restored or task.hidden:
            continue
        raw = policy.key_func(task.arg if task.push else run.read_state())
        digest = hashlib.blake2b(
            raw.encode() if isinstance(raw, str) else raw, digest_size=16
        ).hexdigest()
        key = (node_namespace(run.graph, task.name), digest)
        wanted.setdefault(key, []).append(task)
        ttls[key] = policy.ttl
    if not wanted:
        return []
    cache: BaseCache[Any] = run.cache  # type: ignore[assignment]
    found = cache.get(list(wanted))
    misses: list[Miss] = []
    for key, owners in wanted.items():
        rows = found.get(key)
        if rows is not None:
            # LangGraph's rule: of the tasks with one key (two equal Sends), the
            # last takes the cached writes and the others run; the writes are
            # streamed at once, before the superstep runs
            hit = owners.pop()
            restore_writes(hit, rows)
            hit.cached = True
            emit_update(run, hit)
        misses.extend((task, key, ttls[key]) for task in owners)
    return misses


def cache_store(run: Run, misses: list[Miss]) -> None:
    """Cache the writes of the tasks that finished (LangGraph never caches an
    error or an interrupt: a hit skips the node)."""
    pairs = {
        key: (task.stored_writes(), ttl)
        for task, key, ttl in misses
        if task.error is None and task.interrupts is None and task.handler is None
    }
    if pairs:
        run.cache.set(pairs)  # type: ignore[union-attr]
