"""Graphs of the assistants and threads tests: a draft reviewed by a person (an
interrupt), and a graph with a subgraph node."""

from __future__ import annotations

from typing import Any, TypedDict

from graphs import END, START, StateGraph, interrupt


class Review(TypedDict, total=False):
    text: str
    approved: Any


def build_review() -> Any:
    """``{"text": t}`` -> draft ``t + "!"`` -> a person reviews it (interrupt)."""

    def draft(state: Review) -> Review:
        return {"text": state["text"] + "!"}

    def review(state: Review) -> Review:
        return {"approved": interrupt({"question": "ship it?", "text": state["text"]})}

    graph = StateGraph(Review)
    graph.add_node("draft", draft)
    graph.add_node("review", review)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", END)
    return graph


def build_nested() -> Any:
    """A parent whose ``child`` node is a compiled subgraph (``inner``)."""

    def inner(state: Review) -> Review:
        return {"text": state["text"] + "?"}

    child = StateGraph(Review)
    child.add_node("inner", inner)
    child.add_edge(START, "inner")
    child.add_edge("inner", END)
    graph = StateGraph(Review)
    graph.add_node("child", child.compile())
    graph.add_edge(START, "child")
    graph.add_edge("child", END)
    return graph
