"""A deterministic chat model that plays back a script (tests and key-less demos).

Which response comes next is a pure function of the conversation: by default the
number of AI messages already in the input. A crashed run resumed from a checkpoint
in another process therefore gets exactly the reply the lost attempt would have got,
which is what durable replay needs (a call counter would restart at zero).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Literal

from agents.chat_models.base import BaseChatModel, Pricing
from agents.errors import ProviderError
from agents.tools.base import ToolSpec
from graphs.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ToolCall,
    UsageMetadata,
    message_from_dict,
)

__all__ = ["ScriptedChatModel", "ScriptedResponse"]

ScriptedResponse = (
    AIMessage
    | str
    | dict[str, Any]
    | BaseException
    | Callable[[list[BaseMessage]], Any]
)
"""One script entry: a reply, text, a message dict, an exception to raise, or a
function of the input messages returning any of those."""


class ScriptedChatModel(BaseChatModel):
    """Replays ``responses`` in order.

    Args:
        responses: The script. A dict may be a message dict (``{"role": "ai", ...}``)
            or ``{"content": ..., "tool_calls": [{"name", "args", "id"?}]}``.
        model: Name reported in ``response_metadata``.
        cursor: ``"history"`` (default) picks entry N where N is the number of AI
            messages in the input; ``"calls"`` uses a per-instance call counter.
        when_exhausted: Reply to give after the script ends; by default running
            past the end raises a permanent :class:`ProviderError`.
        pricing: Prices for ``cost_usd``.

    Attributes:
        calls: The message lists the model was called with, in order.
        last_tools: The tool specs offered on the latest call.
    """

    provider: ClassVar[str] = "scripted"

    def __init__(
        self,
        responses: Sequence[ScriptedResponse] = (),
        *,
        model: str = "scripted",
        cursor: Literal["history", "calls"] = "history",
        when_exhausted: ScriptedResponse | None = None,
        pricing: Pricing | None = None,
    ) -> None:
        super().__init__(model=model, pricing=pricing)
        self.responses = list(responses)
        self.cursor = cursor
        self.when_exhausted = when_exhausted
        self.calls: list[list[BaseMessage]] = []
        self.last_tools: list[ToolSpec] = []
        self._lock = threading.Lock()

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            if self.cursor == "calls":
                index = len(self.calls)
            else:
                index = sum(isinstance(m, AIMessage) for m in messages)
            self.calls.append(list(messages))
        if index < len(self.responses):
            entry: Any = self.responses[index]
        elif self.when_exhausted is not None:
            entry = self.when_exhausted
        else:
            raise ProviderError(
                f"scripted model exhausted: asked for reply {index + 1} of "
                f"{len(self.responses)}",
                retryable=False,
                provider=self.provider,
            )
        if callable(entry) and not isinstance(entry, (BaseException, type)):
            entry = entry(list(messages))
        if isinstance(entry, BaseException):
            raise entry
        return _with_call_ids(_to_ai_message(entry), index)

    def _generate(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AIMessage:
        self.last_tools = list(tools)
        reply = self._next(messages)
        if reply.usage_metadata is None:
            reply.usage_metadata = _estimate_usage(messages, reply)
        return reply

    def _stream(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        reply = self._generate(messages, tools, tool_choice, **kwargs)
        words = reply.text.split(" ") if reply.text else []
        for i, word in enumerate(words):
            yield AIMessageChunk(word if i == 0 else " " + word)
        for index, call in enumerate(reply.tool_calls):
            raw = json.dumps(call["args"])
            cut = max(1, len(raw) // 2)
            for j, piece in enumerate((raw[:cut], raw[cut:])):
                yield AIMessageChunk(
                    tool_call_chunks=[
                        {
                            "name": call["name"] if j == 0 else None,
                            "args": piece,
                            "id": call["id"] if j == 0 else None,
                            "index": index,
                            "type": "tool_call_chunk",
                        }
                    ]
                )
        yield AIMessageChunk(
            usage_metadata=reply.usage_metadata,
            response_metadata=dict(reply.response_metadata),
        )


def _to_ai_message(entry: Any) -> AIMessage:
    if isinstance(entry, AIMessage):
        return AIMessage(
            content=entry.content,
            name=entry.name,
            tool_calls=[_call(tc) for tc in entry.tool_calls],
            additional_kwargs=dict(entry.additional_kwargs),
            response_metadata=dict(entry.response_metadata),
            usage_metadata=entry.usage_metadata,
        )
    if isinstance(entry, str):
        return AIMessage(entry)
    if isinstance(entry, dict):
        if "role" in entry or "type" in entry:
            message = message_from_dict(entry)
            if not isinstance(message, AIMessage):
                raise TypeError("scripted responses must be AI messages")
            return _to_ai_message(message)
        return AIMessage(
            content=entry.get("content", ""),
            tool_calls=[_call(tc) for tc in entry.get("tool_calls") or []],
        )
    raise TypeError(f"Unsupported scripted response: {entry!r}")


def _call(raw: Any) -> ToolCall:
    return {
        "name": raw["name"],
        "args": dict(raw.get("args") or {}),
        "id": raw.get("id"),
        "type": "tool_call",
    }


def _with_call_ids(reply: AIMessage, index: int) -> AIMessage:
    # Deterministic ids (not uuids) so a replayed step produces identical state.
    for j, call in enumerate(reply.tool_calls):
        if not call["id"]:
            call["id"] = f"call_{index}_{j}"
    return reply


def _estimate_usage(messages: list[BaseMessage], reply: AIMessage) -> UsageMetadata:
    # About four characters per token: enough for usage accounting to be exercised.
    inp = sum(len(m.text) for m in messages) // 4 + 1
    out = (len(reply.text) + len(json.dumps(reply.tool_calls))) // 4 + 1
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}
