"""Ollama's native chat API.

Wire format: ``POST {OLLAMA_HOST}/api/chat``; tool calls arrive whole as
``message.tool_calls[].function{name, arguments}`` (arguments already an object).
Streaming is newline-delimited JSON: one object per line, the last with
``"done": true`` and the token counts (``prompt_eval_count``, ``eval_count``).
For Ollama's OpenAI-compatible ``/v1`` endpoint use ``ChatOpenAI`` with ``base_url``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, ClassVar
from urllib.parse import urlsplit

from agents.chat_models._http import HttpTransport, RetryPolicy
from agents.chat_models.base import HttpChatModel, Pricing
from agents.errors import ProviderError
from agents.tools.base import ToolSpec
from graphs.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCallChunk,
    ToolMessage,
    UsageMetadata,
    tool_call,
)

__all__ = ["ChatOllama", "ollama_host"]

DEFAULT_OLLAMA_HOST = "http://localhost:11434"


def ollama_host(value: str | None = None) -> str:
    """Normalise ``OLLAMA_HOST`` (which may lack a scheme or port) into a URL.

    Args:
        value: Explicit host; default the ``OLLAMA_HOST`` env var.

    Returns:
        ``http://host:port``-style base URL.
    """
    raw = (value or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST).strip()
    parts = urlsplit(raw if "://" in raw else f"http://{raw}")
    host = parts.hostname or "localhost"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (11434 if parts.scheme == "http" else None)
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


class ChatOllama(HttpChatModel):
    """Chat model speaking Ollama's native ``/api/chat``.

    Args:
        model: Model name (``llama3.2``, ``qwen2.5``...).
        base_url: Default ``OLLAMA_HOST`` or ``http://localhost:11434``.
        api_key: Optional bearer key (for hosted Ollama; default ``OLLAMA_API_KEY``).
        timeout: Seconds per attempt (local models can be slow to load).
        max_retries: Retries on retryable failures.
        temperature: Sampling temperature.
        num_predict: Output token limit.
        keep_alive: How long Ollama keeps the model loaded (``"5m"``).
        retry: Full retry policy (overrides ``max_retries``).
        pricing: Prices for ``cost_usd``.
        model_kwargs: Extra request fields sent verbatim.
    """

    provider: ClassVar[str] = "ollama"
    path: ClassVar[str] = "api/chat"

    def __init__(
        self,
        model: str = "llama3.2",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        temperature: float | None = None,
        num_predict: int | None = None,
        keep_alive: str | None = None,
        retry: RetryPolicy | None = None,
        pricing: Pricing | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        api_key = api_key or os.environ.get("OLLAMA_API_KEY")
        transport = HttpTransport(
            base_url=ollama_host(base_url),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=timeout,
            retry=retry or RetryPolicy(max_retries=max_retries),
            provider=self.provider,
        )
        super().__init__(
            model=model, transport=transport, pricing=pricing, model_kwargs=model_kwargs
        )
        self.options: dict[str, Any] = {}
        if temperature is not None:
            self.options["temperature"] = temperature
        if num_predict is not None:
            self.options["num_predict"] = num_predict
        self.keep_alive = keep_alive

    def _payload(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m for m in map(to_ollama_message, messages) if m],
            "stream": stream,  # Ollama streams unless told otherwise
        }
        if tools and tool_choice != "none":
            body["tools"] = [{"type": "function", "function": dict(t)} for t in tools]
        if self.options:
            body["options"] = dict(self.options)
        if self.keep_alive is not None:
            body["keep_alive"] = self.keep_alive
        return body

    def _parse(self, data: dict[str, Any]) -> AIMessage:
        if "error" in data:
            raise ProviderError(
                f"ollama error: {data['error']}",
                retryable=False,
                provider=self.provider,
            )
        message = data.get("message") or {}
        return AIMessage(
            content=message.get("content") or "",
            tool_calls=[
                tool_call(fn.get("name", ""), _args(fn.get("arguments")), tc.get("id"))
                for tc in message.get("tool_calls") or []
                for fn in [tc.get("function") or {}]
            ],
            usage_metadata=_usage(data),
            response_metadata={
                "model": data.get("model"),
                "done_reason": data.get("done_reason"),
            },
        )

    def _decoder(self) -> _OllamaStreamDecoder:
        return _OllamaStreamDecoder(self.provider)


def _args(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = json.loads(raw or "{}")
    return dict(raw or {})


def _usage(data: dict[str, Any]) -> UsageMetadata | None:
    if "prompt_eval_count" not in data and "eval_count" not in data:
        return None
    inp = int(data.get("prompt_eval_count") or 0)
    out = int(data.get("eval_count") or 0)
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


def to_ollama_message(message: BaseMessage) -> dict[str, Any] | None:
    """Convert one message to Ollama's ``/api/chat`` shape (``None`` to drop it)."""
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.text}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": message.text}
    if isinstance(message, ToolMessage):
        out = {"role": "tool", "content": message.text}
        if message.name:
            out["tool_name"] = message.name
        return out
    if isinstance(message, AIMessage):
        result: dict[str, Any] = {"role": "assistant", "content": message.text}
        if message.tool_calls:
            result["tool_calls"] = [
                {"function": {"name": tc["name"], "arguments": tc["args"]}}
                for tc in message.tool_calls
            ]
        return result
    return None


class _OllamaStreamDecoder:
    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._index = 0

    def feed(self, line: str) -> list[AIMessageChunk]:
        if not line.strip():
            return []
        data = json.loads(line)
        if "error" in data:
            raise ProviderError(
                f"ollama stream error: {data['error']}",
                retryable=False,
                provider=self._provider,
            )
        message = data.get("message") or {}
        chunks = []
        calls = message.get("tool_calls") or []
        if message.get("content") or calls:
            tc_chunks: list[ToolCallChunk] = []
            for tc in calls:
                fn = tc.get("function") or {}
                tc_chunks.append(
                    {
                        "name": fn.get("name"),
                        "args": json.dumps(_args(fn.get("arguments"))),
                        "id": tc.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                        "index": self._index,
                        "type": "tool_call_chunk",
                    }
                )
                self._index += 1
            chunks.append(
                AIMessageChunk(
                    content=message.get("content") or "", tool_call_chunks=tc_chunks
                )
            )
        if data.get("done"):
            chunks.append(
                AIMessageChunk(
                    usage_metadata=_usage(data),
                    response_metadata={
                        "model": data.get("model"),
                        "done_reason": data.get("done_reason"),
                    },
                )
            )
        return chunks

    def close(self) -> list[AIMessageChunk]:
        return []
