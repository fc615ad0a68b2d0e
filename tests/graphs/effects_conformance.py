"""Effect ledger conformance: every saver with ``supports_effects`` passes it.

Subclass with a ``saver`` fixture (see ``checkpointer_conformance``). The tests run
the engine on the saver: effects recorded once across a failed run, a retry and
an interrupt; stable keys given to the call; recorded replay and its divergences;
the hook before each effect.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, TypedDict

import pytest

import graphs
from graphs import START, EffectDivergence, EffectOptions, RetryPolicy, StateGraph
from graphs.checkpoint import BaseCheckpointSaver, InMemorySaver
from graphs.effects import Effect, effect_key, first_unanswered

__all__ = ["AsyncEffectLedgerConformance", "EffectLedgerConformance"]


class State(TypedDict, total=False):
    v: int
    out: list[int]


class Calls:
    """Counts the calls that really ran (what a side-effect table would hold)."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, str | None]] = []

    def send(self, value: int) -> int:
        effect = graphs.get_effect()
        self.log.append((value, None if effect is None else effect.key))
        return value * 2


def two_effects_graph(
    calls: Calls, crash: list[bool], *, offset: int = 0, retry: bool = False
) -> Any:
    """One node: two effects, then (while ``crash`` holds a True) a failure."""

    send = graphs.effect(calls.send, name="send")

    def work(state: State) -> State:
        first = send(state["v"] + offset)
        second = send(first)
        if crash and crash.pop(0):
            raise ConnectionError("the process died")
        return {"out": [first, second]}

    builder = StateGraph(State)
    policy = RetryPolicy(max_attempts=3, initial_interval=0) if retry else None
    builder.add_node("work", work, retry_policy=policy)
    builder.add_edge(START, "work")
    return builder


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"effects-{uuid.uuid4().hex}"}}


class EffectLedgerConformance:
    """The effect ledger on a saver (subclass with a ``saver`` fixture)."""

    def test_effects_are_not_repeated_when_a_failed_run_continues(
        self, saver: BaseCheckpointSaver
    ) -> None:
        calls = Calls()
        graph = two_effects_graph(calls, [True]).compile(checkpointer=saver)
        config = thread()
        with pytest.raises(ConnectionError):
            graph.invoke({"v": 1}, config)
        assert [v for v, _ in calls.log] == [1, 2]
        assert graph.invoke(None, config) == {"v": 1, "out": [2, 4]}
        assert [v for v, _ in calls.log] == [1, 2]  # answered from the ledger

    def test_effects_are_not_repeated_by_a_retry(
        self, saver: BaseCheckpointSaver
    ) -> None:
        calls = Calls()
        builder = two_effects_graph(calls, [True, True], retry=True)
        graph = builder.compile(checkpointer=saver)
        assert graph.invoke({"v": 3}, thread())["out"] == [6, 12]
        assert [v for v, _ in calls.log] == [3, 6]

    def test_effect_keys_are_stable_and_given_to_the_call(
        self, saver: BaseCheckpointSaver
    ) -> None:
        calls = Calls()
        graph = two_effects_graph(calls, []).compile(checkpointer=saver)
        config = thread()
        graph.invoke({"v": 1}, config)
        records = saver.list_effects(config["configurable"]["thread_id"])
        assert [r.index for r in records] == [0, 1]
        assert [k for _, k in calls.log] == [r.key for r in records]
        first = records[0]
        assert first.key == effect_key(first.thread_id, "", first.task_id, 0)
        assert (first.kind, first.name, first.outcome) == ("function", "send", "ok")
        assert first.request == {"args": [1], "kwargs": {}}
        assert first.response == 2
        assert first.step == 1
        assert first.task_path == "__pregel_pull|work"
        assert first.started_at
        assert first.duration_ms >= 0

    def test_effects_before_an_interrupt_are_not_repeated_on_resume(
        self, saver: BaseCheckpointSaver
    ) -> None:
        calls = Calls()
        send = graphs.effect(calls.send, name="send")

        def ask(state: State) -> State:
            doubled = send(state["v"])
            answer = graphs.interrupt({"doubled": doubled})
            return {"out": [doubled, answer]}

        builder = StateGraph(State)
        builder.add_node("ask", ask)
        builder.add_edge(START, "ask")
        graph = builder.compile(checkpointer=saver)
        config = thread()
        assert "__interrupt__" in graph.invoke({"v": 5}, config)
        result = graph.invoke(graphs.Command(resume=7), config)
        assert result["out"] == [10, 7]
        assert len(calls.log) == 1

    def test_recorded_replay_reproduces_the_run_without_calls(
        self, saver: BaseCheckpointSaver
    ) -> None:
        calls = Calls()
        config = thread()
        two_effects_graph(calls, []).compile(checkpointer=saver).invoke(
            {"v": 2}, config
        )
        recorded = saver.list_effects(config["configurable"]["thread_id"])
        replay = Calls()
        graph = two_effects_graph(replay, []).compile(checkpointer=InMemorySaver())
        options = EffectOptions(mode="recorded", recorded=recorded)
        result = graph.invoke({"v": 2}, {**thread(), "effects": options})
        assert result == {"v": 2, "out": [4, 8]}
        assert replay.log == []
        assert first_unanswered(options) is None

    def test_recorded_replay_reports_the_first_differing_effect(
        self, saver: BaseCheckpointSaver
    ) -> None:
        config = thread()
        two_effects_graph(Calls(), []).compile(checkpointer=saver).invoke(
            {"v": 2}, config
        )
        recorded = saver.list_effects(config["configurable"]["thread_id"])
        changed = two_effects_graph(Calls(), [], offset=1)
        graph = changed.compile(checkpointer=InMemorySaver())
        options = EffectOptions(mode="recorded", recorded=recorded)
        with pytest.raises(EffectDivergence) as caught:
            graph.invoke({"v": 2}, {**thread(), "effects": options})
        report = caught.value.report
        assert report["reason"] == "effect differs from the recording"
        assert report["expected"]["request"] == {"args": [2], "kwargs": {}}
        assert report["actual"]["request"] == {"args": [3], "kwargs": {}}
        assert report["actual"]["index"] == 0

    def test_recorded_replay_reports_an_effect_it_did_not_ask_for(
        self, saver: BaseCheckpointSaver
    ) -> None:
        config = thread()
        two_effects_graph(Calls(), []).compile(checkpointer=saver).invoke(
            {"v": 2}, config
        )
        recorded = saver.list_effects(config["configurable"]["thread_id"])
        calls = Calls()
        send = graphs.effect(calls.send, name="send")

        def once(state: State) -> State:
            return {"out": [send(state["v"])]}

        builder = StateGraph(State)
        builder.add_node("work", once)
        builder.add_edge(START, "work")
        options = EffectOptions(mode="recorded", recorded=recorded)
        graph = builder.compile(checkpointer=InMemorySaver())
        graph.invoke({"v": 2}, {**thread(), "effects": options})
        missing = first_unanswered(options)
        assert missing is not None
        assert (missing.index, missing.request) == (1, {"args": [4], "kwargs": {}})

    def test_the_hook_runs_before_each_executed_effect_and_may_refuse(
        self, saver: BaseCheckpointSaver
    ) -> None:
        seen: list[Effect] = []

        def budget(effect: Effect) -> None:
            seen.append(effect)
            if effect.index == 1:
                raise RuntimeError("budget exceeded")

        calls = Calls()
        graph = two_effects_graph(calls, []).compile(checkpointer=saver)
        config = {**thread(), "effects": EffectOptions(before=[budget])}
        with pytest.raises(RuntimeError, match="budget exceeded"):
            graph.invoke({"v": 1}, config)
        assert [e.index for e in seen] == [0, 1]
        assert len(calls.log) == 1  # the refused effect never ran
        seen.clear()
        config["effects"] = EffectOptions(before=[seen.append])
        graph.invoke(None, config)
        assert [e.index for e in seen] == [1]  # the recorded one was answered

    def test_a_failed_effect_is_recorded_and_runs_again(
        self, saver: BaseCheckpointSaver
    ) -> None:
        attempts: list[int] = []

        @graphs.effect(name="flaky")
        def flaky(value: int) -> int:
            attempts.append(value)
            if len(attempts) == 1:
                raise ConnectionError("refused")
            return value

        def work(state: State) -> State:
            return {"out": [flaky(state["v"])]}

        builder = StateGraph(State)
        builder.add_node("work", work)
        builder.add_edge(START, "work")
        graph = builder.compile(checkpointer=saver)
        config = thread()
        with pytest.raises(ConnectionError):
            graph.invoke({"v": 4}, config)
        thread_id = config["configurable"]["thread_id"]
        (failed,) = saver.list_effects(thread_id)
        assert failed.outcome == "error"
        assert failed.error == {"type": "ConnectionError", "message": "refused"}
        assert graph.invoke(None, config)["out"] == [4]
        (ok,) = saver.list_effects(thread_id)
        assert (ok.key, ok.outcome, ok.response) == (failed.key, "ok", 4)
        assert attempts == [4, 4]


def async_two_effects_graph(calls: Calls, crash: list[bool], *, offset: int = 0) -> Any:
    """``two_effects_graph`` with an async node and an ``async def`` effect."""

    @graphs.effect(name="send")
    async def send(value: int) -> int:
        await asyncio.sleep(0)
        return calls.send(value)

    async def work(state: State) -> State:
        first = await send(state["v"] + offset)
        second = await send(first)
        if crash and crash.pop(0):
            raise ConnectionError("the process died")
        return {"out": [first, second]}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    return builder


class AsyncEffectLedgerConformance:
    """Async effects (``async def`` effects in async nodes, run by ``invoke``
    and by ``ainvoke``) on a saver (subclass with a ``saver`` fixture)."""

    @pytest.mark.parametrize("runner", ["invoke", "ainvoke"])
    def test_async_effects_are_not_repeated_when_a_failed_run_continues(
        self, saver: BaseCheckpointSaver, runner: str
    ) -> None:
        calls = Calls()
        graph = async_two_effects_graph(calls, [True]).compile(checkpointer=saver)
        config = thread()

        def run(value: Any) -> Any:
            if runner == "invoke":
                return graph.invoke(value, config)
            return asyncio.run(graph.ainvoke(value, config))

        with pytest.raises(ConnectionError):
            run({"v": 1})
        assert [v for v, _ in calls.log] == [1, 2]
        assert run(None) == {"v": 1, "out": [2, 4]}
        assert [v for v, _ in calls.log] == [1, 2]  # answered from the ledger
        records = saver.list_effects(config["configurable"]["thread_id"])
        assert [k for _, k in calls.log] == [r.key for r in records]
        assert all(k is not None for _, k in calls.log)
        assert [(r.kind, r.name, r.index) for r in records] == [
            ("function", "send", 0),
            ("function", "send", 1),
        ]

    def test_async_recorded_replay_reproduces_the_run_and_reports_divergence(
        self, saver: BaseCheckpointSaver
    ) -> None:
        config = thread()
        live = async_two_effects_graph(Calls(), []).compile(checkpointer=saver)
        asyncio.run(live.ainvoke({"v": 2}, config))
        recorded = saver.list_effects(config["configurable"]["thread_id"])
        replay = Calls()
        graph = async_two_effects_graph(replay, []).compile(
            checkpointer=InMemorySaver()
        )
        options = EffectOptions(mode="recorded", recorded=recorded)
        result = asyncio.run(graph.ainvoke({"v": 2}, {**thread(), "effects": options}))
        assert result == {"v": 2, "out": [4, 8]}
        assert replay.log == []
        assert first_unanswered(options) is None
        changed = async_two_effects_graph(Calls(), [], offset=1)
        graph = changed.compile(checkpointer=InMemorySaver())
        options = EffectOptions(mode="recorded", recorded=recorded)
        with pytest.raises(EffectDivergence) as caught:
            asyncio.run(graph.ainvoke({"v": 2}, {**thread(), "effects": options}))
        assert caught.value.report["actual"]["request"] == {"args": [3], "kwargs": {}}

    def test_async_hooks_run_off_the_loop_before_and_after_each_executed_effect(
        self, saver: BaseCheckpointSaver
    ) -> None:
        seen: list[tuple[str, int, bool]] = []

        def before(effect: Effect) -> None:
            seen.append(("before", effect.index, _in_loop()))
            if effect.index == 1:
                raise RuntimeError("budget exceeded")

        def after(effect: Effect, error: BaseException | None) -> None:
            seen.append(("after", effect.index, _in_loop()))

        calls = Calls()
        graph = async_two_effects_graph(calls, []).compile(checkpointer=saver)
        options = EffectOptions(before=[before], after=[after])
        config = {**thread(), "effects": options}
        with pytest.raises(RuntimeError, match="budget exceeded"):
            asyncio.run(graph.ainvoke({"v": 1}, config))
        # hooks never run on the event loop's thread (they may block)
        assert seen == [("before", 0, False), ("after", 0, False), ("before", 1, False)]
        assert len(calls.log) == 1


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
