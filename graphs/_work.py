"""Running a superstep's tasks: calls, retries, timeouts, outputs and branches.

A superstep with one task runs inline (no thread pool, no event loop). Several sync
tasks share a process-wide thread pool; the calling thread runs the first task itself
and takes back any task a busy pool has not started, so nested subgraphs can never
deadlock on pool slots.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from graphs._context import CURRENT
from graphs._handlers import handler_task, node_error
from graphs._langchain_run import enter as langchain_enter
from graphs._langchain_run import leave as langchain_leave
from graphs._langchain_run import node_config
from graphs._task import Task
from graphs._timeouts import abounded, bounded
from graphs.channels import ROOT, apply_writes
from graphs.errors import (
    GraphInterrupt,
    InvalidUpdateError,
    ParentCommand,
    describe,
)
from graphs.instrumentation import node_start_of
from graphs.runtime import task_runtime
from graphs.store.base import task_store
from graphs.types import END, Command, Send, node_name

if TYPE_CHECKING:
    from graphs.compiled import NodeRuntime

__all__ = ["arun_tasks", "command_output", "run_tasks"]

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        workers = min(32, (os.cpu_count() or 1) + 4)
        _POOL = ThreadPoolExecutor(workers, thread_name_prefix="graphs")
    return _POOL


def run_tasks(tasks: list[Task]) -> None:
    if len(tasks) == 1:
        _exec(tasks[0])
        return
    run = _exec
    limit = tasks[0].run.max_concurrency
    if limit is not None and limit < len(tasks):
        # config["max_concurrency"]: at most `limit` of the tasks run at once
        gate = threading.BoundedSemaphore(limit)

        def gated(task: Task) -> None:
            with gate:
                _exec(task)

        run = gated
    pool = _pool()
    futures = [pool.submit(run, t) for t in tasks[1:]]
    run(tasks[0])
    for fut, task in zip(futures, tasks[1:], strict=True):
        if fut.cancel():
            run(task)
        else:
            fut.result()


async def arun_tasks(tasks: list[Task]) -> None:
    if len(tasks) == 1:
        # a sync node runs inline, unless chunks are streamed as they come: the
        # event loop must then stay free to hand them over
        live = tasks[0].run.out.notify is not None
        await _aexec(tasks[0], offload=live)
        return
    limit = tasks[0].run.max_concurrency
    if limit is None or limit >= len(tasks):
        await _all_or_first_error([_aexec(t, offload=True) for t in tasks], tasks)
        return
    gate = asyncio.Semaphore(limit)

    async def gated(task: Task) -> None:
        async with gate:
            await _aexec(task, offload=True)

    await _all_or_first_error([gated(t) for t in tasks], tasks)


async def _all_or_first_error(calls: list[Awaitable[None]], tasks: list[Task]) -> None:
    """Await the tasks' calls; like LangGraph, the first task that fails cancels
    its running siblings at once (an interrupt or a ``Command.PARENT`` does
    not). Cancelling the caller cancels them all; either way each cancelled task
    ends with a ``CancelledError`` as its error."""
    futures = [asyncio.ensure_future(c) for c in calls]

    def ended(task: Task) -> Callable[[asyncio.Future[None]], None]:
        def check(_: asyncio.Future[None]) -> None:
            # a failure its error handler handled cancels nothing either
            error = task.error if task.handler is None else task.handler.error
            # a Command for the parent graph bubbles up: it cancels nothing
            if error is not None and not isinstance(
                error, (asyncio.CancelledError, ParentCommand)
            ):
                for fut in futures:
                    fut.cancel()

        return check

    for fut, task in zip(futures, tasks, strict=True):
        fut.add_done_callback(ended(task))
    results = await asyncio.gather(*futures, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(
            result, asyncio.CancelledError
        ):
            raise result


def _exec(task: Task) -> None:
    node = task.node
    run = task.run
    told = run.events is not None or run.trace is not None  # events or a trace
    attempt = 0
    while True:
        attempt += 1
        started = _started(task) if told else 0.0
        task.interrupts = None
        token = CURRENT.set(task)
        lc_token = langchain_enter(task)
        observed = _observe(task, attempt) if task.observer else None
        try:
            if not task.restored:
                _output(task, _call_node(node, task))
            if node.branches:
                _branches(task)
        except GraphInterrupt as exc:
            _observed(task, observed, None, True)
            _paused(task, exc)
            return
        except Exception as exc:
            _observed(task, observed, exc, False)
            delay = _retry_delay(task, exc, attempt)
            if delay is None:
                task.error = exc
                break
            task.reset()
            time.sleep(delay)
            continue
        except BaseException as exc:
            _observed(task, observed, exc, False)
            raise
        finally:
            langchain_leave(lc_token)
            CURRENT.reset(token)
        if observed is not None:
            _observed(task, observed, None, False)
        if told:
            _completed(task, started)
        return
    handler = handler_task(task) if node.error_handler is not None else None
    if handler is not None:
        _exec(handler)


async def _aexec(task: Task, offload: bool) -> None:
    node = task.node
    attempt = 0
    while True:
        attempt += 1
        started = _started(task)
        task.interrupts = None
        token = CURRENT.set(task)
        lc_token = langchain_enter(task)
        observed = _observe(task, attempt) if task.observer else None
        try:
            if not task.restored:
                try:
                    out = await _acall(node, task, offload)
                except ParentCommand as signal:  # from a child graph of the node
                    out = signal.command
                _output(task, out)
            if node.branches:
                state = _branch_state(task)
                for branch in node.branches:
                    args = (
                        (state, node_config(task)) if branch.takes_config else (state,)
                    )
                    result = branch.path(*args)
                    if branch.is_async:
                        result = await result
                    _branch_result(task, branch, result)
        except GraphInterrupt as exc:
            _observed(task, observed, None, True)
            _paused(task, exc)
            return
        except Exception as exc:
            _observed(task, observed, exc, False)
            delay = _retry_delay(task, exc, attempt)
            if delay is None:
                task.error = exc
                break
            task.reset()
            await _backoff(task, delay)
            continue
        except asyncio.CancelledError as exc:
            _observed(task, observed, exc, False)
            # stored as the task's error (LangGraph writes it too), so a resume
            # runs the task again
            task.reset()
            task.error = exc
            raise
        except BaseException as exc:
            _observed(task, observed, exc, False)
            raise
        finally:
            langchain_leave(lc_token)
            CURRENT.reset(token)
        _observed(task, observed, None, False)
        _completed(task, started)
        return
    handler = handler_task(task) if node.error_handler is not None else None
    if handler is not None:
        await _aexec(handler, offload)


def _observe(task: Task, attempt: int) -> Any:
    """Tells the listener a node execution starts; its handle (``None`` for a
    restored task, which does not run)."""
    if task.restored or task.hidden:
        return None
    listener, parent = task.observer  # type: ignore[misc]
    run = task.run
    start = node_start_of(
        run.graph.name, task.name, run.step + 1, task.id, attempt, parent
    )
    return listener.node_start(start)


def _observed(
    task: Task, handle: Any, error: BaseException | None, interrupted: bool
) -> None:
    if handle is not None:
        listener = task.observer[0]  # type: ignore[index]
        listener.node_end(handle, error=error, interrupted=interrupted)


async def _backoff(task: Task, delay: float) -> None:
    """Sleep before a retry (a cancellation then finds the task unfinished)."""
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError as exc:
        task.error = exc
        raise


def _started(task: Task) -> float:
    run = task.run
    if task.restored:
        return 0.0
    if run.events is not None and not task.hidden:
        run.events.node_start(task)
    if run.trace is None:
        return 0.0
    run.event("node_started", node=task.name)
    return time.perf_counter()


def _completed(task: Task, started: float) -> None:
    run = task.run
    if run.events is not None and not task.restored and not task.hidden:
        run.events.node_end(task)
    if run.trace is not None and not task.restored:
        ms = round((time.perf_counter() - started) * 1000, 3)
        run.event("node_completed", node=task.name, duration_ms=ms)


def _paused(task: Task, exc: GraphInterrupt) -> None:
    task.interrupts = exc.interrupts
    for intr in exc.interrupts:
        task.run.event("interrupt_reached", node=task.name, interrupt_id=intr.id)


def _retry_delay(task: Task, exc: Exception, attempt: int) -> float | None:
    if isinstance(exc, ParentCommand):
        return None
    for policy in task.node.retry:
        if policy.should_retry(exc):
            if attempt >= policy.max_attempts:
                return None
            delay = policy.interval(attempt)
            if policy.jitter:
                delay += random.uniform(0, 1)
            task.run.event(
                "retry", node=task.name, attempt=attempt, error=describe(exc)
            )
            return delay
    return None


def _args(node: NodeRuntime, task: Task) -> tuple[tuple[Any, ...], dict[str, Any]]:
    inp = task.arg if task.push else task.run.read_state()
    args = (inp, node_config(task)) if node.takes_config else (inp,)
    kwargs: dict[str, Any] = {"writer": task.write_custom} if node.takes_writer else {}
    if node.takes_error:
        kwargs["error"] = node_error(task)
    if node.takes_store:
        kwargs["store"] = task_store(task)
    if node.takes_runtime:
        kwargs["runtime"] = task_runtime(task)
    return args, kwargs


def _call_node(node: NodeRuntime, task: Task) -> Any:
    """The node's output; a child graph's ``Command.PARENT`` is this task's."""
    try:
        return _call(node, task)
    except ParentCommand as signal:
        return signal.command


def _call(node: NodeRuntime, task: Task) -> Any:
    if node.subgraph is not None:
        inp = task.arg if task.push else task.run.read_state()
        return node.subgraph.call_as_subgraph(task, inp)
    args, kwargs = _args(node, task)
    if node.timeout is not None:
        if node.is_async:
            return asyncio.run(abounded(task, node.fn(*args, **kwargs)))
        return bounded(task, _in_thread(task, args, kwargs))
    if node.is_async:
        return asyncio.run(node.fn(*args, **kwargs))
    return node.fn(*args, **kwargs)


async def _acall(node: NodeRuntime, task: Task, offload: bool) -> Any:
    if node.subgraph is not None:
        inp = task.arg if task.push else task.run.read_state()
        return await node.subgraph.acall_as_subgraph(task, inp)
    args, kwargs = _args(node, task)
    if node.timeout is not None:
        if node.is_async:
            return await abounded(task, node.fn(*args, **kwargs))
        return await abounded(task, asyncio.wrap_future(_in_thread(task, args, kwargs)))
    if node.afn is not None:
        return await node.afn(*args, **kwargs)
    if node.is_async:
        return await node.fn(*args, **kwargs)
    if not offload:
        return node.fn(*args, **kwargs)
    ctx = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _pool(), lambda: ctx.run(node.fn, *args, **kwargs)
    )


# -- timeouts --------------------------------------------------------------------


def _in_thread(
    task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Future[Any]:
    """Start a timed sync node in a thread of its own.

    Not in the shared pool: a call abandoned at its deadline runs on until the
    function returns, and must not hold a pool slot other tasks wait for.
    """
    future: Future[Any] = Future()
    ctx = contextvars.copy_context()  # carries the running task (CURRENT)
    fn = task.node.fn

    def target() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(ctx.run(fn, *args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)

    name = f"graphs-node-{task.name}"
    threading.Thread(target=target, name=name, daemon=True).start()
    return future


# -- outputs ---------------------------------------------------------------------


def _output(task: Task, out: Any) -> None:
    pushed = task.writes  # what push_message() wrote while the node ran
    if not pushed:
        _node_output(task, out)
        return
    task.writes = []
    _node_output(task, out)
    task.writes[:0] = pushed
    task.update = written_update(task)


def written_update(task: Task) -> Any:
    """The task's ``updates`` chunk made from its writes (of state channels,
    whatever the output schema), as LangGraph makes it: one dict, or one dict per
    write when a key was written more than once."""
    shown = task.writes
    if not shown:
        return None
    if len({c for c, _ in shown}) < len(shown):
        return [{c: v} for c, v in shown]
    return dict(shown)


def _node_output(task: Task, out: Any) -> None:
    if out is None:
        return
    graph = task.run.graph
    commands = isinstance(out, Command) or (
        isinstance(out, list) and bool(out) and isinstance(out[0], Command)
    )
    if graph.root and not commands:  # the node returned the whole state's update
        task.update = out
        task.writes = [(ROOT, out)]
        return
    channels = graph.channels
    if isinstance(out, dict):
        task.writes = [(k, v) for k, v in out.items() if k in channels]
        # like LangGraph, the chunk shows the channels written, or None
        whole = out and len(task.writes) == len(out)
        task.update = out if whole else written_update(task)
    elif isinstance(out, Command):
        command_output(task, out)
    elif (
        isinstance(out, (list, tuple))
        and out
        and all(isinstance(c, (Command, dict)) for c in out)
        and any(isinstance(c, Command) for c in out)
    ):
        # Commands and updates, applied in order (LangGraph accepts a mix with
        # at least one Command; a list of dicts alone is an invalid return)
        for item in out:
            if isinstance(item, Command):
                command_output(task, item)
            else:
                command_output(task, Command(update=item))
    else:
        fields = task.run.graph.instance_fields(out)
        if fields is None:
            raise InvalidUpdateError(
                f"Expected dict, got {out!r} from node '{task.name}'"
            )
        task.update = fields
        task.writes = list(fields.items())


def command_output(task: Task, command: Command[Any]) -> None:
    """Apply a ``Command`` returned by a node to the task's outputs."""
    if command.graph == Command.PARENT:
        raise ParentCommand(Command(update=command.update, goto=command.goto))
    graph = task.run.graph
    update = command.update
    if update is not None:
        if isinstance(update, dict):
            pairs = list(update.items())
        elif isinstance(update, (list, tuple)):
            pairs = [tuple(p) for p in update]
        else:
            fields = graph.instance_fields(update)
            if fields is None:
                raise InvalidUpdateError(f"Expected dict update, got {update!r}")
            pairs = list(fields.items())
        task.writes.extend((k, v) for k, v in pairs if k in graph.channels)
        task.update = written_update(task)
    for target in command.goto_list():
        _route(task, target, None)


def _route(task: Task, target: Any, path_map: dict[Any, str] | None) -> None:
    graph = task.run.graph
    if isinstance(target, Send):
        if target.node not in graph.nodes_rt:
            raise InvalidUpdateError(f"Invalid node name {target.node!r} in Send")
        task.sends.append(target)
        return
    if path_map is not None:
        if target not in path_map:
            raise InvalidUpdateError(
                f"Branch of '{task.name}' returned {target!r}, not in its path_map"
            )
        target = path_map[target]
    target = node_name(target)
    if target == END:
        return
    if target not in graph.nodes_rt:
        raise InvalidUpdateError(f"Invalid node name {target!r} (from '{task.name}')")
    task.gotos.append(target)


def _branch_state(task: Task) -> Any:
    """State seen by conditional edges: the step's input plus the task's own writes."""
    run = task.run
    graph = run.graph
    view = dict(run.values)
    if task.writes:
        apply_writes(view, graph.channels, task.writes, run.memo)
    task.view = view
    return view if graph.state_factory is None else graph.state_factory(view)


def _branch_result(task: Task, branch: Any, result: Any) -> None:
    items = result if isinstance(result, (list, tuple)) else (result,)
    for item in items:
        _route(task, item, branch.path_map)


def _branches(task: Task) -> None:
    state = _branch_state(task)
    for branch in task.node.branches:
        args = (state, node_config(task)) if branch.takes_config else (state,)
        result = branch.path(*args)
        if branch.is_async:
            result = asyncio.run(result)
        _branch_result(task, branch, result)
