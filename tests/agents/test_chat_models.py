"""agents/chat_models/__init__.py and scripted.py: selection by string, the script."""

from __future__ import annotations

import pytest

from agents.chat_models import (
    ChatAnthropic,
    ChatOllama,
    ChatOpenAI,
    ScriptedChatModel,
    init_chat_model,
)
from agents.chat_models._http import SSEDecoder, parse_retry_after
from agents.errors import ProviderError
from graphs.messages import AIMessage, HumanMessage, ToolMessage, tool_call


@pytest.fixture
def no_provider_env(monkeypatch):
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "CLAUDE_API_KEY",
        "OLLAMA_HOST",
    ):
        monkeypatch.delenv(name, raising=False)


def test_init_chat_model_reads_provider_and_model(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak")
    assert isinstance(init_chat_model("openai:gpt-4o"), ChatOpenAI)
    assert init_chat_model("gpt-4o-mini").model == "gpt-4o-mini"
    assert isinstance(init_chat_model("claude-3-5-haiku-latest"), ChatAnthropic)
    assert init_chat_model("anthropic").model == "claude-sonnet-4-5"
    ollama = init_chat_model("ollama:llama3.2:3b", max_tokens=10)
    assert isinstance(ollama, ChatOllama)
    assert ollama.model == "llama3.2:3b"
    assert ollama.options == {"num_predict": 10}


def test_init_chat_model_builds_openai_compatible_servers(no_provider_env):
    vllm = init_chat_model("openai:Qwen2.5", base_url="http://127.0.0.1:8000/v1")
    assert vllm.transport.base_url == "http://127.0.0.1:8000/v1"
    assert "authorization" not in {k.lower() for k in vllm.transport.headers}
    deepseek = init_chat_model("deepseek", api_key="dk")
    assert deepseek.transport.base_url == "https://api.deepseek.com/v1"


def test_init_chat_model_rejects_unknown_models():
    with pytest.raises(ValueError, match="provider"):
        init_chat_model("mystery-model")
    with pytest.raises(ValueError, match="needs a model"):
        init_chat_model("vllm")


def test_auto_picks_the_provider_whose_variable_is_set(no_provider_env, monkeypatch):
    assert isinstance(init_chat_model("auto"), ScriptedChatModel)
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:11434")
    assert isinstance(init_chat_model("auto"), ChatOllama)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak")
    assert isinstance(init_chat_model("auto"), ChatAnthropic)
    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    assert isinstance(init_chat_model("auto"), ChatOpenAI)


def test_scripted_model_replays_by_conversation_position():
    model = init_chat_model(
        "scripted",
        responses=[
            {"tool_calls": [{"name": "add", "args": {"a": 1}}]},
            lambda msgs: f"saw {len(msgs)} messages",
        ],
    )
    first = model.invoke("go")
    assert first.tool_calls == [tool_call("add", {"a": 1}, "call_0_0")]
    history = [HumanMessage("go"), first, ToolMessage("1", tool_call_id="call_0_0")]
    assert model.invoke(history).text == "saw 3 messages"
    # Same input, same answer: a replayed step cannot diverge.
    assert model.invoke("go") == first
    with pytest.raises(ProviderError, match="exhausted"):
        model.invoke([*history, AIMessage("x"), HumanMessage("more")])


def test_scripted_model_can_raise_and_has_a_fallback():
    model = ScriptedChatModel(
        [ProviderError("rate limited", retryable=True)], when_exhausted="done"
    )
    with pytest.raises(ProviderError, match="rate limited"):
        model.invoke("x")
    assert model.invoke([HumanMessage("x"), AIMessage("y")]).text == "done"


def test_scripted_model_streams_tool_call_chunks():
    model = ScriptedChatModel(
        [AIMessage("two words", tool_calls=[tool_call("add", {"a": 1}, "c1")])]
    )
    chunks = list(model.stream("x"))
    assert any(c.tool_call_chunks for c in chunks)
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    msg = total.to_message()
    assert msg.text == "two words"
    assert msg.tool_calls == [tool_call("add", {"a": 1}, "c1")]
    assert model.usage["total_tokens"] > 0


def test_sse_decoder_handles_multiline_data_and_comments():
    decoder = SSEDecoder()
    out = []
    for line in [": keepalive", "event: x", "data: a", "data: b", "", "data: c"]:
        out += decoder.feed(line)
    out += decoder.flush()
    assert out == [("x", "a\nb"), (None, "c")]


def test_retry_after_accepts_seconds_milliseconds_and_dates():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None
