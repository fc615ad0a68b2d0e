"""Interrupt and resume details, against real LangGraph (issue 12, item 5)."""

from __future__ import annotations

from typing import Any

from ._libs import Lib, Log, add, chunks, history, outcome, plain, same, thread


def asking(lib: Lib, question: str) -> Any:
    def node(state: Log) -> dict[str, Any]:
        return {"log": [lib.interrupt(question)]}

    return node


def fan(lib: Lib, **nodes: Any) -> Any:
    """START fanned out to ``nodes``, with a saver."""
    g = lib.StateGraph(Log)
    for name, fn in nodes.items():
        g.add_node(name, fn)
        g.add_edge(lib.START, name)
    return g.compile(checkpointer=lib.InMemorySaver())


def test_a_resume_with_an_update_applies_both() -> None:
    def scenario(lib: Lib) -> Any:
        graph = fan(lib, ask=asking(lib, "q"))
        config = thread()
        graph.invoke({"log": []}, config)
        resume = lib.Command(resume="r", update={"log": ["u"]})
        return plain(graph.invoke(resume, config)), history(graph, config)

    out, _ = same(scenario)
    assert out == {"log": ["u", "r"]}


def test_replaying_before_a_node_with_two_interrupts_asks_the_first_again() -> None:
    def scenario(lib: Lib) -> Any:
        def ask(state: Log) -> dict[str, Any]:
            return {"log": [lib.interrupt("first"), lib.interrupt("second")]}

        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("ask", ask)
        g.add_edge(lib.START, "a")
        g.add_edge("a", "ask")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        outs = [plain(graph.invoke({"log": []}, config))]
        outs.append(plain(graph.invoke(lib.Command(resume=1), config)))
        snaps = list(graph.get_state_history(config))
        before = [s for s in snaps if s.next == ("ask",)][-1]
        outs.append(plain(graph.invoke(None, before.config)))
        return outs

    assert same(scenario)[-1]["__interrupt__"] == [("interrupt", "first")]


def test_finished_siblings_are_in_the_paused_values_and_resumed_as_cached() -> None:
    def scenario(lib: Lib) -> Any:
        graph = fan(lib, sib=add("sib"), ask=asking(lib, "q"))
        config = thread()
        paused = chunks(graph.stream({"log": []}, config, stream_mode="updates"))
        state = graph.get_state(config)
        resumed = chunks(
            graph.stream(lib.Command(resume="r"), config, stream_mode="updates")
        )
        # LangGraph streams the paused step's chunks as its tasks end (any order)
        return sorted(map(repr, paused)), plain(state.values), state.next, resumed

    _, values, _, resumed = same(scenario)
    assert values == {"log": ["sib"]}
    assert resumed[0]["__metadata__"] == {"cached": True}


def test_a_paused_invoke_returns_finished_siblings_writes() -> None:
    def scenario(lib: Lib) -> Any:
        graph = fan(lib, zed=add("zed"), ask=asking(lib, "q"), alpha=add("alpha"))
        config = thread()
        return plain(graph.invoke({"log": []}, config)), history(graph, config)

    out, _ = same(scenario)
    assert out["log"] == ["alpha", "zed"]


def test_parallel_interrupts_stream_one_chunk_per_task() -> None:
    def scenario(lib: Lib) -> Any:
        graph = fan(lib, x=asking(lib, "qx"), y=asking(lib, "qy"))
        config = thread()
        streamed = chunks(graph.stream({"log": []}, config, stream_mode="updates"))
        plain_resume = outcome(lambda: graph.invoke(lib.Command(resume="r"), config))
        return sorted(map(repr, streamed)), plain_resume

    streamed, plain_resume = same(scenario)
    assert len(streamed) == 2
    assert plain_resume == ("error", "RuntimeError")


def test_breakpoints_stop_before_a_command_goto_target() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", lambda s: lib.Command(update={"log": ["a"]}, goto=["b", "c"]))
        g.add_node("b", add("b"))
        g.add_node("c", add("c"))
        g.add_edge(lib.START, "a")
        graph = g.compile(checkpointer=lib.InMemorySaver(), interrupt_before=["c"])
        config = thread()
        paused = plain(graph.invoke({"log": []}, config))
        state_next = graph.get_state(config).next
        return paused, state_next, plain(graph.invoke(None, config))

    same(scenario)
