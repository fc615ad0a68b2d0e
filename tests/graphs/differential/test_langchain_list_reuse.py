"""Differential: message lists that are used again, mutated, on both engines.

``add_messages`` remembers the lists of LangChain messages it prepared (the
channel's value, an input list) so that the next merge into them reuses their id
index. These scenarios change such a list, or a message in it, between two merges
(the caller's input list between invokes, the state's list inside a node, the
returned state before it is passed back, a node returning the list it received) and
hold both engines to the same result.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph")

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.graph.message import add_messages as lg_add_messages

from graphs import add_messages
from graphs.messages import bind_reducer, memo_merge

from .test_langchain_messages import OURS, THEIRS, Api, chain, normalise


def declared_state(api: Api) -> Any:
    return TypedDict(
        "State", {"messages": Annotated[list[AnyMessage], api.add_messages]}
    )


def reply(state: Any) -> dict[str, Any]:
    return {"messages": [AIMessage(f"reply to {len(state['messages'])}")]}


def both(scenario: Any) -> tuple[Any, Any]:
    return normalise(scenario(OURS)), normalise(scenario(THEIRS))


def the_input_list_changed_between_invokes(api: Api) -> Any:
    graph = chain(api, declared_state(api), reply).compile()
    history = [HumanMessage("a", id="a"), HumanMessage("b", id="b")]
    inp = {"messages": history}
    seen = [graph.invoke(inp)]
    history[0].id = "b"  # two messages with one id: the second replaces the first
    seen.append(graph.invoke(inp))
    history[0] = HumanMessage("c", id="c")  # a replacement, in place
    seen.append(graph.invoke(inp))
    history.append(HumanMessage("d", id="d"))
    seen.append(graph.invoke(inp))
    history.append(RemoveMessage(id="c"))
    seen.append(graph.invoke(inp))
    history[1] = history[1].model_copy()  # an equal message, then renamed
    history[1].id = "e"
    seen.append(graph.invoke(inp))
    history[1].id = None  # an id is assigned (in place, on both)
    seen.append(graph.invoke(inp))
    seen.append(graph.invoke(inp))
    return seen


def test_an_input_list_invoked_again_after_changes() -> None:
    ours, theirs = both(the_input_list_changed_between_invokes)
    assert ours == theirs
    assert [m[1]["content"] for m in ours[0]["messages"]] == ["a", "b", "reply to 2"]
    assert [m[1]["content"] for m in ours[1]["messages"]] == ["b", "reply to 1"]


def the_state_list_changed_in_a_node(api: Api) -> Any:
    def rename(state: Any) -> dict[str, Any]:
        state["messages"][0].id = "renamed"  # the state's own message
        return {"messages": [RemoveMessage(id="renamed")]}

    def append_in_place(state: Any) -> dict[str, Any]:
        state["messages"].append(AIMessage("appended", id="in-place"))
        return {"messages": [AIMessage("returned", id="r")]}

    def return_the_same_list(state: Any) -> dict[str, Any]:
        messages = state["messages"]
        messages.append(AIMessage("on the list", id="same"))
        messages[0] = AIMessage("first, replaced", id=messages[0].id)
        return {"messages": messages}

    def replace_then_remove(state: Any) -> dict[str, Any]:
        state["messages"][-1] = AIMessage("swapped", id="swapped")
        return {"messages": [RemoveMessage(id="swapped")]}

    graph = chain(
        api,
        declared_state(api),
        reply,
        rename,
        reply,
        append_in_place,
        reply,
        return_the_same_list,
        reply,
        replace_then_remove,
        reply,
    ).compile()
    return graph.invoke({"messages": [HumanMessage(f"m{i}") for i in range(3)]})


def test_a_node_changing_the_state_list_it_received() -> None:
    ours, theirs = both(the_state_list_changed_in_a_node)
    assert ours == theirs


def the_returned_state_passed_back(api: Api) -> Any:
    graph = chain(api, declared_state(api), reply).compile()
    state = graph.invoke({"messages": [HumanMessage("hi", id="h")]})
    seen = [state]
    for step in range(3):
        state["messages"].append(HumanMessage(f"more {step}"))
        state = graph.invoke(state)
        seen.append(state)
    state["messages"][-1].id = "h"  # now replaces the first message
    seen.append(graph.invoke(state))
    seen.append(graph.invoke(state))  # the same list, unchanged, once more
    return seen


def test_the_returned_state_changed_and_invoked_again() -> None:
    ours, theirs = both(the_returned_state_passed_back)
    assert ours == theirs


def a_thread_whose_state_is_changed(api: Api) -> Any:
    graph = chain(api, declared_state(api), reply).compile(
        checkpointer=api.InMemorySaver()
    )
    thread = {"configurable": {"thread_id": "t"}}
    history = [HumanMessage("hi", id="h")]
    first = graph.invoke({"messages": history}, thread)
    first["messages"][0].id = "x"  # the caller's copy, not the stored state
    first["messages"].append(HumanMessage("stray", id="s"))
    history.append(HumanMessage("again", id="again"))
    second = graph.invoke({"messages": history}, thread)
    return first, second, graph.get_state(thread).values


def test_a_thread_after_its_returned_state_was_changed() -> None:
    ours, theirs = both(a_thread_whose_state_is_changed)
    assert ours == theirs


# -- the reducer alone, with random changes between merges ------------------------

declared = bind_reducer(add_messages, list[AnyMessage])

NAMES = st.sampled_from(["a", "b", "c", "d"])
CHANGE = st.one_of(
    st.tuples(st.just("merge"), st.lists(st.tuples(NAMES, st.booleans()), max_size=3)),
    st.tuples(st.just("remove"), NAMES),
    st.tuples(st.just("append"), NAMES),
    st.tuples(st.just("replace"), st.integers(0, 5), NAMES),
    st.tuples(st.just("copy"), st.integers(0, 5)),
    st.tuples(st.just("rename"), st.integers(0, 5), st.one_of(NAMES, st.none())),
    st.tuples(st.just("pop"), st.integers(0, 5)),
    st.tuples(st.just("merge itself"), st.none()),
)


def run_changes(reducer: Any, changes: list[Any]) -> Any:
    """Fold merges into a state list the changes also edit in place."""
    state: list[Any] = []
    seen: list[Any] = []
    ids: dict[str, str] = {}
    try:
        for kind, *args in changes:
            if kind == "merge":
                update = [HumanMessage(n, id=n if k else None) for n, k in args[0]]
                state = reducer(state, update)
            elif kind == "remove":
                state = reducer(state, [RemoveMessage(id=args[0])])
            elif kind == "merge itself":
                state = reducer(state, state)
            elif not state:
                continue
            elif kind == "append":
                state.append(AIMessage(args[0], id=args[0]))
            elif kind == "replace":
                state[args[0] % len(state)] = AIMessage(args[1], id=args[1])
            elif kind == "copy":
                i = args[0] % len(state)
                state[i] = state[i].model_copy()
            elif kind == "rename":
                state[args[0] % len(state)].id = args[1]
            else:
                state.pop(args[0] % len(state))
            # normalise renames a missing id: which ones are missing, too
            seen.append((normalise(state, ids), [m.id is None for m in state]))
    except ValueError:
        seen.append("ValueError")
    return seen


@settings(max_examples=300, deadline=None)
@given(st.lists(CHANGE, min_size=1, max_size=10))
def test_changes_between_merges_match_langgraph(changes: list[Any]) -> None:
    theirs = run_changes(lg_add_messages, changes)
    assert run_changes(declared, changes) == theirs
    # as a run merges: the list the last merge built is not prepared again
    memo: dict[str, Any] = {}
    merge = memo_merge(declared, "messages")
    assert run_changes(lambda a, b: merge(a, b, memo), changes) == theirs


# -- a node changing a stored message and returning it -------------------------------


def change_content(state: Any) -> dict[str, Any]:
    stored = state["messages"][0]
    stored.content = "changed in place"
    return {"messages": [stored]}


def change_id(state: Any) -> dict[str, Any]:
    stored = state["messages"][1]
    stored.id = "renamed"
    return {"messages": stored}


def clear_id_and_return_it(state: Any) -> dict[str, Any]:
    stored = state["messages"][2]
    stored.id = None  # the merge assigns one to the stored message first
    return {"messages": [stored]}


def clear_id_and_reply(state: Any) -> dict[str, Any]:
    state["messages"][0].id = None
    return {"messages": [AIMessage("after a cleared id")]}


def return_stored_and_new(state: Any) -> dict[str, Any]:
    return {"messages": [state["messages"][1], AIMessage("beside a stored one")]}


def return_a_new_message_twice(state: Any) -> dict[str, Any]:
    twice = AIMessage("twice")
    return {"messages": [twice, twice]}


def return_every_stored_message(state: Any) -> dict[str, Any]:
    return {"messages": list(state["messages"])}


CHANGING_NODES = (
    reply,
    change_content,
    reply,
    change_id,
    clear_id_and_return_it,
    reply,
    clear_id_and_reply,
    return_stored_and_new,
    return_a_new_message_twice,
    return_every_stored_message,
    reply,
)


def observed(state: Any) -> Any:
    """The state, with which ids are missing (``normalise`` renames ``None``)."""
    messages = state["messages"]
    return state, [m.id is None for m in messages], len({id(m) for m in messages})


def stored_messages_changed(api: Api, saver: bool, branches: bool) -> Any:
    g = api.StateGraph(declared_state(api))
    names = [f"n{i}" for i in range(len(CHANGING_NODES))]
    for name, node in zip(names, CHANGING_NODES, strict=True):
        g.add_node(name, node)
    g.add_edge(api.START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        if branches:  # the node's writes are merged for its branch too
            g.add_conditional_edges(a, lambda _s, b=b: b, [b])
        else:
            g.add_edge(a, b)
    graph = g.compile(checkpointer=api.InMemorySaver() if saver else None)
    config = {"configurable": {"thread_id": "t"}}
    history = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(3)]
    seen = [observed(graph.invoke({"messages": history}, config))]
    seen.append(observed(graph.invoke({"messages": history}, config)))
    if saver:
        seen.append(observed(graph.get_state(config).values))
    return seen


@pytest.mark.parametrize("saver", [False, True])
@pytest.mark.parametrize("branches", [False, True])
def test_a_node_changing_a_stored_message_and_returning_it(
    saver: bool, branches: bool
) -> None:
    ours = stored_messages_changed(OURS, saver, branches)
    theirs = stored_messages_changed(THEIRS, saver, branches)
    assert normalise(ours) == normalise(theirs)
    contents = [m.content for m in ours[0][0]["messages"]]
    assert contents[0] == "changed in place"
    assert contents.count("twice") == 1
    assert not any(ours[0][1])  # every message has an id
