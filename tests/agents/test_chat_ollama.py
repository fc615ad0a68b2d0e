"""agents/chat_models/ollama.py against a local server speaking Ollama's /api/chat."""

from __future__ import annotations

import asyncio

import pytest

from agents.chat_models import ChatOllama, RetryPolicy
from agents.chat_models.ollama import ollama_host
from agents.errors import ProviderError
from agents.tools import tool
from graphs.messages import AIMessage, HumanMessage, ToolMessage, tool_call
from tests.agents.conftest import Reply, ndjson_reply

FAST = RetryPolicy(max_retries=1, backoff_base=0.01)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def model(wire, **kw):
    kw.setdefault("retry", FAST)
    return ChatOllama("llama-test", base_url=wire.url, **kw)


def done(message, **extra):
    return {
        "model": "llama-test",
        "message": {"role": "assistant", **message},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 12,
        "eval_count": 3,
        **extra,
    }


def test_it_sends_native_requests_and_parses_tool_calls(wire):
    wire.reply(
        Reply(
            json=done(
                {
                    "content": "",
                    "tool_calls": [
                        {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}
                    ],
                }
            )
        )
    )
    reply = model(wire, temperature=0.1, num_predict=64).invoke("1+2?", tools=[add])
    (call,) = reply.tool_calls
    assert (call["name"], call["args"]) == ("add", {"a": 1, "b": 2})
    assert call["id"]
    assert reply.usage_metadata == {
        "input_tokens": 12,
        "output_tokens": 3,
        "total_tokens": 15,
    }
    req = wire.requests[0]
    assert req.path == "/api/chat"
    assert req.body["stream"] is False
    assert req.body["options"] == {"temperature": 0.1, "num_predict": 64}
    assert req.body["tools"][0]["function"]["name"] == "add"


def test_it_sends_tool_results_with_the_tool_name(wire):
    wire.reply(Reply(json=done({"content": "3"})))
    model(wire).invoke(
        [
            HumanMessage("1+2?"),
            AIMessage("", tool_calls=[tool_call("add", {"a": 1, "b": 2}, "c")]),
            ToolMessage("3", tool_call_id="c", name="add"),
        ]
    )
    sent = wire.requests[0].body["messages"]
    assert sent[1]["tool_calls"] == [
        {"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}
    ]
    assert sent[2] == {"role": "tool", "content": "3", "tool_name": "add"}


def ndjson_stream():
    return ndjson_reply(
        {
            "model": "llama-test",
            "message": {"role": "assistant", "content": "Sum"},
            "done": False,
        },
        {
            "model": "llama-test",
            "message": {"role": "assistant", "content": "ming"},
            "done": False,
        },
        {
            "model": "llama-test",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "add", "arguments": {"a": 4, "b": 5}}}
                ],
            },
            "done": False,
        },
        done({"content": ""}),
    )


def test_it_streams_ndjson(wire):
    wire.reply(ndjson_stream())
    chunks = list(model(wire).stream("4+5", tools=[add]))
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    msg = total.to_message()
    assert msg.text == "Summing"
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
        ("add", {"a": 4, "b": 5})
    ]
    assert msg.usage_metadata["total_tokens"] == 15
    assert wire.requests[0].body["stream"] is True


def test_it_streams_asynchronously(wire):
    wire.reply(ndjson_stream())

    async def run():
        return [c async for c in model(wire).astream("4+5")]

    assert "".join(c.text for c in asyncio.run(run())) == "Summing"


def test_a_missing_model_is_a_permanent_error(wire):
    wire.reply(Reply(status=404, json={"error": "model 'llama-test' not found"}))
    with pytest.raises(ProviderError) as info:
        model(wire).invoke("hi")
    assert (info.value.retryable, info.value.status_code) == (False, 404)
    assert "not found" in info.value.message


def test_an_error_line_in_the_stream_raises(wire):
    wire.reply(ndjson_reply({"error": "out of memory"}))
    with pytest.raises(ProviderError, match="out of memory"):
        list(model(wire).stream("hi"))


def test_ollama_host_is_read_from_the_environment(wire, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", wire.url.removeprefix("http://"))
    wire.reply(Reply(json=done({"content": "env"})))
    assert ChatOllama("llama-test").invoke("hi").text == "env"


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("localhost", "http://localhost:11434"),
        ("0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("http://gpu-box:8000/", "http://gpu-box:8000"),
        ("https://ollama.example", "https://ollama.example"),
    ],
)
def test_ollama_host_is_normalised(raw, url):
    assert ollama_host(raw) == url
