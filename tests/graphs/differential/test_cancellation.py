"""Differential: prompt cancellation of async supersteps.

When one async node of a superstep fails, LangGraph cancels its running siblings
instead of waiting for them; cancelling the task that consumes ``astream`` cancels
the run. What is kept (finished siblings' writes, the tasks to run again) and what
a later ``invoke(None, config)`` does must be the same on both engines.

A sibling that is not cancelled gives up waiting after a few seconds and records
that it ran, so a missing cancellation fails the comparison (it never hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from ._libs import Lib, Log, plain, same, thread

GIVE_UP = 5.0  # seconds a sibling waits for an event nobody sets


def fan_out(lib: Lib, ran: list[str], fail: list[bool], events: Any) -> Any:
    """START -> slow, fast, bad: ``fast`` finishes, then ``bad`` fails (while
    ``fail[0]``) with ``slow`` still waiting."""
    fast_done, never = events

    async def slow(state: Log) -> dict[str, Any]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(never.wait(), GIVE_UP)
        ran.append("slow")
        return {"log": ["slow"]}

    async def fast(state: Log) -> dict[str, Any]:
        ran.append("fast")
        fast_done.set()
        return {"log": ["fast"]}

    async def bad(state: Log) -> dict[str, Any]:
        await fast_done.wait()
        for _ in range(3):  # let the engine record that `fast` finished
            await asyncio.sleep(0)
        if fail[0]:
            raise ValueError("boom")
        ran.append("bad")
        return {"log": ["bad"]}

    g = lib.StateGraph(Log)
    for name, fn in (("slow", slow), ("fast", fast), ("bad", bad)):
        g.add_node(name, fn)
        g.add_edge(lib.START, name)
    return g.compile(checkpointer=lib.InMemorySaver())


def snapshot(graph: Any, config: dict[str, Any]) -> Any:
    state = graph.get_state(config)
    tasks = [(t.name, t.error is not None) for t in state.tasks]
    return plain(state.values), state.next, tasks


def test_a_failing_node_cancels_its_running_siblings() -> None:
    def scenario(lib: Lib) -> Any:
        ran: list[str] = []
        fail = [True]

        async def main() -> Any:
            events = (asyncio.Event(), asyncio.Event())
            graph, config = fan_out(lib, ran, fail, events), thread()
            try:
                await graph.ainvoke({"log": []}, config)
                raised = None
            except ValueError as exc:
                raised = str(exc)
            seen = list(ran)
            paused = snapshot(graph, config)
            fail[0] = False
            ran.clear()
            events[1].set()  # the re-run `slow` does not wait
            again = await graph.ainvoke(None, config)
            return raised, seen, paused, sorted(ran), plain(again)

        return asyncio.run(main())

    raised, seen, paused, rerun, final = same(scenario)
    assert raised == "boom"
    assert seen == ["fast"]  # `slow` was cancelled, not awaited
    assert paused[1] == ("slow", "bad")
    assert rerun == ["bad", "slow"]  # `fast` is not run again


@pytest.mark.parametrize("modes", [["updates"], ["updates", "custom"]])
def test_cancelling_the_consumer_of_astream_cancels_the_run(modes: list[str]) -> None:
    def scenario(lib: Lib) -> Any:
        ran: list[str] = []

        async def main() -> Any:
            fast_done, never = asyncio.Event(), asyncio.Event()
            graph, config = fan_out(lib, ran, [False], (fast_done, never)), thread()

            async def consume() -> None:
                async for _chunk in graph.astream(
                    {"log": []}, config, stream_mode=modes
                ):
                    pass

            consumer = asyncio.ensure_future(consume())
            await fast_done.wait()
            for _ in range(10):  # `bad` finishes too; only `slow` still runs
                await asyncio.sleep(0)
            consumer.cancel()
            try:
                await consumer
                outcome = "finished"
            except asyncio.CancelledError:
                outcome = "cancelled"
            seen = sorted(ran)
            paused = snapshot(graph, config)
            ran.clear()
            never.set()
            again = await graph.ainvoke(None, config)
            return outcome, seen, paused, sorted(ran), plain(again)

        return asyncio.run(main())

    outcome, seen, paused, rerun, final = same(scenario)
    assert outcome == "cancelled"
    assert seen == ["bad", "fast"]
    assert paused[1] == ("slow",)
    assert rerun == ["slow"]


def test_a_command_for_the_parent_cancels_no_sibling() -> None:
    def scenario(lib: Lib) -> Any:
        ran: list[str] = []

        async def route(state: Log) -> Any:
            return lib.Command(graph=lib.Command.PARENT, goto="done")

        async def sibling(state: Log) -> dict[str, Any]:
            for _ in range(5):
                await asyncio.sleep(0)
            ran.append("sibling")
            return {"log": ["sibling"]}

        inner = lib.StateGraph(Log)
        inner.add_node("route", route)
        inner.add_node("sibling", sibling)
        inner.add_edge(lib.START, "route")
        inner.add_edge(lib.START, "sibling")
        root = lib.StateGraph(Log)
        root.add_node("sub", inner.compile())
        root.add_node("done", lambda s: {"log": ["done"]})
        root.add_edge(lib.START, "sub")
        final = asyncio.run(root.compile().ainvoke({"log": []}))
        return plain(final), ran

    _, ran = same(scenario)
    assert ran == ["sibling"]
