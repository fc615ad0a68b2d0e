"""Store conformance suite: every store must pass it.

Use it by subclassing with a ``store`` fixture (see ``tests/graphs/test_store.py``
and ``tests/runtime/services/test_store.py``). Orders are not compared where
stores may differ (``InMemoryStore`` finds items in write order, ``DjangoStore``
newest first); everything else is.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest

from graphs import START, StateGraph
from graphs.store import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    PutOp,
    SearchItem,
    SearchOp,
    get_store,
)

__all__ = ["StoreConformance"]

ROWS = [
    (("users", "alice"), "prefs", {"theme": "dark", "size": 3, "tags": ["a"]}),
    (("users", "alice"), "notes", {"text": "hi", "size": 7, "meta": {"k": 1}}),
    (("users", "bob"), "prefs", {"theme": "light", "size": 5}),
    (("users", "bob", "drafts"), "d1", {"size": "9", "theme": "dark"}),
    (("docs",), "readme", {"size": 1, "meta": {"k": 2, "j": 0}}),
    (("docs", "v1", "drafts"), "x", {"size": 0, "none": None}),
    (("users_2",), "u", {"size": 2}),
]


def keys(items: list[Any]) -> set[tuple[tuple[str, ...], str]]:
    return {(i.namespace, i.key) for i in items}


class StoreConformance:
    @pytest.fixture
    def store(self) -> BaseStore:
        raise NotImplementedError

    @pytest.fixture
    def filled(self, store: BaseStore) -> BaseStore:
        for ns, key, value in ROWS:
            store.put(ns, key, value)
        return store

    def test_put_get_replace_delete(self, store: BaseStore) -> None:
        assert store.get(("a",), "k") is None
        store.put(("a", "b"), "k", {"v": 1})
        first = store.get(("a", "b"), "k")
        assert first is not None
        assert (first.namespace, first.key, first.value) == (("a", "b"), "k", {"v": 1})
        assert first.created_at == first.updated_at
        store.put(("a", "b"), "k", {"v": 2})
        second = store.get(("a", "b"), "k")
        assert second is not None
        assert second.value == {"v": 2}
        assert second.updated_at >= first.updated_at
        assert store.get(("a",), "k") is None  # a namespace is not its prefix
        store.delete(("a", "b"), "k")
        store.delete(("a", "b"), "never-there")
        assert store.get(("a", "b"), "k") is None
        assert store.list_namespaces() == []

    def test_item_json(self, store: BaseStore) -> None:
        store.put(("a",), "k", {"nested": {"list": [1, 2.5, None, True, "s"]}})
        item = store.get(("a",), "k")
        assert item is not None
        found = item.dict()
        assert set(found) == {"namespace", "key", "value", "created_at", "updated_at"}
        assert found["namespace"] == ["a"]
        assert found["value"] == {"nested": {"list": [1, 2.5, None, True, "s"]}}
        assert item.created_at.tzinfo is not None
        [hit] = store.search(("a",))
        assert isinstance(hit, SearchItem)
        assert hit.dict()["score"] is None
        assert hit == item

    @pytest.mark.parametrize(
        ("prefix", "flt", "expected"),
        [
            ((), None, 7),
            (("users",), None, 4),
            (("users", "bob"), None, 2),
            (("user",), None, 0),
            (("users_2",), None, 1),
            (("users",), {"theme": "dark"}, 2),
            ((), {"size": {"$gt": 3}}, 3),
            ((), {"size": {"$gte": 3, "$lt": 9}}, 3),
            ((), {"size": {"$ne": 5}}, 6),
            ((), {"size": {"$eq": "9"}}, 1),
            ((), {"meta": {"k": 2}}, 1),
            ((), {"tags": ["a"]}, 1),
            ((), {"theme": "dark", "size": 3}, 1),
            ((), {"none": None}, 7),
            ((), {"none": {"$gt": 0}}, 0),
        ],
    )
    def test_search_finds_by_prefix_and_filter(
        self, filled: BaseStore, prefix: Any, flt: Any, expected: int
    ) -> None:
        found = filled.search(prefix, filter=flt, limit=100)
        assert len(found) == expected
        for item in found:
            assert item.namespace[: len(prefix)] == prefix

    def test_search_pages_without_gaps_or_repeats(self, filled: BaseStore) -> None:
        pages = [filled.search((), limit=3, offset=o) for o in (0, 3, 6, 9)]
        assert [len(p) for p in pages] == [3, 3, 1, 0]
        assert keys([i for p in pages for i in p]) == keys(filled.search((), limit=10))
        filtered = [
            filled.search((), filter={"size": {"$lte": 5}}, limit=2, offset=o)
            for o in (0, 2, 4)
        ]
        assert [len(p) for p in filtered] == [2, 2, 1]
        assert len(keys([i for p in filtered for i in p])) == 5
        assert filled.search((), limit=0) == []

    def test_search_ignores_a_query(self, filled: BaseStore) -> None:
        assert keys(filled.search(("docs",), query="anything")) == keys(
            filled.search(("docs",))
        )

    def test_search_refuses_an_unknown_operator(self, filled: BaseStore) -> None:
        with pytest.raises(ValueError, match="Unsupported operator"):
            filled.search((), filter={"size": {"$in": [1]}})

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            (
                {},
                [
                    ("docs",),
                    ("docs", "v1", "drafts"),
                    ("users", "alice"),
                    ("users", "bob"),
                    ("users", "bob", "drafts"),
                    ("users_2",),
                ],
            ),
            (
                {"prefix": ("users",)},
                [("users", "alice"), ("users", "bob"), ("users", "bob", "drafts")],
            ),
            ({"prefix": ("*", "bob")}, [("users", "bob"), ("users", "bob", "drafts")]),
            (
                {"suffix": ("drafts",)},
                [("docs", "v1", "drafts"), ("users", "bob", "drafts")],
            ),
            (
                {"suffix": ("*", "drafts")},
                [("docs", "v1", "drafts"), ("users", "bob", "drafts")],
            ),
            (
                {"prefix": ("users",), "suffix": ("drafts",)},
                [("users", "bob", "drafts")],
            ),
            ({"max_depth": 1}, [("docs",), ("users",), ("users_2",)]),
            (
                {"prefix": ("users",), "max_depth": 2},
                [("users", "alice"), ("users", "bob")],
            ),
            ({"limit": 2, "offset": 1}, [("docs", "v1", "drafts"), ("users", "alice")]),
            ({"offset": 10}, []),
            ({"prefix": ("nobody",)}, []),
        ],
    )
    def test_list_namespaces(
        self, filled: BaseStore, kwargs: dict[str, Any], expected: list[Any]
    ) -> None:
        assert filled.list_namespaces(**kwargs) == expected

    @pytest.mark.parametrize(
        "namespace",
        [(), ("a.b",), ("langgraph", "x"), ("a", ""), ("a", 1), ("a\x00",)],
    )
    def test_put_refuses_invalid_namespaces(
        self, store: BaseStore, namespace: Any
    ) -> None:
        with pytest.raises(InvalidNamespaceError):
            store.put(namespace, "k", {"v": 1})
        assert store.list_namespaces() == []

    def test_reads_refuse_dotted_labels(self, store: BaseStore) -> None:
        for call in (
            lambda: store.get(("a.b",), "k"),
            lambda: store.delete(("a.b",), "k"),
            lambda: store.search(("a.b",)),
            lambda: store.list_namespaces(prefix=("a.b",)),
        ):
            with pytest.raises(InvalidNamespaceError):
                call()

    def test_labels_are_taken_literally(self, store: BaseStore) -> None:
        store.put(("a%", "_b"), "k", {"v": 1})
        store.put(("ab", "cb"), "k", {"v": 2})
        assert keys(store.search(("a%",))) == {(("a%", "_b"), "k")}
        assert store.list_namespaces(prefix=("a%",)) == [("a%", "_b")]

    def test_batch_reads_see_the_store_before_its_writes(
        self, filled: BaseStore
    ) -> None:
        results = filled.batch(
            [
                PutOp(("docs",), "readme", {"size": 2}),
                GetOp(("docs",), "readme"),
                PutOp(("new",), "k", {"v": 1}),
                SearchOp(("new",)),
                ListNamespacesOp(max_depth=1),
                PutOp(("new",), "k", {"v": 2}),
                PutOp(("users", "alice"), "notes", None),
            ]
        )
        assert results[0] is None
        assert results[1] is not None
        assert results[1].value["size"] == 1
        assert results[3] == []
        assert results[4] == [("docs",), ("users",), ("users_2",)]
        readme, new = filled.get(("docs",), "readme"), filled.get(("new",), "k")
        assert readme is not None
        assert readme.value == {"size": 2}
        assert new is not None
        assert new.value == {"v": 2}
        assert filled.get(("users", "alice"), "notes") is None

    def test_async_methods(self, store: BaseStore) -> None:
        async def run() -> Any:
            await store.aput(("a", "b"), "k", {"v": 1})
            await store.aput(("a", "c"), "k", {"v": 2})
            got = await store.aget(("a", "b"), "k")
            found = await store.asearch(("a",), filter={"v": {"$gt": 1}})
            spaces = await store.alist_namespaces(prefix=("a",))
            await store.adelete(("a", "b"), "k")
            [gone] = await store.abatch([GetOp(("a", "b"), "k")])
            return got, found, spaces, gone

        got, found, spaces, gone = asyncio.run(run())
        assert got is not None
        assert got.value == {"v": 1}
        assert keys(found) == {(("a", "c"), "k")}
        assert spaces == [("a", "b"), ("a", "c")]
        assert gone is None

    def test_graph_nodes_use_the_store(self, store: BaseStore) -> None:
        class State(TypedDict):
            n: int

        def remember(state: State, *, store: BaseStore) -> dict[str, int]:
            store.put(("memories", "u1"), str(state["n"]), {"n": state["n"]})
            return {"n": state["n"] + 1}

        async def recall(state: State) -> dict[str, int]:
            found = await get_store().asearch(("memories",), limit=100)  # type: ignore[union-attr]
            return {"n": sum(i.value["n"] for i in found)}

        g = StateGraph(State)
        g.add_node("remember", remember)
        g.add_node("recall", recall)
        g.add_edge(START, "remember")
        g.add_edge("remember", "recall")
        graph = g.compile(store=store)
        assert graph.invoke({"n": 1}) == {"n": 1}
        assert graph.invoke({"n": 2}) == {"n": 3}
        assert store.list_namespaces() == [("memories", "u1")]
