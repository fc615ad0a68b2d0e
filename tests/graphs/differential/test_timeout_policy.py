"""``TimeoutPolicy`` (wall-clock and idle timeouts) and ``NodeTimeoutError``
(issue 12, item 7), against real LangGraph. LangGraph times only async nodes,
so the scenarios use async nodes; the margins are wide (nothing is timed)."""

from __future__ import annotations

import asyncio
from typing import Any

import langgraph.config as lg_config
import langgraph.types as lg_types
from langgraph.runtime import Runtime

import graphs

from ._libs import Lib, Log, same


def policy(lib: Lib, **kw: Any) -> Any:
    cls = graphs.TimeoutPolicy if lib.name == "graphs" else lg_types.TimeoutPolicy
    return cls(**kw)


def retry(lib: Lib, **kw: Any) -> Any:
    cls = graphs.RetryPolicy if lib.name == "graphs" else lg_types.RetryPolicy
    return cls(initial_interval=0, jitter=False, **kw)


def chatty(lib: Lib) -> Any:
    """A node that runs 0.6 s, streaming a chunk every 0.05 s."""
    module = graphs if lib.name == "graphs" else lg_config

    async def node(state: Log) -> dict[str, Any]:
        writer = module.get_stream_writer()
        for i in range(12):
            await asyncio.sleep(0.05)
            writer(i)
        return {"log": ["done"]}

    return node


def run(lib: Lib, node: Any, timeout: Any, **node_kw: Any) -> Any:
    g = lib.StateGraph(Log)
    g.add_node("work", node, timeout=timeout, **node_kw)
    g.add_edge(lib.START, "work")
    graph = g.compile()

    async def go() -> Any:
        try:
            return ("ok", await graph.ainvoke({"log": []}))
        except Exception as exc:
            return (
                type(exc).__name__,
                getattr(exc, "kind", None),
                getattr(exc, "timeout", None),
                getattr(exc, "run_timeout", None),
                getattr(exc, "idle_timeout", None),
                getattr(exc, "node", None),
            )

    return asyncio.run(go())


def test_streamed_chunks_keep_an_idle_node_alive() -> None:
    def scenario(lib: Lib) -> Any:
        return run(lib, chatty(lib), policy(lib, idle_timeout=0.3))

    assert same(scenario) == ("ok", {"log": ["done"]})


def test_with_refresh_on_heartbeat_chunks_are_not_progress() -> None:
    def scenario(lib: Lib) -> Any:
        strict = policy(lib, idle_timeout=0.3, refresh_on="heartbeat")
        return run(lib, chatty(lib), strict)

    assert same(scenario) == ("NodeTimeoutError", "idle", 0.3, None, 0.3, "work")


def test_the_run_timeout_is_never_refreshed() -> None:
    def scenario(lib: Lib) -> Any:
        return run(lib, chatty(lib), policy(lib, run_timeout=0.3, idle_timeout=5))

    assert same(scenario) == ("NodeTimeoutError", "run", 0.3, 0.3, 5.0, "work")


def test_a_plain_number_is_a_run_timeout_and_timeouts_are_retried() -> None:
    def scenario(lib: Lib) -> Any:
        calls = []

        async def slow_once(state: Log) -> dict[str, Any]:
            calls.append(1)
            if len(calls) == 1:
                await asyncio.sleep(5)
            return {"log": [len(calls)]}

        return run(lib, slow_once, 0.2, retry_policy=retry(lib, max_attempts=2))

    assert same(scenario) == ("ok", {"log": [2]})


def test_invalid_policies() -> None:
    def scenario(lib: Lib) -> Any:
        out = []
        for bad in (
            policy(lib, idle_timeout=0),
            policy(lib, run_timeout=-1),
            policy(lib, idle_timeout=1, refresh_on="never"),
        ):
            g = lib.StateGraph(Log)
            try:
                g.add_node("work", chatty(lib), timeout=bad)
                g.add_edge(lib.START, "work")
                g.compile()
                out.append("accepted")
            except ValueError:
                out.append("ValueError")
        return out

    assert same(scenario) == ["ValueError"] * 3


def test_heartbeats_keep_a_quiet_node_alive() -> None:
    # LangGraph's runtime.heartbeat() is graphs.heartbeat() (no Runtime object)
    def scenario(lib: Lib) -> Any:
        async def quiet(state: Log, runtime: Runtime) -> dict[str, Any]:
            beat = graphs.heartbeat if lib.name == "graphs" else runtime.heartbeat
            for _ in range(12):
                await asyncio.sleep(0.05)
                beat()
            return {"log": ["done"]}

        async def ours(state: Log) -> dict[str, Any]:
            return await quiet(state, None)  # type: ignore[arg-type]

        node = ours if lib.name == "graphs" else quiet
        return run(lib, node, policy(lib, idle_timeout=0.3, refresh_on="heartbeat"))

    assert same(scenario) == ("ok", {"log": ["done"]})
