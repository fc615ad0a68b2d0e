"""How tasks report on the ``tasks`` stream and in snapshots (issue 12, item 7):
``triggers``, errors and results, against real LangGraph."""

from __future__ import annotations

import threading
import time
from typing import Any

from ._libs import Lib, Log, add, outcome, same, thread


def boom(state: Log) -> dict[str, Any]:
    raise KeyError("k")


def test_triggers_name_every_channel_of_the_node() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        for name in ("a", "b", "c", "d", "e"):
            g.add_node(name, add(name))
        g.add_node("fan", lambda s: lib.Command(goto=[lib.Send("e", {"log": []})]))
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "b")
        g.add_edge(["a", "b"], "c")
        g.add_conditional_edges("c", lambda s: "d")
        g.add_edge("d", "fan")
        tasks = g.compile().stream({"log": []}, stream_mode="tasks")
        return [(t["name"], t["triggers"]) for t in tasks if "triggers" in t]

    reports = same(scenario)
    assert ("c", ("branch:to:c", "join:a+b:c")) in reports
    assert ("e", ("__pregel_push",)) in reports


def test_a_failed_superstep_reports_each_task() -> None:
    def scenario(lib: Lib) -> Any:
        ended = [threading.Event(), threading.Event()]

        def last_boom(state: Log) -> dict[str, Any]:
            for event in ended:  # fail once the siblings are done
                event.wait(5)
            time.sleep(0.05)  # and have returned or raised
            return boom(state)

        def b(state: Log) -> dict[str, Any]:
            ended[0].set()
            return {"log": ["b"]}

        def c(state: Log) -> dict[str, Any]:
            ended[1].set()
            return {"log": [lib.interrupt("q")]}

        g = lib.StateGraph(Log)
        g.add_node("a", last_boom)
        g.add_node("b", b)
        g.add_node("c", c)
        for name in ("a", "b", "c"):
            g.add_edge(lib.START, name)
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        seen: list[Any] = []

        def run() -> None:
            for t in graph.stream({"log": []}, config, stream_mode="tasks"):
                if "result" in t:
                    asked = [
                        (i["value"], i["response_schema"]) for i in t["interrupts"]
                    ]
                    seen.append((t["name"], repr(t["error"]), t["result"], asked))

        failure = outcome(run)
        state = graph.get_state(config)
        tasks = [(t.name, t.path, t.error, t.result) for t in state.tasks]
        return failure, sorted(seen), tasks, state.next

    _, seen, tasks, _ = same(scenario)
    assert ("a", "KeyError('k')", {}, []) in seen
    assert ("c", "None", {}, [("q", None)]) in seen
    assert ("a", ("__pregel_pull", "a"), "KeyError('k')", None) in tasks


def test_the_error_of_a_task_in_the_history() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log).add_sequence([("a", add("a")), ("b", boom)])
        g.add_edge(lib.START, "a")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        failure = outcome(lambda: graph.invoke({"log": []}, config))
        return failure, [
            [(t.name, t.path, t.error) for t in s.tasks]
            for s in graph.get_state_history(config)
        ]

    _, snaps = same(scenario)
    assert snaps[0] == [("b", ("__pregel_pull", "b"), "KeyError('k')")]
