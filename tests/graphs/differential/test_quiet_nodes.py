"""Nodes that write nothing, streamed as LangGraph streams them (issue 12).

A node returning ``{}``, ``None`` or a ``Command`` without an update shows as
``{node: None}`` in ``updates`` and its superstep adds no ``values`` chunk; the
streams show every state channel whatever the output schema (which shapes only
what ``invoke`` returns); a list of plain dicts is an invalid return.
"""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from ._libs import Lib, Log, add, ask_after, chunks, outcome, same, thread


def _quiet_returns(lib: Lib) -> dict[str, Any]:
    return {
        "empty dict": lambda s: {},
        "None": lambda s: None,
        "Command without update": lambda s: lib.Command(goto="b"),
        "Command with an empty update": lambda s: lib.Command(update={}),
    }


@pytest.mark.parametrize("kind", list(_quiet_returns(__import__("graphs"))))
@pytest.mark.parametrize(
    "mode", ["updates", "values", "tasks", ["updates", "values"], "debug"]
)
def test_a_node_that_writes_nothing(kind: str, mode: Any) -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", _quiet_returns(lib)[kind])
        g.add_node("b", add("b"))
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        out = list(g.compile().stream({"log": ["x"]}, stream_mode=mode))
        if mode == "debug":  # ids and timestamps differ; the event sequence not
            return [(e["type"], e["payload"]["name"]) for e in out]
        if mode == "tasks":
            return [{k: v for k, v in e.items() if k != "id"} for e in out]
        return chunks(out)

    observed = same(scenario)
    if mode == "updates":
        assert observed[0] == {"a": None}


def test_the_streams_show_channels_outside_the_output_schema() -> None:
    class Out(TypedDict):
        log: list[str]

    class State(Out, total=False):
        scratch: int

    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(State, output_schema=Out)
        g.add_node("a", lambda s: {"scratch": 1})
        g.add_node("b", lambda s: {"log": ["b"], "scratch": 2})
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        graph = g.compile()
        streams = [
            chunks(graph.stream({"log": ["x"]}, stream_mode=m))
            for m in ("updates", "values")
        ]
        return streams, graph.invoke({"log": ["x"]})

    (updates, values), result = same(scenario)
    assert updates == [{"a": {"scratch": 1}}, {"b": {"log": ["b"], "scratch": 2}}]
    assert values[-1] == {"log": ["b"], "scratch": 2}
    assert result == {"log": ["b"]}


def test_a_list_of_plain_updates_is_an_invalid_return() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", lambda s: [{"log": ["a"]}, {}])
        g.add_edge(lib.START, "a")
        graph = g.compile()
        return outcome(lambda: graph.invoke({"log": ["x"]}))

    assert same(scenario) == ("error", "InvalidUpdateError")


def test_the_values_chunk_of_a_pause_holds_the_state() -> None:
    def scenario(lib: Lib) -> Any:
        graph = ask_after(lib, "a", "ok?").compile(checkpointer=lib.InMemorySaver())
        config = thread()
        mode = ["values", "updates"]
        paused = chunks(graph.stream({"log": ["x"]}, config, stream_mode=mode))
        resumed = chunks(
            graph.stream(lib.Command(resume="y"), config, stream_mode=mode)
        )
        return paused, resumed

    paused, _ = same(scenario)
    assert paused[-1] == (
        "values",
        {"log": ["x", "a"], "__interrupt__": [("interrupt", "ok?")]},
    )


def test_continuing_a_finished_thread_streams_its_values() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_edge(lib.START, "a")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        graph.invoke({"log": ["x"]}, config)
        return [
            chunks(graph.stream(None, config, stream_mode=m))
            for m in ("values", "updates", ["values", "updates"])
        ]

    assert same(scenario)[0] == [{"log": ["x", "a"]}]
