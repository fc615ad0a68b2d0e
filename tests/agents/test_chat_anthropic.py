"""agents/chat_models/anthropic.py against a local server speaking the Messages API."""

from __future__ import annotations

import asyncio

import pytest

from agents.chat_models import ChatAnthropic, RetryPolicy
from agents.errors import ProviderError
from agents.tools import tool
from graphs.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    tool_call,
)
from tests.agents.conftest import Reply, sse, sse_reply

FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.02)


@tool
def lookup(city: str) -> str:
    """Look up the weather.

    Args:
        city: City name.
    """
    return "sunny"


def model(wire, **kw):
    kw.setdefault("retry", FAST)
    return ChatAnthropic("claude-test", api_key="ak-test", base_url=wire.url, **kw)


def message(content, stop="end_turn"):
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "usage": {"input_tokens": 11, "output_tokens": 4},
    }


def test_it_sends_system_separately_and_parses_tool_use(wire):
    wire.reply(
        Reply(
            json=message(
                [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "lookup",
                        "input": {"city": "Oslo"},
                    },
                ],
                stop="tool_use",
            )
        )
    )
    reply = model(wire, max_tokens=256).invoke(
        [SystemMessage("be brief"), HumanMessage("weather in Oslo?")],
        tools=[lookup],
        tool_choice="lookup",
    )
    assert reply.text == "Checking."
    assert reply.tool_calls == [tool_call("lookup", {"city": "Oslo"}, "toolu_1")]
    assert reply.usage_metadata == {
        "input_tokens": 11,
        "output_tokens": 4,
        "total_tokens": 15,
    }
    req = wire.requests[0]
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == "ak-test"
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.body["system"] == "be brief"
    assert req.body["max_tokens"] == 256
    assert req.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather in Oslo?"}]}
    ]
    assert req.body["tools"][0]["input_schema"]["required"] == ["city"]
    assert req.body["tool_choice"] == {"type": "tool", "name": "lookup"}


def test_consecutive_tool_results_become_one_user_turn(wire):
    wire.reply(Reply(json=message([{"type": "text", "text": "Both sunny."}])))
    ai = AIMessage(
        "",
        tool_calls=[
            tool_call("lookup", {"city": "Oslo"}, "t1"),
            tool_call("lookup", {"city": "Rome"}, "t2"),
        ],
    )
    model(wire).invoke(
        [
            HumanMessage("weather?"),
            ai,
            ToolMessage("sunny", tool_call_id="t1"),
            ToolMessage("boom", tool_call_id="t2", status="error"),
        ]
    )
    turns = wire.requests[0].body["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["type"] for b in turns[1]["content"]] == ["tool_use", "tool_use"]
    assert turns[2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "t1",
            "content": "sunny",
            "is_error": False,
        },
        {
            "type": "tool_result",
            "tool_use_id": "t2",
            "content": "boom",
            "is_error": True,
        },
    ]


def stream_reply():
    def ev(name, payload):
        return sse({"type": name, **payload}, event=name)

    return sse_reply(
        ev(
            "message_start",
            {
                "message": {
                    "id": "msg_2",
                    "model": "claude-test",
                    "usage": {"input_tokens": 20},
                }
            },
        ),
        ev(
            "content_block_start",
            {"index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ev("ping", {}),
        ev(
            "content_block_delta",
            {"index": 0, "delta": {"type": "text_delta", "text": "Let "}},
        ),
        ev(
            "content_block_delta",
            {"index": 0, "delta": {"type": "text_delta", "text": "me."}},
        ),
        ev("content_block_stop", {"index": 0}),
        ev(
            "content_block_start",
            {
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_9",
                    "name": "lookup",
                    "input": {},
                },
            },
        ),
        ev(
            "content_block_delta",
            {
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
        ),
        ev(
            "content_block_delta",
            {
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
            },
        ),
        ev("content_block_stop", {"index": 1}),
        ev(
            "message_delta",
            {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}},
        ),
        ev("message_stop", {}),
    )


def test_it_streams_text_and_input_json_deltas(wire):
    wire.reply(stream_reply())
    chunks = list(model(wire).stream("weather?", tools=[lookup]))
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    msg = total.to_message()
    assert msg.text == "Let me."
    assert msg.tool_calls == [tool_call("lookup", {"city": "Oslo"}, "toolu_9")]
    assert msg.usage_metadata == {
        "input_tokens": 20,
        "output_tokens": 12,
        "total_tokens": 32,
    }
    assert msg.response_metadata["stop_reason"] == "tool_use"
    assert wire.requests[0].body["stream"] is True


def test_it_streams_asynchronously(wire):
    wire.reply(stream_reply())

    async def run():
        return [c async for c in model(wire).astream("weather?")]

    assert "".join(c.text for c in asyncio.run(run())) == "Let me."


def test_an_overloaded_error_event_is_retryable(wire):
    wire.reply(
        sse_reply(
            sse(
                {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                },
                event="error",
            )
        )
    )
    with pytest.raises(ProviderError) as info:
        list(model(wire).stream("x"))
    assert info.value.retryable is True
    assert "Overloaded" in info.value.message


def test_http_529_is_retried_and_401_is_not(wire):
    overloaded = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "busy"},
    }
    wire.reply(
        Reply(status=529, json=overloaded),
        Reply(json=message([{"type": "text", "text": "ok"}])),
        Reply(
            status=401,
            json={
                "type": "error",
                "error": {
                    "type": "authentication_error",
                    "message": "invalid x-api-key",
                },
            },
        ),
    )
    chat = model(wire)
    assert chat.invoke("hi").text == "ok"
    with pytest.raises(ProviderError) as info:
        chat.invoke("hi")
    assert (info.value.retryable, info.value.status_code) == (False, 401)
    assert "invalid x-api-key" in info.value.message
    assert len(wire.requests) == 3


def test_it_reads_the_key_from_the_environment(wire, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", wire.url)
    wire.reply(Reply(json=message([{"type": "text", "text": "env"}])))
    assert asyncio.run(ChatAnthropic("claude-test").ainvoke("hi")).text == "env"
    assert wire.requests[0].headers["x-api-key"] == "ak-env"


def test_it_refuses_to_start_without_a_key(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CLAUDE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        ChatAnthropic()
