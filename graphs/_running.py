"""Running a compiled graph: invoke, stream (sync and async) and run()."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from graphs._exec import adrive, drive
from graphs._loop import Run
from graphs.types import RunResult

if TYPE_CHECKING:
    from graphs.compiled import CompiledGraph

__all__ = ["RunAPI"]

_MODES = ("values", "updates", "custom", "messages", "debug")


class RunAPI:
    """Mixin of :class:`~graphs.compiled.CompiledGraph` that runs the graph."""

    def _run(
        self: CompiledGraph, input: Any, config: dict[str, Any] | None, **kw: Any
    ) -> Run:
        return Run(self, input, self.merged_config(config), **kw)

    def invoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        durability: str = "sync",
        interrupt_before: Sequence[str] | None = None,
        interrupt_after: Sequence[str] | None = None,
        **_: Any,
    ) -> Any:
        """Run the graph to completion or to an interrupt.

        Args:
            input: Input dict, ``None`` to continue from the checkpoint, or
                ``Command(resume=...)``.
            config: ``{"configurable": {"thread_id", "checkpoint_id"},
                "recursion_limit": N}``.
            stream_mode: ``"values"`` returns the final state; other modes return
                the list of chunks.
            durability: ``"sync"``, ``"async"`` or ``"exit"``.
            interrupt_before: Override the compiled breakpoints.
            interrupt_after: Override the compiled breakpoints.

        Returns:
            The final state; with ``"__interrupt__"`` when the run paused.
        """
        if stream_mode != "values":
            return list(
                self.stream(
                    input,
                    config,
                    stream_mode=stream_mode,
                    durability=durability,
                    interrupt_before=interrupt_before,
                    interrupt_after=interrupt_after,
                )
            )
        run = self._run(
            input,
            config,
            durability=durability,
            interrupt_before=_opt(interrupt_before),
            interrupt_after=_opt(interrupt_after),
        )
        for _ in drive(run):
            pass
        return _final(run)

    async def ainvoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        durability: str = "sync",
        interrupt_before: Sequence[str] | None = None,
        interrupt_after: Sequence[str] | None = None,
        **_: Any,
    ) -> Any:
        """Async :meth:`invoke`."""
        if stream_mode != "values":
            return [
                c
                async for c in self.astream(
                    input, config, stream_mode=stream_mode, durability=durability
                )
            ]
        run = self._run(
            input,
            config,
            durability=durability,
            interrupt_before=_opt(interrupt_before),
            interrupt_after=_opt(interrupt_after),
        )
        async for _ in adrive(run):
            pass
        return _final(run)

    def stream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        durability: str = "sync",
        interrupt_before: Sequence[str] | None = None,
        interrupt_after: Sequence[str] | None = None,
        **_: Any,
    ) -> Iterator[Any]:
        """Stream chunks: one mode gives ``chunk``; several give ``(mode, chunk)``;
        with ``subgraphs=True`` a namespace tuple comes first."""
        modes, single = _streams(stream_mode)
        run = self._run(
            input,
            config,
            modes=modes,
            durability=durability,
            stream_subgraphs=subgraphs,
            interrupt_before=_opt(interrupt_before),
            interrupt_after=_opt(interrupt_after),
        )
        for ns, mode, payload in drive(run):
            yield _shape(ns, mode, payload, single, subgraphs)

    async def astream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        durability: str = "sync",
        interrupt_before: Sequence[str] | None = None,
        interrupt_after: Sequence[str] | None = None,
        **_: Any,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        modes, single = _streams(stream_mode)
        run = self._run(
            input,
            config,
            modes=modes,
            durability=durability,
            stream_subgraphs=subgraphs,
            interrupt_before=_opt(interrupt_before),
            interrupt_after=_opt(interrupt_after),
        )
        async for ns, mode, payload in adrive(run):
            yield _shape(ns, mode, payload, single, subgraphs)

    def run(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        durability: str = "sync",
        step_hook: Callable[[int], None] | None = None,
        interrupt_before: Sequence[str] | None = None,
        interrupt_after: Sequence[str] | None = None,
        **_: Any,
    ) -> RunResult:
        """Run for the runtime: never raises for a node failure.

        Args:
            input: Input dict, ``None`` (continue from the checkpoint) or
                ``Command(resume=...)``.
            config: Thread config.
            durability: ``"sync"``, ``"async"`` or ``"exit"``.
            step_hook: Called with the step number after each superstep's checkpoint
                is committed, before the next superstep; what it raises propagates
                unchanged and the engine writes nothing more.
            interrupt_before: Override the compiled breakpoints.
            interrupt_after: Override the compiled breakpoints.

        Returns:
            A :class:`RunResult` (``completed``, ``interrupted`` or ``failed``).
        """
        trace: list[dict[str, Any]] = []
        run = self._run(
            input,
            config,
            durability=durability,
            step_hook=step_hook,
            trace=trace,
            catch_errors=True,
            interrupt_before=_opt(interrupt_before),
            interrupt_after=_opt(interrupt_after),
        )
        for _ in drive(run):
            pass
        return RunResult(
            status=run.status,  # type: ignore[arg-type]
            state=run.output(),
            interrupts=list(run.interrupts),
            trace=trace,
            checkpoint_id=run.checkpoint_id if run.saver is not None else None,
            error=run.error,
        )


def _streams(stream_mode: str | Sequence[str]) -> tuple[frozenset[str], bool]:
    single = isinstance(stream_mode, str)
    modes = (stream_mode,) if isinstance(stream_mode, str) else tuple(stream_mode)
    for mode in modes:
        if mode not in _MODES:
            raise ValueError(f"unknown stream_mode {mode!r}; expected one of {_MODES}")
    return frozenset(modes), single


def _final(run: Run) -> dict[str, Any]:
    out = run.output()
    if run.status == "interrupted" and run.interrupts:
        out["__interrupt__"] = list(run.interrupts)
    return out


def _opt(names: Sequence[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    return (names,) if isinstance(names, str) else tuple(names)


def _shape(
    ns: tuple[str, ...], mode: str, payload: Any, single: bool, sub: bool
) -> Any:
    if sub:
        return (ns, payload) if single else (ns, mode, payload)
    return payload if single else (mode, payload)
