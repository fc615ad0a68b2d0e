"""Effects: the calls of a node that reach the outside world, recorded once.

Inside a run with a checkpointer every chat-model call and tool call made through
``agents`` (and every function decorated with :func:`effect`) is an *effect*. Its
key is stable: derived from the thread, the checkpoint namespace, the task (whose
id is derived from the checkpoint its superstep started from and its path) and the
call's index within the task. The saver records each finished effect (request,
response, usage, cost, duration, outcome) with the task's writes; when the task
runs again (after a crash, a lost lease, a retry or an interrupt's resume) the
effects already recorded are answered from the ledger and only the one that was in
flight runs again. The running effect's key (:func:`get_effect`) is what a tool
passes to an external API as its idempotency key.

A run whose config carries ``{"effects": EffectOptions(mode="recorded",
recorded=[...])}`` answers *every* effect from those records and stops at the first
one that differs (:class:`EffectDivergence`): a replay without side effects.

``EffectOptions.before`` is called before each effect that would execute (not for
answered ones) and ``EffectOptions.after`` once it returned or failed: the one
place where budgets refuse (raise) or pause (``interrupt()``) a run and meter what
it spent; an effect's ``counts_as`` (``model_call``, ``tool_call`` or ``None``)
says which budgets it is held to. ``EffectOptions.overrides`` carries a fork's
overrides for ``agents`` (model, temperature, system prompt, tool results).

Async code has the same mechanism: :func:`aperform`, :func:`aperform_stream`, and
``@effect`` on an ``async def``. Their hooks (sync callables, which may do blocking
I/O) run in a worker thread, so they never block the event loop.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from graphs import serde
from graphs._context import CURRENT
from graphs.errors import GraphError, GraphSignal

__all__ = [
    "Effect",
    "EffectDivergence",
    "EffectOptions",
    "EffectRecord",
    "RecordedEffectError",
    "aperform",
    "aperform_stream",
    "effect",
    "effect_address",
    "effect_key",
    "first_unanswered",
    "get_effect",
    "current_options",
    "perform",
    "perform_stream",
]

EffectKind = Literal["model", "tool", "function"]
CountsAs = Literal["model_call", "tool_call"] | None
# what each kind of effect counts as in budgets unless it says otherwise
DEFAULT_COUNTS: dict[str, CountsAs] = {
    "model": "model_call",
    "tool": "tool_call",
    "function": None,
}
Address = tuple[str, int, str, int]


_UNREAD: Any = object()  # stored JSON not decoded yet

_RECORD_FIELDS = (
    "key",
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "task_path",
    "step",
    "index",
    "kind",
    "name",
    "request",
    "response",
    "outcome",
    "error",
    "usage",
    "cost",
    "duration_ms",
    "started_at",
)


class EffectRecord:
    """One recorded effect (a ledger row; every saver stores these fields).

    A saver that reads its rows back may pass the request and the response as
    the JSON text it stored (``request_json``, ``response_json``) instead of
    their values: each is then decoded when first read, and a recorded replay
    compares the request's text before decoding it (:meth:`matches`).

    Args:
        key: The stable key (see :func:`effect_key`).
        thread_id: The run's thread.
        checkpoint_ns: The namespace of the graph the task ran in.
        checkpoint_id: The checkpoint the task's superstep started from.
        task_id: The task's id.
        task_path: The task's path (``__pregel_pull|model``, ``__pregel_push|0``).
        step: The superstep the task ran in.
        index: The call's position within the task (0, 1, ...).
        kind: ``model``, ``tool`` or ``function``.
        name: The model (``provider:model``), tool or function name.
        request: What was asked (JSON, from :func:`graphs.serde.to_jsonable`).
        response: What was answered (JSON; ``None`` for an error).
        outcome: ``ok`` or ``error``.
        error: ``{"type", "message"}`` for an error.
        usage: ``input_tokens``, ``output_tokens``, ``total_tokens`` (model calls).
        cost: USD cost of the call (0 when unknown).
        duration_ms: Wall time of the call.
        started_at: ISO 8601 time the call started.
        request_json: The request as stored, verbatim: its ``json.dumps`` text
            (instead of ``request``).
        response_json: The response as stored (instead of ``response``).
    """

    __slots__ = (
        *(f for f in _RECORD_FIELDS if f not in ("request", "response")),
        "_request",
        "_response",
        "request_json",
        "response_json",
    )

    key: str
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    task_id: str
    task_path: str
    step: int
    index: int
    kind: str
    name: str
    outcome: str
    error: dict[str, Any] | None
    usage: dict[str, int]
    cost: float
    duration_ms: float
    started_at: str
    request_json: str | None
    response_json: str | None
    _request: Any
    _response: Any

    def __init__(
        self,
        *,
        key: str,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        task_path: str,
        step: int,
        index: int,
        kind: str,
        name: str,
        request: Any = _UNREAD,
        response: Any = None,
        outcome: str = "ok",
        error: dict[str, Any] | None = None,
        usage: dict[str, int] | None = None,
        cost: float = 0.0,
        duration_ms: float = 0.0,
        started_at: str = "",
        request_json: str | None = None,
        response_json: str | None = None,
    ) -> None:
        if request is _UNREAD and request_json is None:
            raise TypeError("EffectRecord needs a request (or its request_json)")
        values = {
            "key": key,
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
            "task_id": task_id,
            "task_path": task_path,
            "step": step,
            "index": index,
            "kind": kind,
            "name": name,
            "_request": request,
            "_response": _UNREAD if response_json is not None else response,
            "outcome": outcome,
            "error": error,
            "usage": {} if usage is None else usage,
            "cost": cost,
            "duration_ms": duration_ms,
            "started_at": started_at,
            "request_json": request_json,
            "response_json": response_json,
        }
        for name_, value in values.items():
            object.__setattr__(self, name_, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"EffectRecord is frozen: cannot set {name!r}")

    @property
    def request(self) -> Any:
        """What was asked (decoded from ``request_json`` when first read)."""
        if self._request is _UNREAD:
            object.__setattr__(self, "_request", json.loads(self.request_json or ""))
        return self._request

    @property
    def response(self) -> Any:
        """What was answered (decoded from ``response_json`` when first read)."""
        if self._response is _UNREAD:
            object.__setattr__(self, "_response", json.loads(self.response_json or ""))
        return self._response

    def matches(self, kind: str, name: str, request: Any) -> bool:
        """Whether a call asks what this one asked: compared as the stored text
        first (the same ``json.dumps`` text is the same request; no decoding),
        else as JSON values (the same request with its keys in another order)."""
        if (self.kind, self.name) != (kind, name):
            return False
        if self.request_json is not None and json.dumps(request) == self.request_json:
            return True
        return bool(self.request == request)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EffectRecord):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _RECORD_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in _RECORD_FIELDS)
        return f"EffectRecord({shown})"

    @property
    def address(self) -> Address:
        """Where the effect sits in a run, independent of checkpoint and task ids
        (see :func:`effect_address`): what a recorded replay matches on."""
        return effect_address(self.checkpoint_ns, self.step, self.task_path, self.index)

    def summary(self) -> dict[str, Any]:
        """The fields a divergence report shows."""
        return {
            "kind": self.kind,
            "name": self.name,
            "step": self.step,
            "task_path": self.task_path,
            "index": self.index,
            "request": self.request,
        }


@dataclass(slots=True, kw_only=True)
class Effect:
    """The effect being performed, as its function sees it (:func:`get_effect`).

    Args:
        key: The stable key to pass to external APIs as an idempotency key
            (``None`` outside a run with a checkpointer).
        kind: ``model``, ``tool`` or ``function``.
        name: What is called.
        request: The request (JSON).
        index: Position within the task.
        counts_as: What budgets count it as: ``model_call`` (tokens and cost),
            ``tool_call`` (tool calls) or ``None`` (only wall time).
        usage: Set by the caller once the call returned (tokens).
        cost: Set by the caller once the call returned (USD).
    """

    key: str | None
    kind: str
    name: str
    request: Any
    index: int = 0
    counts_as: CountsAs = None
    usage: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0


class Answered:
    """An effect the ledger answers (from :meth:`EffectLedger.begin`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Pending:
    """An effect to execute (from :meth:`EffectLedger.begin` until its ``end``
    or ``fail``)."""

    __slots__ = ("began", "effect", "path", "started", "step", "task")

    def __init__(self, task: Any, path: str, step: int, effect: Effect) -> None:
        self.task, self.path, self.step, self.effect = task, path, step, effect
        self.started = now_iso()
        self.began = time.perf_counter()


BeforeEffect = Callable[[Effect], None]
AfterEffect = Callable[[Effect, BaseException | None], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectOptions:
    """How a run treats its effects (``config["effects"]``).

    Args:
        mode: ``live`` (execute, record, answer what is recorded for the same
            key) or ``recorded`` (answer everything from ``recorded``; never
            execute).
        recorded: The records a recorded replay answers from (matched by
            :attr:`EffectRecord.address`).
        before: Called before each effect that executes; raise to refuse it, or
            call ``interrupt()`` to pause the run (budgets hook here).
        after: Called once an executed effect returned (``None``) or raised
            (the exception), with its usage and cost set (budgets meter here).
        overrides: A fork's overrides, read by ``agents``: ``model``,
            ``temperature``, ``system_prompt``, ``tool_results`` (tool name to
            result).
        record: Whether live effects are written to the saver.
        answered: Filled by a recorded replay with the addresses it answered
            (see :func:`first_unanswered`).
    """

    mode: Literal["live", "recorded"] = "live"
    recorded: Sequence[EffectRecord] = ()
    before: Sequence[BeforeEffect] = ()
    after: Sequence[AfterEffect] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    record: bool = True
    answered: set[Address] = field(default_factory=set)


class EffectDivergence(GraphError):
    """A recorded replay made a call the recording does not have (or missed one).

    Args:
        report: ``{"reason", "expected", "actual"}``: the first differing effect.
    """

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(f"replay diverged: {report.get('reason')}")
        self.report = report


class RecordedEffectError(GraphError):
    """A recorded replay re-raises an effect that failed when it was recorded."""


_RUNNING: ContextVar[Effect | None] = ContextVar("graphs_effect", default=None)

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")


def first_unanswered(options: EffectOptions) -> EffectRecord | None:
    """After a recorded replay: the first recorded effect it never asked for
    (the replay made fewer calls than the recording), else ``None``."""
    left = [r for r in options.recorded if r.address not in options.answered]
    return min(left, key=lambda r: r.address, default=None)


def get_effect() -> Effect | None:
    """Return the effect being performed (its ``key`` for idempotency), if any."""
    return _RUNNING.get()


def effect_key(thread_id: str, ns: str, task_id: str, index: int) -> str:
    """The stable key of the ``index``-th effect of a task (32 hex digits)."""
    raw = f"{thread_id}|{ns}|{task_id}|{index}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def effect_address(ns: str, step: int, task_path: str, index: int) -> Address:
    """An effect's place in a run: namespace without task ids, step, task path and
    index; the same for a run and its replay from the same input."""
    bare = "|".join(part.split(":", 1)[0] for part in ns.split("|")) if ns else ""
    return (bare, step, task_path, index)


def _ledger() -> tuple[Any, Any]:
    task = CURRENT.get()
    ledger = None if task is None else task.run.effects
    return (None, None) if ledger is None else (ledger, task)


def perform(
    kind: EffectKind,
    name: str,
    request: Any,
    call: Callable[[Effect], T],
    *,
    account: Callable[[Effect, T], None] | None = None,
    encoded: bool = False,
    counts_as: CountsAs | str = "default",
) -> T:
    """Perform one effect: answered from the ledger when recorded, else executed
    (and recorded). Outside a run with a ledger, ``call`` simply runs.

    Args:
        kind: ``model``, ``tool`` or ``function``.
        name: What is called (recorded, compared on replay).
        request: What is asked (JSON-able; compared on replay).
        call: Executes the effect; receives the :class:`Effect`.
        account: Sets ``usage``/``cost`` on the effect from the result.
        encoded: ``request`` is JSON already (not encoded again).
        counts_as: What budgets count it as (default: by ``kind``, see
            :data:`DEFAULT_COUNTS`).

    Returns:
        The (possibly recorded) result.

    Raises:
        EffectDivergence: In a recorded replay, when the call differs.
    """
    ledger, task = _ledger()
    if ledger is None:
        return call_as(Effect(key=None, kind=kind, name=name, request=request), call)
    pending = ledger.begin(task, kind, name, request, encoded, _counts(kind, counts_as))
    if not isinstance(pending, Pending):
        return pending.value  # type: ignore[no-any-return]
    ledger.admit(pending)
    try:
        result = call_as(pending.effect, call)
        if account is not None:
            account(pending.effect, result)
    except BaseException as exc:
        ledger.fail(pending, exc)
        ledger.after(pending, exc)
        raise
    ledger.end(pending, result)
    ledger.after(pending, None)
    return result


async def aperform(
    kind: EffectKind,
    name: str,
    request: Any,
    call: Callable[[Effect], Awaitable[T]],
    *,
    account: Callable[[Effect, T], None] | None = None,
    encoded: bool = False,
    counts_as: CountsAs | str = "default",
) -> T:
    """Async :func:`perform`: ``call`` returns an awaitable. The ledger's hooks
    and the saver's flush run off the event loop."""
    ledger, task = _ledger()
    if ledger is None:
        effect = Effect(key=None, kind=kind, name=name, request=request)
        return await acall_as(effect, call)
    pending = ledger.begin(task, kind, name, request, encoded, _counts(kind, counts_as))
    if not isinstance(pending, Pending):
        return pending.value  # type: ignore[no-any-return]
    await ledger.aadmit(pending)
    try:
        result = await acall_as(pending.effect, call)
        if account is not None:
            account(pending.effect, result)
    except BaseException as exc:
        ledger.fail(pending, exc)
        await ledger.aafter(pending, exc)
        raise
    ledger.end(pending, result)
    await ledger.aafter(pending, None)
    return result


def _counts(kind: str, counts_as: CountsAs | str) -> CountsAs:
    if counts_as == "default":
        return DEFAULT_COUNTS.get(kind)
    if counts_as not in ("model_call", "tool_call", None):
        raise ValueError(
            f"counts_as must be model_call, tool_call or None: {counts_as!r}"
        )
    return counts_as  # type: ignore[return-value]


def call_as(effect: Effect, call: Callable[[Effect], T]) -> T:
    """Run ``call`` with ``effect`` as the running one (:func:`get_effect`)."""
    token = _RUNNING.set(effect)
    try:
        return call(effect)
    finally:
        _RUNNING.reset(token)


async def acall_as(effect: Effect, call: Callable[[Effect], Awaitable[T]]) -> T:
    """Async :func:`call_as`."""
    token = _RUNNING.set(effect)
    try:
        return await call(effect)
    finally:
        _RUNNING.reset(token)


def perform_stream(
    kind: EffectKind,
    name: str,
    request: Any,
    start: Callable[[Effect], Iterator[C]],
    finish: Callable[[Effect, list[C]], Any],
    replay: Callable[[Any], Iterator[C]],
    *,
    encoded: bool = False,
) -> Iterator[C]:
    """A streamed effect: its chunks are yielded as they come; ``finish`` turns
    them into the result recorded (and sets usage and cost); an answered effect
    yields ``replay(result)``.

    Args:
        kind: ``model``, ``tool`` or ``function``.
        name: What is called.
        request: What is asked (JSON-able).
        start: Begins the call; returns its chunks.
        finish: The result of the chunks received.
        replay: The chunks of a recorded result.
        encoded: ``request`` is JSON already.
    """
    ledger, task = _ledger()
    if ledger is None:
        effect = Effect(key=None, kind=kind, name=name, request=request)
        chunks = yield from _stream_as(effect, start)
        finish(effect, chunks)
        return
    pending = ledger.begin(task, kind, name, request, encoded, DEFAULT_COUNTS[kind])
    if not isinstance(pending, Pending):
        yield from replay(pending.value)
        return
    ledger.admit(pending)
    try:
        chunks = yield from _stream_as(pending.effect, start)
        result = finish(pending.effect, chunks)
    except BaseException as exc:
        ledger.fail(pending, exc)
        ledger.after(pending, exc)
        raise
    ledger.end(pending, result)
    ledger.after(pending, None)


async def aperform_stream(
    kind: EffectKind,
    name: str,
    request: Any,
    start: Callable[[Effect], AsyncIterator[C]],
    finish: Callable[[Effect, list[C]], Any],
    replay: Callable[[Any], Iterator[C]],
    *,
    encoded: bool = False,
) -> AsyncIterator[C]:
    """Async :func:`perform_stream`: ``start`` returns an async iterator."""
    ledger, task = _ledger()
    if ledger is None:
        effect = Effect(key=None, kind=kind, name=name, request=request)
        chunks: list[C] = []
        async for chunk in _astream_as(effect, start, chunks):
            yield chunk
        finish(effect, chunks)
        return
    pending = ledger.begin(task, kind, name, request, encoded, DEFAULT_COUNTS[kind])
    if not isinstance(pending, Pending):
        for chunk in replay(pending.value):
            yield chunk
        return
    await ledger.aadmit(pending)
    received: list[C] = []
    try:
        async for chunk in _astream_as(pending.effect, start, received):
            yield chunk
        result = finish(pending.effect, received)
    except BaseException as exc:
        ledger.fail(pending, exc)
        await ledger.aafter(pending, exc)
        raise
    ledger.end(pending, result)
    await ledger.aafter(pending, None)


def _stream_as(
    effect: Effect, start: Callable[[Effect], Iterator[C]]
) -> Generator[C, None, list[C]]:
    chunks: list[C] = []
    token = _RUNNING.set(effect)
    try:
        for chunk in start(effect):
            chunks.append(chunk)
            yield chunk
    finally:
        _RUNNING.reset(token)
    return chunks


async def _astream_as(
    effect: Effect, start: Callable[[Effect], AsyncIterator[C]], chunks: list[C]
) -> AsyncIterator[C]:
    # the running effect is set around each step of the stream, not across the
    # yields (a consumer's context is its own)
    stream = start(effect)
    while True:
        token = _RUNNING.set(effect)
        try:
            chunk = await anext(stream)
        except StopAsyncIteration:
            return
        finally:
            _RUNNING.reset(token)
        chunks.append(chunk)
        yield chunk


def current_options() -> EffectOptions | None:
    """The running task's :class:`EffectOptions` (a fork's ``overrides``...)."""
    ledger, _task = _ledger()
    return None if ledger is None else ledger.options


def effect(
    fn: Callable[P, T] | None = None,
    *,
    name: str | None = None,
    counts_as: CountsAs = None,
) -> Any:
    """Mark a function as an effect (``@graphs.effect`` or ``@effect(name=...)``);
    an ``async def`` too.

    Called inside a node of a run with a checkpointer, it runs at most once per
    task and call position (its recorded result answers later runs); its
    arguments and result must be JSON-serialisable by :mod:`graphs.serde`. Inside
    it, :func:`get_effect` gives its key. ``counts_as="tool_call"`` (or
    ``"model_call"``, which reads the tokens and cost the function sets on
    ``get_effect().usage``/``.cost``) holds it to those budgets; by default it
    is checked against wall time only.
    """

    def wrap(func: Callable[P, Any]) -> Callable[P, Any]:
        label = name or f"{func.__module__}.{func.__qualname__}"
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def awrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                request = {"args": list(args), "kwargs": dict(kwargs)}
                return await aperform(
                    "function",
                    label,
                    request,
                    lambda _e: func(*args, **kwargs),
                    counts_as=counts_as,
                )

            return awrapper

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            request = {"args": list(args), "kwargs": dict(kwargs)}
            return perform(
                "function",
                label,
                request,
                lambda _e: func(*args, **kwargs),
                counts_as=counts_as,
            )

        return wrapper

    return wrap if fn is None else wrap(fn)


def now_iso() -> str:
    """The current time, ISO 8601 (UTC)."""
    return datetime.now(UTC).isoformat()


def is_signal(exc: BaseException) -> bool:
    """Engine control flow (an interrupt, a parent command): never recorded."""
    return isinstance(exc, GraphSignal)


def encode(value: Any) -> Any:
    """The JSON form a ledger stores."""
    return serde.to_jsonable(value)


def decode(tree: Any) -> Any:
    """Inverse of :func:`encode`."""
    return serde.from_jsonable(tree)
