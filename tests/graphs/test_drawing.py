"""get_graph(): nodes, edges and a deterministic Mermaid diagram."""

from __future__ import annotations

from graphs import END, START, StateGraph

from .conftest import Counter, appender


def build() -> StateGraph:
    g = StateGraph(Counter)
    for name in ("plan", "act", "review", "done"):
        g.add_node(name, appender(name))
    g.add_edge(START, "plan")
    g.add_edge("plan", "act")
    g.add_edge(["act", "plan"], "review")
    g.add_conditional_edges("review", lambda s: END, {"again": "plan", "ok": "done"})
    g.add_edge("done", END)
    return g


def test_it_lists_nodes_and_edges() -> None:
    drawing = build().compile().get_graph()
    assert list(drawing.nodes) == [START, "plan", "act", "review", "done", END]
    pairs = {(e.source, e.target, e.conditional) for e in drawing.edges}
    assert (START, "plan", False) in pairs
    assert ("act", "review", False) in pairs
    assert ("review", "plan", True) in pairs
    assert drawing.to_json()["edges"][0] == {"source": START, "target": "plan"}


def test_mermaid_output_is_deterministic() -> None:
    first = build().compile().get_graph().draw_mermaid()
    second = build().compile().get_graph().draw_mermaid()
    assert first == second
    assert first.startswith("---\nconfig:")
    assert "\treview -. &nbsp;again&nbsp; .-> plan;" in first
    assert "\tdone --> __end__;" in first
