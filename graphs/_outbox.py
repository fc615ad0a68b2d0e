"""Stream chunks on their way from a run to its caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Chunk = tuple[tuple[str, ...], str, Any]
LIVE_MODES = frozenset({"custom", "messages"})


class Outbox:
    """Stream chunks on their way to the caller: put by the loop and by nodes
    (from any thread), taken by the driver when a superstep ends, or as they come
    while tasks run when the driver set ``notify``."""

    __slots__ = ("chunks", "notify")

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.notify: Callable[[], None] | None = None

    def __bool__(self) -> bool:
        return bool(self.chunks)

    def put(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        if self.notify is not None:
            self.notify()

    def take(self) -> list[Chunk]:
        # only the driver removes, and only from the front: safe against puts
        count = len(self.chunks)
        taken = self.chunks[:count]
        del self.chunks[:count]
        return taken
