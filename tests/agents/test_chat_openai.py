"""agents/chat_models/openai.py against a local server speaking Chat Completions."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from agents import create_agent
from agents.chat_models import AzureChatOpenAI, ChatOpenAI, Pricing, RetryPolicy
from agents.errors import ProviderError
from agents.tools import tool
from graphs.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    tool_call,
)
from tests.agents.conftest import Reply, sse, sse_reply

FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.02)


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: First addend.
        b: Second addend.
    """
    return a + b


def completion(message, usage=(3, 5)):
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }


def model(wire, **kw):
    kw.setdefault("retry", FAST)
    return ChatOpenAI("gpt-test", api_key="sk-test", base_url=wire.url + "/v1", **kw)


def test_it_sends_messages_and_tools_and_parses_the_reply(wire):
    wire.reply(Reply(json=completion({"role": "assistant", "content": "Hello!"})))
    reply = model(wire, temperature=0).invoke(
        [SystemMessage("be nice"), HumanMessage("hi")], tools=[add], tool_choice="any"
    )
    assert reply.text == "Hello!"
    assert reply.usage_metadata == {
        "input_tokens": 3,
        "output_tokens": 5,
        "total_tokens": 8,
    }
    assert reply.response_metadata["finish_reason"] == "stop"
    (req,) = wire.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.body["messages"] == [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi"},
    ]
    assert req.body["tool_choice"] == "required"
    assert req.body["temperature"] == 0
    fn = req.body["tools"][0]["function"]
    assert fn["name"] == "add"
    assert fn["parameters"]["properties"]["a"] == {
        "type": "integer",
        "description": "First addend.",
    }


def test_it_round_trips_tool_calls(wire):
    wire.reply(
        Reply(
            json=completion(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "add", "arguments": '{"a":2,"b":3}'},
                        }
                    ],
                }
            )
        ),
        Reply(json=completion({"role": "assistant", "content": "5"})),
    )
    chat = model(wire).bind_tools([add])
    first = chat.invoke("add 2 and 3")
    assert first.tool_calls == [tool_call("add", {"a": 2, "b": 3}, "call_1")]
    chat.invoke(
        [HumanMessage("add 2 and 3"), first, ToolMessage("5", tool_call_id="call_1")]
    )
    sent = wire.requests[1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "add",
        "arguments": '{"a": 2, "b": 3}',
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "5"}


def stream_events():
    def chunk(delta, finish=None):
        return sse(
            {
                "id": "chatcmpl-2",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    tc = {"index": 0, "id": "call_9", "type": "function"}
    return sse_reply(
        chunk({"role": "assistant", "content": "Let me "}),
        chunk({"content": "add."}),
        chunk({"tool_calls": [{**tc, "function": {"name": "add", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 2,'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "b": 3}'}}]}),
        chunk({}, finish="tool_calls"),
        sse(
            {
                "id": "chatcmpl-2",
                "choices": [],
                "usage": {
                    "prompt_tokens": 7,
                    "completion_tokens": 9,
                    "total_tokens": 16,
                },
            }
        ),
        sse("[DONE]"),
    )


def test_it_streams_content_and_tool_call_deltas(wire):
    wire.reply(stream_events())
    chunks = list(model(wire).stream("add", tools=[add]))
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    message = total.to_message()
    assert [c.text for c in chunks[:2]] == ["Let me ", "add."]
    assert message.text == "Let me add."
    assert message.tool_calls == [tool_call("add", {"a": 2, "b": 3}, "call_9")]
    assert message.usage_metadata["total_tokens"] == 16
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert wire.requests[0].body["stream"] is True
    assert wire.requests[0].body["stream_options"] == {"include_usage": True}


def test_it_streams_asynchronously(wire):
    wire.reply(stream_events())

    async def collect():
        return [c async for c in model(wire).astream("add", tools=[add])]

    chunks = asyncio.run(collect())
    assert "".join(c.text for c in chunks) == "Let me add."


def test_ainvoke_parses_the_reply(wire):
    wire.reply(Reply(json=completion({"role": "assistant", "content": "async hi"})))
    assert asyncio.run(model(wire).ainvoke("hi")).text == "async hi"


def test_it_does_not_retry_an_auth_failure(wire):
    wire.reply(
        Reply(
            status=401,
            json={"error": {"message": "Incorrect API key", "type": "invalid_request"}},
        )
    )
    with pytest.raises(ProviderError) as info:
        model(wire).invoke("hi")
    assert info.value.retryable is False
    assert info.value.status_code == 401
    assert "Incorrect API key" in info.value.message
    assert len(wire.requests) == 1


def test_it_does_not_retry_a_bad_request(wire):
    wire.reply(Reply(status=400, json={"error": {"message": "bad"}}), Reply())
    with pytest.raises(ProviderError) as info:
        model(wire).invoke("hi")
    assert info.value.retryable is False
    assert len(wire.requests) == 1


def test_it_honours_retry_after_on_429(wire):
    wire.reply(
        Reply(
            status=429,
            json={"error": {"message": "slow down"}},
            headers={"retry-after": "0.3"},
        ),
        Reply(json=completion({"role": "assistant", "content": "ok"})),
    )
    started = time.monotonic()
    assert model(wire).invoke("hi").text == "ok"
    assert time.monotonic() - started >= 0.3
    assert len(wire.requests) == 2


def test_it_retries_5xx_then_gives_up_with_a_retryable_error(wire):
    wire.reply(*[Reply(status=500, text="upstream exploded")] * 3)
    with pytest.raises(ProviderError) as info:
        model(wire).invoke("hi")
    assert info.value.retryable is True
    assert info.value.status_code == 500
    assert len(wire.requests) == 3


def test_a_429_that_persists_reports_retry_after(wire):
    wire.reply(Reply(status=429, json={}, headers={"retry-after": "0"}))
    with pytest.raises(ProviderError) as info:
        model(wire, retry=RetryPolicy(max_retries=0)).invoke("hi")
    assert info.value.retryable is True
    assert info.value.retry_after == 0


def test_a_slow_response_times_out_as_retryable(wire):
    wire.reply(Reply(json=completion({"content": "late"}), delay=1.0))
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        model(wire, timeout=0.2, retry=RetryPolicy(max_retries=0)).invoke("hi")
    assert info.value.retryable is True
    assert "timed out" in info.value.message
    assert time.monotonic() - started < 0.9


def test_a_stream_that_fails_before_data_is_retried(wire):
    wire.reply(Reply(status=503, text="busy"), stream_events())
    text = "".join(c.text for c in model(wire).stream("add"))
    assert text == "Let me add."
    assert len(wire.requests) == 2


def test_an_error_event_mid_stream_raises(wire):
    wire.reply(
        sse_reply(
            sse({"choices": [{"index": 0, "delta": {"content": "par"}}]}),
            sse({"error": {"message": "overloaded", "type": "server_error"}}),
        )
    )
    with pytest.raises(ProviderError) as info:
        list(model(wire).stream("x"))
    assert info.value.retryable is True


def test_usage_is_summed_and_priced_per_call(wire):
    wire.reply(
        Reply(json=completion({"content": "a"}, usage=(1_000, 500))),
        Reply(json=completion({"content": "b"}, usage=(2_000, 500))),
    )
    chat = model(wire, pricing=Pricing(input_per_million=1.0, output_per_million=2.0))
    bound = chat.bind_tools([add])
    first = chat.invoke("x")
    bound.invoke("y")
    assert first.response_metadata["cost_usd"] == pytest.approx(0.002)
    assert chat.usage == {
        "input_tokens": 3_000,
        "output_tokens": 1_000,
        "total_tokens": 4_000,
    }


def test_it_needs_a_key_only_for_the_openai_endpoint(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        ChatOpenAI("gpt-4o-mini")
    ChatOpenAI("llama3", base_url="http://127.0.0.1:1/v1")  # local server: no key


def test_it_reads_key_and_base_url_from_the_environment(wire, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", wire.url + "/v1")
    wire.reply(Reply(json=completion({"content": "env"})))
    assert ChatOpenAI("gpt-test").invoke("hi").text == "env"
    assert wire.requests[0].headers["authorization"] == "Bearer sk-env"


def test_azure_uses_deployments_api_key_and_api_version(wire):
    wire.reply(Reply(json=completion({"content": "azure"})))
    chat = AzureChatOpenAI(
        "my-deploy", azure_endpoint=wire.url, api_key="az", api_version="2024-10-21"
    )
    assert chat.invoke("hi").text == "azure"
    req = wire.requests[0]
    assert (
        req.path
        == "/openai/deployments/my-deploy/chat/completions?api-version=2024-10-21"
    )
    assert req.headers["api-key"] == "az"
    assert "authorization" not in req.headers


def test_an_ai_message_without_text_is_sent_with_null_content(wire):
    wire.reply(Reply(json=completion({"content": "fine"})))
    model(wire).invoke(
        [AIMessage("", tool_calls=[tool_call("add", {"a": 1, "b": 1}, "c")])]
    )
    assert wire.requests[0].body["messages"][0]["content"] is None


def test_async_calls_retry_and_time_out_like_sync_ones(wire):
    wire.reply(
        Reply(status=429, json={}, headers={"retry-after-ms": "50"}),
        Reply(json=completion({"content": "after retry"})),
        Reply(status=503, text="busy"),
        stream_events(),
        Reply(json=completion({"content": "late"}), delay=1.0),
    )
    chat = model(wire, timeout=0.2)

    async def scenario():
        first = await chat.ainvoke("hi")
        streamed = "".join([c.text async for c in chat.astream("add")])
        try:
            await model(wire, timeout=0.2, retry=RetryPolicy(max_retries=0)).ainvoke(
                "x"
            )
        except ProviderError as exc:
            return first.text, streamed, exc
        return first.text, streamed, None

    text, streamed, error = asyncio.run(scenario())
    assert (text, streamed) == ("after retry", "Let me add.")
    assert error is not None
    assert error.retryable is True
    assert len(wire.requests) == 5


def test_an_agent_streams_tokens_while_the_model_is_still_answering(wire):
    def chunk(delta, finish=None):
        return sse(
            {
                "id": "chatcmpl-3",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    released = threading.Event()
    reply = sse_reply(
        chunk({"role": "assistant", "content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, finish="stop"),
        sse("[DONE]"),
    )
    reply.hold = (2, released)  # the rest waits until the first token arrived
    wire.reply(reply)
    agent = create_agent(model(wire), [])
    tokens = []
    for message, _ in agent.stream({"messages": ["hi"]}, stream_mode="messages"):
        if isinstance(message, AIMessageChunk):
            tokens.append(message.text)
            released.set()
    assert "".join(tokens) == "Hello"
    assert reply.held_until_released is True
