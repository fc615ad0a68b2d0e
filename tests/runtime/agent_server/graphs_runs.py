"""Graphs the runs tests drive through the Agent Server API."""

from __future__ import annotations

import operator
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage

from graphs import END, START, Runtime, StateGraph, get_stream_writer, interrupt
from graphs.messages import add_messages


class ChatState(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]


def build_chat() -> Any:
    """One node: a custom chunk, then a LangChain chat model streaming
    ``echo: <last message>`` token by token."""

    def respond(state: ChatState) -> dict[str, Any]:
        text = state["messages"][-1].content
        get_stream_writer()({"stage": "respond", "text": text})
        model = GenericFakeChatModel(messages=iter([AIMessage(f"echo: {text}")]))
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(ChatState)
    graph.add_node("respond", respond)
    graph.add_edge(START, "respond")
    graph.add_edge("respond", END)
    return graph


class ReviewState(TypedDict, total=False):
    draft: str
    verdict: str
    log: Annotated[list[str], operator.add]


def build_review() -> Any:
    """``write`` then ``review``, which asks a person (``interrupt``)."""

    def write(state: ReviewState) -> dict[str, Any]:
        return {"draft": f"draft of {state.get('draft', '')}", "log": ["write"]}

    def review(state: ReviewState) -> dict[str, Any]:
        verdict = interrupt({"question": "approve?", "draft": state["draft"]})
        return {"verdict": verdict, "log": ["review"]}

    graph = StateGraph(ReviewState)
    graph.add_node("write", write)
    graph.add_node("review", review)
    graph.add_edge(START, "write")
    graph.add_edge("write", "review")
    graph.add_edge("review", END)
    return graph


class TickState(TypedDict, total=False):
    n: int
    until: int
    delay: float
    log: Annotated[list[str], operator.add]


def build_ticks() -> Any:
    """``tick`` loops (one superstep each, ``delay`` seconds) until ``n`` reaches
    ``until``: a run that takes a while, for cancels and multitasking."""

    def tick(state: TickState) -> dict[str, Any]:
        time.sleep(state.get("delay", 0.2))
        n = state.get("n", 0) + 1
        return {"n": n, "log": [f"tick {n}"]}

    def more(state: TickState) -> str:
        return "tick" if state.get("n", 0) < state.get("until", 3) else END

    graph = StateGraph(TickState)
    graph.add_node("tick", tick)
    graph.add_edge(START, "tick")
    graph.add_conditional_edges("tick", more, ["tick", END])
    return graph


def build_fails() -> Any:
    """A node that raises ``ValueError("boom")``."""

    def boom(state: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("boom")

    graph = StateGraph(dict)
    graph.add_node("boom", boom)
    graph.add_edge(START, "boom")
    graph.add_edge("boom", END)
    return graph


class CrashState(TypedDict, total=False):
    marker: str
    log: Annotated[list[str], operator.add]


def build_crashy() -> Any:
    """``first`` then ``second``, which SIGKILLs its worker the first time (it
    leaves the file ``marker`` so the run after the crash goes through)."""

    def first(state: CrashState) -> dict[str, Any]:
        get_stream_writer()({"stage": "first"})
        return {"log": ["first"]}

    def second(state: CrashState) -> dict[str, Any]:
        marker = Path(state["marker"])
        if not marker.exists():
            marker.write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)
        get_stream_writer()({"stage": "second"})
        return {"log": ["second"]}

    graph = StateGraph(CrashState)
    graph.add_node("first", first)
    graph.add_node("second", second)
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_edge("second", END)
    return graph


class Greeting(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


class Who(TypedDict, total=False):
    user: str
    lang: str


def build_greets() -> Any:
    """One node greeting the run's ``context`` (``Runtime.context``)."""

    def greet(state: Greeting, runtime: Runtime[Who]) -> dict[str, Any]:
        ctx = runtime.context or {}
        return {"log": [f"{ctx.get('lang', '?')}: hi {ctx.get('user', '?')}"]}

    graph = StateGraph(Greeting, context_schema=Who)
    graph.add_node("greet", greet)
    graph.add_edge(START, "greet")
    return graph
