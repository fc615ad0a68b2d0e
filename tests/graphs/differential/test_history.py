"""Ordering of writes and the shape of the history, against real LangGraph.

Each test runs one scenario on ``graphs`` and on LangGraph (``same``) and fails if
what a user observes differs: final state, chunks, interrupts, checkpoints (step,
source, next, values) and errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._libs import (
    Lib,
    Log,
    add,
    ask_after,
    chain,
    chunks,
    history,
    outcome,
    plain,
    same,
    thread,
)


def finished(lib: Lib) -> tuple[Any, dict[str, Any]]:
    """A chain ``a -> b`` run to its end on a fresh thread."""
    graph, config = chain(lib, "a", "b"), thread()
    graph.invoke({"log": []}, config)
    return graph, config


def test_fanned_out_writes_apply_by_node_name_not_builder_order() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("zeta", add("zeta"))
        g.add_node("alpha", add("alpha"))
        g.add_node("mid", add("mid"))
        for name in ("zeta", "alpha", "mid"):
            g.add_edge(lib.START, name)
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        return graph.invoke({"log": []}, config), history(graph, config)

    out, _ = same(scenario)
    assert out == {"log": ["alpha", "mid", "zeta"]}


def test_pulled_nodes_apply_before_sends_and_sends_by_position() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("work", lambda s: {"log": [s["i"]]})
        g.add_node("m", add("m"))
        g.add_node("b", add("b"))
        g.add_conditional_edges(
            lib.START,
            lambda s: [lib.Send("work", {"i": i}) for i in range(12)] + ["m", "b"],
        )
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        return graph.invoke({"log": []}, config), history(graph, config)

    out, _ = same(scenario)
    assert out["log"][:3] == ["b", "m", 0]


def test_history_has_an_input_checkpoint_and_a_start_superstep() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b")
        config = thread()
        first = graph.invoke({"log": ["x"]}, config)
        second = graph.invoke({"log": ["y"]}, config)  # the numbering continues
        return first, second, history(graph, config)

    *_, steps = same(scenario)
    assert [s[:3] for s in steps[:2]] == [
        (-1, "input", ("__start__",)),
        (0, "loop", ("a",)),
    ]
    assert len(steps) == 2 * (2 + 2)


def test_nodes_see_langgraph_step() -> None:
    def scenario(lib: Lib) -> Any:
        seen: list[Any] = []

        def node(state: Log, config) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            # (LangGraph finds the config parameter by its name or RunnableConfig)
            seen.append(config["metadata"]["langgraph_step"])
            return {"log": ["n"]}

        g = lib.StateGraph(Log)
        g.add_node("a", node)
        g.add_node("b", node)
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        g.compile().invoke({"log": []})
        return seen

    assert same(scenario) == [1, 2]


def test_recursion_limit_on_a_fresh_run_and_after_a_resume() -> None:
    def scenario(lib: Lib) -> Any:
        def loop(state: Log) -> dict[str, Any]:
            if len(state["log"]) == 2:
                lib.interrupt("pause")
            return {"log": ["a"]}

        g = lib.StateGraph(Log)
        g.add_node("a", loop)
        g.add_edge(lib.START, "a")
        g.add_edge("a", "a")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = {**thread(), "recursion_limit": 4}
        paused = outcome(lambda: graph.invoke({"log": []}, config))
        resumed = outcome(lambda: graph.invoke(lib.Command(resume=1), config))
        return paused, resumed, history(graph, config)

    _, resumed, _ = same(scenario)
    assert resumed == ("error", "GraphRecursionError")


def test_a_run_that_needs_every_step_of_its_limit_fails() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b", "c")
        return [
            outcome(
                lambda n=n: graph.invoke(
                    {"log": []}, {**thread(), "recursion_limit": n}
                )
            )
            for n in (3, 4)
        ]

    assert same(scenario)[0] == ("error", "GraphRecursionError")


def test_interrupt_and_resume_history() -> None:
    def scenario(lib: Lib) -> Any:
        graph = ask_after(lib, "a", "q").compile(checkpointer=lib.InMemorySaver())
        config = thread()
        paused = plain(graph.invoke({"log": []}, config))
        state = graph.get_state(config)
        done = plain(graph.invoke(lib.Command(resume="yes"), config))
        return paused, state.next, plain(state.interrupts), done, history(graph, config)

    same(scenario)


def test_breakpoints_pause_after_the_start_superstep() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b", interrupt_before="*")
        config = thread()
        outs = [plain(graph.invoke({"log": []}, config))]
        outs += [plain(graph.invoke(None, config)) for _ in range(2)]
        return outs, history(graph, config)

    same(scenario)


def test_breakpoints_given_to_ainvoke_with_a_streaming_mode() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b")
        config = thread()
        streamed = asyncio.run(
            graph.ainvoke(
                {"log": []}, config, stream_mode="updates", interrupt_before=["b"]
            )
        )
        return chunks(streamed), history(graph, config)

    same(scenario)


def test_update_state_forks_with_the_next_step_number() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = finished(lib)
        mid = next(s for s in graph.get_state_history(config) if s.next == ("b",))
        forked = graph.update_state(mid.config, {"log": ["u"]})
        return plain(graph.invoke(None, forked)), history(graph, config)

    same(scenario)


def test_replaying_an_older_checkpoint_forks_it_and_keeps_the_old_branch() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = finished(lib)
        snaps = list(graph.get_state_history(config))
        mid = next(s for s in snaps if s.next == ("b",))
        again = plain(graph.invoke(None, mid.config))
        from_input = plain(graph.invoke(None, snaps[-1].config))
        return again, from_input, history(graph, config)

    *_, steps = same(scenario)
    assert [s[1] for s in steps].count("fork") == 2


def test_values_updates_and_debug_streams() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b")
        streamed = chunks(
            graph.stream({"log": []}, thread(), stream_mode=["values", "updates"])
        )
        debug = [
            (d["type"], d["step"], d["payload"].get("name"), d["payload"].get("next"))
            for d in graph.stream({"log": []}, thread(), stream_mode="debug")
        ]
        return streamed, debug

    same(scenario)
