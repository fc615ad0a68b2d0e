"""Built-in demo graphs: ``approval``, ``echo`` and ``assistant``."""

from __future__ import annotations

from typing import Any, TypedDict

from django.conf import settings

from graphs import END, START, MessagesState, StateGraph, interrupt
from graphs.messages import AIMessage


class ApprovalState(TypedDict, total=False):
    topic: str
    notes: str
    draft: str
    approved: bool
    feedback: str
    published: str


def research(state: ApprovalState) -> dict[str, Any]:
    topic = state.get("topic") or "durable execution"
    return {"notes": f"Key facts about {topic}: checkpoints, leases, retries."}


def write_draft(state: ApprovalState) -> dict[str, Any]:
    return {
        "draft": f"Draft on {state.get('topic') or 'durable execution'}: "
        f"{state['notes']}"
    }


# The answer the approval asks for (the console builds its form from this).
APPROVAL_ANSWER = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Publish it", "default": True},
        "feedback": {"type": "string", "title": "Feedback for the writer"},
    },
    "required": ["approved"],
}


def human_approval(state: ApprovalState) -> dict[str, Any]:
    answer = interrupt(
        {
            "question": "Publish this draft?",
            "draft": state["draft"],
            "response_schema": APPROVAL_ANSWER,
            "state_keys": ["topic", "notes"],
        }
    )
    if isinstance(answer, dict):
        return {
            "approved": bool(answer.get("approved")),
            "feedback": str(answer.get("feedback", "")),
        }
    return {"approved": bool(answer)}


def publish(state: ApprovalState) -> dict[str, Any]:
    if not state.get("approved"):
        return {"published": ""}
    return {"published": state["draft"]}


def build_approval() -> StateGraph:
    """research -> draft -> human approval (interrupt) -> publish."""
    graph = StateGraph(ApprovalState)
    graph.add_sequence([research, write_draft, human_approval, publish])
    graph.add_edge(START, "research")
    graph.add_edge("publish", END)
    return graph


def echo(state: MessagesState) -> dict[str, Any]:
    last = state["messages"][-1] if state["messages"] else None
    text = last.content if last is not None else ""
    return {"messages": [AIMessage(f"echo: {text}")]}


def build_echo() -> StateGraph:
    """Answers the last message with its echo (a string input is a human message)."""
    graph = StateGraph(MessagesState)
    graph.add_node("echo", echo)
    graph.add_edge(START, "echo")
    graph.add_edge("echo", END)
    return graph


def build_assistant() -> Any:
    """The agents demo (calculator + workspace files, writes need approval).

    ``ORIS_ASSISTANT_MODEL`` picks the model (``openai:gpt-4o-mini``,
    ``anthropic:claude-sonnet-4-5``, ``ollama:llama3.2``, ``auto``); unset, a
    scripted model plays it without any key.
    """
    from agents.demo import build_assistant as build

    return build(
        model=settings.ORIS_ASSISTANT_MODEL or None,
        workspace_root=settings.ORIS_WORKSPACE_ROOT,
    )
