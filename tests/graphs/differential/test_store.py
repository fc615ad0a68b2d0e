"""The store, side by side with LangGraph's InMemoryStore: the same calls give the
same items, pages, namespaces and errors, and nodes reach the store the same way."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest

import graphs
import graphs.store as graphs_store
from graphs.store import memory as graphs_memory
from tests.graphs.store_conformance import ROWS

pytest.importorskip("langgraph.store.memory")

import langgraph.config as lg_config
import langgraph.graph as lg_graph
import langgraph.store.base as lg_base
import langgraph.store.memory as lg_memory


@dataclass(frozen=True)
class StoreLib:
    name: str
    InMemoryStore: Any
    BaseStore: Any
    ops: Any
    get_store: Any
    StateGraph: Any
    START: str


OURS = StoreLib(
    "graphs",
    graphs_memory.InMemoryStore,
    graphs_store.BaseStore,
    graphs_store,
    graphs_store.get_store,
    graphs.StateGraph,
    graphs.START,
)
LANGGRAPH = StoreLib(
    "langgraph",
    lg_memory.InMemoryStore,
    lg_base.BaseStore,
    lg_base,
    lg_config.get_store,
    lg_graph.StateGraph,
    lg_graph.START,
)


def seen(result: Any) -> Any:
    """What a user compares: items as plain data (timestamps checked for order)."""
    if isinstance(result, list):
        return [seen(r) for r in result]
    if result is None or isinstance(result, tuple):
        return result
    assert result.created_at <= result.updated_at
    assert result.updated_at.tzinfo is not None
    out = {k: v for k, v in result.dict().items() if not k.endswith("_at")}
    return {"type": type(result).__name__, **out}


def same(scenario: Any) -> Any:
    ours, theirs = scenario(OURS), scenario(LANGGRAPH)
    assert ours == theirs
    return ours


def error(call: Any) -> tuple[str, str]:
    try:
        call()
    except Exception as exc:  # the observation is the error itself
        bases = [b.__name__ for b in type(exc).__mro__ if b.__module__ == "builtins"]
        return bases[0], str(exc)
    raise AssertionError("no error")


def filled(lib: StoreLib) -> Any:
    store = lib.InMemoryStore()
    for ns, key, value in ROWS:
        store.put(ns, key, value)
    return store


def test_put_get_overwrite_delete() -> None:
    def scenario(lib: StoreLib) -> Any:
        store = lib.InMemoryStore()
        out = [store.get(("a",), "k")]
        store.put(("a", "b"), "k", {"v": 1})
        first = store.get(("a", "b"), "k")
        store.put(("a", "b"), 7, {"int": True})  # keys become strings
        store.put(("a", "b"), "k", {"v": 2})
        second = store.get(("a", "b"), "k")
        assert second.updated_at >= first.updated_at
        out += [first, second, store.get(("a", "b"), "7"), store.get(("a",), "k")]
        store.delete(("a", "b"), "k")
        store.delete(("a", "b"), "never-there")
        out += [
            store.get(("a", "b"), "k"),
            first == second,
            hash(first) == hash(second),
        ]
        return [seen(o) if not isinstance(o, bool) else o for o in out]

    assert same(scenario)[1]["value"] == {"v": 1}


@pytest.mark.parametrize(
    ("prefix", "flt", "limit", "offset"),
    [
        ((), None, 10, 0),
        ((), None, 2, 1),
        ((), None, 10, 5),
        (("users",), None, 10, 0),
        (("users", "bob"), None, 10, 0),
        (("user",), None, 10, 0),
        (("users",), {"theme": "dark"}, 10, 0),
        ((), {"size": {"$gt": 3}}, 10, 0),
        ((), {"size": {"$gte": 3, "$lt": 9}}, 10, 0),
        ((), {"size": {"$lte": 5}}, 2, 1),
        ((), {"size": {"$ne": 5}}, 10, 0),
        ((), {"size": {"$eq": "9"}}, 10, 0),
        ((), {"meta": {"k": 2}}, 10, 0),
        ((), {"tags": ["a"]}, 10, 0),
        ((), {"theme": "dark", "size": 3}, 10, 0),
        ((), {"missing": None}, 3, 0),
        (("docs",), None, 0, 0),
    ],
)
def test_search(prefix: Any, flt: Any, limit: int, offset: int) -> None:
    def scenario(lib: StoreLib) -> Any:
        store = filled(lib)
        found = store.search(prefix, filter=flt, limit=limit, offset=offset)
        return seen(found)

    same(scenario)


def test_ordered_operators_skip_values_that_are_not_numbers() -> None:
    """A deliberate difference: LangGraph's InMemoryStore raises TypeError on a
    missing or null field, we (like its PostgreSQL store) do not match it."""
    store = filled(OURS)
    assert [i.key for i in store.search((), filter={"none": {"$gt": 0}})] == []
    assert len(store.search((), filter={"absent": {"$lte": 0}})) == 0
    with pytest.raises(TypeError):
        filled(LANGGRAPH).search((), filter={"none": {"$gt": 0}})


def test_search_ignores_a_query_without_an_index() -> None:
    same(lambda lib: seen(filled(lib).search(("users",), query="dark theme")))


def test_search_rejects_an_unknown_operator() -> None:
    same(lambda lib: error(lambda: filled(lib).search((), filter={"s": {"$in": [1]}})))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"prefix": ("users",)},
        {"prefix": ("users", "*")},
        {"prefix": ("*", "bob")},
        {"suffix": ("drafts",)},
        {"suffix": ("*", "drafts")},
        {"prefix": ("users",), "suffix": ("drafts",)},
        {"max_depth": 1},
        {"max_depth": 2},
        {"prefix": ("users",), "max_depth": 2},
        {"limit": 2},
        {"limit": 2, "offset": 2},
        {"offset": 10},
        {"prefix": ("nobody",)},
    ],
)
def test_list_namespaces(kwargs: dict[str, Any]) -> None:
    same(lambda lib: filled(lib).list_namespaces(**kwargs))


@pytest.mark.parametrize(
    ("method", "namespace"),
    [
        ("put", ()),
        ("put", ("a.b",)),
        ("put", ("langgraph", "x")),
        ("put", ("a", "")),
        ("put", ("a", 1)),
        ("put", ("a\x00",)),
        ("get", ("a.b",)),
        ("delete", ("a.b",)),
        ("search", ("x", "a.b")),
    ],
)
def test_invalid_namespaces_are_refused(method: str, namespace: Any) -> None:
    def scenario(lib: StoreLib) -> Any:
        store = lib.InMemoryStore()
        call = {
            "put": lambda: store.put(namespace, "k", {"v": 1}),
            "get": lambda: store.get(namespace, "k"),
            "delete": lambda: store.delete(namespace, "k"),
            "search": lambda: store.search(namespace),
        }[method]
        return error(call), store.list_namespaces()

    (kind, _), namespaces = same(scenario)
    assert kind == "ValueError"
    assert namespaces == []


def test_list_namespaces_refuses_dotted_patterns() -> None:
    same(
        lambda lib: error(lambda: lib.InMemoryStore().list_namespaces(prefix=("a.b",)))
    )


def test_ttl_needs_a_store_that_supports_it() -> None:
    def scenario(lib: StoreLib) -> Any:
        store = lib.InMemoryStore()
        store.put(("a",), "none", {"v": 1}, ttl=None)
        return store.supports_ttl, error(lambda: store.put(("a",), "k", {}, ttl=5))

    assert same(scenario)[1][0] == "NotImplementedError"


def test_batch_reads_see_the_store_before_its_writes() -> None:
    def scenario(lib: StoreLib) -> Any:
        o = lib.ops
        store = filled(lib)
        results = store.batch(
            [
                o.PutOp(("docs",), "readme", {"size": 2}),
                o.GetOp(("docs",), "readme"),
                o.PutOp(("new",), "k", {"v": 1}),
                o.SearchOp(("new",)),
                o.ListNamespacesOp(max_depth=1),
                o.PutOp(("new",), "k", {"v": 2}),
                o.PutOp(("users", "alice"), "notes", None),
            ]
        )
        after = [store.get(("docs",), "readme"), store.get(("new",), "k")]
        return seen(results), seen(after), store.list_namespaces()

    same(scenario)


def test_a_namespace_left_empty_is_not_listed() -> None:
    """A deliberate difference: LangGraph's InMemoryStore keeps listing a
    namespace whose last item was deleted (or that was only read); we list the
    namespaces that hold items, as its PostgreSQL store does."""
    ours, theirs = OURS.InMemoryStore(), LANGGRAPH.InMemoryStore()
    for store in (ours, theirs):
        store.put(("a",), "k", {"v": 1})
        store.delete(("a",), "k")
        store.get(("b",), "k")
    assert ours.list_namespaces() == []
    assert theirs.list_namespaces() == [("a",), ("b",)]


def test_async_methods() -> None:
    def scenario(lib: StoreLib) -> Any:
        async def run() -> Any:
            store = lib.InMemoryStore()
            await store.aput(("a", "b"), "k", {"v": 1})
            await store.aput(("a", "c"), "k", {"v": 2})
            got = await store.aget(("a", "b"), "k")
            found = await store.asearch(("a",), filter={"v": {"$gt": 1}})
            spaces = await store.alist_namespaces(prefix=("a",), max_depth=2)
            await store.adelete(("a", "b"), "k")
            batch = await store.abatch([lib.ops.GetOp(("a", "b"), "k")])
            return seen([got, found, spaces, batch])

        return asyncio.run(run())

    same(scenario)


class State(TypedDict):
    n: int
    seen: list[Any]


def test_nodes_reach_the_store_by_parameter_and_get_store() -> None:
    def scenario(lib: StoreLib) -> Any:
        def write(state: State, *, store) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            store.put(("memories", "u1"), "n", {"n": state["n"]})
            return {"n": state["n"] + 1}

        def read(state: State) -> dict[str, Any]:
            item = lib.get_store().get(("memories", "u1"), "n")
            return {"seen": [item.value, type(lib.get_store()).__name__]}

        async def aread(state: State, store) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            found = await store.asearch(("memories",))
            return {"seen": [*state["seen"], [i.key for i in found]]}

        child = lib.StateGraph(State)
        child.add_node("read", read)
        child.add_edge(lib.START, "read")
        store = lib.InMemoryStore()
        out = []
        for last in (None, aread):
            g = lib.StateGraph(State)
            g.add_node("write", write)
            g.add_node("child", child.compile())
            g.add_edge(lib.START, "write")
            g.add_edge("write", "child")
            if last is not None:
                g.add_node("aread", last)
                g.add_edge("child", "aread")
            graph = g.compile(store=store)
            if last is None:
                out.append(graph.invoke({"n": 4, "seen": []}))
            else:
                out.append(asyncio.run(graph.ainvoke({"n": 5, "seen": []})))
        out.append(seen(store.search(())))
        return out

    first, second, _ = same(scenario)
    assert first == {"n": 5, "seen": [{"n": 4}, "InMemoryStore"]}
    assert second == {"n": 6, "seen": [{"n": 5}, "InMemoryStore", ["n"]]}


def test_a_graph_without_a_store_gives_nodes_none() -> None:
    def scenario(lib: StoreLib) -> Any:
        def node(state: State, store=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            return {"seen": [store is None, lib.get_store() is None]}

        g = lib.StateGraph(State)
        g.add_node("node", node)
        g.add_edge(lib.START, "node")
        return g.compile().invoke({"n": 0, "seen": []})

    assert same(scenario)["seen"] == [True, True]


def test_get_store_outside_a_node_is_an_error() -> None:
    kind, _ = error(OURS.get_store)
    assert kind == error(LANGGRAPH.get_store)[0] == "RuntimeError"
