"""agents/observers.py: every model and tool call is reported to the observers,
against a local server speaking Chat Completions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agents import observers
from agents.chat_models import ChatOpenAI, Pricing, RetryPolicy
from agents.errors import ProviderError
from agents.tool_node import ToolExecutor
from agents.tools import CalculatorTool
from tests.agents.conftest import Reply, sse, sse_reply
from tests.agents.test_chat_openai import completion

FAST = RetryPolicy(max_retries=0, backoff_base=0.01, backoff_max=0.02)
PRICING = Pricing(input_per_million=1.0, output_per_million=4.0)


class Recorder:
    def __init__(self) -> None:
        self.models: list[observers.ModelCall] = []
        self.tools: list[observers.ToolCallRecord] = []

    def model_called(self, call: observers.ModelCall) -> None:
        self.models.append(call)

    def tool_called(self, call: observers.ToolCallRecord) -> None:
        self.tools.append(call)


class Broken:
    def model_called(self, call: observers.ModelCall) -> None:
        raise RuntimeError("observer bug")

    def tool_called(self, call: observers.ToolCallRecord) -> None:
        raise RuntimeError("observer bug")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    found = Recorder()
    observers.add_observer(found)
    yield found
    observers.remove_observer(found)


def model(wire) -> ChatOpenAI:
    return ChatOpenAI(
        "gpt-test", api_key="k", base_url=wire.url + "/v1", retry=FAST, pricing=PRICING
    )


def test_a_model_call_is_reported_with_its_usage_cost_and_finish_reason(
    wire, recorder
) -> None:
    wire.reply(Reply(json=completion({"role": "assistant", "content": "hi"}, (10, 4))))
    model(wire).invoke("hello")
    [call] = recorder.models
    assert (call.provider, call.model, call.error) == ("openai", "gpt-test", None)
    assert call.usage == {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}
    assert call.cost_usd == pytest.approx((10 * 1.0 + 4 * 4.0) / 1_000_000)
    assert call.response_metadata["finish_reason"] == "stop"
    assert call.duration_s >= 0


def test_a_failed_model_call_is_reported_with_its_error(wire, recorder) -> None:
    wire.reply(Reply(status=400, json={"error": {"message": "bad request"}}))
    with pytest.raises(ProviderError):
        model(wire).invoke("hello")
    [call] = recorder.models
    assert isinstance(call.error, ProviderError)
    assert call.usage is None


def test_streamed_and_async_calls_are_reported_once_each(wire, recorder) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
    usage = {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1}}
    wire.reply(sse_reply(sse(chunk), sse(usage), sse("[DONE]")))
    wire.reply(Reply(json=completion({"role": "assistant", "content": "a"}, (1, 1))))
    chat = model(wire)
    assert "".join(str(c.content) for c in chat.stream("x")) == "hi"
    asyncio.run(chat.ainvoke("y"))
    assert [c.usage["input_tokens"] for c in recorder.models if c.usage] == [2, 1]


def test_tool_calls_are_reported_known_unknown_and_failing(recorder) -> None:
    executor = ToolExecutor([CalculatorTool()])
    for name, args in (
        ("calculator", {"expression": "2+3"}),
        ("calculator", {"expression": "9 ** 999999"}),  # refused: a ToolError
        ("made_up", {}),
    ):
        executor.run(
            {"name": name, "args": args, "id": "c", "type": "tool_call"},
            state={},
            config={},
            writer=None,
        )
    assert [(c.tool, type(c.error).__name__) for c in recorder.tools] == [
        ("calculator", "NoneType"),
        ("calculator", "ToolError"),
        (None, "ToolNotFoundError"),
    ]


def test_an_observer_that_raises_never_fails_the_call(wire, recorder) -> None:
    broken = Broken()
    observers.add_observer(broken)
    try:
        wire.reply(Reply(json=completion({"role": "assistant", "content": "ok"})))
        assert model(wire).invoke("hello").content == "ok"
    finally:
        observers.remove_observer(broken)
    assert len(recorder.models) == 1
