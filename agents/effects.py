"""Model and tool calls as effects (see :mod:`graphs.effects`).

Inside a durable run each chat-model call and each tool call is recorded once and
answered from the ledger when its task runs again; a tool reads its idempotency
key with ``agents.get_effect().key``. A fork's overrides (``EffectOptions.
overrides``) are applied here, before the call, so the recorded request is what
was really sent:

* ``model``: another model name (same provider, same endpoint) or a
  ``"provider:model"`` string (a model made by ``init_chat_model``);
* ``temperature``: the sampling temperature;
* ``system_prompt``: replaces the system message (or is put first);
* ``tool_results``: tool name to the result returned instead of calling it.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphs.effects import (
    Effect,
    EffectDivergence,
    EffectOptions,
    current_options,
    effect,
    get_effect,
)
from graphs.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from graphs.serde import to_jsonable

if TYPE_CHECKING:
    from agents.chat_models.base import BaseChatModel

__all__ = [
    "Effect",
    "EffectDivergence",
    "EffectOptions",
    "account_reply",
    "effect",
    "fork_model",
    "get_effect",
    "model_request",
    "overridden_tool_result",
    "reply_chunks",
]


def model_request(
    model: BaseChatModel,
    messages: list[BaseMessage],
    tools: list[Any],
    tool_choice: str | None,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """What a model call asks, as recorded and compared on replay. Message ids
    are left out: a run's input messages get fresh ids every time."""
    return {
        "model": f"{model.provider}:{model.model}",
        "temperature": getattr(model, "temperature", None),
        "messages": [_message_json(m) for m in messages],
        "tools": to_jsonable(tools),
        "tool_choice": tool_choice,
        "params": to_jsonable(kwargs),
    }


# A conversation is sent again with every call: each message's JSON is kept while
# the message lives (messages in a run's state are replaced, never mutated, by
# the reducers), so a run's requests cost O(new messages), not O(steps²).
_JSON: dict[int, tuple[weakref.ref[Any], Any]] = {}


def _message_json(message: BaseMessage) -> Any:
    key = id(message)
    hit = _JSON.get(key)
    if hit is not None and hit[0]() is message:
        return hit[1]
    tree = _without_id(to_jsonable(message))

    def forget(_gone: weakref.ref[Any]) -> None:
        _JSON.pop(key, None)

    try:
        ref = weakref.ref(message, forget)
    except TypeError:  # not weak-referenceable: encoded each time
        return tree
    _JSON[key] = (ref, tree)
    return tree


def _without_id(tree: Any) -> Any:
    body = tree.get("v") if isinstance(tree, dict) else None
    if isinstance(body, dict) and "id" in body:
        return {**tree, "v": {k: v for k, v in body.items() if k != "id"}}
    return tree


def account_reply(effect: Effect, reply: AIMessage) -> None:
    """A model effect's usage and cost, from the reply."""
    usage = reply.usage_metadata
    if usage is not None:
        effect.usage = {
            "input_tokens": int(usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens", 0)),
            "total_tokens": int(usage.get("total_tokens", 0)),
        }
    effect.cost = float(reply.response_metadata.get("cost_usd") or 0.0)


def reply_chunks(reply: Any) -> Iterator[AIMessageChunk]:
    """A recorded reply streamed again: one chunk."""
    message: AIMessage = reply
    yield AIMessageChunk(
        message.content,
        id=message.id,
        tool_calls=list(message.tool_calls),
        usage_metadata=message.usage_metadata,
        response_metadata=dict(message.response_metadata),
    )


def fork_model(
    model: BaseChatModel, messages: list[BaseMessage]
) -> tuple[BaseChatModel, list[BaseMessage]]:
    """The model and messages a call uses under the running fork's overrides."""
    options = current_options()
    overrides = options.overrides if options is not None else None
    if not overrides:
        return model, messages
    chosen = model
    spec = overrides.get("model")
    if spec:
        chosen = _other_model(model, str(spec))
    if "temperature" in overrides and hasattr(chosen, "temperature"):
        chosen = chosen if chosen is not model else copy.copy(model)
        chosen.temperature = overrides["temperature"]
    prompt = overrides.get("system_prompt")
    if prompt is not None:
        rest = [m for m in messages if not isinstance(m, SystemMessage)]
        messages = [SystemMessage(str(prompt)), *rest]
    return chosen, messages


def _other_model(model: BaseChatModel, spec: str) -> BaseChatModel:
    provider, _, name = spec.rpartition(":")
    if not provider or provider == model.provider:
        other = copy.copy(model)
        other.model = name
        return other
    from agents.chat_models import init_chat_model

    return init_chat_model(spec)


_NO_RESULT: Any = object()


def overridden_tool_result(name: str) -> Any:
    """The result a fork's ``tool_results`` gives for tool ``name`` (else a
    sentinel: call the tool)."""
    options = current_options()
    results = (options.overrides.get("tool_results") or {}) if options else {}
    return results.get(name, _NO_RESULT)


def is_overridden(result: Any) -> bool:
    """Whether :func:`overridden_tool_result` found a result."""
    return result is not _NO_RESULT
