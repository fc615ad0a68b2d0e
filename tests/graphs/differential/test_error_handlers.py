"""Node error handlers, ``NodeError`` and ``set_node_defaults`` (issue 12,
item 7), against real LangGraph.

No ``from __future__ import annotations`` here: the handlers' ``error``
parameters are annotated with each engine's own ``NodeError`` class.
"""

import asyncio
import warnings
from typing import Any

import langgraph.errors as lg_errors
import langgraph.types as lg_types

import graphs

from ._libs import Lib, Log, add, history, outcome, plain, same, thread


def node_error(lib: Lib) -> Any:
    return graphs.NodeError if lib.name == "graphs" else lg_errors.NodeError


def retry(lib: Lib, **kw: Any) -> Any:
    cls = graphs.RetryPolicy if lib.name == "graphs" else lg_types.RetryPolicy
    return cls(initial_interval=0, jitter=False, **kw)


def boom(state: Log) -> dict[str, Any]:
    raise KeyError("k")


def handler_of(lib: Lib, label: str) -> Any:
    error_type = node_error(lib)

    def handler(state: Log, error: error_type) -> dict[str, Any]:  # type: ignore[valid-type]
        return {"log": [f"{label} {error.node} {error.error!r}"]}  # type: ignore[attr-defined]

    return handler


def test_a_handler_replaces_the_failed_node_in_its_superstep() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", boom, error_handler=handler_of(lib, "handled"))
        g.add_node("b", add("b"))
        g.add_node("c", add("c"))
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "b")
        g.add_edge("a", "c")  # not followed: "a" failed
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        updates = list(graph.stream({"log": []}, config, stream_mode="updates"))
        return (
            sorted(map(repr, updates)),
            history(graph, config),
            list(graph.get_graph().nodes),
        )

    _, steps, nodes = same(scenario)
    assert steps[-1] == (1, "loop", (), {"log": ["handled a KeyError('k')", "b"]})
    assert nodes[:3] == ["__start__", "__error_handler__a", "a"]


def test_a_handler_routes_with_a_command_after_the_retries() -> None:
    def scenario(lib: Lib) -> Any:
        attempts = []

        def flaky(state: Log) -> dict[str, Any]:
            attempts.append(1)
            raise ConnectionError("down")

        def handler(state: Log, error: node_error(lib)) -> Any:  # type: ignore[valid-type]
            return lib.Command(update={"log": ["fallback"]}, goto="c")

        g = lib.StateGraph(Log)
        g.add_node("a", flaky, retry_policy=retry(lib, max_attempts=2))
        g.add_node("c", add("c"))
        g.set_node_defaults(error_handler=handler)
        g.add_edge(lib.START, "a")
        graph = g.compile()
        nodes = list(graph.get_graph().nodes)
        return plain(graph.invoke({"log": []})), len(attempts), nodes

    result, attempts, nodes = same(scenario)
    assert (result, attempts) == ({"log": ["fallback", "c"]}, 2)
    assert nodes[-2] == "__default_error_handler__"


def test_a_node_handler_wins_over_the_default_and_handlers_are_not_handled() -> None:
    def scenario(lib: Lib) -> Any:
        def broken_handler(state: Log, error: node_error(lib)) -> Any:  # type: ignore[valid-type]
            raise ValueError("handler broke")

        def build(*entries: str) -> Any:
            # (LangGraph cannot compile a builder with a default handler twice)
            g = lib.StateGraph(Log)
            g.set_node_defaults(error_handler=handler_of(lib, "default"))
            g.add_node("a", boom, error_handler=handler_of(lib, "own"))
            g.add_node("b", boom)
            g.add_node("c", boom, error_handler=broken_handler)
            for name in entries:
                g.add_edge(lib.START, name)
            return g.compile()

        first = plain(build("a", "b").invoke({"log": []}))
        return first, outcome(lambda: build("c").invoke({"log": []}))

    first, failed = same(scenario)
    assert first == {"log": ["own a KeyError('k')", "default b KeyError('k')"]}
    assert failed == ("error", "ValueError")


def test_an_async_handler_of_a_send_task() -> None:
    def scenario(lib: Lib) -> Any:
        async def handler(state: Any, error: node_error(lib)) -> Any:  # type: ignore[valid-type]
            return {"log": [f"sent {state['n']}"]}

        def fail_odd(state: Any) -> dict[str, Any]:
            if state["n"] % 2:
                raise KeyError(state["n"])
            return {"log": [f"ok {state['n']}"]}

        g = lib.StateGraph(Log)
        g.add_node("fan", lambda s: {})
        g.add_node("work", fail_odd, error_handler=handler)
        g.add_edge(lib.START, "fan")
        g.add_conditional_edges(
            "fan", lambda s: [lib.Send("work", {"n": n}) for n in range(4)]
        )
        return plain(asyncio.run(g.compile().ainvoke({"log": []})))

    assert same(scenario) == {"log": ["ok 0", "sent 1", "ok 2", "sent 3"]}


def test_node_defaults_give_retries_and_timeouts_to_nodes_without_their_own() -> None:
    def scenario(lib: Lib) -> Any:
        calls = {"a": 0, "b": 0}

        def flaky(name: str) -> Any:
            async def node(state: Log) -> dict[str, Any]:  # LangGraph: async only
                calls[name] += 1
                if calls[name] < 3:
                    raise ConnectionError(name)
                return {"log": [name]}

            return node

        g = lib.StateGraph(Log)
        g.set_node_defaults(retry_policy=retry(lib, max_attempts=3), timeout=30)
        g.add_node("a", flaky("a"))
        g.add_node("b", flaky("b"), retry_policy=retry(lib, max_attempts=1))
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        graph = g.compile()
        return outcome(lambda: asyncio.run(graph.ainvoke({"log": []}))), calls

    assert same(scenario) == (("error", "ConnectionError"), {"a": 3, "b": 1})


def test_options_graphs_lacks_warn() -> None:
    g = graphs.StateGraph(Log)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g.add_node("a", add("a"), input_schema=dict)
    assert [str(w.message) for w in caught] == [
        "add_node(input_schema=...) is not supported by graphs; ignored",
    ]


def paused_handler_scenario(lib: Lib, handler_asks: bool) -> Any:
    """``a`` fails beside ``q``; either the handler or ``q`` pauses, then the
    run is resumed. The calls show what ran again."""
    calls: list[Any] = []
    error_type = node_error(lib)

    def failing(state: Log) -> dict[str, Any]:
        calls.append("a")
        raise KeyError("k")

    def handler(state: Log, error: error_type) -> dict[str, Any]:  # type: ignore[valid-type]
        calls.append("handler")
        answer = lib.interrupt(f"fix {error.node}?") if handler_asks else "-"  # type: ignore[attr-defined]
        return {"log": [f"{answer} {error.error!r}"]}  # type: ignore[attr-defined]

    def sibling(state: Log) -> dict[str, Any]:
        calls.append("q")
        return {"log": ["-" if handler_asks else lib.interrupt("q?")]}

    g = lib.StateGraph(Log)
    g.add_node("a", failing, error_handler=handler)
    g.add_node("q", sibling)
    g.add_edge(lib.START, "a")
    g.add_edge(lib.START, "q")
    graph = g.compile(checkpointer=lib.InMemorySaver())
    config = thread()
    first = plain(graph.invoke({"log": []}, config))
    snap = graph.get_state(config)
    paused = [(t.name, t.error, len(t.interrupts)) for t in snap.tasks]
    first_calls = sorted(calls)
    calls.clear()
    resumed = graph.stream(lib.Command(resume="yes"), config, stream_mode="updates")
    updates = sorted(map(repr, resumed))
    return first, paused, first_calls, sorted(calls), updates, history(graph, config)


def test_a_paused_handler_resumes_alone() -> None:
    first, paused, first_calls, calls, _, steps = same(
        lambda lib: paused_handler_scenario(lib, handler_asks=True)
    )
    assert first == {"log": ["-"], "__interrupt__": [("interrupt", "fix a?")]}
    assert paused == [("a", "KeyError('k')", 0), ("q", None, 0)]
    assert (first_calls, calls) == (["a", "handler", "q"], ["handler"])
    # the resumed handler sees the stored failure's repr, as in LangGraph
    assert steps[-1][-1] == {"log": ["yes \"KeyError('k')\"", "-"]}


def test_a_finished_handler_runs_again_without_its_node_on_resume() -> None:
    _, _, first_calls, calls, updates, steps = same(
        lambda lib: paused_handler_scenario(lib, handler_asks=False)
    )
    assert (first_calls, calls) == (["a", "handler", "q"], ["handler", "q"])
    assert len(updates) == 2
    assert steps[-1][-1] == {"log": ["- \"KeyError('k')\"", "yes"]}
