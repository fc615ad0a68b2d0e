"""The two engines the differential tests run side by side, and observers.

A scenario is a function of a :class:`Lib`: it builds and runs a graph with that
library's public API and returns what a user can observe (final state, chunks,
interrupts, history, errors) in a plain, comparable form. The same scenario run on
``graphs`` and on real LangGraph must observe the same thing.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest

import graphs
from graphs import checkpoint as graphs_checkpoint

pytest.importorskip("langgraph.graph")

import langgraph.checkpoint.memory as lg_memory
import langgraph.errors as lg_errors
import langgraph.graph as lg_graph
import langgraph.types as lg_types


@dataclass(frozen=True)
class Lib:
    """One engine's public API, as a LangGraph program imports it."""

    name: str
    StateGraph: Any
    START: str
    END: str
    Send: Any
    Command: Any
    interrupt: Callable[[Any], Any]
    InMemorySaver: Any
    errors: Any


OURS = Lib(
    "graphs",
    graphs.StateGraph,
    graphs.START,
    graphs.END,
    graphs.Send,
    graphs.Command,
    graphs.interrupt,
    graphs_checkpoint.InMemorySaver,
    graphs.errors,
)
LANGGRAPH = Lib(
    "langgraph",
    lg_graph.StateGraph,
    lg_graph.START,
    lg_graph.END,
    lg_types.Send,
    lg_types.Command,
    lg_types.interrupt,
    lg_memory.InMemorySaver,
    lg_errors,
)

_threads = itertools.count()


class Log(TypedDict):
    """The state most scenarios use: one list that every node appends to."""

    log: Annotated[list[Any], operator.add]


def ask_after(lib: Lib, first: str, question: str) -> Any:
    """A builder of ``START -> first -> ask``, where ``ask`` interrupts."""
    g = lib.StateGraph(Log)
    g.add_node(first, add(first))
    g.add_node("ask", lambda s: {"log": [lib.interrupt(question)]})
    g.add_edge(lib.START, first)
    g.add_edge(first, "ask")
    return g


def add(label: Any) -> Callable[[Log], dict[str, Any]]:
    """A node that appends ``label`` to ``log``."""

    def node(state: Log) -> dict[str, Any]:
        return {"log": [label]}

    return node


def thread() -> dict[str, Any]:
    """A fresh thread config."""
    return {"configurable": {"thread_id": f"diff-{next(_threads)}"}}


def same(scenario: Callable[[Lib], Any]) -> Any:
    """Run ``scenario`` on both engines, assert they observe the same, return it."""
    ours, theirs = scenario(OURS), scenario(LANGGRAPH)
    assert ours == theirs, f"graphs observed {ours!r}\nLangGraph observed {theirs!r}"
    return theirs


def plain(value: Any) -> Any:
    """``value`` with interrupts as their values and Sends as tuples (no ids);
    the interrupts of one pause in a stable order."""
    if isinstance(value, dict):
        out = {k: plain(v) for k, v in value.items()}
        if isinstance(out.get("__interrupt__"), (list, tuple)):
            # LangGraph lists parallel interrupts in the order their tasks ended
            out["__interrupt__"] = sorted(out["__interrupt__"], key=repr)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if hasattr(value, "value") and hasattr(value, "id"):  # an Interrupt
        return ("interrupt", plain(value.value))
    if hasattr(value, "node") and hasattr(value, "arg"):  # a Send
        return ("send", value.node, plain(value.arg))
    return value


def history(graph: Any, config: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The thread's checkpoints, oldest first: step, source, next, values."""
    snaps = list(graph.get_state_history(config))
    return [
        (s.metadata["step"], s.metadata["source"], s.next, plain(s.values))
        for s in reversed(snaps)
    ]


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the name of the exception it raised."""
    try:
        return ("ok", plain(call()))
    except Exception as exc:  # compared by class name across engines
        return ("error", type(exc).__name__)


def chunks(items: Iterable[Any]) -> list[Any]:
    """Stream chunks in plain form."""
    return [plain(c) for c in items]


def chain(lib: Lib, *names: str, **compile: Any) -> Any:
    """``START -> names[0] -> names[1] ...`` with an in-memory saver."""
    g = lib.StateGraph(Log)
    for name in names:
        g.add_node(name, add(name))
    g.add_edge(lib.START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    return g.compile(checkpointer=lib.InMemorySaver(), **compile)
