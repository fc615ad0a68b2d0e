"""Anthropic Messages API.

Wire format: ``POST {base_url}/v1/messages`` with ``x-api-key`` and
``anthropic-version`` headers; system prompts are a top-level field, tool calls are
``tool_use`` content blocks and their results ``tool_result`` blocks in a user turn.
Streaming is Server-Sent Events: ``message_start``, ``content_block_start``,
``content_block_delta`` (``text_delta`` / ``input_json_delta``), ``message_delta``
(stop reason, output tokens), ``message_stop``, and ``error``.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from agents.chat_models._http import HttpTransport, RetryPolicy, SSEDecoder
from agents.chat_models.base import HttpChatModel, Pricing
from agents.errors import ProviderError
from agents.tools.base import ToolSpec
from graphs.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    tool_call,
)

__all__ = ["ChatAnthropic"]

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
_RETRYABLE_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error"})


class ChatAnthropic(HttpChatModel):
    """Chat model speaking the Anthropic Messages API.

    Args:
        model: Model name (``claude-sonnet-4-5``...).
        api_key: Default ``ANTHROPIC_API_KEY`` (``CLAUDE_API_KEY`` also read, for
            compatibility with the original Oris).
        base_url: Default ``ANTHROPIC_BASE_URL`` or ``https://api.anthropic.com``.
        timeout: Seconds per attempt.
        max_retries: Retries on retryable failures.
        temperature: Sampling temperature.
        max_tokens: Output token limit (required by the API; default 4096).
        retry: Full retry policy (overrides ``max_retries``).
        pricing: Prices for ``cost_usd``.
        model_kwargs: Extra request fields sent verbatim.

    Raises:
        ValueError: If no API key is available.
    """

    provider: ClassVar[str] = "anthropic"
    path: ClassVar[str] = "v1/messages"

    def __init__(
        self,
        model: str = "claude-sonnet-4-5",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        temperature: float | None = None,
        max_tokens: int = 4096,
        retry: RetryPolicy | None = None,
        pricing: Pricing | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        api_key = (
            api_key
            or os.environ.get("ANTHROPIC_API_KEY")
            or os.environ.get("CLAUDE_API_KEY")
        )
        if not api_key:
            raise ValueError(
                "Anthropic needs an API key: set ANTHROPIC_API_KEY or pass api_key=..."
            )
        transport = HttpTransport(
            base_url=base_url
            or os.environ.get("ANTHROPIC_BASE_URL")
            or ANTHROPIC_BASE_URL,
            headers={"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION},
            timeout=timeout,
            retry=retry or RetryPolicy(max_retries=max_retries),
            provider=self.provider,
        )
        super().__init__(
            model=model, transport=transport, pricing=pricing, model_kwargs=model_kwargs
        )
        self.temperature = temperature
        self.max_tokens = max_tokens

    def _payload(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        system = "\n\n".join(m.text for m in messages if isinstance(m, SystemMessage))
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": to_anthropic_messages(messages),
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [
                {
                    "name": t["name"],
                    "description": t["description"],
                    "input_schema": t["parameters"],
                }
                for t in tools
            ]
            if tool_choice:
                body["tool_choice"] = _tool_choice(tool_choice)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if stream:
            body["stream"] = True
        return body

    def _parse(self, data: dict[str, Any]) -> AIMessage:
        if data.get("type") == "error":
            raise _stream_error(data, self.provider)
        texts, calls = [], []
        for block in data.get("content") or []:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                calls.append(
                    tool_call(block["name"], block.get("input") or {}, block.get("id"))
                )
        usage = data.get("usage") or {}
        inp = int(usage.get("input_tokens") or 0)
        out = int(usage.get("output_tokens") or 0)
        return AIMessage(
            content="".join(texts),
            tool_calls=calls,
            usage_metadata={
                "input_tokens": inp,
                "output_tokens": out,
                "total_tokens": inp + out,
            },
            response_metadata={
                "id": data.get("id"),
                "model": data.get("model"),
                "stop_reason": data.get("stop_reason"),
            },
        )

    def _decoder(self) -> _AnthropicStreamDecoder:
        return _AnthropicStreamDecoder(self.provider)


def _tool_choice(choice: str) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice in ("any", "required"):
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _blocks(content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [{"type": "text", "text": b} if isinstance(b, str) else b for b in content]


def _turn(message: BaseMessage) -> tuple[str, list[dict[str, Any]]] | None:
    if isinstance(message, HumanMessage):
        return "user", _blocks(message.content)
    if isinstance(message, ToolMessage):
        return "user", [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.text,
                "is_error": message.status == "error",
            }
        ]
    if isinstance(message, AIMessage):
        blocks = _blocks(message.content)
        blocks += [
            {
                "type": "tool_use",
                "id": tc["id"],
                "name": tc["name"],
                "input": tc["args"],
            }
            for tc in message.tool_calls
        ]
        return "assistant", blocks
    return None


def to_anthropic_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """Convert messages to alternating user/assistant turns (system dropped).

    Consecutive messages with the same role (several tool results, say) are merged
    into one turn, as the API requires.
    """
    turns: list[dict[str, Any]] = []
    for message in messages:
        turn = _turn(message)
        if turn is None:
            continue
        role, blocks = turn
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _stream_error(data: dict[str, Any], provider: str) -> ProviderError:
    err = data.get("error") or {}
    kind = err.get("type", "error")
    return ProviderError(
        f"{provider} error ({kind}): {err.get('message', '')}",
        retryable=kind in _RETRYABLE_TYPES,
        provider=provider,
    )


class _AnthropicStreamDecoder:
    def __init__(self, provider: str) -> None:
        self._sse = SSEDecoder()
        self._provider = provider

    def feed(self, line: str) -> list[AIMessageChunk]:
        return [c for ev, data in self._sse.feed(line) for c in self._event(ev, data)]

    def close(self) -> list[AIMessageChunk]:
        return [c for ev, data in self._sse.flush() for c in self._event(ev, data)]

    def _event(self, event: str | None, data: str) -> list[AIMessageChunk]:
        payload = json.loads(data)
        kind = payload.get("type", event)
        if kind == "error":
            raise _stream_error(payload, self._provider)
        if kind == "message_start":
            msg = payload.get("message") or {}
            inp = int((msg.get("usage") or {}).get("input_tokens") or 0)
            return [
                AIMessageChunk(
                    usage_metadata={
                        "input_tokens": inp,
                        "output_tokens": 0,
                        "total_tokens": inp,
                    },
                    response_metadata={"id": msg.get("id"), "model": msg.get("model")},
                )
            ]
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "content_block_delta":
            return self._block_delta(payload)
        if kind == "message_delta":
            out = int((payload.get("usage") or {}).get("output_tokens") or 0)
            stop = (payload.get("delta") or {}).get("stop_reason")
            return [
                AIMessageChunk(
                    usage_metadata={
                        "input_tokens": 0,
                        "output_tokens": out,
                        "total_tokens": out,
                    },
                    response_metadata={"stop_reason": stop} if stop else {},
                )
            ]
        return []

    def _block_start(self, payload: dict[str, Any]) -> list[AIMessageChunk]:
        block = payload.get("content_block") or {}
        if block.get("type") == "tool_use":
            return [
                AIMessageChunk(
                    tool_call_chunks=[
                        {
                            "name": block.get("name"),
                            "args": "",
                            "id": block.get("id"),
                            "index": payload.get("index"),
                            "type": "tool_call_chunk",
                        }
                    ]
                )
            ]
        if block.get("type") == "text" and block.get("text"):
            return [AIMessageChunk(content=block["text"])]
        return []

    def _block_delta(self, payload: dict[str, Any]) -> list[AIMessageChunk]:
        delta = payload.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [AIMessageChunk(content=delta.get("text", ""))]
        if delta.get("type") == "input_json_delta":
            return [
                AIMessageChunk(
                    tool_call_chunks=[
                        {
                            "name": None,
                            "args": delta.get("partial_json", ""),
                            "id": None,
                            "index": payload.get("index"),
                            "type": "tool_call_chunk",
                        }
                    ]
                )
            ]
        return []
