"""A tool-calling agent on an OpenAI-compatible endpoint (``OPENAI_BASE_URL``: the
test's local server), registered for the telemetry tests."""

from __future__ import annotations

from typing import Any

from agents import create_agent
from tests.agents.test_chat_openai import add
from tests.runtime.sample_graphs import TEST_GRAPHS

GRAPHS = {**TEST_GRAPHS, "calc": "tests.runtime.telemetry_graphs:build_calc"}


def build_calc() -> Any:
    return create_agent("openai:gpt-test", [add])


def completion(message: dict[str, Any], finish: str, usage=(11, 7)) -> dict[str, Any]:
    """One Chat Completions response body."""
    return {
        "id": f"chatcmpl-{finish}",
        "object": "chat.completion",
        "model": "gpt-test-0613",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }


def calc_replies() -> list[dict[str, Any]]:
    """The model asks for add(2, 3), then answers."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
    }
    return [
        completion(
            {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        ),
        completion({"role": "assistant", "content": "5"}, "stop", usage=(20, 1)),
    ]
