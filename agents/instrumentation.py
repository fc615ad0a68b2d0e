"""An optional listener told about every chat model call and tool call.

Agents trace nothing themselves: a host installs one listener per process with
:func:`set_listener` (Oris' runtime turns the calls into OpenTelemetry spans with
the GenAI semantic conventions). Without a listener the cost is one global read
per call.

``tool_start`` and ``tool_end`` run in the thread that runs the tool, around its
call, so what the listener makes current there is current for what the tool calls
(a subagent's graph, say). A model call's start and end may run in different
threads or tasks for a stream, so a listener should not make it current.

Budgets are not checked here: model and tool calls are effects
(:mod:`graphs.effects`), whose ``before``/``after`` hooks are the one gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from graphs.instrumentation import ListenerSlot
from graphs.messages import AIMessage

__all__ = [
    "Listener",
    "Listeners",
    "ObservedCall",
    "ModelStart",
    "ToolStart",
    "get_listener",
    "model_call",
    "set_listener",
    "tool_call",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelStart:
    """A chat model call about to be sent.

    Args:
        provider: The model's provider (``BaseChatModel.provider``).
        model: The model name asked for.
        stream: Whether the reply is streamed.
        server: The endpoint root for HTTP models (``""`` otherwise).
    """

    provider: str
    model: str
    stream: bool
    server: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolStart:
    """A tool call about to run.

    Args:
        name: The tool's name, as the model called it.
        call_id: The tool call's id.
    """

    name: str
    call_id: str


class Listener(Protocol):
    """What agents call; each ``*_start`` returns a handle for its ``*_end``."""

    def model_start(self, start: ModelStart) -> Any:
        """A model call begins; returns its handle."""
        ...

    def model_end(
        self, handle: Any, *, reply: AIMessage | None, error: BaseException | None
    ) -> None:
        """The call answered ``reply`` (with usage and finish reason) or failed."""
        ...

    def tool_start(self, start: ToolStart) -> Any:
        """A tool call begins, in the thread that runs it; returns its handle."""
        ...

    def tool_end(self, handle: Any, *, error: BaseException | None) -> None:
        """The tool returned (its failure reported to the model is ``error``)."""
        ...


class Listeners:
    """Several listeners as one, told in order (a host that both counts and
    traces the calls installs both)."""

    def __init__(self, *listeners: Listener) -> None:
        self.listeners = listeners

    def model_start(self, start: ModelStart) -> Any:
        return [listener.model_start(start) for listener in self.listeners]

    def model_end(
        self, handle: Any, *, reply: AIMessage | None, error: BaseException | None
    ) -> None:
        for listener, each in zip(self.listeners, handle, strict=True):
            listener.model_end(each, reply=reply, error=error)

    def tool_start(self, start: ToolStart) -> Any:
        return [listener.tool_start(start) for listener in self.listeners]

    def tool_end(self, handle: Any, *, error: BaseException | None) -> None:
        for listener, each in zip(self.listeners, handle, strict=True):
            listener.tool_end(each, error=error)


_slot: ListenerSlot[Listener] = ListenerSlot()


set_listener = _slot.set
"""Installs a listener for every call in this process (``None`` removes it);
returns the one it replaces."""


def get_listener() -> Listener | None:
    """The installed listener, if any."""
    return _slot.listener


class ObservedCall:
    """One observed call: ``with`` it around the call; set ``reply`` (a model
    call) or ``error`` (a tool failure reported to the model, not raised)."""

    __slots__ = ("_end", "error", "reply")

    def __init__(
        self, end: Callable[[ObservedCall, BaseException | None], None] | None
    ):
        self._end = end
        self.reply: AIMessage | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> ObservedCall:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._end is not None:
            self._end(self, exc or self.error)


def model_call(*, provider: str, model: str, stream: bool, server: str) -> ObservedCall:
    """Observes one model call (a no-op without a listener)."""
    listener = _slot.listener
    if listener is None:
        return ObservedCall(None)
    start = ModelStart(provider=provider, model=model, stream=stream, server=server)
    handle = listener.model_start(start)

    def end(call: ObservedCall, error: BaseException | None) -> None:
        listener.model_end(handle, reply=call.reply, error=error)

    return ObservedCall(end)


def tool_call(*, name: str, call_id: str) -> ObservedCall:
    """Observes one tool call (a no-op without a listener)."""
    listener = _slot.listener
    if listener is None:
        return ObservedCall(None)
    handle = listener.tool_start(ToolStart(name=name, call_id=call_id))

    def end(_call: ObservedCall, error: BaseException | None) -> None:
        listener.tool_end(handle, error=error)

    return ObservedCall(end)
