"""Chat messages shaped like LangChain's, as plain JSON-serialisable dataclasses.

Messages are what agents put into graph state. They must survive a checkpoint round
trip (JSON, never pickle), so every class has ``to_json()``/``from_json()`` and is
registered with :mod:`graphs.serde` under a stable tag (``message.human`` ...).

The :func:`add_messages` reducer follows LangGraph: inputs are coerced to messages,
messages without an id get one, a message whose id is already present replaces it in
place, :class:`RemoveMessage` deletes by id, and
``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` clears the list. When ``langchain_core``
is importable, LangChain messages are kept as LangChain objects (see
:func:`add_messages`); :func:`graphs.messages.to_langchain` and
:func:`graphs.messages.from_langchain` convert single messages.
"""

from __future__ import annotations

import typing
import uuid
from dataclasses import replace
from functools import partial
from typing import Annotated, Any, Literal, TypedDict

from graphs import _langchain
from graphs._context import current_task
from graphs._langchain import from_langchain, to_langchain
from graphs._message_types import (
    REMOVE_ALL_MESSAGES,
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    MessageLikeRepresentation,
    RemoveMessage,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
    UsageMetadata,
    add_usage,
    convert_to_messages,
    message_from_dict,
    messages_from_dicts,
    messages_to_dicts,
    tool_call,
)

__all__ = [
    "REMOVE_ALL_MESSAGES",
    "AIMessage",
    "AIMessageChunk",
    "AnyMessage",
    "BaseMessage",
    "HumanMessage",
    "MessageLikeRepresentation",
    "MessagesState",
    "RemoveMessage",
    "SystemMessage",
    "ToolCall",
    "ToolCallChunk",
    "ToolMessage",
    "UsageMetadata",
    "add_messages",
    "add_usage",
    "convert_to_messages",
    "from_langchain",
    "message_from_dict",
    "messages_from_dicts",
    "messages_to_dicts",
    "push_message",
    "to_langchain",
    "tool_call",
]


def add_messages(
    left: Any = None,
    right: Any = None,
    *,
    format: Literal["langchain-openai"] | None = None,
) -> Any:
    """Merge two lists of messages by id (the ``messages`` reducer).

    Inputs may be message objects (Oris or LangChain), dicts, ``(role, content)``
    tuples, strings, or one of those not in a list. Messages without an id get one;
    a message whose id is already present replaces it in place;
    :class:`RemoveMessage` deletes by id and ``RemoveMessage(id=REMOVE_ALL_MESSAGES)``
    clears everything before it.

    The list holds LangChain messages as soon as a LangChain message is in it (or
    the state key is declared with ``langchain_core`` message types): every other
    message-like is then converted to LangChain, as LangGraph does. Otherwise it
    holds Oris messages. A key declared with Oris message types (as the agents'
    states are) converts LangChain messages to Oris ones instead.

    Args:
        left: Current messages.
        right: Update: new messages, replacements (same id), or deletions.
        format: ``"langchain-openai"``: return LangChain messages whose content is
            in OpenAI's format (needs ``langchain-core``).

    Returns:
        A new list; called with neither list (``add_messages(format=...)``), the
        reducer with that option bound, for ``Annotated[list, ...]``.

    Raises:
        ValueError: If a :class:`RemoveMessage` names an id that is not present,
            only one of ``left`` and ``right`` is given, or ``format`` is unknown.
    """
    if left is None and right is None:
        return partial(add_messages, format=format)
    if left is None or right is None:
        raise ValueError(
            "add_messages needs both 'left' and 'right'; only "
            f"'{'left' if left is not None else 'right'}' was given"
        )
    return _merge(left, right, format=format, declared=None)


def _merge(
    left: Any,
    right: Any,
    memo: dict[str, Any] | None = None,
    *,
    format: str | None,
    declared: str | None,
    key: str = "",
) -> Any:
    """:func:`add_messages`; with a run's ``memo``, the list of LangChain
    messages the last merge of channel ``key`` built is not prepared again."""
    if format is not None and format != "langchain-openai":
        raise ValueError(
            f"Unrecognized format={format!r}. Expected one of 'langchain-openai', None."
        )
    if format is not None or _langchain_wanted(left, right, declared):
        lc = _langchain.loaded() or _langchain.require()
        built = memo.get(key) if memo is not None else None
        if type(left) is list and not left:  # the first write (the input)
            left_msgs, left_ids = left, []
        elif built is not None and left is built[0] and left == built[1]:
            # the list this merge built (the channel's value), still holding the
            # same LangChain messages: only their ids are read again (a node may
            # have changed one in place)
            left_msgs, left_ids = left, list(map(_langchain.message_id, left))
            if _langchain.missing_id(left_ids):
                left_msgs, left_ids, _, _ = _langchain.prepared_messages(left)
        else:
            left_msgs, left_ids, _, _ = _langchain.prepared_messages(left)
        right_msgs, right_ids, removals, fresh = _langchain.prepared_messages(right)
        new_ids = set(right_ids)
        # only new messages, each once, append (ids assigned just now are new
        # everywhere; others are checked against the existing ones)
        appended = (
            not removals
            and len(new_ids) == len(right_ids)
            and (fresh or new_ids.isdisjoint(left_ids))
        )
        if appended:
            merged = left_msgs + right_msgs
        else:
            merged = _merge_by_id(left_msgs, right_msgs, lc.RemoveMessage)
        if format is not None:
            return lc.convert_to_messages(lc.convert_to_openai_messages(merged))
        if memo is not None:
            memo[key] = (merged, list(merged))
        return merged
    left_msgs = _with_ids(convert_to_messages(left))
    right_msgs = _with_ids(convert_to_messages(right))
    return _merge_by_id(left_msgs, right_msgs, RemoveMessage)


def _langchain_wanted(left: Any, right: Any, declared: str | None) -> bool:
    """LangChain messages in, LangChain messages out (unless declared Oris)."""
    if declared is not None:
        return declared == "langchain"
    lc = _langchain.loaded()
    if lc is None:
        return False
    base = lc.BaseMessage
    for side in (right, left):
        if isinstance(side, list):
            if any(isinstance(m, base) for m in side):
                return True
        elif isinstance(side, base):
            return True
    return False


def _merge_by_id(
    left: list[Any],
    right: list[Any],
    remove: type[Any],
) -> list[Any]:
    """LangGraph's merge: replace by id, append new ids, apply removals last."""
    removals = [i for i, m in enumerate(right) if isinstance(m, remove)]
    for i in reversed(removals):
        if right[i].id == REMOVE_ALL_MESSAGES:
            return right[i + 1 :]
    merged = list(left)
    index = {m.id: i for i, m in enumerate(merged)}
    if not removals:  # the usual update: new messages and replacements
        for m in right:
            pos = index.get(m.id)
            if pos is None:
                index[m.id] = len(merged)
                merged.append(m)
            else:
                merged[pos] = m
        return merged
    removed: set[Any] = set()
    for m in right:
        pos = index.get(m.id)
        if pos is not None:
            if isinstance(m, remove):
                removed.add(m.id)
            else:
                removed.discard(m.id)
                merged[pos] = m
        elif isinstance(m, remove):
            raise ValueError(
                f"Attempting to delete a message with an ID that doesn't exist "
                f"('{m.id}')"
            )
        else:
            index[m.id] = len(merged)
            merged.append(m)
    return [m for m in merged if m.id not in removed] if removed else merged


def _with_ids(messages: list[BaseMessage]) -> list[BaseMessage]:
    return [
        m if m.id is not None else replace(m, id=str(uuid.uuid4())) for m in messages
    ]


def bind_reducer(reducer: Any, item_type: Any) -> Any:
    """Bind :func:`add_messages` to the message classes a state key declares.

    ``Annotated[list[AnyMessage], add_messages]`` with ``langchain_core``'s
    ``AnyMessage`` holds LangChain messages from the first input on; with the Oris
    classes, Oris messages. Any other reducer, or an undeclared item type
    (``list``, ``list[Any]``), is returned unchanged.

    Args:
        reducer: The reducer found in the key's ``Annotated`` metadata.
        item_type: The annotated type (``list[...]``).

    Returns:
        The reducer to use for the key.
    """
    if reducer is add_messages:
        format = None
    elif isinstance(reducer, partial) and reducer.func is add_messages:
        format = reducer.keywords.get("format")
    else:
        return reducer
    declared = _declared(item_type)
    if declared is None:
        return reducer
    return partial(_merge, format=format, declared=declared)


def memo_merge(reducer: Any, key: str) -> Any:
    """The merge of channel ``key`` that takes a run's memo, when ``reducer``
    is :func:`add_messages` (bound or not); else ``None``.

    The memo keeps the list the last merge built (and the messages it held), so
    that the next merge into it does not prepare it again.
    """
    if reducer is add_messages:
        return partial(_merge, format=None, declared=None, key=key)
    if isinstance(reducer, partial) and reducer.func in (add_messages, _merge):
        keywords = reducer.keywords
        format, declared = keywords.get("format"), keywords.get("declared")
        return partial(_merge, format=format, declared=declared, key=key)
    return None


def _declared(tp: Any) -> str | None:
    found: set[str] = set()
    stack = [tp]
    while stack:
        t = stack.pop()
        if isinstance(t, type):
            if t.__module__.startswith("langchain_core"):
                found.add("langchain")
            elif issubclass(t, BaseMessage):
                found.add("oris")
        stack.extend(a for a in typing.get_args(t) if not isinstance(a, str))
    if "langchain" in found:
        return "langchain"
    return "oris" if found else None


# Functional syntax keeps the annotation a real object (not a postponed string), so
# the engine reads the reducer without resolving names in this module.
MessagesState = TypedDict(  # noqa: UP013
    "MessagesState", {"messages": Annotated[list[Any], add_messages]}
)
"""Graph state with one ``messages`` channel merged by :func:`add_messages`.

Its messages are Oris messages, or LangChain messages once one is in the list
(the item type is left open so that both kinds keep their own form)."""


def push_message(message: Any, *, state_key: str | None = "messages") -> Any:
    """Send a message on the ``messages`` stream now, and write it to the state.

    Call it inside a node, as LangGraph's ``push_message``: the message reaches a
    ``stream(..., stream_mode="messages")`` caller at once, with the node's
    metadata, and is not sent again when the node also returns it.

    Args:
        message: A message (Oris or LangChain, a chunk too) or a message-like
            (dict, ``(role, content)`` tuple, string).
        state_key: The state key the message is written to as the node's write
            (before what the node returns); ``None`` only streams it.

    Returns:
        The message, converted.

    Raises:
        RuntimeError: Outside of a graph node.
        ValueError: If the message has no id.
    """
    task = current_task()
    if not (isinstance(message, BaseMessage) or _langchain.is_message(message)):
        [message] = convert_to_messages(message)
    if message.id is None:
        raise ValueError("Message ID is required")
    run = task.run
    if "messages" in run.modes:
        run.stream_message(message, task.metadata(run.step + 1))
    if state_key and state_key in run.graph.channels:
        task.writes.append((state_key, message))
    return message
