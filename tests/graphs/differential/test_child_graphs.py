"""A compiled graph invoked inside a node is a child of the running graph
(issue 12, item 2), against real LangGraph."""

from __future__ import annotations

import asyncio
from typing import Any

from ._libs import Lib, Log, add, ask_after, history, plain, same, thread


def asking_child(lib: Lib) -> Any:
    return ask_after(lib, "c1", "child-q").compile()


def parent_of(lib: Lib, node: Any) -> Any:
    g = lib.StateGraph(Log)
    g.add_node("p", node)
    g.add_node("after", add("after"))
    g.add_node("b", add("b"))
    g.add_edge(lib.START, "p")
    g.add_edge("p", "after")
    return g.compile(checkpointer=lib.InMemorySaver())


def test_an_interrupt_in_a_child_pauses_the_parent_and_resumes_in_the_child() -> None:
    def scenario(lib: Lib) -> Any:
        child = asking_child(lib)

        def node(state: Log) -> dict[str, Any]:
            return {"log": child.invoke({"log": []})["log"]}

        graph = parent_of(lib, node)
        config = thread()
        paused = plain(graph.invoke({"log": []}, config))
        done = plain(graph.invoke(lib.Command(resume="answer"), config))
        return paused, done, history(graph, config)

    paused, done, _ = same(scenario)
    assert paused["__interrupt__"] == [("interrupt", "child-q")]
    assert done["log"] == ["c1", "answer", "after"]


def test_an_async_child_invoked_with_ainvoke_pauses_the_parent() -> None:
    def scenario(lib: Lib) -> Any:
        child = asking_child(lib)

        async def node(state: Log) -> dict[str, Any]:
            return {"log": (await child.ainvoke({"log": []}))["log"]}

        graph = parent_of(lib, node)
        config = thread()

        async def both() -> Any:
            paused = plain(await graph.ainvoke({"log": []}, config))
            done = plain(await graph.ainvoke(lib.Command(resume="a"), config))
            return paused, done

        return asyncio.run(both()), history(graph, config)

    same(scenario)


def test_command_parent_from_a_child_routes_the_parent_through_two_levels() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        up = {"log": ["from-grandchild"]}
        g.add_node(
            "g1", lambda s: lib.Command(graph=lib.Command.PARENT, goto="b", update=up)
        )
        g.add_edge(lib.START, "g1")
        grandchild = g.compile()

        def middle(state: Log) -> dict[str, Any]:
            grandchild.invoke({"log": []})
            return {"log": ["not reached"]}

        m = lib.StateGraph(Log)
        m.add_node("m1", middle)
        m.add_node("b", add("child-b"))
        m.add_edge(lib.START, "m1")
        child = m.compile()

        def node(state: Log) -> dict[str, Any]:
            return {"log": child.invoke({"log": []})["log"]}

        graph = parent_of(lib, node)
        config = thread()
        return plain(graph.invoke({"log": []}, config)), history(graph, config)

    out, _ = same(scenario)
    assert out["log"] == ["from-grandchild", "child-b", "after"]


def test_a_childs_chunks_reach_the_caller_with_its_namespace() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("c1", add("c1"))
        g.add_edge(lib.START, "c1")
        child = g.compile()

        def node(state: Log) -> dict[str, Any]:
            return {"log": child.invoke({"log": []})["log"]}

        graph = parent_of(lib, node)
        stream = graph.stream(
            {"log": []}, thread(), stream_mode="updates", subgraphs=True
        )
        return [(tuple(n.split(":")[0] for n in ns), c) for ns, c in stream]

    assert same(scenario)[0] == (("p",), {"c1": {"log": ["c1"]}})
