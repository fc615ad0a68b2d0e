"""Long-term memory shared across threads: LangGraph's store API.

``from graphs.store.memory import InMemoryStore`` and
``from graphs.store.base import BaseStore, Item``; give a store to
``compile(store=...)`` and a node reaches it through a parameter named
``store`` or :func:`get_store`.
"""

from __future__ import annotations

from graphs.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    get_store,
)
from graphs.store.memory import InMemoryStore

__all__ = [
    "BaseStore",
    "GetOp",
    "InMemoryStore",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
    "get_store",
]
