"""A run's effect ledger: answers recorded effects, records executed ones.

One ledger serves a root run and its subgraphs (each task knows its own run's
thread and namespace). The saver is told of each finished effect with
``put_effect`` and writes it with its next write (the superstep's checkpoint or
the task's pending writes, in one transaction); before an effect executes the
saver writes what it still holds (``flush_effects``), so a crash re-executes at
most the effect in flight.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from graphs.effects import (
    Address,
    Answered,
    CountsAs,
    Effect,
    EffectDivergence,
    EffectOptions,
    EffectRecord,
    Pending,
    RecordedEffectError,
    decode,
    effect_address,
    effect_key,
    encode,
    is_signal,
)

if TYPE_CHECKING:
    from graphs._task import Task
    from graphs.checkpoint.base import BaseCheckpointSaver

__all__ = ["EffectLedger", "ledger_for"]

_LIVE = EffectOptions()


def _each(hooks: Iterable[Callable[[Effect], None]], effect: Effect) -> None:
    for hook in hooks:
        hook(effect)


def _each_after(
    hooks: Iterable[Callable[[Effect, BaseException | None], None]],
    pending: Pending,
    error: BaseException | None,
) -> None:
    for hook in hooks:
        hook(pending.effect, error)


def ledger_for(saver: BaseCheckpointSaver | None, config: dict[str, Any]) -> Any:
    """The ledger of a root run: one when the saver records effects or the
    config asks for a mode; ``None`` otherwise (effects then simply run)."""
    options = config.get("effects")
    if options is not None and not isinstance(options, EffectOptions):
        raise TypeError("config['effects'] must be a graphs.effects.EffectOptions")
    if options is None and not (saver is not None and saver.supports_effects):
        return None
    return EffectLedger(saver, options or _LIVE)


class EffectLedger:
    """The effects a run may answer and the saver it records to."""

    def __init__(self, saver: BaseCheckpointSaver | None, options: EffectOptions):
        self.options = options
        self.recording = (
            options.record
            and options.mode == "live"
            and saver is not None
            and saver.supports_effects
        )
        self.saver = saver if self.recording else None
        self._known: dict[str, EffectRecord] = {}
        self._lock = threading.Lock()
        self._unflushed = 0
        self._by_address: dict[Address, EffectRecord] = {
            r.address: r for r in options.recorded
        }

    def load(self, records: Iterable[EffectRecord]) -> None:
        """Effects recorded for the tasks the run continues (by key)."""
        with self._lock:
            for record in records:
                self._known[record.key] = record

    def begin(
        self,
        task: Task,
        kind: str,
        name: str,
        request: Any,
        encoded: bool = False,
        counts_as: CountsAs = None,
    ) -> Answered | Pending:
        """Start the task's next effect: :class:`Answered` when the ledger
        answers it, else the :class:`Pending` effect for the caller to
        :meth:`admit`, execute and :meth:`end` (or :meth:`fail`)."""
        index = task.effect_index
        task.effect_index = index + 1
        run = task.run
        path = "|".join(str(p) for p in task.path())
        step = run.step + 1  # the superstep running (run.step: the last finished)
        req = request if encoded else encode(request)
        if self.options.mode == "recorded":
            return Answered(self._replayed(run.ns, step, path, index, kind, name, req))
        key = effect_key(run.thread_id, run.ns, task.id, index)
        found = self._known.get(key)
        if (
            found is not None
            and found.outcome == "ok"
            and found.matches(kind, name, req)
        ):
            return Answered(decode(found.response))
        effect = Effect(
            key=key, kind=kind, name=name, request=req, index=index, counts_as=counts_as
        )
        return Pending(task, path, step, effect)

    def admit(self, pending: Pending) -> None:
        """Before an effect executes: the ``before`` hooks (which may refuse or
        pause it), then what finished before it becomes durable."""
        for hook in self.options.before:
            hook(pending.effect)
        if self.saver is not None and self._unflushed:
            # what finished before this call becomes durable before it starts
            self.saver.flush_effects()
            self._unflushed = 0

    async def aadmit(self, pending: Pending) -> None:
        """Async :meth:`admit`: the hooks run in a worker thread (they may do
        blocking I/O), in the task's context (an ``interrupt()`` works)."""
        if self.options.before:
            await asyncio.to_thread(_each, self.options.before, pending.effect)
        if self.saver is not None and self._unflushed:
            await self.saver.aflush_effects()
            self._unflushed = 0

    def after(self, pending: Pending, error: BaseException | None) -> None:
        """After an executed effect: the ``after`` hooks (metering)."""
        for hook in self.options.after:
            hook(pending.effect, error)

    async def aafter(self, pending: Pending, error: BaseException | None) -> None:
        """Async :meth:`after` (the hooks in a worker thread)."""
        if self.options.after:
            await asyncio.to_thread(_each_after, self.options.after, pending, error)

    def end(self, pending: Pending, result: Any) -> None:
        """Record an effect that returned ``result``."""
        self._record(pending, encode(result), None)

    def fail(self, pending: Pending, exc: BaseException) -> None:
        """Record an effect that raised (an interrupt or a parent command is
        control flow: nothing is recorded)."""
        if not is_signal(exc):
            self._record(
                pending, None, {"type": type(exc).__name__, "message": str(exc)}
            )

    def _record(
        self, pending: Pending, response: Any, error: dict[str, Any] | None
    ) -> None:
        task, effect, run = pending.task, pending.effect, pending.task.run
        assert effect.key is not None
        record = EffectRecord(
            key=effect.key,
            thread_id=run.thread_id,
            checkpoint_ns=run.ns,
            checkpoint_id=run.checkpoint_id,
            task_id=task.id,
            task_path=pending.path,
            step=pending.step,
            index=effect.index,
            kind=effect.kind,
            name=effect.name,
            request=effect.request,
            response=response,
            outcome="error" if error else "ok",
            error=error,
            usage=dict(effect.usage),
            cost=effect.cost,
            duration_ms=round((time.perf_counter() - pending.began) * 1000, 3),
            started_at=pending.started,
        )
        with self._lock:
            self._known[record.key] = record  # a retry of the task answers it
            self._unflushed += 1
        if self.saver is not None:
            self.saver.put_effect(record)

    def _replayed(
        self,
        ns: str,
        step: int,
        path: str,
        index: int,
        kind: str,
        name: str,
        request: Any,
    ) -> Any:
        address = effect_address(ns, step, path, index)
        actual = {
            "kind": kind,
            "name": name,
            "step": step,
            "task_path": path,
            "index": index,
            "request": request,
        }
        found = self._by_address.get(address)
        if found is None:
            raise EffectDivergence(
                {
                    "reason": "effect not in the recording",
                    "expected": None,
                    "actual": actual,
                }
            )
        if not found.matches(kind, name, request):
            raise EffectDivergence(
                {
                    "reason": "effect differs from the recording",
                    "expected": found.summary(),
                    "actual": actual,
                }
            )
        with self._lock:
            self.options.answered.add(address)
        if found.outcome != "ok":
            error = found.error or {}
            raise RecordedEffectError(
                f"{error.get('type', 'Error')}: {error.get('message', '')}"
            )
        return decode(found.response)
