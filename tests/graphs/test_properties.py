"""Property-based: results and checkpoints do not depend on thread timing."""

from __future__ import annotations

import itertools
import operator
import time
from typing import Annotated, Any, TypedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from graphs import START, Send, StateGraph
from graphs.checkpoint import InMemorySaver


class S(TypedDict):
    log: Annotated[list[Any], operator.add]
    total: Annotated[int, operator.add]
    items: list[int]


def build(width: int, depth: int, delays: list[float]) -> Any:
    """``depth`` layers of ``width`` parallel nodes, then a Send fan-out."""
    g = StateGraph(S)
    delay = itertools.cycle(delays)

    def node(name: str, pause: float) -> Any:
        def run(state: S) -> dict[str, Any]:
            time.sleep(pause)
            return {"log": [name], "total": len(state["log"])}

        return run

    def work(arg: dict[str, Any]) -> dict[str, Any]:
        time.sleep(arg["pause"])
        return {"log": [("w", arg["x"])], "total": arg["x"]}

    previous = [START]
    for layer in range(depth):
        names = [f"n{layer}_{i}" for i in range(width)]
        for name in names:
            g.add_node(name, node(name, next(delay)))
            for p in previous:
                g.add_edge(p, name)
        previous = names
    g.add_node("work", work)
    pauses = [next(delay) for _ in range(width)]
    g.add_conditional_edges(
        previous[0],
        lambda s: [
            Send("work", {"x": x, "pause": pauses[x % width]}) for x in s["items"]
        ],
    )
    return g


def strip(snapshot: Any) -> tuple[Any, ...]:
    return (snapshot.values, snapshot.next, snapshot.metadata)


@settings(max_examples=20, deadline=None)
@given(
    width=st.integers(2, 4),
    depth=st.integers(1, 3),
    first=st.lists(st.sampled_from([0.0, 0.0005, 0.002]), min_size=1, max_size=6),
    second=st.lists(st.sampled_from([0.0, 0.0005, 0.002]), min_size=1, max_size=6),
)
def test_final_state_and_checkpoints_do_not_depend_on_timing(
    width: int, depth: int, first: list[float], second: list[float]
) -> None:
    results = []
    for delays in (first, second):
        saver = InMemorySaver()
        graph = build(width, depth, delays).compile(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "t"}}
        out = graph.invoke(
            {"items": list(range(width + 1)), "log": [], "total": 0}, cfg
        )
        history = [strip(s) for s in graph.get_state_history(cfg)]
        results.append((out, history))
    assert results[0] == results[1]


@settings(max_examples=20, deadline=None)
@given(
    delays=st.lists(st.sampled_from([0.0, 0.001]), min_size=1, max_size=4),
    width=st.integers(2, 4),
)
def test_sync_and_async_runs_agree(delays: list[float], width: int) -> None:
    import asyncio

    graph = build(width, 2, delays).compile()
    inp = {"items": list(range(width)), "log": [], "total": 0}
    assert graph.invoke(inp) == asyncio.run(graph.ainvoke(inp))
