"""``Runtime`` / ``context=`` and the node cache, side by side with LangGraph: the
same graphs give the same states, stream chunks (cached writes marked
``"__metadata__": {"cached": True}``), node calls and errors."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypedDict

import pytest

import graphs
import graphs.cache as graphs_cache
import graphs.runtime as graphs_runtime
from graphs import checkpoint as graphs_checkpoint
from graphs.store import memory as graphs_store

pytest.importorskip("langgraph.cache.memory")

import langgraph.cache.memory as lg_cache
import langgraph.checkpoint.memory as lg_memory
import langgraph.runtime as lg_runtime
import langgraph.store.memory as lg_store
import langgraph.types as lg_types

from . import _libs


@dataclass(frozen=True)
class Lib(_libs.Lib):
    """The shared engine API, with what Runtime and the cache scenarios use."""

    Runtime: Any = None
    get_runtime: Callable[[], Any] = lambda: None
    CachePolicy: Any = None
    InMemoryCache: Any = None
    InMemoryStore: Any = None


def _lib(base: _libs.Lib, **extra: Any) -> Lib:
    return Lib(**{f.name: getattr(base, f.name) for f in fields(base)}, **extra)


OURS = _lib(
    _libs.OURS,
    Runtime=graphs_runtime.Runtime,
    get_runtime=graphs_runtime.get_runtime,
    CachePolicy=graphs_cache.CachePolicy,
    InMemoryCache=graphs_cache.InMemoryCache,
    InMemoryStore=graphs_store.InMemoryStore,
)
LANGGRAPH = _lib(
    _libs.LANGGRAPH,
    Runtime=lg_runtime.Runtime,
    get_runtime=lg_runtime.get_runtime,
    CachePolicy=lg_types.CachePolicy,
    InMemoryCache=lg_cache.InMemoryCache,
    InMemoryStore=lg_store.InMemoryStore,
)


def same(scenario: Callable[[Lib], Any]) -> Any:
    ours, theirs = scenario(OURS), scenario(LANGGRAPH)
    assert ours == theirs
    return ours


class Log(TypedDict, total=False):
    n: int
    log: Annotated[list[Any], operator.add]


@dataclass
class Ctx:
    user: str
    lang: str = "en"


class CtxDict(TypedDict):
    user: str


# -- Runtime and context ---------------------------------------------------------


def test_context_reaches_nodes_as_the_schema_instance() -> None:
    def scenario(lib: Lib) -> Any:
        def greet(state: Log, runtime: lib.Runtime) -> dict[str, Any]:  # type: ignore[name-defined]
            ctx = runtime.context
            also = lib.get_runtime().context
            return {"log": [type(ctx).__name__, ctx.user, ctx.lang, also == ctx]}

        g = lib.StateGraph(Log, context_schema=Ctx)
        g.add_node("greet", greet)
        g.add_edge(lib.START, "greet")
        graph = g.compile()
        final = graph.invoke({"n": 1}, context={"user": "ada"})
        chunks = list(
            graph.stream({"n": 1}, context=Ctx("bob", "fr"), stream_mode="updates")
        )
        return final, chunks

    final, chunks = same(scenario)
    assert final["log"] == ["Ctx", "ada", "en", True]
    assert chunks == [{"greet": {"log": ["Ctx", "bob", "fr", True]}}]


def test_typed_dict_context_stays_a_dict_and_none_without_context() -> None:
    def scenario(lib: Lib) -> Any:
        def node(state: Log, runtime: Any) -> dict[str, Any]:
            return {"log": [runtime.context, runtime.previous]}

        g = lib.StateGraph(Log, context_schema=CtxDict)
        g.add_node("node", node)
        g.add_edge(lib.START, "node")
        graph = g.compile()
        return graph.invoke({}, context={"user": "ada"}), graph.invoke({})

    assert same(scenario) == (
        {"log": [{"user": "ada"}, None]},
        {"log": [None, None]},
    )


def test_context_reaches_subgraphs_and_graphs_invoked_in_nodes() -> None:
    def scenario(lib: Lib) -> Any:
        def inner(state: Log) -> dict[str, Any]:
            return {"log": [f"inner:{lib.get_runtime().context.user}"]}

        s = lib.StateGraph(Log)
        s.add_node("inner", inner)
        s.add_edge(lib.START, "inner")
        sub = s.compile()

        def caller(state: Log) -> dict[str, Any]:
            out = sub.invoke({"log": []})
            return {"log": [f"called:{x}" for x in out["log"]]}

        g = lib.StateGraph(Log, context_schema=Ctx)
        g.add_node("sub", sub)
        g.add_node("caller", caller)
        g.add_edge(lib.START, "sub")
        g.add_edge("sub", "caller")
        return g.compile().invoke({"log": []}, context=Ctx("ada"))

    assert same(scenario)["log"][-1] == "called:inner:ada"


def test_runtime_store_and_stream_writer() -> None:
    def scenario(lib: Lib) -> Any:
        store = lib.InMemoryStore()
        store.put(("users",), "ada", {"name": "Ada"})

        def node(state: Log, runtime: Any) -> dict[str, Any]:
            item = runtime.store.get(("users",), runtime.context.user)
            runtime.stream_writer({"hello": item.value["name"]})
            runtime.heartbeat()  # outside an idle timeout: nothing
            return {"log": [item.value["name"]]}

        g = lib.StateGraph(Log, context_schema=Ctx)
        g.add_node("node", node)
        g.add_edge(lib.START, "node")
        graph = g.compile(store=store)
        return list(
            graph.stream({}, context={"user": "ada"}, stream_mode=["custom", "updates"])
        )

    assert same(scenario) == [
        ("custom", {"hello": "Ada"}),
        ("updates", {"node": {"log": ["Ada"]}}),
    ]


def test_async_runs_take_context() -> None:
    def scenario(lib: Lib) -> Any:
        async def node(state: Log, runtime: Any) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"log": [runtime.context.user]}

        g = lib.StateGraph(Log, context_schema=Ctx)
        g.add_node("node", node)
        g.add_edge(lib.START, "node")
        graph = g.compile()

        async def go() -> Any:
            final = await graph.ainvoke({}, context={"user": "ada"})
            chunks = [c async for c in graph.astream({}, context=Ctx("bob"))]
            return final, chunks

        return asyncio.run(go())

    assert same(scenario) == (
        {"log": ["ada"]},
        [{"node": {"log": ["bob"]}}],
    )


def test_execution_info() -> None:
    def scenario(lib: Lib) -> Any:
        def node(state: Log, runtime: Any) -> dict[str, Any]:
            info = runtime.execution_info
            name, task_id = info.checkpoint_ns.split(":")
            return {"log": [name, task_id == info.task_id, info.thread_id]}

        g = lib.StateGraph(Log)
        g.add_node("node", node)
        g.add_edge(lib.START, "node")
        return g.compile().invoke({})

    assert same(scenario) == {"log": ["node", True, None]}


def test_get_runtime_outside_a_node_fails_in_both() -> None:
    for lib in (OURS, LANGGRAPH):
        with pytest.raises(RuntimeError):
            lib.get_runtime()


# -- the node cache --------------------------------------------------------------


def counted(calls: list[str], name: str, fn: Callable[[Any], Any]) -> Any:
    def node(state: Any) -> Any:
        calls.append(name)
        return fn(state)

    return node


def test_a_cached_node_is_not_run_again_and_streams_cached() -> None:
    def scenario(lib: Lib) -> Any:
        calls: list[str] = []
        g = lib.StateGraph(Log)
        g.add_node(
            "a",
            counted(calls, "a", lambda s: {"log": [s["n"] * 10]}),
            cache_policy=lib.CachePolicy(),
        )
        g.add_node("b", counted(calls, "b", lambda s: {"log": ["b"]}))
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        graph = g.compile(cache=lib.InMemoryCache())
        first = list(graph.stream({"n": 1}, stream_mode=["updates", "values"]))
        second = list(graph.stream({"n": 1}, stream_mode=["updates", "values"]))
        other = graph.invoke({"n": 2})
        return first, second, other, calls

    first, second, other, calls = same(scenario)
    assert ("updates", {"a": {"log": [10]}, "__metadata__": {"cached": True}}) in second
    assert calls == ["a", "b", "b", "a", "b"]


def test_key_func_clear_cache_and_errors_are_not_cached() -> None:
    def scenario(lib: Lib) -> Any:
        calls: list[str] = []
        failures = [1]

        def flaky(state: Log) -> dict[str, Any]:
            calls.append("flaky")
            if failures:
                failures.pop()
                raise ValueError("once")
            return {"log": ["flaky"]}

        policy = lib.CachePolicy(key_func=lambda s: str(s.get("n")))
        g = lib.StateGraph(Log)
        g.add_node("a", counted(calls, "a", lambda s: {"log": ["a"]}))
        g.add_node("flaky", flaky)
        g.set_node_defaults(cache_policy=policy)
        g.add_edge(lib.START, "a")
        g.add_edge("a", "flaky")
        graph = g.compile(cache=lib.InMemoryCache())
        seen: list[Any] = []
        try:
            graph.invoke({"n": 1})
        except ValueError as exc:
            seen.append(repr(exc))
        seen.append(graph.invoke({"n": 1, "log": ["x"]}))  # key ignores "log"
        graph.clear_cache(["a"])
        seen.append(list(graph.stream({"n": 1})))
        graph.clear_cache()
        seen.append(list(graph.stream({"n": 1})))
        return seen, calls

    seen, calls = same(scenario)
    assert seen[0] == "ValueError('once')"
    assert calls == ["a", "flaky", "flaky", "a", "a", "flaky"]


def test_cached_routing_sends_and_subgraphs() -> None:
    def scenario(lib: Lib) -> Any:
        calls: list[str] = []

        def route(state: Log) -> list[Any]:
            return [lib.Send("work", {"n": i}) for i in (1, 2, 1)]

        s = lib.StateGraph(Log)
        s.add_node(
            "leaf",
            counted(calls, "leaf", lambda st: {"log": ["leaf"]}),
            cache_policy=lib.CachePolicy(),
        )
        s.add_edge(lib.START, "leaf")
        sub = s.compile()

        g = lib.StateGraph(Log)
        g.add_node(
            "fan",
            counted(calls, "fan", lambda st: {"log": ["fan"]}),
            cache_policy=lib.CachePolicy(),
        )
        g.add_node(
            "work",
            counted(calls, "work", lambda st: {"log": [st["n"]]}),
            cache_policy=lib.CachePolicy(),
        )
        g.add_node("sub", sub)
        g.add_edge(lib.START, "fan")
        g.add_conditional_edges("fan", route, ["work"])
        g.add_edge("work", "sub")
        graph = g.compile(cache=lib.InMemoryCache())
        first = list(graph.stream({"n": 0}, stream_mode="updates"))
        second = list(graph.stream({"n": 0}, stream_mode="updates"))
        return first, second, sorted(calls)

    first, second, calls = same(scenario)
    assert {"fan": {"log": ["fan"]}, "__metadata__": {"cached": True}} in second
    assert calls.count("fan") == 1


def test_async_cache_and_aclear_cache() -> None:
    def scenario(lib: Lib) -> Any:
        calls: list[str] = []

        async def node(state: Log) -> dict[str, Any]:
            calls.append("node")
            return {"log": ["node"]}

        g = lib.StateGraph(Log)
        g.add_node("node", node, cache_policy=lib.CachePolicy(ttl=60))
        g.add_edge(lib.START, "node")
        graph = g.compile(cache=lib.InMemoryCache())

        async def go() -> Any:
            out = [[c async for c in graph.astream({"n": 1})] for _ in range(2)]
            await graph.aclear_cache()
            out.append([c async for c in graph.astream({"n": 1})])
            return out

        return asyncio.run(go()), calls

    runs, calls = same(scenario)
    assert runs[1] == [{"node": {"log": ["node"]}, "__metadata__": {"cached": True}}]
    assert calls == ["node", "node"]


def test_cache_policy_without_a_cache_and_clear_without_one() -> None:
    def scenario(lib: Lib) -> Any:
        calls: list[str] = []
        g = lib.StateGraph(Log)
        g.add_node(
            "a",
            counted(calls, "a", lambda s: {"log": ["a"]}),
            cache_policy=lib.CachePolicy(),
        )
        g.add_edge(lib.START, "a")
        graph = g.compile()
        graph.invoke({"n": 1})
        graph.invoke({"n": 1})
        try:
            graph.clear_cache()
        except ValueError as exc:
            return calls, str(exc)
        return calls, None

    assert same(scenario) == (
        ["a", "a"],
        "No cache is set for this graph. Cannot clear cache.",
    )


def test_cached_writes_stream_before_the_superstep_runs() -> None:
    def scenario(lib: Lib) -> Any:
        def writer(state: Log) -> dict[str, Any]:
            from langgraph.config import get_stream_writer as lg_writer

            write = graphs.get_stream_writer() if lib is OURS else lg_writer()
            write("b runs")
            return {"log": ["b"]}

        g = lib.StateGraph(Log)
        g.add_node("a", lambda s: {"log": ["a"]}, cache_policy=lib.CachePolicy())
        g.add_node("b", writer)
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "b")
        graph = g.compile(cache=lib.InMemoryCache())
        modes = ["updates", "custom", "values", "tasks"]
        graph.invoke({"n": 1})
        # the second run: task ids differ between the engines, names do not
        return [
            (m, {k: v for k, v in c.items() if k in ("name", "result")})
            if m == "tasks"
            else (m, c)
            for m, c in graph.stream({"n": 1}, stream_mode=modes)
        ]

    chunks = same(scenario)
    cached = {"a": {"log": ["a"]}, "__metadata__": {"cached": True}}
    assert ("updates", cached) in chunks


def test_a_cache_hit_beside_an_interrupt_is_kept_for_the_resume() -> None:
    def scenario(lib: Lib) -> Any:
        calls: list[str] = []
        interrupt = graphs.interrupt if lib is OURS else lg_types.interrupt
        saver = (
            graphs_checkpoint.InMemorySaver()
            if lib is OURS
            else lg_memory.InMemorySaver()
        )

        def ask(state: Log) -> dict[str, Any]:
            return {"log": [interrupt("ok?")]}

        g = lib.StateGraph(Log)
        g.add_node(
            "a",
            counted(calls, "a", lambda s: {"log": ["a"]}),
            cache_policy=lib.CachePolicy(),
        )
        g.add_node("ask", ask)
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "ask")
        cache = lib.InMemoryCache()
        graph = g.compile(checkpointer=saver, cache=cache)
        out = []
        for thread in ("t1", "t2"):
            cfg = {"configurable": {"thread_id": thread}}
            out.append(list(graph.stream({"n": 1}, cfg)))
            if thread == "t2":  # `a` was a hit: its resume reads the checkpoint
                cache.clear()
            out.append(list(graph.stream(lib.Command(resume="yes"), cfg)))
        return [[_no_ids(c) for c in chunks] for chunks in out], calls

    runs, calls = same(scenario)
    assert calls == ["a"]
    assert {"a": {"log": ["a"]}, "__metadata__": {"cached": True}} in runs[2]


def _no_ids(chunk: Any) -> Any:
    if "__interrupt__" in chunk:
        return {"__interrupt__": [i.value for i in chunk["__interrupt__"]]}
    return chunk
