"""Unit tests of the node cache (graphs.cache) and Runtime (graphs.runtime)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest

from graphs import START, CachePolicy, Runtime, StateGraph, get_runtime
from graphs.cache import InMemoryCache
from graphs.runtime import coerce_context, takes_runtime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_in_memory_cache_ttl_expires_at_its_deadline() -> None:
    clock = Clock()
    cache = InMemoryCache(clock=clock)
    ns = ("writes", "node")
    cache.set({(ns, "k"): ([1], 10), (ns, "forever"): ([2], None)})
    clock.now += 9.999
    assert cache.get([(ns, "k"), (ns, "forever")]) == {
        (ns, "k"): [1],
        (ns, "forever"): [2],
    }
    clock.now += 0.001
    assert cache.get([(ns, "k"), (ns, "forever")]) == {(ns, "forever"): [2]}
    clock.now += 10**9
    assert cache.get([(ns, "forever")]) == {(ns, "forever"): [2]}


def test_in_memory_cache_copies_and_clears_by_namespace() -> None:
    cache = InMemoryCache()
    value = {"log": [1]}
    cache.set({(("a",), "k"): (value, None), (("b",), "k"): ([0], None)})
    value["log"].append(2)  # the cached entry does not change
    got = cache.get([(("a",), "k")])[(("a",), "k")]
    assert got == {"log": [1]}
    got["log"].append(3)
    assert cache.get([(("a",), "k")])[(("a",), "k")] == {"log": [1]}
    cache.clear([("a",)])
    assert cache.get([(("a",), "k"), (("b",), "k")]) == {(("b",), "k"): [0]}
    cache.clear()
    assert cache.get([(("b",), "k")]) == {}


class Log(TypedDict, total=False):
    n: int
    log: Annotated[list[Any], operator.add]


def _graph(calls: list[int], clock: Clock, ttl: int | None) -> Any:
    def node(state: Log) -> dict[str, Any]:
        calls.append(state["n"])
        return {"log": [state["n"]]}

    g = StateGraph(Log)
    g.add_node("node", node, cache_policy=CachePolicy(ttl=ttl))
    g.add_edge(START, "node")
    return g.compile(cache=InMemoryCache(clock=clock))


def test_a_cached_node_runs_again_once_its_ttl_passed() -> None:
    calls: list[int] = []
    clock = Clock()
    graph = _graph(calls, clock, ttl=5)
    assert graph.invoke({"n": 1}) == {"n": 1, "log": [1]}
    clock.now += 4
    assert list(graph.stream({"n": 1})) == [
        {"node": {"log": [1]}, "__metadata__": {"cached": True}}
    ]
    clock.now += 1
    assert list(graph.stream({"n": 1})) == [{"node": {"log": [1]}}]
    assert calls == [1, 1]
    graph.invoke({"n": 2})  # another input, another key
    assert calls == [1, 1, 2]


def test_clear_cache_needs_a_cache_and_ignores_unknown_nodes() -> None:
    calls: list[int] = []
    graph = _graph(calls, Clock(), ttl=None)
    graph.invoke({"n": 1})
    graph.clear_cache(["nope"])
    graph.invoke({"n": 1})
    assert calls == [1]
    graph.clear_cache(["node"])
    graph.invoke({"n": 1})
    assert calls == [1, 1]
    with pytest.raises(ValueError, match="No cache is set"):
        graph.copy({"cache": None}).clear_cache()


@dataclass
class Ctx:
    user: str


def test_coerce_context() -> None:
    assert coerce_context(Ctx, {"user": "ada"}) == Ctx("ada")
    assert coerce_context(Ctx, Ctx("bob")) == Ctx("bob")
    assert coerce_context(None, {"user": "ada"}) == {"user": "ada"}
    assert coerce_context(Log, {"n": 1}) == {"n": 1}  # a TypedDict: kept
    assert coerce_context(Ctx, None) is None
    with pytest.raises(TypeError):
        coerce_context(Ctx, {"nobody": 1})


def test_takes_runtime_by_parameter_name() -> None:
    def positional(state: Any, runtime: Any) -> None: ...
    def keyword(state: Any, *, runtime: Runtime[Ctx]) -> None: ...
    def other(state: Any, rt: Runtime[Ctx]) -> None: ...
    def var(state: Any, **runtime: Any) -> None: ...

    assert takes_runtime(positional)
    assert takes_runtime(keyword)
    assert not takes_runtime(other)
    assert not takes_runtime(var)
    assert not takes_runtime(len)


def test_runtime_in_nodes_with_config_and_writer() -> None:
    seen: list[Any] = []

    def node(state: Log, config: dict[str, Any], *, runtime: Runtime[Ctx]) -> Any:
        assert get_runtime().context is runtime.context
        seen.append((runtime.context, config["configurable"]["thread_id"]))
        runtime.stream_writer("hi")
        return {"log": [runtime.context.user]}

    g = StateGraph(Log, context_schema=Ctx)
    g.add_node("node", node)
    g.add_edge(START, "node")
    graph = g.compile()
    config = {"configurable": {"thread_id": "t"}}
    chunks = list(
        graph.stream({}, config, context={"user": "ada"}, stream_mode="custom")
    )
    assert chunks == ["hi"]
    assert seen == [(Ctx("ada"), "t")]
    result = graph.run({}, config, context={"user": "bob"})
    assert result.state == {"log": ["bob"]}


def test_get_runtime_outside_a_node() -> None:
    with pytest.raises(RuntimeError):
        get_runtime()


def test_runtime_override() -> None:
    base: Runtime[Ctx] = Runtime(context=Ctx("ada"))
    assert base.override(context=Ctx("bob")).context == Ctx("bob")
    assert base.store is None
    assert base.previous is None
    base.heartbeat()
    base.stream_writer("ignored")
