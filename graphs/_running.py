"""Running a compiled graph: invoke, stream (sync and async) and run().

Each entry point turns its keywords into one :class:`RunOptions` and hands that to
the run; ``invoke`` with a streaming mode reuses the same options for the stream.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from graphs._context import CURRENT
from graphs._events import EVENTS, EventFilter, EventStream, GraphEvents
from graphs._exec import adrive, drive
from graphs._loop import Run
from graphs._options import Durability, RunOptions, node_names
from graphs._outbox import Chunk, Outbox
from graphs.errors import GraphInterrupt
from graphs.runtime import coerce_context
from graphs.types import RunResult

if TYPE_CHECKING:
    from graphs._task import Task
    from graphs.compiled import CompiledGraph

__all__ = ["RunAPI"]


def _ignore(unsupported: dict[str, Any]) -> None:
    """Warn about LangGraph options graphs does not have (rather than swallow them)."""
    if not unsupported:
        return
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        warnings.warn(
            f"not supported by graphs, ignored: {', '.join(given)}",
            UserWarning,
            stacklevel=3,
        )


_DEFAULTS = RunOptions()


def _options(
    graph: Any,
    context: Any,
    *,
    durability: Durability,
    interrupt_before: str | Sequence[str] | None,
    interrupt_after: str | Sequence[str] | None,
    **more: Any,
) -> RunOptions:
    if (
        context is None
        and durability == "async"
        and interrupt_before is None
        and interrupt_after is None
        and not more
    ):  # every option at its default (the usual invoke): one shared object
        return _DEFAULTS
    return RunOptions(
        context=coerce_context(graph.builder.context_schema, context),
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
        return Run(graph, input, graph.merged_config(_at_root(config)), options)

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
        durability: Durability = "async",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        context: Any = None,
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
            durability: ``"async"`` (the default, as LangGraph's), ``"sync"`` or
                ``"exit"``.
            interrupt_before: Override the compiled breakpoints.
            interrupt_after: Override the compiled breakpoints.
            context: The run's context (``Runtime.context`` of its nodes); a dict
                for a dataclass or pydantic ``context_schema`` becomes one.

        Returns:
            The final state; with ``"__interrupt__"`` when the run paused.
        """
        _ignore(unsupported)
        options = _options(
            self,
            context,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        if stream_mode != "values":
            return list(self._stream(input, config, options.streaming(stream_mode)))
        task = _parent_task(config)
        if task is not None:  # inside a node: a child of the running graph
            child = _invoked_child(self, task, input, config, options)
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
        durability: Durability = "async",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        context: Any = None,
        **unsupported: Any,
    ) -> Any:
        """Async :meth:`invoke`."""
        _ignore(unsupported)
        options = _options(
            self,
            context,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        if stream_mode != "values":
            streaming = options.streaming(stream_mode)
            return [c async for c in self._astream(input, config, streaming)]
        task = _parent_task(config)
        if task is not None:  # inside a node: a child of the running graph
            child = _invoked_child(self, task, input, config, options)
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
        durability: Durability = "async",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        context: Any = None,
        **unsupported: Any,
    ) -> Iterator[Any]:
        """Stream chunks: one mode gives ``chunk``; several give ``(mode, chunk)``;
        with ``subgraphs=True`` a namespace tuple comes first."""
        _ignore(unsupported)
        options = _options(
            self,
            context,
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
        durability: Durability = "async",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        context: Any = None,
        **unsupported: Any,
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        _ignore(unsupported)
        options = _options(
            self,
            context,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        ).streaming(stream_mode, subgraphs)
        return self._astream(input, config, options)

    async def astream_events(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        version: str = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        stream_mode: str | Sequence[str] = "updates",
        subgraphs: bool = False,
        durability: Durability = "async",
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        context: Any = None,
        **unsupported: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream LangChain's v2 run events of the graph, its nodes, its
        subgraphs and the LangChain chat models its nodes call.

        Each event is ``{"event", "data", "name", "tags", "run_id", "metadata",
        "parent_ids"}``: ``on_chain_start`` / ``on_chain_stream`` /
        ``on_chain_end`` for the graph (its stream chunks, in ``stream_mode``)
        and each node, ``on_chat_model_start`` / ``_stream`` / ``_end`` for a
        chat model.

        Args:
            input: As for :meth:`astream`.
            config: As for :meth:`astream`.
            version: ``"v2"`` (the only version).
            include_names: Only runs with these names (or another include).
            include_types: Only runs of these types (``chain``, ``chat_model``).
            include_tags: Only runs with one of these tags.
            exclude_names: Not runs with these names.
            exclude_types: Not runs of these types.
            exclude_tags: Not runs with one of these tags.
            stream_mode: The graph's chunks in its ``on_chain_stream`` events.
            subgraphs: Chunks of subgraphs too, with their namespace.
            durability: As for :meth:`astream`.
            interrupt_before: As for :meth:`astream`.
            interrupt_after: As for :meth:`astream`.

        Raises:
            NotImplementedError: For a version other than ``"v2"``.
        """
        if version != "v2":
            raise NotImplementedError('astream_events supports version="v2" only')
        _ignore(unsupported)
        keep = EventFilter(
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )
        feed = _EventFeed(
            self,
            input,
            config,
            _options(
                self,
                context,
                durability=durability,
                interrupt_before=interrupt_before,
                interrupt_after=interrupt_after,
            ).streaming(stream_mode, subgraphs),
            keep,
        )
        for event in feed.start():
            yield event
        async for chunk in adrive(feed.run):
            for event in feed.chunk(chunk):
                yield event
        for event in feed.end():
            yield event

    def _events_run(
        self,
        input: Any,
        config: dict[str, Any] | None,
        options: RunOptions,
        on_chunk: Callable[[tuple[str, ...], str, Any], None],
    ) -> Run:
        """:meth:`run` with its events: the stream's chunks and the events
        between them go to ``on_chunk`` in the order they happen."""
        feed = _EventFeed(self, input, config, options, EventFilter())
        for event in feed.start():
            on_chunk((), EVENTS, event)
        for chunk in drive(feed.run):
            if chunk[1] != EVENTS:
                on_chunk(*chunk)
            for event in feed.chunk(chunk):
                on_chunk((), EVENTS, event)
        if feed.run.error is None:  # a failed run ends no chain, as LangChain's
            for event in feed.end():
                on_chunk((), EVENTS, event)
        return feed.run

    def stream_events(
        self, input: Any, config: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Not supported, as in LangGraph (LangChain has no synchronous v1/v2
        event stream): use :meth:`astream_events`.

        Raises:
            NotImplementedError: Always.
        """
        version = kwargs.get("version", "v2")
        raise NotImplementedError(  # LangChain's message for v1/v2
            f"stream_events(version={version!r}) is not supported. Use "
            "astream_events() for v1/v2, or stream_events(version='v3') on a "
            "supported subclass."
        )

    def run(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        durability: Durability = "async",
        step_hook: Callable[[int], None] | None = None,
        interrupt_before: str | Sequence[str] | None = None,
        interrupt_after: str | Sequence[str] | None = None,
        stream_mode: Sequence[str] = (),
        subgraphs: bool = False,
        on_chunk: Callable[[tuple[str, ...], str, Any], None] | None = None,
        events: bool = False,
        context: Any = None,
        **unsupported: Any,
    ) -> RunResult:
        """Run for the runtime: never raises for a node failure.

        Args:
            input: Input dict, ``None`` (continue from the checkpoint) or
                ``Command(resume=...)``.
            config: Thread config.
            durability: ``"async"`` (the default, as LangGraph's), ``"sync"`` or
                ``"exit"``.
            step_hook: Called with the step number after each superstep's checkpoint
                is committed, before the next superstep; what it raises propagates
                unchanged and the engine writes nothing more.
            interrupt_before: Override the compiled breakpoints.
            interrupt_after: Override the compiled breakpoints.
            stream_mode: Modes streamed to ``on_chunk`` while the run goes.
            subgraphs: Subgraphs' chunks too (with their namespace).
            on_chunk: Called with ``(namespace, mode, payload)`` for each chunk.
            events: Also give ``on_chunk`` the run's :meth:`astream_events` (v2)
                events, as chunks of mode ``"events"`` with namespace ``()``.
            context: The run's context, as for :meth:`invoke`.

        Returns:
            A :class:`RunResult` (``completed``, ``interrupted`` or ``failed``).
        """
        _ignore(unsupported)
        options = _options(
            self,
            context,
            durability=durability,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            step_hook=step_hook,
            trace=True,
            catch_errors=True,
        )
        if stream_mode and on_chunk is not None:
            options = options.streaming(list(stream_mode), subgraphs)
        if events and on_chunk is not None:
            run = self._events_run(input, config, options, on_chunk)
        else:
            run = self._new_run(input, config, options)
            for chunk in drive(run):
                if on_chunk is not None:
                    on_chunk(*chunk)
        return RunResult(
            status=run.status,
            state=run.output(),
            interrupts=list(run.interrupts),
            trace=run.trace or [],
            checkpoint_id=run.checkpoint_id if run.saver is not None else None,
            error=run.error,
        )


class _EventFeed:
    """The events of one run of ``graph``: its graph-level ``on_chain_*`` events
    around the chunks its engine streams, and the nodes' events among them."""

    def __init__(
        self,
        graph: RunAPI,
        input: Any,
        config: dict[str, Any] | None,
        options: RunOptions,
        keep: EventFilter,
    ) -> None:
        out = Outbox()
        self.options = replace(options, events=EventStream(out, keep))
        self.run = run = graph._new_run(input, config, self.options)
        run.out = out
        assert self.options.events is not None
        self.events = run.events = GraphEvents.root(self.options.events, run.config)
        self.input = input
        self.first = _FirstEvent(input)
        self.name = cast("CompiledGraph", graph).name

    def _taken(self) -> list[dict[str, Any]]:
        return [self.first.shown(chunk[2]) for chunk in self.run.out.take()]

    def start(self) -> list[dict[str, Any]]:
        self.events.graph("start", self.name, {"input": self.input})
        return self._taken()

    def chunk(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The events ``chunk`` (a driven chunk) is or brings."""
        if chunk[1] == EVENTS:
            return [self.first.shown(chunk[2])]
        shaped = _shape(chunk, self.options)
        self.events.graph("stream", self.name, {"chunk": shaped})
        return self._taken()

    def end(self) -> list[dict[str, Any]]:
        # the state, without the pause's interrupts (as in LangGraph)
        self.events.graph("end", self.name, {"output": self.run.output()})
        return self._taken()


class _FirstEvent:
    """LangChain's rule for the first event ``astream_events`` yields: its
    input is the call's input, and its run's end event carries none."""

    def __init__(self, input: Any) -> None:
        self.input = input
        self.run_id: str | None = None

    def shown(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.run_id is None:
            self.run_id = event["run_id"]
            return {**event, "data": {**event["data"], "input": self.input}}
        if event["run_id"] == self.run_id and event["event"].endswith("_end"):
            data = {k: v for k, v in event["data"].items() if k != "input"}
            return {**event, "data": data}
        return event


def _at_root(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A subgraph's config (a snapshot's, with ``checkpoint_ns`` and LangGraph's
    ``checkpoint_map``) runs the root graph from the root checkpoint it maps,
    as LangGraph does; the run re-enters the subgraph from there."""
    conf = (config or {}).get("configurable") or {}
    if not conf.get("checkpoint_ns"):
        return config
    root = {
        k: v for k, v in conf.items() if k not in ("checkpoint_ns", "checkpoint_map")
    }
    root.pop("checkpoint_id", None)
    mapped = (conf.get("checkpoint_map") or {}).get("")
    if mapped:
        root["checkpoint_id"] = mapped
    return {**(config or {}), "configurable": root}


def _parent_task(config: dict[str, Any] | None) -> Task | None:
    """The running task whose node invokes a graph (the graph then runs as its
    child), unless the call names a thread of its own: that run stays apart."""
    task = CURRENT.get()
    if task is None:
        return None
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    own = (task.run.config.get("configurable") or {}).get("thread_id")
    return task if thread is None or thread == own else None


def _invoked_child(
    graph: Any,
    task: Task,
    input: Any,
    config: dict[str, Any] | None,
    options: RunOptions,
) -> Run:
    """The run of a graph a node invokes (LangGraph does not stream its nodes)."""
    child: Run = cast("CompiledGraph", graph).child_run(task, input, config, options)
    if child.events is not None:
        child.events.streamed = False
    return child


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
