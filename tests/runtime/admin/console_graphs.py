"""Graphs the console tests run: a tool-approval request and a failing run."""

from __future__ import annotations

from typing import Any, TypedDict

from agents.approval import normalise_decisions
from graphs import END, START, StateGraph, interrupt

TOOL_REQUEST = {
    "action_requests": [
        {
            "name": "write_file",
            "args": {"path": "notes.txt", "content": "hello"},
            "description": "Tool execution requires approval\n\nTool: write_file",
        },
        {
            "name": "send_email",
            "args": {"to": "ops@example.com", "subject": "done"},
            "description": "Tool execution requires approval\n\nTool: send_email",
        },
    ],
    "review_configs": [
        {
            "action_name": "write_file",
            "allowed_decisions": ["approve", "edit", "reject"],
        },
        {"action_name": "send_email", "allowed_decisions": ["approve", "reject"]},
    ],
}


class ReviewState(TypedDict, total=False):
    decisions: list[dict[str, Any]]
    done: bool


def review(state: ReviewState) -> dict[str, Any]:
    """Pauses like an agent asking to run two tools; keeps the decisions."""
    answer = interrupt(TOOL_REQUEST)
    decisions = normalise_decisions(answer, len(TOOL_REQUEST["action_requests"]))
    return {"decisions": [dict(d) for d in decisions]}


def finish(state: ReviewState) -> dict[str, Any]:
    return {"done": True}


def build_tool_review() -> StateGraph:
    graph = StateGraph(ReviewState)
    graph.add_sequence([review, finish])
    graph.add_edge(START, "review")
    graph.add_edge("finish", END)
    return graph


class BoomState(TypedDict, total=False):
    prepared: str


def prepare(state: BoomState) -> dict[str, Any]:
    return {"prepared": "inputs ready"}


def explode(state: BoomState) -> dict[str, Any]:
    raise RuntimeError("boom: the tool server is down")


def build_boom() -> StateGraph:
    graph = StateGraph(BoomState)
    graph.add_sequence([prepare, explode])
    graph.add_edge(START, "prepare")
    graph.add_edge("explode", END)
    return graph


CONSOLE_GRAPHS = {
    "tool_review": "tests.runtime.admin.console_graphs:build_tool_review",
    "boom": "tests.runtime.admin.console_graphs:build_boom",
}
