"""``Overwrite`` bypasses a reducer (issue 12, item 7), against real LangGraph."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import langgraph.types as lg_types

import graphs

from ._libs import Lib, Log, add, history, outcome, plain, same, thread


def overwrite(lib: Lib) -> Any:
    return graphs.Overwrite if lib.name == "graphs" else lg_types.Overwrite


def test_an_overwrite_replaces_the_reduced_value() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("b", lambda s: {"log": overwrite(lib)(["fresh"])})
        g.add_node("c", add("c"))
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        g.add_edge("b", "c")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        chunks = list(graph.stream({"log": ["start"]}, config, stream_mode="values"))
        return plain(chunks), history(graph, config)

    chunks, _ = same(scenario)
    assert chunks[-1] == {"log": ["fresh", "c"]}


def test_writes_around_an_overwrite_in_one_superstep() -> None:
    # the siblings sort by task path: "a" reduces, "b" overwrites, "c" is dropped
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("b", lambda s: {"log": overwrite(lib)(["b"])})
        g.add_node("c", add("c"))
        for name in ("c", "a", "b"):
            g.add_edge(lib.START, name)
        return plain(g.compile().invoke({"log": ["start"]}))

    assert same(scenario) == {"log": ["b"]}


def test_the_json_forms_of_an_overwrite() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", lambda s: {"log": {"__overwrite__": ["x"]}})
        g.add_node("b", lambda s: {"log": {"value": ["y"], "type": "__overwrite__"}})
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        return plain(g.compile().invoke({"log": ["start"]}))

    assert same(scenario) == {"log": ["y"]}


def test_two_overwrites_of_one_key_in_a_superstep_fail() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", lambda s: {"log": overwrite(lib)(["a"])})
        g.add_node("b", lambda s: {"log": overwrite(lib)(["b"])})
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "b")
        return outcome(lambda: g.compile().invoke({"log": []}))

    assert same(scenario) == ("error", "InvalidUpdateError")


class Plain(TypedDict):
    value: Any
    total: Annotated[int, operator.add]


def test_an_overwrite_of_a_plain_key_is_stored_as_is() -> None:
    # a last-value key has no reducer to bypass: LangGraph keeps the object
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Plain)
        g.add_node("a", lambda s: {"value": overwrite(lib)(1), "total": 2})
        g.add_node("b", lambda s: {"total": overwrite(lib)(10)})
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        out = g.compile().invoke({"total": 5})
        return type(out["value"]).__name__, out["value"].value, out["total"]

    assert same(scenario) == ("Overwrite", 1, 10)


def test_an_overwrite_in_update_state_and_in_a_paused_superstep() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", lambda s: {"log": overwrite(lib)(["a"])})
        g.add_node("ask", lambda s: {"log": [lib.interrupt("q")]})
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "ask")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        paused = graph.invoke({"log": ["start"]}, config)
        done = graph.invoke(lib.Command(resume="yes"), config)
        graph.update_state(config, {"log": overwrite(lib)(["reset"])}, as_node="a")
        return plain(paused), plain(done), plain(graph.get_state(config).values)

    assert same(scenario)[2] == {"log": ["reset"]}
