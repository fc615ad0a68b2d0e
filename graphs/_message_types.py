"""The Oris message classes and their conversions (re-exported by graphs.messages).

Plain dataclasses shaped like LangChain's messages, JSON-serialisable with
``to_json()``/``from_json()``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal, TypedDict, Union

from graphs import _langchain

REMOVE_ALL_MESSAGES = "__remove_all__"
"""Id of a :class:`RemoveMessage` that clears every message before it."""


class ToolCall(TypedDict):
    """A tool invocation requested by the model."""

    name: str
    args: dict[str, Any]
    id: str | None
    type: Literal["tool_call"]


class ToolCallChunk(TypedDict):
    """A fragment of a tool call received while streaming (``args`` is partial JSON)."""

    name: str | None
    args: str | None
    id: str | None
    index: int | None
    type: Literal["tool_call_chunk"]


class UsageMetadata(TypedDict):
    """Token counts of one model call (or the sum over several)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


def tool_call(name: str, args: dict[str, Any], id: str | None = None) -> ToolCall:
    """Build a :class:`ToolCall` dict.

    Args:
        name: Tool name.
        args: Arguments as a JSON object.
        id: Provider-assigned call id (one is generated when omitted).

    Returns:
        The tool call.
    """
    return {
        "name": name,
        "args": dict(args),
        "id": id or f"call_{uuid.uuid4().hex[:24]}",
        "type": "tool_call",
    }


def add_usage(a: UsageMetadata | None, b: UsageMetadata | None) -> UsageMetadata | None:
    """Sum two usage records; ``None`` is the neutral element.

    Args:
        a: First usage record.
        b: Second usage record.

    Returns:
        The element-wise sum, or ``None`` when both are ``None``.
    """
    if a is None:
        return None if b is None else UsageMetadata(**b)
    if b is None:
        return UsageMetadata(**a)
    return {
        "input_tokens": a["input_tokens"] + b["input_tokens"],
        "output_tokens": a["output_tokens"] + b["output_tokens"],
        "total_tokens": a["total_tokens"] + b["total_tokens"],
    }


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """A message class's field names (``dataclasses.fields`` walks them anew
    on every call; messages are encoded and decoded on every step)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


@dataclass(eq=True)
class BaseMessage:
    """Base of every message.

    Args:
        content: Text, or a list of content blocks (``{"type": "text", "text": ...}``).
        id: Stable id; :func:`add_messages` assigns one when missing.
        name: Optional author name (used by multi-agent graphs).
        additional_kwargs: Provider-specific extras.
        response_metadata: Provider response details (model, finish reason...).
    """

    type: ClassVar[str] = "base"

    content: str | list[Any] = ""
    id: str | None = field(default=None, kw_only=True)
    name: str | None = field(default=None, kw_only=True)
    additional_kwargs: dict[str, Any] = field(default_factory=dict, kw_only=True)
    response_metadata: dict[str, Any] = field(default_factory=dict, kw_only=True)

    @property
    def text(self) -> str:
        """The text content: the string itself, or the text blocks joined."""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for block in self.content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-compatible dict; empty optional fields are left out.

        Returns:
            ``{"type": ..., "content": ..., ...}``.
        """
        data: dict[str, Any] = {"type": self.type, "content": self.content}
        for name in _field_names(type(self)):
            if name == "content":
                continue
            value = getattr(self, name)
            if value is None or value == {} or value == []:
                continue
            data[name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaseMessage:
        """Rebuild a message from :meth:`to_json` output.

        Args:
            data: The dict; its ``type`` key is ignored (the class decides).

        Returns:
            A new instance of ``cls``.
        """
        names = _field_names(cls)
        return cls(**{k: v for k, v in data.items() if k in names})

    def copy(self, **changes: Any) -> BaseMessage:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)


@dataclass(eq=True)
class SystemMessage(BaseMessage):
    """Instructions for the model."""

    type: ClassVar[str] = "system"


@dataclass(eq=True)
class HumanMessage(BaseMessage):
    """A message from the user."""

    type: ClassVar[str] = "human"


@dataclass(eq=True)
class AIMessage(BaseMessage):
    """A model reply, possibly asking for tool calls.

    Args:
        tool_calls: Tool calls requested by the model.
        invalid_tool_calls: Tool calls whose arguments could not be parsed.
        usage_metadata: Token usage of the call that produced this message.
    """

    type: ClassVar[str] = "ai"

    tool_calls: list[ToolCall] = field(default_factory=list, kw_only=True)
    invalid_tool_calls: list[dict[str, Any]] = field(default_factory=list, kw_only=True)
    usage_metadata: UsageMetadata | None = field(default=None, kw_only=True)


@dataclass(eq=True)
class AIMessageChunk(AIMessage):
    """A streamed fragment of an :class:`AIMessage`; chunks add up with ``+``.

    Args:
        tool_call_chunks: Partial tool calls; chunks with the same ``index`` merge.
    """

    type: ClassVar[str] = "AIMessageChunk"

    tool_call_chunks: list[ToolCallChunk] = field(default_factory=list, kw_only=True)

    def __add__(self, other: AIMessageChunk) -> AIMessageChunk:
        if not isinstance(other, AIMessageChunk):
            return NotImplemented
        return AIMessageChunk(
            content=_merge_content(self.content, other.content),
            id=self.id or other.id,
            name=self.name or other.name,
            additional_kwargs={**self.additional_kwargs, **other.additional_kwargs},
            response_metadata={**self.response_metadata, **other.response_metadata},
            tool_calls=[*self.tool_calls, *other.tool_calls],
            tool_call_chunks=_merge_tool_call_chunks(
                self.tool_call_chunks, other.tool_call_chunks
            ),
            usage_metadata=add_usage(self.usage_metadata, other.usage_metadata),
        )

    def to_message(self) -> AIMessage:
        """Finish the stream: parse tool-call chunks into tool calls.

        Returns:
            An :class:`AIMessage`; chunks whose JSON does not parse become
            ``invalid_tool_calls``.
        """
        calls = list(self.tool_calls)
        invalid = list(self.invalid_tool_calls)
        for chunk in self.tool_call_chunks:
            raw = chunk.get("args") or ""
            try:
                args = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as exc:
                invalid.append(
                    {**chunk, "type": "invalid_tool_call", "error": str(exc)}
                )
                continue
            if not isinstance(args, dict):
                args = {"input": args}
            calls.append(tool_call(chunk.get("name") or "", args, chunk.get("id")))
        return AIMessage(
            content=self.content,
            id=self.id,
            name=self.name,
            additional_kwargs=dict(self.additional_kwargs),
            response_metadata=dict(self.response_metadata),
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=self.usage_metadata,
        )


def _merge_content(a: str | list[Any], b: str | list[Any]) -> str | list[Any]:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    left = [{"type": "text", "text": a}] if isinstance(a, str) and a else a or []
    right = [{"type": "text", "text": b}] if isinstance(b, str) and b else b or []
    return [*left, *right]


def _merge_tool_call_chunks(
    a: list[ToolCallChunk], b: list[ToolCallChunk]
) -> list[ToolCallChunk]:
    merged = [ToolCallChunk(**c) for c in a]
    for chunk in b:
        target = next(
            (
                m
                for m in merged
                if chunk.get("index") is not None and m.get("index") == chunk["index"]
            ),
            None,
        )
        if target is None:
            merged.append(ToolCallChunk(**chunk))
            continue
        target["name"] = (target.get("name") or "") + (chunk.get("name") or "") or None
        target["args"] = (target.get("args") or "") + (chunk.get("args") or "")
        target["id"] = target.get("id") or chunk.get("id")
    return merged


@dataclass(eq=True)
class ToolMessage(BaseMessage):
    """The result of one tool call.

    Args:
        tool_call_id: Id of the :class:`ToolCall` this answers.
        status: ``"success"`` or ``"error"``.
        artifact: Optional non-text output kept alongside the content.
    """

    type: ClassVar[str] = "tool"

    tool_call_id: str = field(kw_only=True)
    status: Literal["success", "error"] = field(default="success", kw_only=True)
    artifact: Any = field(default=None, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-compatible dict (``status`` always included)."""
        data = super().to_json()
        data["status"] = self.status
        return data


@dataclass(eq=True)
class RemoveMessage(BaseMessage):
    """Instruction to :func:`add_messages`: delete the message with this id."""

    type: ClassVar[str] = "remove"


AnyMessage = Union[  # noqa: UP007 - a runtime object, usable in Annotated[...]
    SystemMessage, HumanMessage, AIMessage, AIMessageChunk, ToolMessage, RemoveMessage
]
"""Any concrete message type."""

MessageLikeRepresentation = Union[  # noqa: UP007
    BaseMessage, dict[str, Any], tuple[str, Any], list[str], str
]
"""What :func:`convert_to_messages` accepts for one message."""

_BY_TYPE: dict[str, type[BaseMessage]] = {
    cls.type: cls
    for cls in (
        SystemMessage,
        HumanMessage,
        AIMessage,
        AIMessageChunk,
        ToolMessage,
        RemoveMessage,
    )
}
_ROLE_ALIASES = {
    "user": "human",
    "human": "human",
    "assistant": "ai",
    "ai": "ai",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
    "remove": "remove",
}


def message_from_dict(data: dict[str, Any]) -> BaseMessage:
    """Build a message from a ``to_json`` dict or an OpenAI-style ``role`` dict.

    Args:
        data: ``{"type": "human", "content": ...}`` or ``{"role": "user", ...}``.

    Returns:
        The message.

    Raises:
        ValueError: If the type or role is unknown.
    """
    if "type" in data and data["type"] in _BY_TYPE:
        return _BY_TYPE[data["type"]].from_json(data)
    role = data.get("role", data.get("type"))
    kind = _ROLE_ALIASES.get(str(role))
    if kind is None:
        raise ValueError(f"Unknown message role or type: {role!r}")
    body = {k: v for k, v in data.items() if k not in ("role", "type")}
    body.setdefault("content", "")
    if body["content"] is None:
        body["content"] = ""
    if kind == "ai" and body.get("tool_calls"):
        body["tool_calls"] = [_coerce_tool_call(tc) for tc in body["tool_calls"]]
    return _BY_TYPE[kind].from_json(body)


def _coerce_tool_call(tc: dict[str, Any]) -> ToolCall:
    """Accept our ToolCall shape and OpenAI's ``{"function": {...}}`` shape."""
    if "function" in tc:
        fn = tc["function"]
        raw = fn.get("arguments") or "{}"
        args = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return tool_call(fn["name"], args, tc.get("id"))
    return tool_call(tc["name"], tc.get("args") or {}, tc.get("id"))


def _coerce(message: Any) -> BaseMessage:
    if isinstance(message, BaseMessage):
        return message
    if _langchain.is_message(message):
        converted: BaseMessage = _langchain.from_langchain(message)
        return converted
    if isinstance(message, str):
        return HumanMessage(message)
    if isinstance(message, dict):
        return message_from_dict(message)
    if isinstance(message, (tuple, list)) and len(message) == 2:
        role, content = message
        return message_from_dict({"role": role, "content": content})
    raise TypeError(f"Cannot convert {type(message).__name__} to a message")


def convert_to_messages(
    messages: Iterable[MessageLikeRepresentation] | MessageLikeRepresentation,
) -> list[BaseMessage]:
    """Coerce message-like values into message objects.

    Accepts message objects, dicts (``{"role": "user", "content": ...}`` or
    ``{"type": "human", ...}``), ``(role, content)`` tuples and bare strings (human
    messages). A single message-like value is treated as a one-element list.
    LangChain messages are converted to Oris messages.

    Args:
        messages: One message-like value or an iterable of them.

    Returns:
        A new list of messages (message objects are not copied).

    Raises:
        TypeError: If a value cannot be converted.
        ValueError: If a role is unknown.
    """
    if (
        isinstance(messages, (str, dict, BaseMessage))
        or _langchain.is_message(messages)
        or (
            isinstance(messages, tuple)
            and len(messages) == 2
            and isinstance(messages[0], str)
        )
    ):
        return [_coerce(messages)]
    return [_coerce(m) for m in messages]


def messages_to_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Serialise messages with :meth:`BaseMessage.to_json`."""
    return [m.to_json() for m in messages]


def messages_from_dicts(data: Iterable[dict[str, Any]]) -> list[BaseMessage]:
    """Inverse of :func:`messages_to_dicts`."""
    return [message_from_dict(d) for d in data]


def _register() -> None:
    from graphs import serde

    for cls in _BY_TYPE.values():
        tag = "message.chunk" if cls is AIMessageChunk else f"message.{cls.type}"
        serde.register(cls, tag)


_register()
