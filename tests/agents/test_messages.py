"""graphs/messages.py: message types, conversion, serialisation and add_messages."""

from __future__ import annotations

import json
import typing

import pytest

from graphs import serde
from graphs.messages import (
    REMOVE_ALL_MESSAGES,
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    MessagesState,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    add_messages,
    add_usage,
    convert_to_messages,
    messages_from_dicts,
    messages_to_dicts,
    tool_call,
)


def test_it_accepts_content_positionally_and_by_keyword():
    assert HumanMessage("hi") == HumanMessage(content="hi")
    assert HumanMessage("hi").type == "human"
    assert AIMessage("x").type == "ai"
    assert SystemMessage("s").type == "system"
    assert ToolMessage("r", tool_call_id="c1").type == "tool"


def test_text_joins_text_blocks():
    msg = AIMessage([{"type": "text", "text": "a"}, {"type": "image"}, "b"])
    assert msg.text == "ab"


def test_it_round_trips_through_json():
    msgs = [
        SystemMessage("be brief", id="s"),
        HumanMessage("add 2 and 3", id="h", name="alice"),
        AIMessage(
            "",
            id="a",
            tool_calls=[tool_call("add", {"a": 2, "b": 3}, "c1")],
            usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
            response_metadata={"model": "m"},
        ),
        ToolMessage("5", id="t", tool_call_id="c1", status="error"),
    ]
    data = json.loads(json.dumps(messages_to_dicts(msgs)))
    assert messages_from_dicts(data) == msgs
    assert data[3]["status"] == "error"
    assert "tool_calls" not in data[0]


def test_it_registers_every_message_class_with_serde():
    msgs = [
        HumanMessage("h", id="1"),
        AIMessage("a", id="2", tool_calls=[tool_call("x", {}, "c")]),
        ToolMessage("t", id="3", tool_call_id="c"),
        SystemMessage("s", id="4"),
        AIMessageChunk("c", id="5"),
    ]
    for msg in msgs:
        assert serde.loads(serde.dumps({"m": [msg]})) == {"m": [msg]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello", HumanMessage("hello")),
        (("user", "hello"), HumanMessage("hello")),
        (("assistant", "yo"), AIMessage("yo")),
        (("system", "rules"), SystemMessage("rules")),
        ({"role": "user", "content": "hello"}, HumanMessage("hello")),
        ({"role": "developer", "content": "rules"}, SystemMessage("rules")),
        ({"type": "human", "content": "hello"}, HumanMessage("hello")),
        (
            {"role": "tool", "content": "5", "tool_call_id": "c"},
            ToolMessage("5", tool_call_id="c"),
        ),
    ],
)
def test_convert_to_messages_accepts_message_likes(value, expected):
    assert convert_to_messages([value]) == [expected]


def test_convert_to_messages_reads_openai_tool_calls():
    (msg,) = convert_to_messages(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 1}'},
                    }
                ],
            }
        ]
    )
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls == [tool_call("add", {"a": 1}, "c1")]


def test_convert_to_messages_rejects_unknown_roles():
    with pytest.raises(ValueError, match="robot"):
        convert_to_messages([{"role": "robot", "content": "x"}])


def test_add_messages_appends_and_assigns_ids():
    original = HumanMessage("hi")
    merged = add_messages([], [original, ("ai", "hello")])
    assert [m.text for m in merged] == ["hi", "hello"]
    assert all(m.id for m in merged)
    assert original.id is None  # the caller's object is not mutated


def test_add_messages_replaces_by_id_in_place():
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    merged = add_messages(left, [AIMessage("b2", id="2"), HumanMessage("c", id="3")])
    assert [(m.id, m.text) for m in merged] == [("1", "a"), ("2", "b2"), ("3", "c")]


def test_add_messages_removes_by_id():
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    assert add_messages(left, RemoveMessage(id="1")) == [AIMessage("b", id="2")]
    with pytest.raises(ValueError, match="doesn't exist"):
        add_messages(left, [RemoveMessage(id="nope")])


def test_add_messages_remove_all_clears_earlier_messages():
    left = [HumanMessage("a", id="1")]
    merged = add_messages(
        left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("fresh", id="9")]
    )
    assert merged == [HumanMessage("fresh", id="9")]


def test_messages_state_declares_the_reducer():
    hints = typing.get_type_hints(MessagesState, include_extras=True)
    assert hints["messages"].__metadata__ == (add_messages,)


def test_chunks_add_up_into_a_message_with_tool_calls():
    chunks = [
        AIMessageChunk("Hel", id="r1"),
        AIMessageChunk("lo"),
        AIMessageChunk(
            tool_call_chunks=[
                {
                    "name": "add",
                    "args": '{"a": ',
                    "id": "c1",
                    "index": 0,
                    "type": "tool_call_chunk",
                }
            ]
        ),
        AIMessageChunk(
            tool_call_chunks=[
                {
                    "name": None,
                    "args": "2}",
                    "id": None,
                    "index": 0,
                    "type": "tool_call_chunk",
                }
            ],
            usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        ),
    ]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    msg = total.to_message()
    assert msg.text == "Hello"
    assert msg.id == "r1"
    assert msg.tool_calls == [tool_call("add", {"a": 2}, "c1")]
    assert msg.usage_metadata == {
        "input_tokens": 1,
        "output_tokens": 2,
        "total_tokens": 3,
    }


def test_unparsable_streamed_arguments_become_invalid_tool_calls():
    chunk = AIMessageChunk(
        tool_call_chunks=[
            {
                "name": "x",
                "args": "{oops",
                "id": "c",
                "index": 0,
                "type": "tool_call_chunk",
            }
        ]
    )
    msg = chunk.to_message()
    assert msg.tool_calls == []
    assert msg.invalid_tool_calls[0]["name"] == "x"


def test_add_usage_sums_and_treats_none_as_zero():
    u = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    assert add_usage(None, None) is None
    assert add_usage(u, None) == u
    assert add_usage(u, u) == {"input_tokens": 2, "output_tokens": 4, "total_tokens": 6}
