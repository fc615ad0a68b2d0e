"""The node cache's interface and ``CachePolicy`` (LangGraph's ``langgraph.cache``)."""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["BaseCache", "CachePolicy", "FullKey", "Namespace", "default_cache_key"]

ValueT = TypeVar("ValueT")
Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]


class BaseCache(ABC, Generic[ValueT]):
    """A store of cached values by namespace and key, each with an optional TTL."""

    @abstractmethod
    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The values cached under ``keys`` (missing and expired ones left out)."""

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """Async :meth:`get`."""
        return self.get(keys)

    @abstractmethod
    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Cache each value under its key for its TTL in seconds (``None``: forever)."""

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Async :meth:`set`."""
        self.set(pairs)

    @abstractmethod
    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Delete the values of ``namespaces`` (``None``: every value)."""

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Async :meth:`clear`."""
        self.clear(namespaces)


def _freeze(value: Any) -> Any:
    """A picklable, order-independent form of a node's input."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    return value


def default_cache_key(*args: Any, **kwargs: Any) -> bytes:
    """The default key of a node's input: its frozen form, pickled (as LangGraph)."""
    return pickle.dumps((_freeze(args), _freeze(kwargs)), protocol=5)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How a node's writes are cached (``add_node(..., cache_policy=...)``).

    Args:
        key_func: Makes the cache key (``str`` or ``bytes``) of the node's input.
        ttl: Seconds a cached entry lives (``None``: until cleared).
    """

    key_func: Callable[..., str | bytes] = default_cache_key
    ttl: int | None = None
