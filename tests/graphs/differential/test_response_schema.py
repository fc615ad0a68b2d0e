"""``interrupt(response_schema=...)`` side by side with LangGraph: the schema the
interrupt shows, the resume value as the node gets it, and a resume value that
does not match (an error; the interrupt can be answered again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from typing_extensions import TypedDict as ExtTypedDict

from tests.graphs.differential._libs import LANGGRAPH, OURS, Lib

pytest.importorskip("pydantic")

import langgraph.types as lg_types
import pydantic

import graphs


@dataclass
class Decision:
    approve: bool
    note: str = ""


class Region(ExtTypedDict):  # pydantic needs typing_extensions' on Python 3.11
    region: str


class Plan(pydantic.BaseModel):
    steps: int


class Out(TypedDict, total=False):
    got: Any


def run(lib: Lib, schema: Any, answers: list[Any]) -> Any:
    interrupt = graphs.interrupt if lib is OURS else lg_types.interrupt

    def ask(state: Out) -> dict[str, Any]:
        got = interrupt("what?", response_schema=schema)
        return {"got": [type(got).__name__, _plain(got)]}

    g = lib.StateGraph(Out)
    g.add_node("ask", ask)
    g.add_edge(lib.START, "ask")
    graph = g.compile(checkpointer=lib.InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    paused = graph.invoke({}, cfg)["__interrupt__"]
    seen: list[Any] = [[(i.value, i.response_schema) for i in paused]]
    seen.append(list(graph.stream({}, cfg, stream_mode="tasks"))[0]["name"])
    for answer in answers:
        try:
            seen.append(graph.invoke(lib.Command(resume=answer), cfg))
        except pydantic.ValidationError as exc:
            seen.append(("invalid", exc.error_count()))
    return seen


def _plain(value: Any) -> Any:
    """The checkpointed state holds plain data (``graphs`` stores no unregistered
    class, see docs/graphs.md)."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump()
    if isinstance(value, Decision):
        return [value.approve, value.note]
    return value


@pytest.mark.parametrize(
    ("schema", "answers"),
    [
        (Decision, [{"approve": "maybe"}, {"approve": True}]),
        (Region, [{"region": "eu"}]),
        (Plan, [{"steps": "x"}, {"steps": 3}]),
        ({"type": "string"}, [42]),
        (int, ["7"]),
    ],
)
def test_response_schema(schema: Any, answers: list[Any]) -> None:
    ours, theirs = run(OURS, schema, answers), run(LANGGRAPH, schema, answers)
    assert ours == theirs


def test_interrupt_dicts_in_tasks_stream_carry_the_schema() -> None:
    def scenario(lib: Lib) -> Any:
        interrupt = graphs.interrupt if lib is OURS else lg_types.interrupt

        def ask(state: Out) -> dict[str, Any]:
            return {"got": interrupt("q", response_schema=Region)}

        g = lib.StateGraph(Out)
        g.add_node("ask", ask)
        g.add_edge(lib.START, "ask")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        cfg = {"configurable": {"thread_id": "t"}}
        ends = [
            c for c in graph.stream({}, cfg, stream_mode="tasks") if "interrupts" in c
        ]
        return [
            [{k: v for k, v in i.items() if k != "id"} for i in c["interrupts"]]
            for c in ends
        ]

    ours, theirs = scenario(OURS), scenario(LANGGRAPH)
    assert ours == theirs
    assert ours[0][0]["response_schema"]["title"] == "Region"
