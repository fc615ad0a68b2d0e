"""The superstep loop, written once as a generator for the sync and async drivers.

The loop never runs a node or touches a saver itself: it yields requests
(``RUN`` tasks, ``GET``/``PUT``/``WRITES`` to the saver, ``CHUNKS`` to stream) and the
driver in :mod:`graphs._exec` answers them, synchronously or with ``await``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from graphs._caching import cache_lookup, cache_store
from graphs._commit import build_checkpoint, checkpoint_payload, debug_checkpoint
from graphs._context import _NO_RESUME
from graphs._effects import EffectLedger, ledger_for
from graphs._events import GraphEvents, graph_events
from graphs._handlers import failure_row, swap_handled
from graphs._options import RunOptions, StreamMode
from graphs._outbox import LIVE_MODES, Outbox
from graphs._requests import Req, Request
from graphs._resume import debug_task, emit_update, message_ids
from graphs._start import Replay, start
from graphs._task import Task, by_path
from graphs.channels import ROOT, apply_writes
from graphs.checkpoint.base import checkpoint_config, config_thread_id
from graphs.checkpoint.format import (
    ERROR,
    INTERRUPT,
    RESUME,
    new_checkpoint_id,
)
from graphs.errors import (
    GraphRecursionError,
    InvalidUpdateError,
    ParentCommand,
    describe,
    error_row,
)
from graphs.instrumentation import (
    Handoff,
    Listener,
    get_listener,
    superstep_start_of,
)
from graphs.types import END, Interrupt, RunStatus, Send

if TYPE_CHECKING:
    from graphs.cache.base import BaseCache
    from graphs.compiled import CompiledGraph

DEFAULT_RECURSION_LIMIT = 25
_DEFAULT = RunOptions()
_NULL_LOCK = threading.Lock()
"""Guards taking a run's resume value (held for one swap: one lock for all runs)."""


class Run:
    """One invocation of a compiled graph (see :meth:`steps`)."""

    def __init__(
        self,
        graph: CompiledGraph,
        input: Any,
        config: dict[str, Any] | None,
        options: RunOptions = _DEFAULT,
        parent: Task | None = None,
    ) -> None:
        self.graph = graph
        self.input = input
        self.config: dict[str, Any] = config or {}
        conf = self.config.get("configurable") or {}
        self.options = options
        modes = self.modes = options.modes
        self.durability = options.durability
        before, after = options.interrupt_before, options.interrupt_after
        self.before = graph.interrupt_before if before is None else before
        self.after = graph.interrupt_after if after is None else after
        self.step_hook = options.step_hook
        self.trace: list[dict[str, Any]] | None = [] if options.trace else None
        self.catch_errors = options.catch_errors
        self.parent = parent
        stream_subgraphs = options.subgraphs
        self.stream_subgraphs = stream_subgraphs
        self.saver = graph.resolve_saver(parent)
        # a subgraph uses its own cache, as in LangGraph (none is inherited)
        self.cache: BaseCache[Any] | None = graph.cache
        # one ledger for a root run and its subgraphs
        self.effects: EffectLedger | None = None
        if parent is not None:
            self.effects = parent.run.effects
        elif self.saver is not None or "effects" in self.config:
            self.effects = ledger_for(self.saver, self.config)
        self.thread_id = config_thread_id(self.config) if self.saver else ""
        self.ns: str = conf.get("checkpoint_ns") or ""
        self.stream_ns: tuple[str, ...] = tuple(self.ns.split("|")) if self.ns else ()
        self.out: Outbox = (
            parent.run.out if parent is not None and stream_subgraphs else Outbox()
        )
        # chunks that nodes (and subgraphs) write reach a streaming caller while
        # the nodes run
        self.live = parent is None and (
            not LIVE_MODES.isdisjoint(modes)
            or options.events is not None
            or (stream_subgraphs and bool(modes))
        )
        self.events: GraphEvents | None = (
            None if options.events is None else graph_events(self)
        )
        # ids of messages already on the ``messages`` stream (shared like ``out``)
        self.streamed: set[Any] = (
            parent.run.streamed if parent is not None and stream_subgraphs else set()
        )
        self.recursion_limit = int(
            self.config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
        )
        limit = self.config.get("max_concurrency")
        self.max_concurrency: int | None = None if limit is None else int(limit)
        self.values: dict[str, Any] = {}
        # what reducers prepared, kept for their next merge (graphs.messages)
        self.memo: dict[str, Any] = {}
        self.versions: dict[str, str] = {}
        self.barriers: dict[str, set[str]] = {}
        self.deferred: set[str] = set()
        self.chain: dict[str, list[Any]] = {}
        self.step = -1
        self.checkpoint_id: str = ""
        self.parent_config: dict[str, Any] | None = None
        self.saved_config: dict[str, Any] | None = None
        self.unsaved: dict[str, str] = {}
        self.pending_put: tuple[Any, ...] | None = None
        self.null_resume: Any = _NO_RESUME
        self.stop = 0  # the last step this run may run (set by _start)
        # a replay of the root: stateful subgraphs start from their checkpoint
        # as of the replayed one (shared by every run below the root)
        self.replay: Replay | None = None if parent is None else parent.run.replay
        # LangGraph's checkpoint_map: the checkpoint each graph above runs from,
        # recorded as a subgraph checkpoint's `parents`
        self.parents: dict[str, str] = (
            {}
            if parent is None or self.saver is None
            else {**parent.run.parents, parent.run.ns: parent.run.checkpoint_id}
        )
        self._resumed = False
        # the superstep being committed: what ran, changed and comes next
        self._ran: list[Task] = []
        self._dirty: set[str] = set()
        self._updated: list[str] = []
        self._prev: dict[str, Any] | None = None
        self._last: list[str] = []
        self._next: list[Task] = []
        self.status: RunStatus = "completed"
        self.interrupts: list[Interrupt] = []
        self.error: BaseException | None = None

    # -- helpers -----------------------------------------------------------------

    def take_null_resume(self) -> Any:
        """Consume the run-level resume value (first ``interrupt()`` wins)."""
        if self.null_resume is _NO_RESUME:
            return _NO_RESUME
        with _NULL_LOCK:
            value, self.null_resume = self.null_resume, _NO_RESUME
        return value

    def read_state(self) -> Any:
        """The state passed to a node (a fresh dict, or the schema instance)."""
        factory = self.graph.state_factory
        return dict(self.values) if factory is None else factory(self.values)

    def event(self, kind: str, **data: Any) -> None:
        """Append a trace event (only when tracing)."""
        if self.trace is not None:
            self.trace.append({"kind": kind, "step": self.step + 1, **data})

    def emit(self, mode: StreamMode, payload: Any) -> None:
        """Queue a stream chunk if ``mode`` was requested."""
        if mode in self.modes:
            self.out.put((self.stream_ns, mode, payload))

    def stream_message(self, message: Any, metadata: dict[str, Any]) -> None:
        """Queue a ``messages`` chunk written by a node while it runs."""
        message_id = getattr(message, "id", None)
        if message_id is not None:
            self.streamed.add(message_id)
        self.out.put((self.stream_ns, "messages", (message, metadata)))

    def _thread_config(self) -> dict[str, Any]:
        conf = self.config.get("configurable") or {}
        return {**conf, "checkpoint_ns": self.ns}

    # -- the loop ----------------------------------------------------------------

    def steps(self) -> Generator[Request, Any, None]:
        """Run the graph; a generator of requests answered by a driver."""
        tasks = yield from start(self)
        first = True
        while True:
            # checked before looking for tasks: like LangGraph, a run that needs
            # all its steps still fails when the step after them is out of bounds
            if self.step >= self.stop:
                raise GraphRecursionError(
                    f"Recursion limit of {self.recursion_limit} reached without "
                    "hitting a stop condition. You can increase the limit by setting "
                    "the `recursion_limit` config key."
                )
            if not tasks:
                break
            if (
                self.before
                and not (first and self._resumed)
                and self._breakpoint(tasks, self.before)
            ):
                yield from self._pause([])
                return
            first = False
            listener = get_listener()
            handle = None if listener is None else self._observe(listener, tasks)
            if listener is None or handle is None:
                following = yield from self._superstep(tasks, None)
            else:  # told of the superstep's end here: no generator around it
                if type(handle) is Handoff:  # observed by another listener
                    listener, handle = handle
                try:
                    following = yield from self._superstep(tasks, (listener, handle))
                except BaseException as exc:
                    listener.superstep_end(handle, error=exc, interrupted=False)
                    raise
                interrupted = self.status == "interrupted"
                listener.superstep_end(
                    handle, error=self.error, interrupted=interrupted
                )
            if following is None:
                return
            tasks = following
        if self.out.chunks:  # a finished thread continued with no input: its values
            yield Req.CHUNKS, self._drain()
        if self.saver is not None:
            yield from self._flush_exit()

    def _superstep(
        self, tasks: list[Task], handle: Any
    ) -> Generator[Request, Any, list[Task] | None]:
        """Runs one superstep; returns the next one's tasks, ``None`` once the
        run stopped (failed or paused)."""
        # a restored task's writes are ready; the input task may still have
        # conditional edges to run
        todo = [t for t in tasks if not t.restored or t.node.branches and t.hidden]
        if "debug" in self.modes or "tasks" in self.modes:
            for t in tasks:  # restored ones too, as LangGraph streams them
                if not t.hidden:
                    event = debug_task(self, "task", t)
                    self.emit("tasks", event["payload"])
                    self.emit("debug", event)
        misses = None
        if self.cache is not None:  # cache hits are restored (graphs._caching)
            misses = cache_lookup(self, todo)
            todo = [t for t in todo if not t.cached]
        if todo:
            if handle is not None:
                for t in todo:
                    t.observer = handle
            yield Req.RUN, todo
            if misses:
                cache_store(self, misses)
            if self.graph.error_handlers:  # handled failures: their handlers
                tasks = swap_handled(self, tasks)
        for t in tasks:
            if t.error is not None or t.interrupts is not None and not t.restored:
                # a task failed or paused: settled (and the run stopped) there
                if (yield from self._settle(tasks)):
                    return None
                break
        tasks = self._advance(tasks)
        if self.saver is not None:
            yield from self._commit("loop")
        if self.out.chunks:
            yield Req.CHUNKS, self._drain()
        if self.step_hook is not None:
            yield Req.HOOK, (self.step_hook, self.step)
        if self.after and self._breakpoint(self._ran, self.after):
            yield from self._pause([])
            return None
        return tasks

    def _observe(self, listener: Listener, tasks: list[Task]) -> Any:
        """The listener's handle of the superstep about to run (``None``: not
        observed, nothing more to tell)."""
        if len(tasks) == 1:  # most supersteps: no comprehension's frame
            nodes: tuple[str, ...] = () if tasks[0].hidden else (tasks[0].name,)
        else:
            nodes = tuple([t.name for t in tasks if not t.hidden])
        start = superstep_start_of(
            self.graph.name, self.thread_id, self.ns, self.step + 1, nodes
        )
        return listener.superstep_start(start)

    def _breakpoint(self, tasks: list[Task], names: tuple[str, ...]) -> bool:
        if not names:
            return False
        star = "*" in names
        return any((star or t.name in names) and not t.hidden for t in tasks)

    def _drain(self) -> list[Any]:
        if self.parent is not None and self.stream_subgraphs:
            # ``out`` is the parent's list: the parent's driver yields it (swapping
            # it here would hand the chunks to the subgraph's driver, which drops them)
            return []
        return self.out.take()

    def apply_null_writes(self, writes: list[tuple[str, Any]]) -> None:
        """Apply writes of no task to the loaded values (stored in full next)."""
        channels = self.graph.channels
        self._dirty.update(apply_writes(self.values, channels, writes, self.memo))

    def _load(self, saved: Any) -> None:
        cp = saved.checkpoint
        values = self.graph.initial_values()
        values.update(cp.get("channel_values") or {})
        self.values = {k: values[k] for k in self.graph.channels if k in values}
        self.versions = dict(cp.get("channel_versions") or {})
        self.barriers = {k: set(v) for k, v in (cp.get("barriers") or {}).items()}
        self.deferred = set(cp.get("deferred") or ())
        self.chain = {k: list(v) for k, v in (cp.get("chain") or {}).items()}
        self.checkpoint_id = cp["id"]
        self.step = int((saved.metadata or {}).get("step", -1))
        self.parent_config = saved.config
        self.saved_config = saved.config

    # -- settle a superstep ------------------------------------------------------

    def _settle(self, tasks: list[Task]) -> Generator[Request, Any, bool]:
        """Record results; on failure or interrupt persist what finished."""
        errors = [t for t in tasks if t.error is not None]
        paused = [
            t
            for t in tasks
            if t.interrupts is not None and not t.restored and not t.error
        ]
        if not errors and not paused:
            return False
        if "updates" in self.modes or "messages" in self.modes:
            # the tasks that finished are streamed, as LangGraph streams each task
            # when it ends (again, marked cached, when the superstep is resumed)
            for t in sorted(tasks, key=by_path):
                if not t.restored and t.interrupts is None and t.error is None:
                    emit_update(self, t)
        if "debug" in self.modes or "tasks" in self.modes:
            # like LangGraph, every task of the superstep reports how it ended
            for t in sorted(tasks, key=by_path):
                if not t.restored and not t.hidden:
                    event = debug_task(self, "task_result", t, self.step + 1)
                    self.emit("tasks", event["payload"])
                    self.emit("debug", event)
        if self.saver is not None:
            yield from self._flush_exit(force=True)
            cfg = checkpoint_config(self.thread_id, self.ns, self.checkpoint_id)
            for t in tasks:
                if t.restored and not t.cached:  # cache hits are stored
                    continue
                rows: list[tuple[str, Any]]
                if t.error is not None:
                    rows = [(ERROR, error_row(t.error))]
                elif t.interrupts is not None:
                    rows = [(INTERRUPT, list(t.interrupts))]
                    if t.resume_values:
                        rows.append((RESUME, list(t.resume_values)))
                else:
                    rows = t.stored_writes()
                yield Req.WRITES, (cfg, rows, t.id)
                if t.failed is not None:  # a resume runs its handler, not the node
                    yield Req.WRITES, (cfg, [(ERROR, failure_row(t))], t.failed.id)
        if self.out:
            yield Req.CHUNKS, self._drain()
        if errors:
            # the error that cancelled its siblings, not their cancellation
            errors.sort(key=lambda t: isinstance(t.error, asyncio.CancelledError))
            error = errors[0].error
            assert error is not None
            if isinstance(error, asyncio.CancelledError):
                raise error  # the run was cancelled: never a result
            if isinstance(error, ParentCommand) and self.parent is None:
                error = InvalidUpdateError("Command.PARENT used outside a subgraph")
            self.status, self.error = "failed", error
            self.event("error", node=errors[0].name, error=describe(error))
            if not self.catch_errors:
                raise error
            return True
        # like LangGraph, the caller sees the writes of the tasks that finished
        # (the checkpoint keeps them as pending writes until the resume)
        done = [t for t in tasks if t.interrupts is None and t.writes]
        if done:
            self.values = dict(self.values)
            writes = [w for t in sorted(done, key=by_path) for w in t.writes]
            apply_writes(self.values, self.graph.channels, writes, self.memo)
        ordered = sorted(paused, key=by_path)
        yield from self._pause([t.interrupts or () for t in ordered])
        return True

    def _pause(
        self, groups: list[tuple[Interrupt, ...]]
    ) -> Generator[Request, Any, None]:
        """Pause with the interrupts of each paused task (none: a breakpoint)."""
        yield from self._flush_exit()
        self.status = "interrupted"
        interrupts = self.interrupts = [i for group in groups for i in group]
        if "updates" in self.modes:  # like LangGraph, one chunk per paused task
            for group in groups or [()]:
                self.emit("updates", {"__interrupt__": group})
        if "values" in self.modes and interrupts:
            # like LangGraph: the state with the interrupts (a root value: only them)
            chunk = {} if self.graph.root else self.streamed_values()
            chunk["__interrupt__"] = tuple(interrupts)
            self.emit("values", chunk)
        if self.out:
            yield Req.CHUNKS, self._drain()

    # -- advance: apply writes, plan the next superstep ---------------------------

    def _advance(self, tasks: list[Task]) -> list[Task]:
        graph = self.graph
        channels = graph.channels
        saver = self.saver
        if "messages" in self.modes:
            for t in tasks:
                t.id  # noqa: B018 - pin the id (its metadata) before a new checkpoint id
        prev = dict(self.values) if saver is not None else None
        dirty = self._dirty
        if dirty and prev is not None:  # changed by writes of no task: no delta
            for ch in dirty:
                prev.pop(ch, None)
        view = tasks[0].view if len(tasks) == 1 else None
        if view is not None:
            task = tasks[0]
            self.values = view
            updated = [
                c for c in dict.fromkeys(c for c, _ in task.writes) if c in channels
            ]
        else:
            if len(tasks) > 1:
                # LangGraph's order: by task path, independent of builder order
                # and timing (pulled nodes by name, then Sends by position)
                tasks = sorted(tasks, key=by_path)
            writes = [w for t in tasks for w in t.writes]
            updated = (
                apply_writes(self.values, channels, writes, self.memo) if writes else []
            )
        if dirty:
            updated = list(dict.fromkeys([*dirty, *updated]))
            self._dirty = set()
        self._ran = tasks
        if saver is not None:
            self.checkpoint_id = new_checkpoint_id()
            self._updated = updated
            self._prev = prev
            self._last = [t.name for t in tasks]
        else:
            self.checkpoint_id = ""  # task and interrupt ids stay unique per step
        self.step += 1
        if self.modes:
            self._stream_step(tasks, updated)
        return self._plan(tasks)

    def _stream_step(self, tasks: list[Task], updated: list[str]) -> None:
        """Queue the chunks of the superstep that just ended."""
        shown = [t for t in tasks if not t.hidden]
        if "updates" in self.modes or "messages" in self.modes:
            # tasks restored from pending writes come first, as LangGraph
            # re-emits them before the superstep runs
            shown.sort(key=lambda t: not t.restored)
            for t in shown:
                if not t.cached:  # a cache hit streamed its writes when found
                    emit_update(self, t)
        if "messages" in self.modes and len(shown) < len(tasks):
            self.streamed.update(message_ids(self.values))  # the input's messages
        if "debug" in self.modes or "tasks" in self.modes:
            for t in shown:
                if t.restored:
                    continue
                event = debug_task(self, "task_result", t)
                self.emit("tasks", event["payload"])
                self.emit("debug", event)
        if "values" in self.modes and updated:  # like LangGraph: if it wrote
            self.emit("values", self.streamed_values())

    def _plan(self, tasks: list[Task]) -> list[Task]:
        graph = self.graph
        triggered: set[str] = set()
        sends: list[Send] = []
        touched: set[int] = set()
        for t in tasks:
            node = t.node
            triggered.update(node.edges)
            if t.gotos:
                triggered.update(t.gotos)
            if t.sends:
                sends.extend(t.sends)
            for j in node.joins:
                key = graph.join_keys[j]
                self.barriers.setdefault(key, set()).add(t.name)
                touched.add(j)
        for j in touched:
            key = graph.join_keys[j]
            sources, target = graph.joins[j]
            if self.barriers[key].issuperset(sources):
                del self.barriers[key]
                triggered.add(target)
        triggered.discard(END)
        if graph.deferred_nodes:
            late = triggered & graph.deferred_nodes
            if late:
                self.deferred |= late
                triggered -= late
            if not triggered and not sends and self.deferred:
                triggered, self.deferred = self.deferred, set()
        nxt = [
            Task(self, graph.node_runtime(s.node), i, True, s.arg)
            for i, s in enumerate(sends)
        ]
        if triggered:
            base = len(nxt)
            order = graph.node_order
            names = (
                sorted(triggered, key=order.__getitem__)
                if len(triggered) > 1
                else triggered
            )
            for i, name in enumerate(names):
                nxt.append(Task(self, graph.nodes_rt[name], base + i, False, None))
        self._next = nxt
        return nxt

    # -- checkpoints ---------------------------------------------------------------

    def _commit(self, source: str) -> Generator[Request, Any, None]:
        if self.saver is None:
            return
        exit_mode = self.durability == "exit"
        checkpoint, new_versions = build_checkpoint(self, exit_mode)
        metadata = {"source": source, "step": self.step, "parents": self.parents}
        parent = self.saved_config or {
            "configurable": {"thread_id": self.thread_id, "checkpoint_ns": self.ns}
        }
        put = (parent, checkpoint, metadata, new_versions)
        self.parent_config = checkpoint_config(
            self.thread_id, self.ns, checkpoint["id"]
        )
        if "debug" in self.modes or "checkpoints" in self.modes:
            self.emit_checkpoint(
                metadata, None if self.saved_config is None else parent
            )
        if exit_mode:
            self.pending_put = put
            self.unsaved = new_versions
            return
        self.saved_config = self.parent_config
        yield (Req.PUT_BG if self.durability == "async" else Req.PUT), put

    def emit_checkpoint(
        self,
        metadata: dict[str, Any],
        parent_config: dict[str, Any] | None,
        config: dict[str, Any] | None = None,
        tasks: list[Task] | None = None,
    ) -> None:
        """Queue LangGraph's checkpoint event (``checkpoints`` and ``debug``)."""
        payload = checkpoint_payload(self, metadata, parent_config, config, tasks)
        self.emit("checkpoints", payload)
        if "debug" in self.modes:
            self.emit("debug", debug_checkpoint(payload))

    def _flush_exit(self, force: bool = False) -> Generator[Request, Any, None]:
        if self.pending_put is not None:
            put, self.pending_put = self.pending_put, None
            yield Req.PUT, put
            self.saved_config = self.parent_config
            self.unsaved = {}
        if self.saver is not None and self.durability == "async":
            yield Req.FLUSH, None

    # -- output --------------------------------------------------------------------

    def output(self) -> Any:
        """The state values visible to the caller (the value of a root state)."""
        keys = self.graph.output_keys
        values = self.values
        if self.graph.root:
            return values.get(ROOT)
        if keys is None:
            return dict(values)
        return {k: values[k] for k in keys if k in values}

    def streamed_values(self) -> Any:
        """The ``values`` chunk: like LangGraph, every state channel, whatever
        the output schema (which shapes only what ``invoke`` returns)."""
        values = self.values
        return values.get(ROOT) if self.graph.root else dict(values)

    def checkpoint_config(self) -> dict[str, Any] | None:
        """Config addressing the last checkpoint, or ``None`` without a saver."""
        if self.saver is None or not self.checkpoint_id:
            return None
        return self.parent_config
