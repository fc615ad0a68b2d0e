"""LangChain interop: messages and their checkpoint encoding.

``graphs`` imports nothing from LangChain at import time. Detection is lazy: a
LangChain object can only exist once the program has imported ``langchain_core``, so
the hot paths look the module up in ``sys.modules`` and do nothing when it is absent.
Only an explicit request (``add_messages(format="langchain-openai")``, a checkpoint
holding LangChain objects) imports it, and then a missing install is a clear error.

Checkpoints hold LangChain objects in LangChain's own JSON form (the ``lc``
constructor dicts of ``Serializable.to_json()``), under the serde tag ``lc``. They
are rebuilt only for the allowlisted classes of :data:`ALLOWED`; any other class path
fails with :class:`~graphs.errors.CheckpointDecodeError`, so a checkpoint can never
make us import or construct something else. Runnables and token streaming are in
:mod:`graphs._langchain_run`.
"""

from __future__ import annotations

import importlib
import operator
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from graphs.errors import CheckpointDecodeError, SerializationError

__all__ = [
    "ALLOWED",
    "decode",
    "encode",
    "from_langchain",
    "is_message",
    "loaded",
    "message_id",
    "new_id",
    "prepared_messages",
    "require",
    "snapshot",
    "to_langchain",
]

_MESSAGES = "langchain_core.messages"

ALLOWED = (
    "langchain_core.messages:AIMessage",
    "langchain_core.messages:AIMessageChunk",
    "langchain_core.messages:ChatMessage",
    "langchain_core.messages:ChatMessageChunk",
    "langchain_core.messages:FunctionMessage",
    "langchain_core.messages:FunctionMessageChunk",
    "langchain_core.messages:HumanMessage",
    "langchain_core.messages:HumanMessageChunk",
    "langchain_core.messages:RemoveMessage",
    "langchain_core.messages:SystemMessage",
    "langchain_core.messages:SystemMessageChunk",
    "langchain_core.messages:ToolMessage",
    "langchain_core.messages:ToolMessageChunk",
    "langchain_core.documents:Document",
)
"""The LangChain classes a checkpoint may hold (``module:ClassName``)."""


def loaded() -> ModuleType | None:
    """``langchain_core.messages`` if the program imported it, else ``None``."""
    return sys.modules.get(_MESSAGES)


def require() -> ModuleType:
    """Import ``langchain_core.messages``.

    Raises:
        ImportError: If LangChain is not installed (names the extra to install).
    """
    try:
        return importlib.import_module(_MESSAGES)
    except ImportError as exc:
        raise ImportError(
            "LangChain messages need langchain-core: pip install 'oris[langchain]'"
        ) from exc


def is_message(obj: Any) -> bool:
    """Whether ``obj`` is a LangChain message (without importing LangChain)."""
    lc = sys.modules.get(_MESSAGES)
    return lc is not None and isinstance(obj, lc.BaseMessage)


# -- Oris <-> LangChain messages -------------------------------------------------

_TO_LC = {
    "system": "SystemMessage",
    "human": "HumanMessage",
    "ai": "AIMessage",
    "AIMessageChunk": "AIMessageChunk",
    "tool": "ToolMessage",
}


def to_langchain(message: Any) -> Any:
    """Convert an Oris message (:mod:`graphs.messages`) into a LangChain message.

    Ids, names, tool calls, usage and provider metadata are kept, so the two
    forms of a message merge by id in :func:`~graphs.messages.add_messages`.

    Args:
        message: An Oris message; a LangChain message is returned unchanged.

    Returns:
        The LangChain message.
    """
    lc = require()
    if isinstance(message, lc.BaseMessage):
        return message
    kind = message.type
    if kind == "remove":
        return lc.RemoveMessage(id=message.id)
    data = message.to_json()
    del data["type"]
    return getattr(lc, _TO_LC[kind])(**data)


message_id = operator.attrgetter("id")
"""A message's id (as ``m.id``, without a Python-level call)."""


def prepared_messages(value: Any) -> tuple[list[Any], list[Any], bool, bool]:
    """LangChain messages, each with an id, from one message-like or a list of
    them, with their ids, whether a removal is among them and whether every id
    was assigned here (none can then be anywhere else).

    Accepts LangChain or Oris messages, dicts, ``(role, content)`` tuples and
    strings; chunks become whole messages; a missing id is assigned in place, as
    LangGraph does. A list that is already that (a state the reducer built) is
    returned as it is.

    Returns:
        The messages, their ids (in order), whether a ``RemoveMessage`` is
        among them, and whether all the ids are new.
    """
    lc = sys.modules.get(_MESSAGES) or require()
    items = value if isinstance(value, list) else [value]
    whole = _whole_types(lc)
    kinds = set(map(type, items))
    if kinds <= whole:  # the usual case, checked without a Python-level loop
        ids = list(map(message_id, items))
        fresh = False
        if missing_id(ids):  # a new message (a node's reply): its id, in place
            fresh = ids.count(None) == len(ids)
            for i, item in enumerate(items):
                if ids[i] is None:
                    if item.id is None:  # not given twice in the list
                        item.id = new_id()
                    ids[i] = item.id
        return items, ids, lc.RemoveMessage in kinds, fresh
    from graphs.messages import BaseMessage as OrisMessage

    out: list[Any] = []
    removals = False
    fresh = bool(items)
    for item in items:
        if isinstance(item, lc.BaseMessage):
            message = item
        elif isinstance(item, OrisMessage):
            message = to_langchain(item)
        else:
            [message] = lc.convert_to_messages([item])
        if isinstance(message, lc.BaseMessageChunk):
            message = lc.message_chunk_to_message(message)
        if message.id is None:
            message.id = new_id()
        else:
            fresh = False
        removals = removals or isinstance(message, lc.RemoveMessage)
        out.append(message)
    return out, list(map(message_id, out)), removals, fresh


def missing_id(ids: list[Any]) -> bool:
    """Whether ``None`` is among ``ids`` (a truth test of each string first: it
    is cheaper than comparing each with ``None``)."""
    return not all(ids) and None in ids


_whole: frozenset[type] | None = None


def _whole_types(lc: ModuleType) -> frozenset[type]:
    global _whole
    if _whole is None:
        names = ("AI", "Human", "System", "Tool", "Chat", "Function", "Remove")
        _whole = frozenset(getattr(lc, f"{n}Message") for n in names)
    return _whole


_FROM_LC_CHUNKS = {
    "HumanMessageChunk": "human",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
    "FunctionMessageChunk": "function",
    "ChatMessageChunk": "chat",
}


def from_langchain(message: Any) -> Any:
    """Convert a LangChain message into an Oris message (:mod:`graphs.messages`).

    ``ChatMessage`` maps by its role; ``FunctionMessage`` becomes a tool message
    answering a call named after the function.

    Args:
        message: A LangChain message; an Oris message is returned unchanged.

    Returns:
        The Oris message.

    Raises:
        ValueError: For a message type or chat role Oris has no class for.
    """
    from graphs import messages as om

    if isinstance(message, om.BaseMessage):
        return message
    kind = _FROM_LC_CHUNKS.get(message.type, message.type)
    if kind == "remove":
        return om.RemoveMessage(id=message.id)
    data: dict[str, Any] = {
        "content": message.content,
        "id": message.id,
        "name": message.name,
        "additional_kwargs": dict(message.additional_kwargs),
        "response_metadata": dict(message.response_metadata),
    }
    if kind == "chat":
        kind = message.role
    if kind == "function":
        kind = "tool"
        data["tool_call_id"] = message.name
    elif kind in ("tool", "ToolMessageChunk"):
        data["tool_call_id"] = message.tool_call_id
        data["status"] = message.status
        data["artifact"] = message.artifact
    if kind in ("ai", "AIMessageChunk"):
        usage = message.usage_metadata
        data["usage_metadata"] = dict(usage) if usage is not None else None
        if kind == "AIMessageChunk":
            # LangChain derives a chunk's tool calls from its chunks; Oris parses
            # them when the stream ends (AIMessageChunk.to_message)
            data["tool_call_chunks"] = [dict(c) for c in message.tool_call_chunks]
        else:
            data["tool_calls"] = [dict(tc) for tc in message.tool_calls]
            data["invalid_tool_calls"] = [dict(c) for c in message.invalid_tool_calls]
    data["type"] = kind
    return om.message_from_dict(data)


# -- checkpoint encoding ---------------------------------------------------------

_allowed: dict[tuple[str, ...], type] | None = None


def _allowlist() -> dict[tuple[str, ...], type]:
    """Class path (LangChain's ``lc_id`` and the module path) to allowed class."""
    global _allowed
    if _allowed is None:
        table: dict[tuple[str, ...], type] = {}
        for entry in ALLOWED:
            module, name = entry.split(":")
            cls = getattr(importlib.import_module(module), name)
            table[tuple(cls.lc_id())] = cls
            table[(*cls.__module__.split("."), name)] = cls
            table[(*module.split("."), name)] = cls
        _allowed = table
    return _allowed


def encode(
    value: Any, encode_value: Callable[[Any], Any] | None = None
) -> dict[str, Any] | None:
    """LangChain's JSON form of an allowlisted LangChain object, else ``None``.

    Args:
        value: Any value.
        encode_value: Applied to each constructor argument (serde's encoder, for
            values JSON cannot hold); the envelope itself is JSON already.

    Raises:
        SerializationError: For a LangChain serializable object that is not on the
            allowlist (it could not be read back).
    """
    serializable = sys.modules.get("langchain_core.load.serializable")
    if serializable is None or not isinstance(value, serializable.Serializable):
        return None
    cls = type(value)
    plan = _plans.get(cls)
    if plan is None:
        if cls not in _allowlist().values():
            raise SerializationError(
                f"cannot serialise a {cls.__module__}.{cls.__qualname__}: only "
                "LangChain messages and documents can be stored in a checkpoint"
            )
        plan = _plans[cls] = _plan(cls)
    lc_id, required, defaults, attributes = plan
    kwargs = {
        key: item
        for key, item in value.__dict__.items()
        if key in required or (key in defaults and _useful(item, defaults[key]))
    }
    if attributes:  # always stored, as to_json() does (AIMessage's tool calls)
        kwargs.update(value.lc_attributes)
    if encode_value is not None:
        kwargs = {key: encode_value(item) for key, item in kwargs.items()}
    return {"lc": 1, "type": "constructor", "id": list(lc_id), "kwargs": kwargs}


_Plan = tuple[tuple[str, ...], frozenset[str], dict[str, Any], bool]
_plans: dict[type, _Plan] = {}
_DROP: Any = object()  # an empty dict/list where the field defaults to one


def _plan(cls: Any) -> _Plan:
    """What ``Serializable.to_json()`` keeps of this class's fields, precomputed.

    The result is the same constructor dict (a test holds it to ``to_json()``),
    built without walking pydantic's machinery for every message.
    """
    required: set[str] = set()
    defaults: dict[str, Any] = {}
    for name, f in cls.model_fields.items():
        if f.exclude:
            continue
        if f.is_required():
            required.add(name)
        elif f.default_factory in (dict, list):
            defaults[name] = _DROP
        elif f.default_factory is not None:
            defaults[name] = f.default_factory()
        else:
            defaults[name] = f.default
    from langchain_core.load.serializable import Serializable

    attributes = cls.lc_attributes is not Serializable.lc_attributes
    return tuple(cls.lc_id()), frozenset(required), defaults, attributes


def _useful(value: Any, default: Any) -> bool:
    # LangChain's rule: keep truthy values, and falsy ones that differ from the
    # field's default (an empty dict/list of a dict/list default is dropped)
    try:
        if value:
            return True
    except Exception:
        pass
    if default is _DROP:
        return not isinstance(value, (dict, list))
    try:
        return bool(value != default)
    except Exception:
        return True


class _Exact:
    """A number in a :func:`snapshot`: equal only to a number of the same type
    (``1``, ``1.0`` and ``True`` are equal in Python but not in JSON)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self.value) and other == self.value

    __hash__ = None  # type: ignore[assignment]


class _Opaque(Exception):
    """A value :func:`snapshot` cannot compare exactly."""


def snapshot(value: Any) -> dict[str, Any] | None:
    """A copy of a LangChain object's fields that compares equal to its
    ``__dict__`` only while every field still holds what it held (so it encodes
    the same), or ``None`` if a field holds something other than JSON data."""
    try:
        return _copy(value.__dict__)  # type: ignore[no-any-return]
    except _Opaque:
        return None


def _copy(value: Any) -> Any:
    t = type(value)
    if t is str or value is None:
        return value
    if t is int or t is float or t is bool:
        return _Exact(value)
    if t is list:
        return [_copy(item) for item in value]
    if t is dict:
        if not all(type(k) is str for k in value):
            raise _Opaque
        return {k: _copy(item) for k, item in value.items()}
    raise _Opaque


def decode(payload: Any) -> Any:
    """Rebuild an object from :func:`encode` output (allowlisted classes only).

    Raises:
        CheckpointDecodeError: If LangChain is not installed, the payload is not a
            constructor dict, or its class is not on the allowlist.
    """
    if not (
        isinstance(payload, dict)
        and payload.get("lc") == 1
        and payload.get("type") == "constructor"
        and isinstance(payload.get("id"), list)
        and isinstance(payload.get("kwargs"), dict)
    ):
        raise CheckpointDecodeError("malformed LangChain object in checkpoint")
    try:
        table = _allowlist()
    except ImportError as exc:
        raise CheckpointDecodeError(
            "the checkpoint holds LangChain objects but langchain-core is not "
            "installed: pip install 'oris[langchain]'"
        ) from exc
    path = tuple(str(part) for part in payload["id"])
    cls = table.get(path)
    if cls is None:
        raise CheckpointDecodeError(
            f"LangChain class {'.'.join(path)!r} is not allowed in a checkpoint"
        )
    return cls(**payload["kwargs"])


def new_id() -> str:
    """A fresh message id: a random (version 4) UUID as text, as LangGraph's
    ``str(uuid.uuid4())``, formatted without building a ``uuid.UUID`` (which
    costs more than the random bytes; every new message pays it)."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]  # RFC 4122: the two top bits are 10
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"
