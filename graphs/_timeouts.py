"""Node timeouts: a wall-clock ``run_timeout`` and an ``idle_timeout`` that
progress refreshes (LangGraph's ``TimeoutPolicy``).

Progress is recorded on the running task (``Task.progress``, a monotonic time):
by :func:`heartbeat`, and under ``refresh_on="auto"`` by every chunk the node
streams (``custom`` writes, message chunks).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from concurrent.futures import Future, wait
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from graphs._context import CURRENT
from graphs.errors import InvalidGraphError, NodeTimeoutError
from graphs.types import TimeoutPolicy

if TYPE_CHECKING:
    from graphs._task import Task

__all__ = ["abounded", "bounded", "heartbeat", "timeout_policy", "touch"]


def _seconds(owner: str, field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidGraphError(f"node {owner!r}: {field} must be a number of seconds")
    if not value > 0:
        raise InvalidGraphError(f"node {owner!r}: {field} must be positive")
    return float(value)


def timeout_policy(owner: str, value: Any) -> TimeoutPolicy | None:
    """``value`` (seconds, a ``timedelta`` or a policy) as a policy in seconds.

    Raises:
        InvalidGraphError: A timeout that is not a positive number, or an
            unknown ``refresh_on``.
    """
    if value is None:
        return None
    if not isinstance(value, TimeoutPolicy):
        return TimeoutPolicy(run_timeout=_seconds(owner, "timeout", value))
    if value.refresh_on not in ("auto", "heartbeat"):
        raise InvalidGraphError("refresh_on must be 'auto' or 'heartbeat'")
    run = _seconds(owner, "run_timeout", value.run_timeout)
    idle = _seconds(owner, "idle_timeout", value.idle_timeout)
    if run is None and idle is None:
        return None
    return TimeoutPolicy(run, idle, value.refresh_on)


def heartbeat() -> None:
    """Record progress of the running node, for its ``idle_timeout``.

    LangGraph's ``runtime.heartbeat()``: call it from long work that streams
    nothing. Outside a node, or for a node without an idle timeout, it does
    nothing.
    """
    task = CURRENT.get()
    if task is not None:
        task.progress = time.monotonic()


def touch(task: Task) -> None:
    """A chunk streamed by ``task``: progress under ``refresh_on="auto"``."""
    policy = task.node.timeout
    if policy is not None and policy.refresh_on == "auto":
        task.progress = time.monotonic()


def _limits(task: Task) -> tuple[float | None, float | None]:
    """The task's run and idle timeouts, in seconds (see :func:`timeout_policy`)."""
    policy = task.node.timeout
    assert policy is not None
    return cast("float | None", policy.run_timeout), cast(
        "float | None", policy.idle_timeout
    )


def _expired(task: Task, started: float) -> NodeTimeoutError | None:
    """The error of the deadline ``task`` has passed, else ``None``."""
    run, idle = _limits(task)
    now = time.monotonic()
    elapsed = now - started
    if run is not None and elapsed >= run:
        kind = "run"
    elif idle is not None and now - task.progress >= idle:
        kind = "idle"
    else:
        return None
    return NodeTimeoutError(
        task.name, elapsed, kind=kind, idle_timeout=idle, run_timeout=run
    )


def _remaining(task: Task, started: float) -> float:
    run, idle = _limits(task)
    now = time.monotonic()
    left = [started + run - now] if run is not None else []
    if idle is not None:
        left.append(task.progress + idle - now)
    return max(0.0, min(left))


def bounded(task: Task, future: Future[Any]) -> Any:
    """Wait for a sync node running in its own thread, up to its deadlines."""
    started = task.progress = time.monotonic()
    while True:
        wait([future], _remaining(task, started))
        if future.done():
            return future.result()
        error = _expired(task, started)
        if error is not None:
            raise error


async def abounded(task: Task, call: Awaitable[Any]) -> Any:
    """Await ``call``, cancelling it at the node's deadlines."""
    started = task.progress = time.monotonic()
    work = asyncio.ensure_future(call)
    try:
        while True:
            await asyncio.wait({work}, timeout=_remaining(task, started))
            if work.done():
                return work.result()
            error = _expired(task, started)
            if error is not None:
                raise error
    finally:
        if not work.done():
            work.cancel()
