"""``InMemoryCache``: the node cache in a dict, with a clock for its TTLs."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphs.cache.base import BaseCache, FullKey, Namespace

__all__ = ["InMemoryCache"]


class InMemoryCache(BaseCache[Any]):
    """A process-local cache (LangGraph's ``InMemoryCache``).

    Values are copied in and out, so a node that mutates what it got from the
    cache does not change the cached entry.

    Args:
        clock: Seconds since the epoch (default ``time.time``); tests pass their own.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[Namespace, dict[str, tuple[Any, float | None]]] = {}
        self._lock = threading.Lock()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        found: dict[FullKey, Any] = {}
        if not keys:
            return found
        now = self._clock()
        with self._lock:
            for ns, key in keys:
                entries = self._entries.get(tuple(ns))
                if entries is None or key not in entries:
                    continue
                value, expiry = entries[key]
                if expiry is not None and now >= expiry:
                    del entries[key]
                    continue
                found[(tuple(ns), key)] = copy.deepcopy(value)
        return found

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        now = self._clock()
        with self._lock:
            for (ns, key), (value, ttl) in pairs.items():
                expiry = None if ttl is None else now + ttl
                entries = self._entries.setdefault(tuple(ns), {})
                entries[key] = (copy.deepcopy(value), expiry)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._entries.clear()
                return
            for ns in namespaces:
                self._entries.pop(tuple(ns), None)
