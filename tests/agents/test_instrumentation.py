"""agents/instrumentation.py: the listener hears every model call and tool call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from agents.errors import ProviderError, ToolError
from agents.instrumentation import (
    Listeners,
    ModelStart,
    ToolStart,
    get_listener,
    set_listener,
)
from agents.tool_node import ToolExecutor
from agents.tools import tool
from graphs.messages import tool_call
from tests.agents.conftest import Reply
from tests.agents.test_chat_openai import add, completion, model, stream_events
from tests.graphs.test_instrumentation import listening


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def model_start(self, start: ModelStart) -> Any:
        self.calls.append(("model_start", start))
        return len(self.calls)

    def model_end(self, handle, *, reply, error) -> None:
        usage = reply.usage_metadata if reply is not None else None
        self.calls.append(("model_end", (handle, usage, type(error).__name__)))

    def tool_start(self, start: ToolStart) -> Any:
        self.calls.append(("tool_start", start))
        return len(self.calls)

    def tool_end(self, handle, *, error) -> None:
        self.calls.append(("tool_end", (handle, type(error).__name__)))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with listening(set_listener, Recorder()) as recorder:
        yield recorder


def test_each_way_of_calling_a_model_is_heard(wire, recorder) -> None:
    wire.reply(Reply(json=completion({"role": "assistant", "content": "a"})))
    wire.reply(Reply(json=completion({"role": "assistant", "content": "b"})))
    wire.reply(stream_events(), stream_events())
    chat = model(wire)
    chat.invoke("hi")
    asyncio.run(chat.ainvoke("hi"))
    list(chat.stream("hi"))

    async def astream() -> None:
        async for _ in chat.astream("hi"):
            pass

    asyncio.run(astream())
    starts = [c[1] for c in recorder.calls if c[0] == "model_start"]
    assert [s.stream for s in starts] == [False, False, True, True]
    assert {(s.provider, s.model, s.server) for s in starts} == {
        ("openai", "gpt-test", wire.url + "/v1")
    }
    ends = [c[1] for c in recorder.calls if c[0] == "model_end"]
    assert [e[0] for e in ends] == [1, 3, 5, 7]  # each end names its start
    assert ends[0][1]["input_tokens"] == 3
    assert ends[0][1]["output_tokens"] == 5
    assert all(e[1] is not None and e[2] == "NoneType" for e in ends)


def test_a_failed_model_call_is_heard_with_its_error(wire, recorder) -> None:
    wire.reply(Reply(status=401, json={"error": {"message": "no"}}))
    with pytest.raises(ProviderError):
        model(wire).invoke("hi")
    assert recorder.calls[-1] == ("model_end", (1, None, "ProviderError"))


@tool
def refuse(reason: str) -> str:
    """Refuses.

    Args:
        reason: Why.
    """
    raise ToolError(reason)


def test_tool_calls_are_heard_with_their_failures(recorder) -> None:
    tools = ToolExecutor([add, refuse])
    ok = tools.run(
        tool_call("add", {"a": 1, "b": 2}, "c1"), state={}, config={}, writer=None
    )
    assert ok["messages"][0].content == "3"
    failed = tools.run(
        tool_call("refuse", {"reason": "no"}, "c2"), state={}, config={}, writer=None
    )
    assert failed["messages"][0].status == "error"
    missing = tools.run(tool_call("nope", {}, "c3"), state={}, config={}, writer=None)
    assert missing["messages"][0].status == "error"
    assert recorder.calls == [
        ("tool_start", ToolStart(name="add", call_id="c1")),
        ("tool_end", (1, "NoneType")),
        ("tool_start", ToolStart(name="refuse", call_id="c2")),
        ("tool_end", (3, "ToolError")),
        ("tool_start", ToolStart(name="nope", call_id="c3")),
        ("tool_end", (5, "ToolNotFoundError")),
    ]


def test_without_a_listener_calls_are_not_observed(wire) -> None:
    installed = set_listener(None)  # the runtime's, when Django set up this process
    try:
        assert get_listener() is None
        wire.reply(Reply(json=completion({"role": "assistant", "content": "a"})))
        assert model(wire).invoke("hi").text == "a"
    finally:
        set_listener(installed)


def test_listeners_tell_each_listener_with_its_own_handle(wire) -> None:
    first, second = Recorder(), Recorder()
    installed = set_listener(Listeners(first, second))
    try:
        wire.reply(Reply(json=completion({"role": "assistant", "content": "a"})))
        assert model(wire).invoke("hi").text == "a"
    finally:
        set_listener(installed)
    assert [name for name, _ in first.calls] == ["model_start", "model_end"]
    assert first.calls == second.calls
