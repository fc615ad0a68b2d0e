"""Running a compiled graph: invoke, stream (sync and async) and run().

Each entry point turns its keywords into one :class:`RunOptions` and hands that to
the run; ``invoke`` with a streaming mode reuses the same options for the stream.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from graphs._context import CURRENT
from graphs._exec import adrive, drive
from graphs._loop import Run
from graphs._options import Durability, RunOptions, node_names
from graphs._outbox import Chunk
from graphs.errors import GraphInterrupt
from graphs.types import RunResult

if TYPE_CHECKING:
    from graphs._task import Task
    from graphs.compiled import CompiledGraph

__all__ = ["RunAPI"]


def _ignore(unsupported: dict[str, Any]) -> None:
    """Warn about LangGraph options graphs does not have (rather than swallow them)."""
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        warnings.warn(
            f"not supported by graphs, ignored: {', '.join(given)}",
            UserWarning,
            stacklevel=3,
        )


def _options(
    *,
    durability: Durability,
    interrupt_before: str | Sequence[str] | None,
    interrupt_after: str | Sequence[str] | None,
    **more: Any,
) -> RunOptions:
    return RunOptions(
        durability=durability,
        interrupt_before=node_names(interrupt_before),
        interrupt_after=node_names(interrupt_after),
        **more,
    )


class RunAPI:
    """Mixin of :class:`~graphs.compiled.CompiledGraph` that runs the graph."""

    def _new_run(
        self, input: Any, config: dict[str, Any] | None, options: RunOptions
    ) -> Run:
        graph = cast("CompiledGraph", self)
        return Run(graph, input, graph.merged_config(config), options)

    def _stream(
        self, input: Any, config: dict[str, Any] | None, options: RunOptions
    ) -> Iterator[Any]:
        for chunk in drive(self._new_run(input, config, options)):
            yield _shape(chunk, options)

    async def _astream(
        self, input: Any, config: dict[str, Any] | None, options: RunOptions
    ) -> AsyncIterator[Any]:
        async for chunk in adrive(self._new_run(input, config, options)):
            yield _shape(chunk, options)

    def invoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        durability: Durability = "sync",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        **unsupported: Any,
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
        _ignore(unsupported)
        options = _options(
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        if stream_mode != "values":
            return list(self._stream(input, config, options.streaming(stream_mode)))
        task = _parent_task(config)
        if task is not None:  # inside a node: a child of the running graph
            child = cast("CompiledGraph", self).child_run(task, input, config, options)
            for _chunk in drive(child):
                pass
            return child_result(child)
        run = self._new_run(input, config, options)
        for _chunk in drive(run):
            pass
        return _final(run)

    async def ainvoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "values",
        durability: Durability = "sync",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        **unsupported: Any,
    ) -> Any:
        """Async :meth:`invoke`."""
        _ignore(unsupported)
        options = _options(
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        if stream_mode != "values":
            streaming = options.streaming(stream_mode)
            return [c async for c in self._astream(input, config, streaming)]
        task = _parent_task(config)
        if task is not None:  # inside a node: a child of the running graph
            child = cast("CompiledGraph", self).child_run(task, input, config, options)
            async for _chunk in adrive(child):
                pass
            return child_result(child)
        run = self._new_run(input, config, options)
        async for _chunk in adrive(run):
            pass
        return _final(run)

    def stream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        durability: Durability = "sync",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        **unsupported: Any,
    ) -> Iterator[Any]:
        """Stream chunks: one mode gives ``chunk``; several give ``(mode, chunk)``;
        with ``subgraphs=True`` a namespace tuple comes first."""
        _ignore(unsupported)
        options = _options(
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        ).streaming(stream_mode, subgraphs)
        return self._stream(input, config, options)

    def astream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        durability: Durability = "sync",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        **unsupported: Any,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        _ignore(unsupported)
        options = _options(
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        ).streaming(stream_mode, subgraphs)
        return self._astream(input, config, options)

    def run(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        durability: Durability = "sync",
        step_hook: Callable[[int], None] | None = None,
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        **unsupported: Any,
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
        _ignore(unsupported)
        options = _options(
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            step_hook=step_hook,
            trace=True,
            catch_errors=True,
        )
        run = self._new_run(input, config, options)
        for _chunk in drive(run):
            pass
        return RunResult(
            status=run.status,
            state=run.output(),
            interrupts=list(run.interrupts),
            trace=run.trace or [],
            checkpoint_id=run.checkpoint_id if run.saver is not None else None,
            error=run.error,
        )


def _parent_task(config: dict[str, Any] | None) -> Task | None:
    """The running task whose node invokes a graph (the graph then runs as its
    child), unless the call names a thread of its own: that run stays apart."""
    task = CURRENT.get()
    if task is None:
        return None
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    own = (task.run.config.get("configurable") or {}).get("thread_id")
    return task if thread is None or thread == own else None


def child_result(child: Run) -> Any:
    """A child run's output; its interrupts pause the parent's task."""
    if child.status == "interrupted":
        raise GraphInterrupt(child.interrupts)
    return child.output()


def _final(run: Run) -> Any:
    out = run.output()
    if run.status == "interrupted" and run.interrupts and isinstance(out, dict):
        out["__interrupt__"] = list(run.interrupts)
    return out


def _shape(chunk: Chunk, options: RunOptions) -> Any:
    ns, mode, payload = chunk
    if options.subgraphs:
        return (ns, payload) if options.single else (ns, mode, payload)
    return payload if options.single else (mode, payload)
