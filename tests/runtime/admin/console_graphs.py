"""Graphs the console tests run: tool-approval requests and a failing run."""

from __future__ import annotations

import os
import time
from typing import Any, TypedDict

from agents.agent import create_agent
from agents.approval import normalise_decisions
from agents.chat_models import ScriptedChatModel
from agents.tools import tool
from graphs import END, START, StateGraph, interrupt
from graphs.messages import BaseMessage, ToolMessage

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


@tool
def write_file(path: str, content: str) -> str:
    """Write a file.

    Args:
        path: Where.
        content: What.
    """
    return f"wrote {path}: {content}"


@tool
def send_email(to: str, subject: str) -> str:
    """Send an email.

    Args:
        to: Recipient.
        subject: Subject line.
    """
    return f"sent {subject!r} to {to}"


AGENT_CALLS = [
    {"name": "write_file", "args": {"path": "a.txt", "content": "first"}},
    {"name": "send_email", "args": {"to": "ops@example.com", "subject": "done"}},
    {"name": "write_file", "args": {"path": "b.txt", "content": "second"}},
]


def _report(messages: list[BaseMessage]) -> str:
    results = [m for m in messages if isinstance(m, ToolMessage)]
    return "results: " + " | ".join(sorted(m.text for m in results))


def build_tool_agent() -> Any:
    """An agent asking to run three tool calls in one turn, all needing approval
    (``send_email`` may not be edited), then reporting the tool results."""
    model = ScriptedChatModel([{"content": "", "tool_calls": AGENT_CALLS}, _report])
    return create_agent(
        model,
        [write_file, send_email],
        interrupt_on={
            "write_file": True,
            "send_email": {"allowed_decisions": ["approve", "reject"]},
        },
    )


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


class ReleaseState(TypedDict, total=False):
    version: str
    shipped: bool


def ask(state: ReleaseState) -> dict[str, Any]:
    """A yes/no question without a declared answer schema."""
    answer = interrupt({"question": "Ship this release?", "version": state["version"]})
    return {"shipped": answer is True}


def build_yes_no() -> StateGraph:
    graph = StateGraph(ReleaseState)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    return graph


class WalkState(TypedDict, total=False):
    steps: list[str]


def _walker(name: str) -> Any:
    def step(state: WalkState) -> dict[str, Any]:
        time.sleep(float(os.environ.get("ORIS_TEST_WALK_SECONDS", "0")))
        return {"steps": [*state.get("steps", []), name]}

    step.__name__ = name
    return step


def build_walk() -> StateGraph:
    """Three slow nodes one after another (``ORIS_TEST_WALK_SECONDS`` each)."""
    graph = StateGraph(WalkState)
    graph.add_sequence([_walker("first"), _walker("second"), _walker("third")])
    graph.add_edge(START, "first")
    graph.add_edge("third", END)
    return graph


CONSOLE_GRAPHS = {
    "yes_no": "tests.runtime.admin.console_graphs:build_yes_no",
    "walk": "tests.runtime.admin.console_graphs:build_walk",
    "tool_review": "tests.runtime.admin.console_graphs:build_tool_review",
    "tool_agent": "tests.runtime.admin.console_graphs:build_tool_agent",
    "boom": "tests.runtime.admin.console_graphs:build_boom",
}
