"""InMemoryStore: the store in a dict, for tests and single-process programs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from threading import Lock

from graphs.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    list_namespaces_result,
    matches_filter,
)

__all__ = ["InMemoryStore"]


class InMemoryStore(BaseStore):
    """A store kept in memory (lost when the process ends), like LangGraph's.

    Items are found in the order they were first written (namespace by
    namespace); a put replaces the item, resetting both timestamps, as
    LangGraph's ``InMemoryStore`` does. No TTLs and no semantic search: a
    ``query`` is ignored.

    Example:
        >>> store = InMemoryStore()
        >>> store.put(("users", "alice"), "prefs", {"theme": "dark"})
        >>> store.get(("users", "alice"), "prefs").value
        {'theme': 'dark'}
    """

    __slots__ = ("_data", "_lock")

    def __init__(self) -> None:
        self._data: dict[tuple[str, ...], dict[str, Item]] = {}
        # nodes of one superstep may use the store from several threads
        self._lock = Lock()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Reads see the store as it was before the batch; the batch's writes
        (the last one per item wins) are applied after them."""
        with self._lock:
            results: list[Result] = []
            puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
            for op in ops:
                results.append(self._read(op))
                if isinstance(op, PutOp):
                    puts[(op.namespace, op.key)] = op
            for op in puts.values():
                self._write(op)
            return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return self.batch(ops)

    def _read(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            return self._data.get(op.namespace, {}).get(op.key)
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return list_namespaces_result(self._data, op)
        if isinstance(op, PutOp):
            return None
        raise ValueError(f"Unknown operation type: {type(op)}")

    def _search(self, op: SearchOp) -> list[SearchItem]:
        n = len(op.namespace_prefix)
        found = [
            item
            for ns, items in self._data.items()
            if ns[:n] == op.namespace_prefix
            for item in items.values()
            if matches_filter(item.value, op.filter)
        ]
        return [
            SearchItem(i.namespace, i.key, i.value, i.created_at, i.updated_at)
            for i in found[op.offset : op.offset + op.limit]
        ]

    def _write(self, op: PutOp) -> None:
        items = self._data.get(op.namespace)
        if op.value is None:
            if items is not None:
                items.pop(op.key, None)
                if not items:
                    del self._data[op.namespace]
            return
        now = datetime.now(UTC)
        item = Item(
            value=dict(op.value),
            key=op.key,
            namespace=op.namespace,
            created_at=now,
            updated_at=now,
        )
        self._data.setdefault(op.namespace, {})[op.key] = item
