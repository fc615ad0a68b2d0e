"""Parts of LangGraph's public API (issue 12, item 7), against real LangGraph."""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

from langgraph.types import Interrupt as LgInterrupt

from graphs import Interrupt

from ._libs import Lib, Log, add, chain, history, plain, same, thread


def two_steps(lib: Lib) -> Any:
    return chain(lib, "a", "b")


def test_update_state_copy_forks_a_checkpoint() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = two_steps(lib), thread()
        graph.invoke({"log": []}, config)
        mid = next(s for s in graph.get_state_history(config) if s.next == ("b",))
        copied = graph.update_state(mid.config, None, as_node="__copy__")
        return history(graph, config), plain(graph.invoke(None, copied))

    steps, _ = same(scenario)
    assert steps[-1][:3] == (2, "fork", ("b",))


def test_tasks_and_checkpoints_stream_modes() -> None:
    def scenario(lib: Lib) -> Any:
        graph = two_steps(lib)
        tasks = list(graph.stream({"log": []}, thread(), stream_mode="tasks"))
        checkpoints = list(
            graph.stream({"log": []}, thread(), stream_mode="checkpoints")
        )
        return (
            [(sorted(t), t["name"], t.get("triggers")) for t in tasks],
            [(sorted(c), c["metadata"]["step"], c["next"]) for c in checkpoints],
            plain([c["values"] for c in checkpoints]),
        )

    same(scenario)


def test_copy_and_legacy_interrupt_keywords() -> None:
    def scenario(lib: Lib) -> Any:
        graph = two_steps(lib).copy()
        cls = Interrupt if lib.name == "graphs" else LgInterrupt
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            legacy = cls("v", resumable=True, ns=["a:1"], when="during")
        return plain(graph.invoke({"log": []}, thread())), legacy.value

    same(scenario)


def test_bare_mermaid_without_styles() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("b", add("b"))
        g.add_edge(lib.START, "a")
        g.add_conditional_edges("a", lambda s: "b", ["b", lib.END])
        drawn = g.compile().get_graph().draw_mermaid(with_styles=False)
        chained = chain(lib, "x", "y").get_graph()
        return drawn, chained.draw_mermaid(with_styles=False)

    same(scenario)


def test_max_concurrency_bounds_the_tasks_running_at_once() -> None:
    def scenario(lib: Lib) -> Any:
        lock = threading.Lock()
        running = [0, 0]  # now, most at once

        def work(arg: dict[str, Any]) -> dict[str, Any]:
            with lock:
                running[0] += 1
                running[1] = max(running[1], running[0])
            time.sleep(0.02)  # long enough for the tasks to overlap
            with lock:
                running[0] -= 1
            return {"log": [arg["i"]]}

        g = lib.StateGraph(Log)
        g.add_node("work", work)
        g.add_conditional_edges(
            lib.START, lambda s: [lib.Send("work", {"i": i}) for i in range(6)]
        )
        out = g.compile().invoke({"log": []}, {"max_concurrency": 2})
        return out, running[1] <= 2

    assert same(scenario)[1] is True
