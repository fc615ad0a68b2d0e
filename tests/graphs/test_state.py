"""StateGraph builder: validation errors name the node or edge."""

from __future__ import annotations

from typing import Literal

import pytest

from graphs import END, START, InvalidGraphError, StateGraph

from .conftest import Counter, appender


def test_it_names_a_node_from_its_function() -> None:
    g = StateGraph(Counter)
    g.add_node(appender("hello"))
    g.add_edge(START, "hello")
    assert g.compile().invoke({"n": 0}) == {"n": 0, "log": ["hello"]}


def test_it_rejects_a_graph_without_entrypoint() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    with pytest.raises(InvalidGraphError, match="entrypoint"):
        g.compile()


def test_it_names_an_unknown_edge_target() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    g.add_edge("a", "missing")
    with pytest.raises(InvalidGraphError, match="'missing'"):
        g.compile()


def test_it_names_an_unknown_edge_source() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    g.add_edge("ghost", "a")
    with pytest.raises(InvalidGraphError, match="'ghost'"):
        g.compile()


def test_it_names_an_unknown_path_map_target() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "x", {"x": "nowhere"})
    with pytest.raises(InvalidGraphError, match="'nowhere'"):
        g.compile()


def test_it_names_an_unknown_interrupt_node() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    with pytest.raises(InvalidGraphError, match="interrupt_before node 'b'"):
        g.compile(interrupt_before=["b"])


def test_it_rejects_duplicate_and_reserved_names() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    with pytest.raises(InvalidGraphError, match="already present"):
        g.add_node("a", appender("a"))
    with pytest.raises(InvalidGraphError, match="reserved"):
        g.add_node(END, appender("x"))
    with pytest.raises(InvalidGraphError, match="reserved character"):
        g.add_node("a|b", appender("x"))
    with pytest.raises(InvalidGraphError, match="state key"):
        g.add_node("log", appender("x"))


def test_it_rejects_edges_from_end_or_to_start() -> None:
    g = StateGraph(Counter)
    with pytest.raises(InvalidGraphError):
        g.add_edge(END, "a")
    with pytest.raises(InvalidGraphError):
        g.add_edge("a", START)


def test_add_sequence_chains_nodes() -> None:
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), ("b", appender("b")), appender("c")])
    g.set_entry_point("a")
    g.set_finish_point("c")
    assert g.compile().invoke({"n": 0})["log"] == ["a", "b", "c"]


def test_conditional_entry_point_routes() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_node("b", appender("b"))
    g.set_conditional_entry_point(lambda s: "b" if s["n"] else "a", ["a", "b"])
    assert g.compile().invoke({"n": 1})["log"] == ["b"]


def test_literal_return_types_name_branch_targets_in_drawings() -> None:
    def route(state: Counter) -> Literal["b", "__end__"]:
        return "b"

    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_node("b", appender("b"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", route)
    mermaid = g.compile().get_graph().draw_mermaid()
    assert "a -.-> b;" in mermaid
    assert "a -.-> __end__;" in mermaid
