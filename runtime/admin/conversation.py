"""State values as an operator reads them: message lists as a chat, everything
else as plain JSON without the checkpoint's type tags, long values folded.

Values arrive as the checkpointer stores them (``graphs.serde`` JSON): a message
is ``{"__t": "message.ai", "v": {...}}``, a LangChain one ``{"__t": "lc", "v":
{"lc": 1, "type": "constructor", "id": [..., "AIMessage"], "kwargs": {...}}}``;
a presented value (``runtime.present``) is the plain ``{"type": "ai", ...}``.
All three read the same here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from graphs.serde import TAG

ROLES = {"human": "human", "ai": "ai", "tool": "tool", "system": "system"}
LANGCHAIN_ROLES = {
    "HumanMessage": "human",
    "AIMessage": "ai",
    "AIMessageChunk": "ai",
    "ToolMessage": "tool",
    "SystemMessage": "system",
}
FOLD_AT = 240  # characters of JSON beyond which a value is folded


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message as the chat shows it."""

    role: str  # human | ai | tool | system
    text: str
    name: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_call_id: str = ""
    status: str = ""
    id: str = ""


def message_of(value: Any) -> ChatMessage | None:
    """The message ``value`` encodes, or ``None`` when it is not a message."""
    body, role = _message_body(value)
    if body is None or role is None:
        return None
    return ChatMessage(
        role=role,
        text=_text(body.get("content", "")),
        name=str(body.get("name") or ""),
        tool_calls=[
            {"name": str(c.get("name", "")), "args": plain(c.get("args") or {})}
            for c in body.get("tool_calls") or []
            if isinstance(c, dict)
        ],
        tool_call_id=str(body.get("tool_call_id") or ""),
        status=str(body.get("status") or ""),
        id=str(body.get("id") or ""),
    )


def _message_body(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    tag = value.get(TAG)
    inner = value.get("v")
    if isinstance(tag, str) and tag.startswith("message.") and isinstance(inner, dict):
        return inner, ROLES.get(tag.removeprefix("message.").split(".")[0], "ai")
    if tag == "lc" and isinstance(inner, dict):
        ids = inner.get("id")
        kwargs = inner.get("kwargs")
        if isinstance(ids, list) and ids and isinstance(kwargs, dict):
            return kwargs, LANGCHAIN_ROLES.get(str(ids[-1]))
        return None, None
    if TAG not in value and value.get("type") in ROLES and "content" in value:
        return value, ROLES[value["type"]]
    return None, None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")
        ]
        return "".join(parts)
    return compact(plain(content))


def chat_of(value: Any) -> list[ChatMessage] | None:
    """A non-empty list of messages as a chat; ``None`` for any other value."""
    if not isinstance(value, list) or not value:
        return None
    messages = [message_of(item) for item in value]
    if any(m is None for m in messages):
        return None
    return [m for m in messages if m is not None]


def conversation(state: dict[str, Any] | None) -> list[ChatMessage]:
    """The run's conversation: its ``messages`` channel (or the first channel
    holding messages), empty when the state has none."""
    if not state:
        return []
    keys = ["messages", *sorted(k for k in state if k != "messages")]
    for key in keys:
        chat = chat_of(state.get(key))
        if chat:
            return chat
    return []


def plain(value: Any) -> Any:
    """``value`` without the checkpoint's type tags (messages as their fields)."""
    message = message_of(value)
    if message is not None:
        body: dict[str, Any] = {"role": message.role, "content": message.text}
        if message.tool_calls:
            body["tool_calls"] = message.tool_calls
        return body
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        if isinstance(value.get(TAG), str) and "v" in value:
            return plain(value["v"])
        return {k: plain(v) for k, v in value.items()}
    return value


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class Shown:
    """A state value for a page: a chat, or JSON folded when long."""

    chat: list[ChatMessage] | None
    text: str  # the whole value: a string itself, anything else as JSON
    folded: bool
    preview: str
    is_string: bool = False


def shown(value: Any) -> Shown:
    if isinstance(value, str):
        folded = len(value) > FOLD_AT
        preview = value[:120] + "…" if folded else value
        return Shown(
            chat=None, text=value, folded=folded, preview=preview, is_string=True
        )
    chat = chat_of(value)
    text = compact(plain(value))
    if chat is not None or len(text) <= FOLD_AT:
        return Shown(chat=chat, text=text, folded=False, preview=text)
    pretty = json.dumps(plain(value), ensure_ascii=False, indent=2, sort_keys=True)
    return Shown(chat=None, text=pretty, folded=True, preview=text[:120] + "…")


def added_messages(before: Any, after: Any) -> list[ChatMessage] | None:
    """The messages ``after`` has beyond ``before`` (both message lists), for a
    checkpoint diff; ``None`` unless ``after`` is a chat."""
    later = chat_of(after)
    if later is None:
        return None
    earlier = chat_of(before) or []
    seen = {m.id for m in earlier if m.id}
    if seen:
        return [m for m in later if not m.id or m.id not in seen]
    return later[len(earlier) :]
