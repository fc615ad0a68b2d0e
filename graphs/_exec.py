"""Drivers: answer the loop's requests synchronously or asynchronously.

A superstep's tasks run in the driver's thread (``graphs._work``), except when the
caller streams chunks that nodes write (``custom``, ``messages``): the tasks then
run beside the driver, which hands over each chunk as it comes.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any

from graphs._loop import Run
from graphs._outbox import Chunk
from graphs._requests import Req, Request
from graphs._task import Task
from graphs._work import arun_tasks, run_tasks
from graphs.errors import GraphRecursionError, InvalidUpdateError, describe

__all__ = ["adrive", "drive"]

_CAUGHT = (GraphRecursionError, InvalidUpdateError)


# -- drivers ---------------------------------------------------------------------


def _next_request(
    run: Run, gen: Generator[Request, Any, None], answer: Any
) -> Request | None:
    """The loop's next request, or ``None`` once it has ended; an error the run
    catches marks it failed."""
    try:
        return gen.send(answer)
    except StopIteration:
        return None
    except _CAUGHT as exc:
        if not run.catch_errors:
            raise
        run.status, run.error = "failed", exc
        run.event("error", error=describe(exc))
        return None


def drive(run: Run) -> Iterator[Chunk]:
    """Run ``run`` synchronously, yielding stream chunks."""
    inner = run.events is not None and run.parent is not None
    if inner:
        _graph_event(run, "start")
    gen = run.steps()
    saver = run.saver
    pending: list[Callable[[], object]] = []
    answer: Any = None
    while True:
        request = _next_request(run, gen, answer)
        if request is None:
            break
        kind, payload = request
        answer = None
        if kind is Req.RUN:
            if run.live:
                yield from _run_live(run, payload)
            else:
                run_tasks(payload)
        elif kind is Req.CHUNKS:
            yield from payload
        elif kind is Req.PUT:
            answer = saver.put(*payload)  # type: ignore[union-attr]
        elif kind is Req.GET:
            answer = saver.get_tuple(payload)  # type: ignore[union-attr]
        elif kind is Req.GET_BEFORE:
            config, before = payload
            found = saver.list(config, before=_at(before), limit=1)  # type: ignore[union-attr]
            answer = next(iter(found), None)
        elif kind is Req.WRITES:
            saver.put_writes(*payload)  # type: ignore[union-attr]
        elif kind is Req.HOOK:
            payload[0](payload[1])
        elif kind is Req.EFFECTS:
            answer = saver.get_effects(payload)  # type: ignore[union-attr]
        elif kind is Req.PUT_BG:
            pending.append(saver.put_async(*payload))  # type: ignore[union-attr]
        elif kind is Req.FLUSH:
            for wait in pending:
                wait()
            pending.clear()
    for wait in pending:
        wait()
    if inner:
        _graph_event(run, "end")


async def adrive(run: Run) -> AsyncIterator[Chunk]:
    """Run ``run`` on the event loop, yielding stream chunks."""
    _graph_event(run, "start")
    gen = run.steps()
    saver = run.saver
    pending: list[Awaitable[object]] = []
    answer: Any = None
    cancelled = False
    while True:
        request = _next_request(run, gen, answer)
        if request is None:
            break
        kind, payload = request
        answer = None
        if kind is Req.RUN:
            try:
                if run.live:
                    async for chunk in _arun_live(run, payload):
                        yield chunk
                else:
                    await arun_tasks(payload)
            except asyncio.CancelledError:
                if not any(t.error is not None for t in payload):
                    raise
                # cancelled while tasks ran: the loop stores what finished (and
                # the cancelled tasks' errors), then raises the cancellation
                cancelled = True
        elif kind is Req.CHUNKS:
            if not cancelled:  # the caller was cancelled: it gets no chunks
                for chunk in payload:
                    yield chunk
        elif kind is Req.PUT:
            answer = await saver.aput(*payload)  # type: ignore[union-attr]
        elif kind is Req.GET:
            answer = await saver.aget_tuple(payload)  # type: ignore[union-attr]
        elif kind is Req.GET_BEFORE:
            config, before = payload
            found = saver.alist(config, before=_at(before), limit=1)  # type: ignore[union-attr]
            answer = await anext(aiter(found), None)
        elif kind is Req.WRITES:
            await saver.aput_writes(*payload)  # type: ignore[union-attr]
        elif kind is Req.HOOK:
            payload[0](payload[1])
        elif kind is Req.EFFECTS:
            answer = await saver.aget_effects(payload)  # type: ignore[union-attr]
        elif kind is Req.PUT_BG:
            pending.append(await saver.aput_async(*payload))  # type: ignore[union-attr]
        elif kind is Req.FLUSH:
            for fut in pending:
                await fut
            pending.clear()
    for fut in pending:
        await fut
    _graph_event(run, "end")


def _at(checkpoint_id: str) -> dict[str, Any]:
    return {"configurable": {"checkpoint_id": checkpoint_id}}


def _graph_event(run: Run, kind: str) -> None:
    """``astream_events``: the start or end of a graph run inside a node (the
    root's are sent by ``astream_events`` itself)."""
    events = run.events
    if events is None or run.parent is None:
        return
    if kind == "start":
        events.graph("start", run.graph.name, {"input": run.input})
    elif run.status == "completed":
        data = {"output": run.output(), "input": run.input}
        events.graph("end", run.graph.name, data)


# -- streaming live --------------------------------------------------------------


def _run_live(run: Run, tasks: list[Task]) -> Iterator[Chunk]:
    """Runs a superstep's tasks in a thread of their own and yields the chunks
    their nodes write as they come. A caller that stops reading waits for the
    tasks to finish: nothing of the run goes on after the stream is closed."""
    done = threading.Event()
    wake = threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            run_tasks(tasks)
        except BaseException as exc:  # handed to the driver's thread
            failure.append(exc)
        finally:
            done.set()
            wake.set()

    run.out.notify = wake.set
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), name="graphs-live").start()
    try:
        while not done.is_set():
            wake.wait()
            wake.clear()
            yield from run.out.take()
    finally:
        done.wait()
        run.out.notify = None
    yield from run.out.take()
    if failure:
        raise failure[0]


async def _arun_live(run: Run, tasks: list[Task]) -> AsyncIterator[Chunk]:
    """``_run_live`` on the event loop; a caller that stops reading cancels the
    tasks."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:
        loop.call_soon_threadsafe(wake.set)

    run.out.notify = notify
    work = asyncio.ensure_future(arun_tasks(tasks))
    try:
        while not work.done():
            waiting = asyncio.ensure_future(wake.wait())
            await asyncio.wait({work, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            wake.clear()
            for chunk in run.out.take():
                yield chunk
    finally:
        run.out.notify = None
        if not work.done():
            work.cancel()
            # the tasks end (cancelled) before the run settles or closes
            await asyncio.wait([work])
    work.result()
    for chunk in run.out.take():
        yield chunk
