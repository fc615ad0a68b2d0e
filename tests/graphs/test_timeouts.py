"""add_node(..., timeout=...): a node that runs too long fails its task."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from graphs import (
    START,
    GraphError,
    InvalidGraphError,
    NodeTimeoutError,
    RetryPolicy,
    StateGraph,
    TimeoutPolicy,
    get_config,
    heartbeat,
    interrupt,
)
from graphs.checkpoint import InMemorySaver
from graphs.types import Command

from .conftest import Counter, appender

SLOW = 2.0  # seconds a slow node would take
LIMIT = 0.05  # its timeout


def graph_of(node: Any, **node_options: Any) -> Any:
    g = StateGraph(Counter)
    g.add_node("slow", node, **node_options)
    g.add_edge(START, "slow")
    return g


def sleepy_sync(state: Counter) -> dict[str, Any]:
    time.sleep(SLOW)
    return {"log": ["late"]}


async def sleepy_async(state: Counter) -> dict[str, Any]:
    await asyncio.sleep(SLOW)
    return {"log": ["late"]}


@pytest.mark.parametrize("node", [sleepy_sync, sleepy_async])
def test_a_slow_node_fails_at_its_deadline(node: Any) -> None:
    graph = graph_of(node, timeout=LIMIT).compile()
    started = time.perf_counter()
    message = "'slow' exceeded its run timeout of 0.050s"
    with pytest.raises(NodeTimeoutError, match=message) as err:
        graph.invoke({"n": 0})
    assert time.perf_counter() - started < SLOW / 2
    assert isinstance(err.value, TimeoutError)
    assert isinstance(err.value, GraphError)


@pytest.mark.parametrize("node", [sleepy_sync, sleepy_async])
def test_a_slow_node_fails_at_its_deadline_under_ainvoke(node: Any) -> None:
    graph = graph_of(node, timeout=LIMIT).compile()
    started = time.perf_counter()
    with pytest.raises(NodeTimeoutError):
        asyncio.run(graph.ainvoke({"n": 0}))
    assert time.perf_counter() - started < SLOW / 2


def test_a_slow_task_among_parallel_tasks_fails_the_superstep() -> None:
    g = StateGraph(Counter)
    g.add_node("fast", appender("fast"))
    g.add_node("slow", sleepy_sync, timeout=LIMIT)
    g.add_edge(START, "fast")
    g.add_edge(START, "slow")
    result = g.compile(checkpointer=InMemorySaver()).run(
        {"n": 0}, {"configurable": {"thread_id": "parallel"}}
    )
    assert result.status == "failed"
    assert isinstance(result.error, NodeTimeoutError)
    assert [e["kind"] for e in result.trace if e.get("node") == "slow"] == [
        "node_started",
        "error",
    ]


def test_a_node_within_its_deadline_runs_with_its_context() -> None:
    seen: dict[str, Any] = {}

    def node(state: Counter) -> dict[str, Any]:
        seen["node"] = get_config()["metadata"]["langgraph_node"]
        seen["thread"] = threading.current_thread().name
        return {"log": ["on time"]}

    out = graph_of(node, timeout=timedelta(seconds=5)).compile().invoke({"n": 0})
    assert out["log"] == ["on time"]
    assert seen["node"] == "slow"
    assert seen["thread"] == "graphs-node-slow"


def test_interrupts_pass_through_a_timed_node() -> None:
    def ask(state: Counter) -> dict[str, Any]:
        return {"log": [interrupt("ok?")]}

    graph = graph_of(ask, timeout=5).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "ask"}}
    paused = graph.invoke({"n": 0}, config)
    assert paused["__interrupt__"][0].value == "ok?"
    assert graph.invoke(Command(resume="yes"), config)["log"] == ["yes"]


def test_a_timeout_error_raised_by_the_node_is_not_a_deadline() -> None:
    async def own_timeout(state: Counter) -> dict[str, Any]:
        raise TimeoutError("the upstream service timed out")

    with pytest.raises(TimeoutError, match="upstream") as err:
        graph_of(own_timeout, timeout=5).compile().invoke({"n": 0})
    assert not isinstance(err.value, NodeTimeoutError)


def test_a_retry_policy_can_retry_a_timed_out_attempt() -> None:
    attempts: list[int] = []

    def slow_once(state: Counter) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(0.5)
        return {"log": [len(attempts)]}

    policy = RetryPolicy(initial_interval=0, jitter=False, retry_on=NodeTimeoutError)
    graph = graph_of(slow_once, timeout=0.1, retry_policy=policy).compile()
    assert graph.invoke({"n": 0})["log"] == [2]


@pytest.mark.parametrize("timeout", [0, -1, "5", True])
def test_it_rejects_a_timeout_that_is_not_a_positive_number(timeout: Any) -> None:
    with pytest.raises(InvalidGraphError, match="'slow': timeout must be"):
        graph_of(sleepy_sync, timeout=timeout)


def test_it_rejects_a_timeout_on_a_subgraph_node() -> None:
    child = graph_of(appender("x")).compile()
    with pytest.raises(InvalidGraphError, match="subgraph node cannot have a timeout"):
        graph_of(child, timeout=1)


def test_a_sync_node_with_an_idle_timeout_lives_while_it_heartbeats() -> None:
    def beating(state: Counter) -> dict[str, Any]:
        for _ in range(10):
            time.sleep(0.03)
            heartbeat()
        return {"log": ["done"]}

    idle = TimeoutPolicy(idle_timeout=0.5, refresh_on="heartbeat")
    assert graph_of(beating, timeout=idle).compile().invoke({"n": 0})["log"] == ["done"]


def test_a_quiet_sync_node_fails_at_its_idle_timeout() -> None:
    graph = graph_of(sleepy_sync, timeout=TimeoutPolicy(idle_timeout=LIMIT)).compile()
    with pytest.raises(NodeTimeoutError, match="idle timeout of 0.050s") as err:
        graph.invoke({"n": 0})
    assert (err.value.kind, err.value.idle_timeout, err.value.run_timeout) == (
        "idle",
        LIMIT,
        None,
    )
