"""Observers of model and tool calls: how a runtime counts (or traces) every call
an agent makes without ``agents`` knowing about it.

A chat model reports each call when it ends (successfully or not) and the tool
executor reports each tool call; every registered observer is told, on the
calling thread. An observer that raises is logged and never fails the call.
With no observer registered, reporting costs one check of an empty list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphs.messages import UsageMetadata

__all__ = [
    "CallObserver",
    "ModelCall",
    "ToolCallRecord",
    "add_observer",
    "remove_observer",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCall:
    """One chat model call.

    Args:
        provider: The model's provider (``"openai"``, ``"anthropic"``, ...).
        model: The model name.
        started_at: Wall-clock start (``time.time()``).
        duration_s: How long the call took.
        usage: Token usage, when the provider reported it.
        cost_usd: Cost, when the model has pricing.
        response_metadata: The reply's metadata (finish reason, ...).
        error: The exception the call raised, if it failed.
    """

    provider: str
    model: str
    started_at: float
    duration_s: float
    usage: UsageMetadata | None = None
    cost_usd: float | None = None
    response_metadata: Mapping[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallRecord:
    """One tool call.

    Args:
        tool: The tool's name (``None`` when the model asked for an unknown one).
        started_at: Wall-clock start (``time.time()``).
        duration_s: How long the call took.
        error: The exception the tool raised, if it failed.
    """

    tool: str | None
    started_at: float
    duration_s: float
    error: BaseException | None = None


class CallObserver(Protocol):
    """What an observer implements."""

    def model_called(self, call: ModelCall) -> None: ...

    def tool_called(self, call: ToolCallRecord) -> None: ...


_observers: list[CallObserver] = []


def add_observer(observer: CallObserver) -> None:
    """Registers ``observer`` (once) for every call of this process.

    Args:
        observer: Told of each model and tool call.
    """
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: CallObserver) -> None:
    """Unregisters ``observer``; a no-op if it is not registered.

    Args:
        observer: An observer given to :func:`add_observer`.
    """
    if observer in _observers:
        _observers.remove(observer)


def observing() -> bool:
    """Whether any observer is registered (skip building records if not)."""
    return bool(_observers)


def report_model_call(call: ModelCall) -> None:
    """Tells every observer of a model call."""
    for observer in list(_observers):
        try:
            observer.model_called(call)
        except Exception:
            logger.exception("observer %r failed on a model call", observer)


def report_tool_call(call: ToolCallRecord) -> None:
    """Tells every observer of a tool call."""
    for observer in list(_observers):
        try:
            observer.tool_called(call)
        except Exception:
            logger.exception("observer %r failed on a tool call", observer)
