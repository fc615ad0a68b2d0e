"""Differential: LangChain messages in the state, on graphs and on real LangGraph.

Each scenario is written once against an ``Api`` (the builder, reducer, saver of
one implementation) and run on both; final states, stream chunks and checkpoint
round trips must be equal. Auto-assigned message ids are random, so they are
renamed by order of first appearance before comparing.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple, TypedDict

import pytest

pytest.importorskip("langgraph")

import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    ToolMessage,
)

import graphs
from graphs import checkpoint as oris_checkpoint
from graphs.messages import REMOVE_ALL_MESSAGES


class Api(NamedTuple):
    StateGraph: Any
    START: str
    END: str
    add_messages: Any
    MessagesState: Any
    InMemorySaver: Any


OURS = Api(
    graphs.StateGraph,
    graphs.START,
    graphs.END,
    graphs.add_messages,
    graphs.MessagesState,
    oris_checkpoint.InMemorySaver,
)
THEIRS = Api(
    lg.StateGraph,
    lg.START,
    lg.END,
    lg.add_messages,
    lg.MessagesState,
    lg_memory.InMemorySaver,
)


def normalise(value: Any, ids: dict[str, str] | None = None) -> Any:
    """Messages as ``(class, fields)`` with ids renamed in order of appearance."""
    ids = {} if ids is None else ids
    if isinstance(value, BaseMessage):
        data = value.model_dump()
        data["id"] = ids.setdefault(str(value.id), f"id{len(ids)}")
        return (type(value).__name__, data)
    if isinstance(value, dict):
        return {k: normalise(v, ids) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(normalise(v, ids) for v in value)
    return value


def both(scenario: Any, *args: Any) -> tuple[Any, Any]:
    ours, theirs = scenario(OURS, *args), scenario(THEIRS, *args)
    return normalise(ours), normalise(theirs)


def state_of(api: Api, declared: bool) -> Any:
    if not declared:
        return api.MessagesState

    # functional form: the annotation must be evaluated here, not postponed
    return TypedDict(
        "State", {"messages": Annotated[list[AnyMessage], api.add_messages]}
    )


def chain(api: Api, state: Any, *nodes: Any) -> Any:
    g = api.StateGraph(state)
    names = [f"n{i}" for i in range(len(nodes))]
    for name, node in zip(names, nodes, strict=True):
        g.add_node(name, node)
    g.add_edge(api.START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    return g


def plain_inputs(api: Api, declared: bool) -> Any:
    graph = chain(
        api,
        state_of(api, declared),
        lambda s: {"messages": ("ai", "a tuple")},
        lambda s: {"messages": [{"role": "user", "content": "a dict"}]},
        lambda s: {"messages": "a string"},
        lambda s: {"messages": AIMessage("one message", id="m1")},
        lambda s: {"messages": [AIMessageChunk("a chunk", id="k1")]},
    ).compile()
    return graph.invoke({"messages": [HumanMessage("hi", id="h")]})


@pytest.mark.parametrize("declared", [False, True], ids=["MessagesState", "AnyMsg"])
def test_every_message_like_becomes_a_langchain_message(declared: bool) -> None:
    ours, theirs = both(plain_inputs, declared)
    assert ours == theirs
    assert [cls for cls, _ in ours["messages"]] == [
        "HumanMessage",
        "AIMessage",
        "HumanMessage",
        "HumanMessage",
        "AIMessage",
        "AIMessage",
    ]


def declared_plain_input(api: Api) -> Any:
    graph = chain(
        api, state_of(api, True), lambda s: {"messages": [("ai", "hello")]}
    ).compile()
    return graph.invoke({"messages": [("user", "hi"), "and a string"]})


def test_a_declared_key_converts_the_first_input() -> None:
    ours, theirs = both(declared_plain_input)
    assert ours == theirs


def replace_and_remove(api: Api) -> Any:
    graph = chain(
        api,
        api.MessagesState,
        lambda s: {"messages": [AIMessage("draft", id="a"), AIMessage("x", id="b")]},
        lambda s: {"messages": [AIMessage("final", id="a"), RemoveMessage(id="b")]},
        lambda s: {
            "messages": [RemoveMessage(id="h"), ToolMessage("t", tool_call_id="c")]
        },
    ).compile()
    first = graph.invoke({"messages": [HumanMessage("hi", id="h")]})
    cleared = chain(
        api,
        api.MessagesState,
        lambda s: {
            "messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("new")]
        },
    ).compile()
    return first, cleared.invoke({"messages": [HumanMessage("old", id="o")]})


def test_replace_and_remove_by_id() -> None:
    ours, theirs = both(replace_and_remove)
    assert ours == theirs


def removing_a_missing_id(api: Api) -> str:
    graph = chain(
        api, api.MessagesState, lambda s: {"messages": [RemoveMessage(id="nope")]}
    ).compile()
    try:
        graph.invoke({"messages": [HumanMessage("hi", id="h")]})
    except ValueError as exc:
        return type(exc).__name__
    return "no error"


def test_removing_a_missing_id_fails_alike() -> None:
    assert removing_a_missing_id(OURS) == removing_a_missing_id(THEIRS) == "ValueError"


def openai_format(api: Api) -> Any:
    reducer = api.add_messages(format="langchain-openai")
    State = TypedDict("State", {"messages": Annotated[list, reducer]})  # noqa: UP013

    block = {"type": "image", "source_type": "base64", "mime_type": "image/png"}
    graph = chain(
        api,
        State,
        lambda s: {"messages": [{"role": "user", "content": [block | {"data": "AA"}]}]},
        lambda s: {"messages": [("ai", [{"type": "text", "text": "seen"}])]},
    ).compile()
    return graph.invoke({"messages": []})


def test_format_langchain_openai() -> None:
    ours, theirs = both(openai_format)
    assert ours == theirs


def checkpoint_round_trip(api: Api) -> Any:
    graph = chain(
        api,
        state_of(api, True),
        lambda s: {
            "messages": [
                AIMessage(
                    "calling",
                    id="a",
                    tool_calls=[{"name": "add", "args": {"x": 1}, "id": "c1"}],
                    usage_metadata={
                        "input_tokens": 3,
                        "output_tokens": 2,
                        "total_tokens": 5,
                    },
                )
            ]
        },
        lambda s: {"messages": [ToolMessage("2", tool_call_id="c1", id="t")]},
    ).compile(checkpointer=api.InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": [HumanMessage("add", id="h")]}, thread)
    graph.invoke({"messages": [HumanMessage("again", id="h2")]}, thread)
    snapshot = graph.get_state(thread)
    # every stored snapshot decodes to LangChain objects
    history = [snap.values for snap in graph.get_state_history(thread)]
    return snapshot.values, snapshot.next, history[0]


def test_checkpoints_round_trip_langchain_messages() -> None:
    ours, theirs = both(checkpoint_round_trip)
    assert ours == theirs


def interrupt_and_update_state(api: Api, interrupt: Any, command: Any) -> Any:
    def ask(state: Any) -> dict[str, Any]:
        answer = interrupt("approve?")
        return {"messages": [AIMessage(f"answer: {answer}", id="ans")]}

    graph = chain(
        api, state_of(api, True), lambda s: {"messages": [("ai", "asking")]}, ask
    ).compile(checkpointer=api.InMemorySaver())
    thread = {"configurable": {"thread_id": "t"}}
    paused = graph.invoke({"messages": [HumanMessage("hi", id="h")]}, thread)
    graph.update_state(thread, {"messages": [HumanMessage("edited", id="h")]})
    done = graph.invoke(command(resume="yes"), thread)
    return paused["messages"], done, graph.get_state(thread).values


def test_interrupts_and_state_updates_with_langchain_messages() -> None:
    from langgraph.types import Command as LgCommand
    from langgraph.types import interrupt as lg_interrupt

    ours = normalise(interrupt_and_update_state(OURS, graphs.interrupt, graphs.Command))
    theirs = normalise(interrupt_and_update_state(THEIRS, lg_interrupt, LgCommand))
    assert ours == theirs
    assert [m[1]["content"] for m in ours[2]["messages"]] == [
        "edited",
        "asking",
        "answer: yes",
    ]
