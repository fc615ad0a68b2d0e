"""Property: add_messages over LangChain messages gives LangGraph's result.

Random sequences of updates (LangChain messages, dicts, tuples, strings, single
messages, replacements and removals by id, REMOVE_ALL_MESSAGES) are folded with
our reducer and with LangGraph's, from fresh objects each time (LangGraph assigns
ids in place); results, or the error raised, must match.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langgraph")

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.graph.message import add_messages as lg_add_messages

from graphs import add_messages
from graphs.messages import REMOVE_ALL_MESSAGES, bind_reducer

from .test_langchain_messages import normalise

# the reducer of a key declared Annotated[list[AnyMessage], add_messages], which
# makes LangChain messages of plain inputs too (the undeclared one keeps Oris ones
# until a LangChain message arrives: a documented difference)
declared = bind_reducer(add_messages, list[AnyMessage])

IDS = st.sampled_from(["a", "b", "c", None])
TEXT = st.sampled_from(["x", "y", "z"])

message_spec = st.one_of(
    st.tuples(st.just("human"), TEXT, IDS),
    st.tuples(st.just("ai"), TEXT, IDS),
    st.tuples(st.just("dict"), TEXT, IDS),
    st.tuples(st.just("tuple"), TEXT, st.none()),
    st.tuples(st.just("str"), TEXT, st.none()),
    st.tuples(st.just("remove"), st.just(""), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("remove_all"), st.just(""), st.none()),
)
update_spec = st.one_of(
    st.lists(message_spec, max_size=4),
    message_spec.map(lambda m: ("single", m)),
)


def build(spec: tuple[str, str, str | None]) -> Any:
    kind, text, mid = spec
    if kind == "human":
        return HumanMessage(text, id=mid)
    if kind == "ai":
        return AIMessage(text, id=mid)
    if kind == "dict":
        return {"role": "assistant", "content": text, "id": mid}
    if kind == "tuple":
        return ("user", text)
    if kind == "str":
        return text
    if kind == "remove":
        return RemoveMessage(id=mid)
    return RemoveMessage(id=REMOVE_ALL_MESSAGES)


def fold(reducer: Any, updates: list[Any]) -> Any:
    state: list[Any] = []
    try:
        for update in updates:
            if isinstance(update, tuple) and update[0] == "single":
                right = build(update[1])
            else:
                right = [build(spec) for spec in update]
            state = reducer(state, right)
    except ValueError:
        return "ValueError"
    return normalise(state)


@settings(max_examples=300, deadline=None)
@given(st.lists(update_spec, min_size=1, max_size=5))
def test_add_messages_matches_langgraph(updates: list[Any]) -> None:
    assert fold(declared, updates) == fold(lg_add_messages, updates)


def clears(update: Any) -> bool:
    specs = [update[1]] if isinstance(update, tuple) else update
    return any(spec[0] == "remove_all" for spec in specs)


@settings(max_examples=100, deadline=None)
@given(st.lists(update_spec.filter(lambda u: not clears(u)), min_size=1, max_size=5))
def test_with_a_langchain_message_first_the_plain_reducer_matches(
    updates: list[Any],
) -> None:
    # "s" is never removed, so a LangChain message stays in the list
    first = [[("human", "start", "s")], *updates]
    assert fold(add_messages, first) == fold(lg_add_messages, first)
