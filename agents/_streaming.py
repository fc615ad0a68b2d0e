"""Emitting model tokens on the graph's ``messages`` stream mode.

LangGraph gets tokens out of a node through callbacks; here the model node asks for
a sink and pushes :class:`~graphs.messages.AIMessageChunk` objects into it, so
``graph.stream(..., stream_mode="messages")`` yields ``(chunk, metadata)`` pairs as
the provider streams them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphs.messages import AIMessageChunk

__all__ = ["message_sink"]

Sink = Callable[[AIMessageChunk], None]


def message_sink() -> Sink | None:
    """A function that emits chunks on the ``messages`` stream, or ``None``.

    ``None`` means the current run is not streaming ``messages`` (or we are not
    inside a graph node), so the caller should make a plain, non-streaming call.
    """
    try:
        import graphs

        public = getattr(graphs, "get_message_writer", None)
        if public is not None:
            writer = public()
            return writer if callable(writer) else None
        # Until the engine exposes a public hook, use the running task directly.
        from graphs._context import CURRENT
    except ImportError:
        return None
    task: Any = CURRENT.get()
    if task is None or "messages" not in getattr(task.run, "modes", ()):
        return None
    metadata = dict(task.config().get("metadata") or {})

    def emit(chunk: AIMessageChunk) -> None:
        task.run.emit("messages", (chunk, metadata))

    return emit
