"""The store interface: namespaced JSON documents shared across threads.

LangGraph's ``langgraph.store.base`` shapes (``BaseStore``, ``Item``,
``SearchItem``, the ``GetOp``/``PutOp``/``SearchOp``/``ListNamespacesOp``
operations), so a node written against LangGraph's store runs unchanged. A store
implements ``batch`` and ``abatch``; every other method is one operation sent
through them. Semantic search (``query`` with an embedding index) is not
implemented: a ``query`` is ignored, as LangGraph's stores ignore it without an
index.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict

from graphs._context import CURRENT
from graphs.store._match import (
    InvalidNamespaceError,
    list_namespaces_result,
    matches_filter,
    matches_namespace,
    validate_filter,
    validate_namespace,
    validate_namespace_labels,
)

__all__ = [
    "NOT_PROVIDED",
    "BaseStore",
    "GetOp",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespaceMatchType",
    "NamespacePath",
    "NotProvided",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
    "get_store",
    "list_namespaces_result",
    "matches_filter",
    "matches_namespace",
    "validate_filter",
    "validate_namespace",
    "takes_store",
    "task_store",
    "validate_namespace_labels",
]


class NotProvided:
    """The type of :data:`NOT_PROVIDED` (an argument left out)."""

    __slots__ = ()

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_PROVIDED = NotProvided()


def _when(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class Item:
    """A stored document and where it lives.

    Args:
        value: The document (a JSON object).
        key: Its key, unique within the namespace.
        namespace: Its namespace, e.g. ``("users", "alice")``.
        created_at: When it was first written.
        updated_at: When it was last written.
    """

    __slots__ = ("created_at", "key", "namespace", "updated_at", "value")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime | str,
        updated_at: datetime | str,
    ) -> None:
        self.value = value
        self.key = key
        self.namespace = tuple(namespace)
        self.created_at = _when(created_at)
        self.updated_at = _when(updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return False
        return Item.dict(self) == Item.dict(other)  # the score is not compared

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def dict(self) -> dict[str, Any]:
        """The item as JSON (namespace as a list, times in ISO 8601)."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.dict().items())
        return f"{type(self).__name__}({fields})"


class SearchItem(Item):
    """An item found by :meth:`BaseStore.search`, with its relevance ``score``
    (``None`` without semantic search)."""

    __slots__ = ("score",)

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime | str,
        updated_at: datetime | str,
        score: float | None = None,
    ) -> None:
        super().__init__(
            value=value,
            key=key,
            namespace=namespace,
            created_at=created_at,
            updated_at=updated_at,
        )
        self.score = score

    def dict(self) -> dict[str, Any]:
        return {**super().dict(), "score": self.score}


class GetOp(NamedTuple):
    """Read one item."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Find items under a namespace prefix whose value matches ``filter``."""

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True


NamespacePath = tuple[str, ...]
"""A namespace pattern; a ``"*"`` label matches any label."""

NamespaceMatchType = Literal["prefix", "suffix"]


class MatchCondition(NamedTuple):
    """A namespace pattern matched at the start or the end of a namespace."""

    match_type: NamespaceMatchType
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """List the namespaces that hold items."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Write an item (``value=None`` deletes it). ``ttl`` is in minutes."""

    namespace: tuple[str, ...]
    key: str
    value: Mapping[str, Any] | None
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]
    ttl: float | None = None


Op = GetOp | SearchOp | PutOp | ListNamespacesOp
Result = Item | list[Item] | list[SearchItem] | list[tuple[str, ...]] | None


class TTLConfig(TypedDict, total=False):
    """How a store that supports TTLs treats them.

    ``refresh_on_read`` (default ``True``): reads push expiry back;
    ``default_ttl``: minutes for items put without ``ttl``;
    ``sweep_interval_minutes``: how often expired items are deleted.
    """

    refresh_on_read: bool
    default_ttl: float | None
    sweep_interval_minutes: int | None


def _refresh(config: TTLConfig | None, refresh_ttl: bool | None) -> bool:
    if refresh_ttl is not None:
        return refresh_ttl
    return True if config is None else config.get("refresh_on_read", True)


def _ttl(config: TTLConfig | None, ttl: float | None | NotProvided) -> float | None:
    if isinstance(ttl, NotProvided):
        return config.get("default_ttl") if config else None
    return ttl


class BaseStore(ABC):
    """A key-value store of JSON documents in hierarchical namespaces.

    Subclasses implement :meth:`batch` and :meth:`abatch`; set ``supports_ttl``
    when items may expire (``ttl`` in minutes, refreshed by reads unless
    ``refresh_ttl=False``).
    """

    supports_ttl: bool = False
    ttl_config: TTLConfig | None = None

    __slots__ = ("__weakref__",)

    @abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations in order; return one result per operation."""

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` for async code."""

    # -- one operation at a time ---------------------------------------------------

    def _get_op(self, namespace: tuple[str, ...], key: str, refresh: bool | None) -> Op:
        validate_namespace_labels(namespace)
        return GetOp(namespace, str(key), _refresh(self.ttl_config, refresh))

    def _search_op(
        self,
        prefix: tuple[str, ...],
        query: str | None,
        filter: dict[str, Any] | None,
        limit: int,
        offset: int,
        refresh: bool | None,
    ) -> Op:
        validate_namespace_labels(prefix)
        return SearchOp(
            prefix, filter, limit, offset, query, _refresh(self.ttl_config, refresh)
        )

    def _put_op(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None,
        ttl: float | None | NotProvided,
    ) -> Op:
        validate_namespace(namespace)
        if ttl not in (NOT_PROVIDED, None) and not self.supports_ttl:
            raise NotImplementedError(
                f"TTL is not supported by {type(self).__name__}. Use a store "
                "implementation that supports TTL or set ttl=None."
            )
        return PutOp(
            namespace, str(key), value, index=index, ttl=_ttl(self.ttl_config, ttl)
        )

    def _delete_op(self, namespace: tuple[str, ...], key: str) -> Op:
        validate_namespace_labels(namespace)
        return PutOp(namespace, str(key), None)

    @staticmethod
    def _list_op(
        prefix: NamespacePath | None,
        suffix: NamespacePath | None,
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> Op:
        validate_namespace_labels(prefix or ())
        validate_namespace_labels(suffix or ())
        conditions = []
        if prefix:
            conditions.append(MatchCondition("prefix", tuple(prefix)))
        if suffix:
            conditions.append(MatchCondition("suffix", tuple(suffix)))
        return ListNamespacesOp(tuple(conditions), max_depth, limit, offset)

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """The item at ``namespace``/``key``, or ``None``."""
        return self.batch([self._get_op(namespace, key, refresh_ttl)])[0]  # type: ignore[return-value]

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Items whose namespace starts with ``namespace_prefix`` and whose value
        matches ``filter`` (see :func:`matches_filter`), paged."""
        op = self._search_op(
            namespace_prefix, query, filter, limit, offset, refresh_ttl
        )
        return self.batch([op])[0]  # type: ignore[return-value]

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None | NotProvided = NOT_PROVIDED,
    ) -> None:
        """Write (create or replace) an item; ``ttl`` in minutes.

        Raises:
            InvalidNamespaceError: For an invalid namespace.
            NotImplementedError: For a ``ttl`` on a store without TTL support.
        """
        self.batch([self._put_op(namespace, key, value, index, ttl)])

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Delete an item (nothing happens if it does not exist)."""
        self.batch([self._delete_op(namespace, key)])

    def list_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """The namespaces holding items, sorted, optionally cut to ``max_depth``."""
        op = self._list_op(prefix, suffix, max_depth, limit, offset)
        return self.batch([op])[0]  # type: ignore[return-value]

    async def aget(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """:meth:`get` for async code."""
        return (await self.abatch([self._get_op(namespace, key, refresh_ttl)]))[0]  # type: ignore[return-value]

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """:meth:`search` for async code."""
        op = self._search_op(
            namespace_prefix, query, filter, limit, offset, refresh_ttl
        )
        return (await self.abatch([op]))[0]  # type: ignore[return-value]

    async def aput(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None | NotProvided = NOT_PROVIDED,
    ) -> None:
        """:meth:`put` for async code."""
        await self.abatch([self._put_op(namespace, key, value, index, ttl)])

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        """:meth:`delete` for async code."""
        await self.abatch([self._delete_op(namespace, key)])

    async def alist_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """:meth:`list_namespaces` for async code."""
        op = self._list_op(prefix, suffix, max_depth, limit, offset)
        return (await self.abatch([op]))[0]  # type: ignore[return-value]


def get_store() -> BaseStore | None:
    """The store of the running graph (``compile(store=...)``, inherited by
    subgraphs), or ``None`` when it has none.

    Raises:
        RuntimeError: Outside of a graph node.
    """
    task = CURRENT.get()
    if task is None:
        raise RuntimeError("Called get_store outside of a runnable context")
    return task_store(task)


def task_store(task: Any) -> BaseStore | None:
    """The store a task's nodes see: its graph's, else the nearest parent's."""
    run = task.run
    while True:
        store: BaseStore | None = getattr(run.graph, "store", None)
        if store is not None or run.parent is None:
            return store
        run = run.parent.run


def takes_store(fn: Any) -> bool:
    """Whether a node wants the store: a parameter named ``store``, unannotated
    or annotated with a store type."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "store"
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and _store_annotation(p.annotation, p.empty)
        for p in params
    )


def _store_annotation(annotation: Any, empty: Any) -> bool:
    if annotation is empty:
        return True
    if isinstance(annotation, str):
        return "Store" in annotation
    if isinstance(annotation, type):
        return issubclass(annotation, BaseStore)
    return "Store" in repr(annotation)  # Optional[BaseStore], BaseStore | None
