"""OpenAI-compatible Chat Completions: OpenAI, Azure, vLLM, DeepSeek, Ollama `/v1`.

Wire format: ``POST {base_url}/chat/completions`` with JSON; streaming answers are
Server-Sent Events (``data: {...}`` lines, ``data: [DONE]`` at the end) whose deltas
carry content and ``tool_calls`` fragments keyed by ``index``.
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
    ToolCallChunk,
    ToolMessage,
    UsageMetadata,
    tool_call,
)

__all__ = ["AzureChatOpenAI", "ChatOpenAI"]

OPENAI_BASE_URL = "https://api.openai.com/v1"


class ChatOpenAI(HttpChatModel):
    """Chat model speaking the OpenAI Chat Completions API.

    Args:
        model: Model name (``gpt-4o-mini``, a vLLM model id, ``deepseek-chat``...).
        api_key: Bearer key; default ``OPENAI_API_KEY``. Not required when
            ``base_url`` points elsewhere (local vLLM or Ollama need none).
        base_url: API root; default ``OPENAI_BASE_URL`` or the OpenAI endpoint.
        timeout: Seconds per attempt.
        max_retries: Retries on retryable failures.
        temperature: Sampling temperature.
        max_tokens: Output token limit.
        stream_usage: Ask for a final usage chunk when streaming.
        default_headers: Extra headers (``OpenAI-Organization``...).
        retry: Full retry policy (overrides ``max_retries``).
        pricing: Prices for ``cost_usd``.
        model_kwargs: Extra request fields sent verbatim.

    Raises:
        ValueError: If no key is available for the default OpenAI endpoint.
    """

    provider: ClassVar[str] = "openai"
    path: ClassVar[str] = "chat/completions"

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream_usage: bool = True,
        default_headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        pricing: Pricing | None = None,
        model_kwargs: dict[str, Any] | None = None,
        _auth_header: str = "Authorization",
        _params: dict[str, str] | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key and base_url.rstrip("/") == OPENAI_BASE_URL:
            raise ValueError(
                "OpenAI needs an API key: set OPENAI_API_KEY or pass api_key=..."
            )
        headers = dict(default_headers or {})
        if api_key:
            headers[_auth_header] = (
                f"Bearer {api_key}" if _auth_header == "Authorization" else api_key
            )
        transport = HttpTransport(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            retry=retry or RetryPolicy(max_retries=max_retries),
            provider=self.provider,
            params=dict(_params or {}),
        )
        super().__init__(
            model=model, transport=transport, pricing=pricing, model_kwargs=model_kwargs
        )
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stream_usage = stream_usage

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
            "messages": [m for m in map(to_openai_message, messages) if m is not None],
        }
        if tools:
            body["tools"] = [{"type": "function", "function": dict(t)} for t in tools]
            if tool_choice:
                body["tool_choice"] = _tool_choice(tool_choice)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body["stream_options"] = {"include_usage": True}
        return body

    def _parse(self, data: dict[str, Any]) -> AIMessage:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError(
                f"openai response has no choices: {str(data)[:200]}",
                retryable=False,
                provider=self.provider,
            ) from exc
        calls, invalid = [], []
        for raw in message.get("tool_calls") or []:
            fn = raw.get("function", {})
            try:
                args = json.loads(fn.get("arguments") or "{}")
                calls.append(tool_call(fn.get("name", ""), args, raw.get("id")))
            except json.JSONDecodeError as exc:
                invalid.append({**fn, "id": raw.get("id"), "error": str(exc)})
        return AIMessage(
            content=message.get("content") or "",
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=_usage(data.get("usage")),
            response_metadata={
                "id": data.get("id"),
                "model": data.get("model"),
                "finish_reason": choice.get("finish_reason"),
            },
        )

    def _decoder(self) -> _OpenAIStreamDecoder:
        return _OpenAIStreamDecoder(self.provider)


class AzureChatOpenAI(ChatOpenAI):
    """Azure OpenAI deployments (same wire format, ``api-key`` header).

    Args:
        model: Deployment name.
        azure_endpoint: ``https://<resource>.openai.azure.com``; default
            ``AZURE_OPENAI_ENDPOINT``.
        api_key: Default ``AZURE_OPENAI_API_KEY``.
        api_version: Default ``OPENAI_API_VERSION`` or ``2024-10-21``.
        **kwargs: As for :class:`ChatOpenAI`.
    """

    provider: ClassVar[str] = "azure_openai"

    def __init__(
        self,
        model: str,
        *,
        azure_endpoint: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        endpoint = azure_endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
        if not endpoint:
            raise ValueError(
                "Azure OpenAI needs AZURE_OPENAI_ENDPOINT or azure_endpoint="
            )
        super().__init__(
            model,
            api_key=api_key or os.environ.get("AZURE_OPENAI_API_KEY"),
            base_url=f"{endpoint.rstrip('/')}/openai/deployments/{model}",
            _auth_header="api-key",
            _params={
                "api-version": api_version
                or os.environ.get("OPENAI_API_VERSION", "2024-10-21")
            },
            **kwargs,
        )


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if choice == "any":
        return "required"
    return {"type": "function", "function": {"name": choice}}


def _usage(raw: dict[str, Any] | None) -> UsageMetadata | None:
    if not raw:
        return None
    inp, out = (
        int(raw.get("prompt_tokens") or 0),
        int(raw.get("completion_tokens") or 0),
    )
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "total_tokens": int(raw.get("total_tokens") or inp + out),
    }


def to_openai_message(message: BaseMessage) -> dict[str, Any] | None:
    """Convert one message to the Chat Completions shape (``None`` to drop it)."""
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.text}
    if isinstance(message, HumanMessage):
        out: dict[str, Any] = {"role": "user", "content": message.content}
    elif isinstance(message, AIMessage):
        out = {"role": "assistant", "content": message.text or None}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": tc["id"],
                    "type": "function",
                    "function": {
                        "name": tc["name"],
                        "arguments": json.dumps(tc["args"]),
                    },
                }
                for tc in message.tool_calls
            ]
    elif isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": message.text,
        }
    else:
        return None
    if message.name:
        out["name"] = message.name
    return out


class _OpenAIStreamDecoder:
    def __init__(self, provider: str) -> None:
        self._sse = SSEDecoder()
        self._provider = provider

    def feed(self, line: str) -> list[AIMessageChunk]:
        return [c for _, data in self._sse.feed(line) for c in self._event(data)]

    def close(self) -> list[AIMessageChunk]:
        return [c for _, data in self._sse.flush() for c in self._event(data)]

    def _event(self, data: str) -> list[AIMessageChunk]:
        if data.strip() == "[DONE]":
            return []
        payload = json.loads(data)
        if "error" in payload:
            err = payload["error"] or {}
            raise ProviderError(
                f"{self._provider} stream error: {err.get('message', err)}",
                retryable=err.get("type") in ("server_error", "rate_limit_exceeded"),
                provider=self._provider,
            )
        chunks = []
        for choice in payload.get("choices") or []:
            delta = choice.get("delta") or {}
            tc_chunks: list[ToolCallChunk] = [
                {
                    "name": (tc.get("function") or {}).get("name"),
                    "args": (tc.get("function") or {}).get("arguments"),
                    "id": tc.get("id"),
                    "index": tc.get("index"),
                    "type": "tool_call_chunk",
                }
                for tc in delta.get("tool_calls") or []
            ]
            meta = (
                {"finish_reason": choice["finish_reason"]}
                if choice.get("finish_reason")
                else {}
            )
            if delta.get("content") or tc_chunks or meta:
                chunks.append(
                    AIMessageChunk(
                        content=delta.get("content") or "",
                        tool_call_chunks=tc_chunks,
                        response_metadata={"id": payload.get("id"), **meta},
                    )
                )
        usage = _usage(payload.get("usage"))
        if usage is not None:
            chunks.append(AIMessageChunk(usage_metadata=usage))
        return chunks
