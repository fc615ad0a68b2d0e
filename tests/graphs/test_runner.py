"""Superstep semantics: ordering, reducers, edges, Send, Command, deferral, limits."""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import threading
import time
from typing import Annotated, Any, TypedDict

import pytest

from graphs import (
    END,
    START,
    Command,
    GraphRecursionError,
    InvalidUpdateError,
    Send,
    StateGraph,
)

from .conftest import Counter, appender


def test_it_runs_a_chain_and_returns_the_final_state() -> None:
    g = StateGraph(Counter)
    g.add_node("inc", lambda s: {"n": s["n"] + 1})
    g.add_node("double", lambda s: {"n": s["n"] * 2})
    g.add_edge(START, "inc")
    g.add_edge("inc", "double")
    g.add_edge("double", END)
    assert g.compile().invoke({"n": 1}) == {"n": 4, "log": []}


def test_parallel_writes_are_applied_in_task_order_not_finish_order() -> None:
    def slow(label: str, delay: float) -> Any:
        def node(state: Counter) -> dict[str, Any]:
            time.sleep(delay)
            return {"log": [label]}

        return node

    g = StateGraph(Counter)
    g.add_node("first", slow("first", 0.05))
    g.add_node("second", slow("second", 0.0))
    g.add_edge(START, "first")
    g.add_edge(START, "second")
    assert g.compile().invoke({"n": 0})["log"] == ["first", "second"]


def test_tasks_of_a_superstep_run_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(state: Counter) -> dict[str, Any]:
        barrier.wait()  # deadlocks (and times out) unless both run at once
        return {"log": ["met"]}

    g = StateGraph(Counter)
    g.add_node("a", meet)
    g.add_node("b", meet)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    assert g.compile().invoke({"n": 0})["log"] == ["met", "met"]


def test_async_tasks_of_a_superstep_run_concurrently() -> None:
    arrived: dict[str, asyncio.Event] = {}

    def meeting(me: str, other: str) -> Any:
        async def meet(state: Counter) -> dict[str, Any]:
            arrived[me].set()
            # returns only if the other task runs meanwhile (run one after the
            # other, the first would wait in vain and fail the run)
            await asyncio.wait_for(arrived[other].wait(), timeout=5)
            return {"log": [me]}

        return meet

    g = StateGraph(Counter)
    g.add_node("a", meeting("a", "b"))
    g.add_node("b", meeting("b", "a"))
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    graph = g.compile()

    async def run() -> dict[str, Any]:
        arrived.update(a=asyncio.Event(), b=asyncio.Event())
        return await graph.ainvoke({"n": 0})

    assert asyncio.run(run())["log"] == ["a", "b"]


def test_nodes_see_the_state_of_the_previous_superstep() -> None:
    seen: list[list[str]] = []

    def watcher(state: Counter) -> dict[str, Any]:
        seen.append(list(state["log"]))
        return {"log": ["w"]}

    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_node("w", watcher)
    g.add_edge(START, "a")
    g.add_edge(START, "w")
    g.compile().invoke({"n": 0})
    assert seen == [[]]


def test_two_writes_to_a_last_value_channel_raise() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"n": 1})
    g.add_node("b", lambda s: {"n": 2})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    with pytest.raises(InvalidUpdateError, match="At key 'n'"):
        g.compile().invoke({"n": 0})


def test_reducers_fold_every_write_of_the_superstep() -> None:
    class S(TypedDict):
        total: Annotated[int, operator.add]

    g = StateGraph(S)
    for name in "abc":
        g.add_node(name, lambda s: {"total": 5})
        g.add_edge(START, name)
    assert g.compile().invoke({"total": 1}) == {"total": 16}


def test_a_node_returning_a_non_dict_raises() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: 42)
    g.add_edge(START, "a")
    with pytest.raises(InvalidUpdateError, match="Expected dict"):
        g.compile().invoke({"n": 0})


def test_unknown_keys_in_updates_and_input_are_ignored() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"n": 1, "other": 2})
    g.add_edge(START, "a")
    assert g.compile().invoke({"n": 0, "junk": 1}) == {"n": 1, "log": []}


def test_nodes_may_take_the_config() -> None:
    def node(state: Counter, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "log": [
                config["configurable"]["user"],
                config["metadata"]["langgraph_node"],
            ]
        }

    g = StateGraph(Counter)
    g.add_node("a", node)
    g.add_edge(START, "a")
    out = g.compile().invoke({"n": 0}, {"configurable": {"user": "ann"}})
    assert out["log"] == ["ann", "a"]


def test_join_edges_wait_for_every_source() -> None:
    g = StateGraph(Counter)
    for name in ("a", "b1", "b2", "join"):
        g.add_node(name, appender(name))
    g.add_edge(START, "a")
    g.add_edge(START, "b1")
    g.add_edge("b1", "b2")
    g.add_edge(["a", "b2"], "join")
    assert g.compile().invoke({"n": 0})["log"] == ["a", "b1", "b2", "join"]


def test_plain_edges_from_both_branches_run_the_target_twice() -> None:
    g = StateGraph(Counter)
    for name in ("a", "b1", "b2", "c"):
        g.add_node(name, appender(name))
    g.add_edge(START, "a")
    g.add_edge(START, "b1")
    g.add_edge("b1", "b2")
    g.add_edge("a", "c")
    g.add_edge("b2", "c")
    assert g.compile().invoke({"n": 0})["log"] == ["a", "b1", "b2", "c", "c"]


def test_conditional_edges_accept_a_name_a_list_or_end() -> None:
    g = StateGraph(Counter)
    for name in ("router", "x", "y"):
        g.add_node(name, appender(name))
    g.add_edge(START, "router")
    routes = {0: "x", 1: ["x", "y"], 2: END}
    g.add_conditional_edges("router", lambda s: routes[s["n"]])
    graph = g.compile()
    assert graph.invoke({"n": 0})["log"] == ["router", "x"]
    assert graph.invoke({"n": 1})["log"] == ["router", "x", "y"]
    assert graph.invoke({"n": 2})["log"] == ["router"]


def test_conditional_edges_map_through_path_map() -> None:
    g = StateGraph(Counter)
    g.add_node("router", appender("router"))
    g.add_node("yes", appender("yes"))
    g.add_edge(START, "router")
    g.add_conditional_edges("router", lambda s: s["n"] > 0, {True: "yes", False: END})
    graph = g.compile()
    assert graph.invoke({"n": 1})["log"] == ["router", "yes"]
    assert graph.invoke({"n": 0})["log"] == ["router"]


def test_conditional_edges_see_the_nodes_own_writes() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"n": 10})
    g.add_node("big", appender("big"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "big" if s["n"] >= 10 else END)
    assert g.compile().invoke({"n": 0})["log"] == ["big"]


def test_send_fans_out_and_the_reducer_keeps_send_order() -> None:
    class S(TypedDict):
        items: list[int]
        out: Annotated[list[int], operator.add]

    def work(arg: dict[str, int]) -> dict[str, Any]:
        time.sleep(0.001 * (8 - arg["x"]))
        return {"out": [arg["x"] * 10]}

    g = StateGraph(S)
    g.add_node("work", work)
    g.add_node("total", lambda s: {"out": [sum(s["out"])]})
    g.add_conditional_edges(
        START, lambda s: [Send("work", {"x": x}) for x in s["items"]]
    )
    g.add_edge("work", "total")
    out = g.compile().invoke({"items": list(range(8))})
    assert out["out"] == [0, 10, 20, 30, 40, 50, 60, 70, 280]


def test_command_updates_and_goes_to_a_node() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: Command(update={"log": ["a"]}, goto="c"))
    g.add_node("b", appender("b"))
    g.add_node("c", appender("c"))
    g.add_edge(START, "a")
    assert g.compile().invoke({"n": 0})["log"] == ["a", "c"]


def test_command_goto_send_and_unknown_node() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: Command(goto=[Send("b", {"n": 5, "log": []})]))
    g.add_node("b", lambda s: {"log": [s["n"]]})
    g.add_edge(START, "a")
    assert g.compile().invoke({"n": 0})["log"] == [5]

    bad = StateGraph(Counter)
    bad.add_node("a", lambda s: Command(goto="nope"))
    bad.add_edge(START, "a")
    with pytest.raises(InvalidUpdateError, match="nope"):
        bad.compile().invoke({"n": 0})


def test_command_as_input_updates_and_routes() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_node("b", appender("b"))
    g.add_edge(START, "a")
    out = g.compile().invoke(Command(update={"n": 3}, goto="b"))
    assert out == {"n": 3, "log": ["b"]}


def test_deferred_nodes_wait_until_everything_else_is_done() -> None:
    g = StateGraph(Counter)
    for name in ("a", "a2", "a3", "b"):
        g.add_node(name, appender(name))
    g.add_node("final", appender("final"), defer=True)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge("a", "a2")
    g.add_edge("a2", "a3")
    g.add_edge("a3", "final")
    g.add_edge("b", "final")
    assert g.compile().invoke({"n": 0})["log"] == ["a", "b", "a2", "a3", "final"]


def test_recursion_limit_raises_graph_recursion_error() -> None:
    g = StateGraph(Counter)
    g.add_node("loop", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "loop")
    g.add_edge("loop", "loop")
    with pytest.raises(GraphRecursionError, match="Recursion limit of 5"):
        g.compile().invoke({"n": 0}, {"recursion_limit": 5})


def test_recursion_limit_counts_supersteps_like_langgraph() -> None:
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), appender("b"), appender("c")])
    g.add_edge(START, "a")
    graph = g.compile()
    assert graph.invoke({"n": 0}, {"recursion_limit": 4})["log"] == ["a", "b", "c"]
    with pytest.raises(GraphRecursionError):
        graph.invoke({"n": 0}, {"recursion_limit": 3})


def test_sync_invoke_runs_async_nodes_and_branches() -> None:
    async def node(state: Counter) -> dict[str, Any]:
        return {"n": state["n"] + 1}

    async def route(state: Counter) -> str:
        return END

    g = StateGraph(Counter)
    g.add_node("a", node)
    g.add_edge(START, "a")
    g.add_conditional_edges("a", route)
    graph = g.compile()
    assert graph.invoke({"n": 0})["n"] == 1
    assert asyncio.run(graph.ainvoke({"n": 0}))["n"] == 1


def test_dataclass_state_is_passed_as_an_instance() -> None:
    @dataclasses.dataclass
    class S:
        name: str
        log: Annotated[list[str], operator.add] = dataclasses.field(
            default_factory=list
        )

    def greet(state: S) -> dict[str, Any]:
        return {"log": [f"hi {state.name}"]}

    g = StateGraph(S)
    g.add_node("greet", greet)
    g.add_edge(START, "greet")
    assert g.compile().invoke({"name": "ann"}) == {"name": "ann", "log": ["hi ann"]}


def test_output_schema_filters_the_result() -> None:
    class Out(TypedDict):
        n: int

    g = StateGraph(Counter, output_schema=Out)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    assert g.compile().invoke({"n": 1}) == {"n": 1}


def test_graph_runs_are_independent() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    graph = g.compile()
    assert graph.invoke({"n": 0})["log"] == ["a"]
    assert graph.invoke({"n": 0})["log"] == ["a"]


def test_messages_state_merges_messages_by_id() -> None:
    from graphs import MessagesState
    from graphs.messages import AIMessage, HumanMessage

    g = StateGraph(MessagesState)
    g.add_node("draft", lambda s: {"messages": [AIMessage(content="draft", id="ai-1")]})
    g.add_node("edit", lambda s: {"messages": [AIMessage(content="final", id="ai-1")]})
    g.add_edge(START, "draft")
    g.add_edge("draft", "edit")
    out = g.compile().invoke({"messages": [HumanMessage(content="hi", id="h-1")]})
    assert [(m.id, m.content) for m in out["messages"]] == [
        ("h-1", "hi"),
        ("ai-1", "final"),
    ]


def test_config_may_be_a_keyword_only_parameter() -> None:
    def node(state: Counter, *, config: dict[str, Any]) -> dict[str, Any]:
        return {"log": [config["configurable"]["user"]]}

    async def route(state: Counter, *, config: dict[str, Any]) -> str:
        return END

    g = StateGraph(Counter)
    g.add_node("a", node)
    g.add_edge(START, "a")
    g.add_conditional_edges("a", route)
    graph = g.compile()
    assert graph.invoke({"n": 0}, {"configurable": {"user": "bo"}})["log"] == ["bo"]
    out = asyncio.run(graph.ainvoke({"n": 0}, {"configurable": {"user": "al"}}))
    assert out["log"] == ["al"]
