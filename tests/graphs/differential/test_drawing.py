"""``get_graph()``: LangGraph's JSON shape, Mermaid text and edge order, and
``xray`` subgraph expansion (issue 12, item 7), against real LangGraph.

A node's ``data.id`` differs on purpose: LangGraph names its runnable class,
``graphs`` the node's function (docs/graphs.md); it is left out here.
"""

from __future__ import annotations

from typing import Any, Literal

from ._libs import Lib, Log, add, same


def drawn(graph: Any, **kw: Any) -> Any:
    drawing = graph.get_graph(**kw)
    shape = drawing.to_json()
    for node in shape["nodes"]:
        if "data" in node:
            node["data"] = {k: v for k, v in node["data"].items() if k != "id"}
    return (
        shape,
        drawing.draw_mermaid(),
        drawing.draw_mermaid(with_styles=False),
        list(drawing.nodes),
    )


def subgraph(lib: Lib, *names: str, inner: Any = None) -> Any:
    g = lib.StateGraph(Log)
    for name in names:
        g.add_node(name, add(name))
    if inner is not None:
        g.add_node("inner", inner)
        names = (*names, "inner")
    g.add_edge(lib.START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    return g.compile()


def test_edges_labels_joins_and_metadata() -> None:
    def scenario(lib: Lib) -> Any:
        def route(state: Log) -> lib.Command[Literal["a", "__end__"]]:  # type: ignore[name-defined]
            return lib.Command(goto="a")

        g = lib.StateGraph(Log)
        g.add_node("z", add("z"), metadata={"k": 1, "tags": ["x", "y"], "o": {}})
        g.add_node("a", add("a"))
        g.add_node("B", add("B"))
        g.add_node("c", route)
        g.add_edge(lib.START, "z")
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "B")
        g.add_conditional_edges("z", lambda s: "B", {"go": "B", "stop": lib.END})
        g.add_edge(["a", "B"], "c")
        return drawn(g.compile(interrupt_before=["a"], interrupt_after=["a", "c"]))

    same(scenario)


def test_a_branch_without_a_map_odd_names_and_a_deferred_node() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("first step", add(1))
        g.add_node("_private_", add(2))
        g.add_node("x.y", add(3))
        g.add_node("late", add(4), defer=True)
        g.add_edge(lib.START, "first step")
        g.add_conditional_edges("first step", lambda s: "x.y")
        g.add_edge("x.y", "late")
        return drawn(g.compile())

    same(scenario)


def test_error_handler_nodes_are_drawn_without_edges() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"), error_handler=lambda s: {})
        g.add_node("b", add("b"))
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        return drawn(g.compile())

    same(scenario)


def test_xray_expands_subgraphs_to_the_depth_asked() -> None:
    def scenario(lib: Lib) -> Any:
        deepest = subgraph(lib, "d1")
        middle = subgraph(lib, "m1", "m2", inner=deepest)
        g = lib.StateGraph(Log)
        g.add_node("pre", add("pre"))
        g.add_node("sub", middle)
        g.add_node("post", add("post"))
        g.add_edge(lib.START, "pre")
        g.add_conditional_edges("pre", lambda s: "sub", {"in": "sub", "skip": "post"})
        g.add_edge("sub", "post")
        graph = g.compile()
        return [drawn(graph, xray=x) for x in (False, True, 1, 2)]

    views = same(scenario)
    assert "sub:inner:d1" in views[1][3]  # every level
    assert "sub:inner" in views[2][3]  # one level


def test_xray_of_a_subgraph_with_two_entry_nodes_keeps_it_whole() -> None:
    def scenario(lib: Lib) -> Any:
        s = lib.StateGraph(Log)
        s.add_node("p", add("p"))
        s.add_node("q", add("q"))
        s.add_edge(lib.START, "p")
        s.add_edge("p", "q")
        s.add_edge("q", lib.END)
        g = lib.StateGraph(Log)
        g.add_node("only", s.compile())
        g.add_edge(lib.START, "only")
        return drawn(g.compile(), xray=True)

    same(scenario)
