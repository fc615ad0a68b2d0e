"""Checkpointer conformance suite: every saver must pass it.

Use it by subclassing with a ``saver`` fixture::

    from tests.graphs.checkpointer_conformance import CheckpointerConformance

    class TestDjangoSaver(CheckpointerConformance):
        @pytest.fixture
        def saver(self, db):
            return DjangoSaver()

The base class name does not start with ``Test``, so pytest only collects it through
subclasses. Tests cover the saver protocol (row shape semantics, ordering, filters,
pending writes, deletion, async variants) and the engine running on the saver
(interrupt/resume, failed supersteps, time travel, forks).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter as Tally
from typing import Any

import pytest

from graphs import START, Command, Interrupt, StateGraph, interrupt
from graphs.checkpoint import BaseCheckpointSaver, CheckpointTuple, new_checkpoint_id
from graphs.messages import AIMessage, HumanMessage

from .conftest import Counter, appender

__all__ = ["CheckpointerConformance", "make_checkpoint"]


def make_checkpoint(
    values: dict[str, Any],
    versions: dict[str, str],
    *,
    next_tasks: list[dict[str, Any]] | None = None,
    deltas: dict[str, list[Any]] | None = None,
    chain: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    """A format-1 checkpoint as the engine builds it."""
    return {
        "v": 1,
        "id": new_checkpoint_id(),
        "ts": dt.datetime.now(dt.UTC).isoformat(),
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": {},
        "next": next_tasks or [],
        "barriers": {},
        "deferred": [],
        "last": [],
        "chain": chain or {},
        "deltas": deltas or {},
    }


def cfg(thread: str, ns: str = "", checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


class CheckpointerConformance:
    """Behaviour every :class:`BaseCheckpointSaver` must have."""

    @pytest.fixture
    def saver(self) -> BaseCheckpointSaver:  # pragma: no cover - overridden
        raise NotImplementedError("subclasses provide a `saver` fixture")

    @pytest.fixture
    def thread_id(self) -> str:
        return f"conf-{uuid.uuid4().hex}"

    def put(
        self,
        saver: BaseCheckpointSaver,
        parent: dict[str, Any],
        values: dict[str, Any],
        new: dict[str, Any],
        step: int,
        **kw: Any,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        versions = dict(kw.pop("versions", {}))
        checkpoint = make_checkpoint(values, versions, **kw)
        for ch in new:
            versions[ch] = checkpoint["id"]
        checkpoint["channel_versions"] = versions
        new_versions = {ch: checkpoint["id"] for ch in new}
        metadata = {"source": "loop", "step": step, "parents": {}}
        return saver.put(parent, checkpoint, metadata, new_versions), checkpoint  # type: ignore[arg-type]

    # -- protocol ------------------------------------------------------------------

    def test_it_is_a_base_checkpoint_saver(self, saver: BaseCheckpointSaver) -> None:
        assert isinstance(saver, BaseCheckpointSaver)

    def test_get_tuple_of_an_unknown_thread_is_none(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        assert saver.get_tuple(cfg(thread_id)) is None

    def test_put_then_get_tuple_round_trips(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        values = {"n": 1, "log": ["a"], "when": dt.date(2024, 1, 2), "pair": (1, 2)}
        config, checkpoint = self.put(saver, cfg(thread_id), values, values, step=0)
        assert config == cfg(thread_id, "", checkpoint["id"])
        got = saver.get_tuple(config)
        assert isinstance(got, CheckpointTuple)
        assert got.config == config
        assert got.checkpoint["channel_values"] == values
        assert got.checkpoint["channel_versions"] == checkpoint["channel_versions"]
        assert got.checkpoint["id"] == checkpoint["id"]
        assert got.checkpoint["v"] == 1
        assert "deltas" not in got.checkpoint
        assert got.metadata == {"source": "loop", "step": 0, "parents": {}}
        assert got.parent_config is None
        assert got.pending_writes == []

    def test_get_tuple_without_id_is_the_latest_and_links_the_parent(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        first, _ = self.put(saver, cfg(thread_id), {"n": 1}, {"n": 1}, step=0)
        second, _ = self.put(saver, first, {"n": 2}, {"n": 2}, step=1)
        latest = saver.get_tuple(cfg(thread_id))
        assert latest is not None
        assert latest.config == second
        assert latest.parent_config == first
        older = saver.get_tuple(first)
        assert older is not None
        assert older.checkpoint["channel_values"] == {"n": 1}
        assert saver.get_tuple(cfg(thread_id, "", new_checkpoint_id())) is None

    def test_unchanged_channels_are_read_from_older_versions(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        values = {"big": "x" * 1000, "n": 1}
        first, cp1 = self.put(saver, cfg(thread_id), values, values, step=0)
        values2 = {"big": "x" * 1000, "n": 2}
        second, _ = self.put(
            saver, first, values2, {"n": 2}, step=1, versions=cp1["channel_versions"]
        )
        got = saver.get_tuple(second)
        assert got is not None
        assert got.checkpoint["channel_values"] == values2
        assert got.checkpoint["channel_versions"]["big"] == cp1["id"]

    def test_delta_blobs_reassemble_grown_lists(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        m1, m2 = HumanMessage(content="hi", id="1"), AIMessage(content="yo", id="2")
        first, cp1 = self.put(saver, cfg(thread_id), {"m": [m1]}, {"m": 1}, step=0)
        version = cp1["channel_versions"]["m"]
        second, _ = self.put(
            saver,
            first,
            {"m": [m1, m2]},
            {"m": 1},
            step=1,
            versions=cp1["channel_versions"],
            deltas={"m": [version, 1]},
            chain={"m": [1, 1, version]},  # the engine sets it with every delta
        )
        got = saver.get_tuple(second)
        assert got is not None
        assert got.checkpoint["channel_values"] == {"m": [m1, m2]}

    def test_list_is_newest_first_with_limit_before_and_filter(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        configs = []
        parent = cfg(thread_id)
        for step in range(4):
            parent, _ = self.put(saver, parent, {"n": step}, {"n": step}, step=step)
            configs.append(parent)
        listed = list(saver.list(cfg(thread_id)))
        assert [t.config for t in listed] == configs[::-1]
        assert [t.metadata["step"] for t in saver.list(cfg(thread_id), limit=2)] == [
            3,
            2,
        ]
        before = list(saver.list(cfg(thread_id), before=configs[2]))
        assert [t.metadata["step"] for t in before] == [1, 0]
        assert (
            list(saver.list(cfg(thread_id), filter={"step": 1}))[0].config == configs[1]
        )
        assert list(saver.list(cfg(thread_id), filter={"source": "update"})) == []

    def test_threads_and_namespaces_are_isolated(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        self.put(saver, cfg(thread_id), {"n": 1}, {"n": 1}, step=0)
        self.put(saver, cfg(thread_id, "child:1"), {"n": 2}, {"n": 2}, step=0)
        self.put(saver, cfg(thread_id + "-other"), {"n": 3}, {"n": 3}, step=0)
        root = saver.get_tuple(cfg(thread_id))
        child = saver.get_tuple(cfg(thread_id, "child:1"))
        assert root is not None
        assert child is not None
        assert root.checkpoint["channel_values"] == {"n": 1}
        assert child.checkpoint["channel_values"] == {"n": 2}
        assert len(list(saver.list(cfg(thread_id)))) == 1
        assert len(list(saver.list({"configurable": {"thread_id": thread_id}}))) == 2

    def test_put_writes_are_returned_as_pending_writes(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        config, _ = self.put(saver, cfg(thread_id), {"n": 1}, {"n": 1}, step=0)
        intr = Interrupt(value={"q": 1}, id="i-1")
        saver.put_writes(config, [("n", 5), ("log", ("t",))], "task-a")
        saver.put_writes(config, [("__interrupt__", [intr])], "task-b")
        got = saver.get_tuple(config)
        assert got is not None
        assert sorted(got.pending_writes or []) == sorted(
            [
                ("task-a", "n", 5),
                ("task-a", "log", ("t",)),
                ("task-b", "__interrupt__", [intr]),
            ]
        )

    def test_regular_writes_are_not_overwritten_but_bookkeeping_is(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        config, _ = self.put(saver, cfg(thread_id), {"n": 1}, {"n": 1}, step=0)
        saver.put_writes(config, [("n", 1)], "task")
        saver.put_writes(config, [("n", 2)], "task")
        saver.put_writes(config, [("__resume__", ["a"])], "task")
        saver.put_writes(config, [("__resume__", ["a", "b"])], "task")
        got = saver.get_tuple(config)
        assert got is not None
        assert sorted(got.pending_writes or [], key=repr) == sorted(
            [("task", "n", 1), ("task", "__resume__", ["a", "b"])], key=repr
        )

    def test_delete_thread_removes_everything_of_that_thread(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        config, _ = self.put(saver, cfg(thread_id), {"n": 1}, {"n": 1}, step=0)
        saver.put_writes(config, [("n", 2)], "task")
        self.put(saver, cfg(thread_id, "child:1"), {"n": 1}, {"n": 1}, step=0)
        other, _ = self.put(saver, cfg(thread_id + "-keep"), {"n": 9}, {"n": 9}, step=0)
        saver.delete_thread(thread_id)
        assert saver.get_tuple(cfg(thread_id)) is None
        assert saver.get_tuple(cfg(thread_id, "child:1")) is None
        assert list(saver.list(cfg(thread_id))) == []
        assert saver.get_tuple(other) is not None

    def run_async(self, scenario: Any) -> None:
        """Run an async scenario; override for savers that need another loop setup."""
        asyncio.run(scenario)

    def test_async_variants_match_the_sync_methods(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        async def scenario() -> None:
            checkpoint = make_checkpoint({"n": 1}, {})
            checkpoint["channel_versions"] = {"n": checkpoint["id"]}
            config = await saver.aput(
                cfg(thread_id),
                checkpoint,
                {"source": "loop", "step": 0},  # type: ignore[arg-type]
                {"n": checkpoint["id"]},
            )
            await saver.aput_writes(config, [("n", 2)], "t")
            got = await saver.aget_tuple(config)
            assert got is not None
            assert got.pending_writes == [("t", "n", 2)]
            assert [t.config async for t in saver.alist(cfg(thread_id))] == [config]
            await saver.adelete_thread(thread_id)
            assert await saver.aget_tuple(config) is None

        self.run_async(scenario())

    # -- the engine on this saver -----------------------------------------------------

    def test_graph_interrupt_and_resume(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        g = StateGraph(Counter)
        g.add_node("a", appender("a"))
        g.add_node("ask", lambda s: {"log": [interrupt("q1"), interrupt("q2")]})
        g.add_edge(START, "a")
        g.add_edge("a", "ask")
        graph = g.compile(checkpointer=saver)
        thread = {"configurable": {"thread_id": thread_id}}
        assert graph.invoke({"n": 0}, thread)["__interrupt__"][0].value == "q1"
        assert graph.get_state(thread).interrupts[0].value == "q1"
        assert graph.invoke(Command(resume=1), thread)["__interrupt__"][0].value == "q2"
        assert graph.invoke(Command(resume=2), thread)["log"] == ["a", 1, 2]

    def test_checkpoints_of_the_earlier_history_shape_still_load(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        # Before the START superstep, the engine applied the input in the input
        # checkpoint (step -1, next = the first nodes) and had steps one lower.
        # Such a thread, paused by an interrupt in `ask`, resumes and goes on.
        from graphs._context import interrupt_id
        from graphs._task import task_id

        thread = cfg(thread_id)
        first = make_checkpoint({"n": 0}, {}, next_tasks=[{"name": "a"}])
        first["channel_versions"] = {"n": first["id"]}
        meta = {"source": "input", "step": -1, "parents": {}}
        parent = saver.put(thread, first, meta, {"n": first["id"]})  # type: ignore[arg-type]
        paused = make_checkpoint(
            {"n": 0, "log": ["a"]}, {"n": first["id"]}, next_tasks=[{"name": "ask"}]
        )
        paused["channel_versions"]["log"] = paused["id"]
        meta = {"source": "loop", "step": 0, "parents": {}}
        at = saver.put(parent, paused, meta, {"log": paused["id"]})  # type: ignore[arg-type]
        tid = task_id(paused["id"], "", 0, "ask")
        pending = Interrupt("q1", interrupt_id(tid, 0))
        saver.put_writes(at, [("__interrupt__", [pending])], tid)

        g = StateGraph(Counter)
        g.add_node("a", appender("a"))
        g.add_node("ask", lambda s: {"log": [interrupt("q1")]})
        g.add_node("b", appender("b"))
        g.add_edge(START, "a")
        g.add_edge("a", "ask")
        g.add_edge("ask", "b")
        graph = g.compile(checkpointer=saver)
        assert graph.get_state(thread).interrupts == (pending,)
        out = graph.invoke(Command(resume="yes"), thread)
        assert out == {"n": 0, "log": ["a", "yes", "b"]}
        steps = [h.metadata["step"] for h in graph.get_state_history(thread)]
        assert steps == [2, 1, 0, -1]

    def test_failed_superstep_resumes_without_rerunning_siblings(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        calls = Tally[str]()
        broken = {"yes": True}

        def ok(state: Counter) -> dict[str, Any]:
            calls["ok"] += 1
            return {"log": ["ok"]}

        def flaky(state: Counter) -> dict[str, Any]:
            calls["flaky"] += 1
            if broken["yes"]:
                raise RuntimeError("boom")
            return {"log": ["flaky"]}

        g = StateGraph(Counter)
        g.add_node("ok", ok)
        g.add_node("flaky", flaky)
        g.add_edge(START, "ok")
        g.add_edge(START, "flaky")
        graph = g.compile(checkpointer=saver)
        thread = {"configurable": {"thread_id": thread_id}}
        assert graph.run({"n": 0}, thread).status == "failed"
        broken["yes"] = False
        result = graph.run(None, thread)
        assert result.state["log"] == ["flaky", "ok"]  # applied by task path
        assert calls == {"ok": 1, "flaky": 2}

    def test_history_time_travel_and_fork(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        g = StateGraph(Counter)
        g.add_sequence([appender("a"), appender("b")])
        g.add_edge(START, "a")
        graph = g.compile(checkpointer=saver)
        thread = {"configurable": {"thread_id": thread_id}}
        graph.invoke({"n": 0}, thread)
        history = list(graph.get_state_history(thread))
        assert [h.metadata["step"] for h in history] == [2, 1, 0, -1]
        after_a = history[1]
        fork = graph.update_state(after_a.config, {"n": 9}, as_node="a")
        assert graph.invoke(None, fork) == {"n": 9, "log": ["a", "b"]}
        assert graph.get_state(thread).values == {"n": 9, "log": ["a", "b"]}

    def test_message_lists_survive_many_steps(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        from graphs import END, MessagesState

        g = StateGraph(MessagesState)
        g.add_node(
            "talk", lambda s: {"messages": [AIMessage(content=str(len(s["messages"])))]}
        )
        g.add_edge(START, "talk")
        g.add_conditional_edges(
            "talk", lambda s: "talk" if len(s["messages"]) < 30 else END
        )
        graph = g.compile(checkpointer=saver)
        thread = {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}
        graph.invoke({"messages": [HumanMessage(content="go")]}, thread)
        for snap in graph.get_state_history(thread):
            step = snap.metadata["step"]
            messages = snap.values["messages"]
            assert len(messages) == step + 1  # none in the input checkpoint (-1)
            assert [m.content for m in messages[1:]] == [
                str(i) for i in range(1, step + 1)
            ]

    def test_langchain_messages_survive_steps_pending_writes_and_forks(
        self, saver: BaseCheckpointSaver, thread_id: str
    ) -> None:
        pytest.importorskip("langchain_core")
        from langchain_core.documents import Document
        from langchain_core.messages import AIMessage as LCAIMessage
        from langchain_core.messages import HumanMessage as LCHumanMessage
        from langchain_core.messages import ToolMessage as LCToolMessage

        from graphs import END, MessagesState

        # pending writes of a finished task hold LangChain objects too
        config, _ = self.put(saver, cfg(thread_id), {"n": 1}, {"n": 1}, step=0)
        doc = Document(page_content="p", metadata={"k": [1, 2]}, id="d")
        saver.put_writes(config, [("docs", [doc])], "task-a")
        got = saver.get_tuple(config)
        assert got is not None
        assert got.pending_writes == [("task-a", "docs", [doc])]

        broken = {"yes": True}

        def talk(state: dict[str, Any]) -> dict[str, Any]:
            n = len(state["messages"])
            call = {"name": "f", "args": {"n": n}, "id": f"c{n}"}
            return {"messages": [LCAIMessage(str(n), id=f"a{n}", tool_calls=[call])]}

        def tool(state: dict[str, Any]) -> dict[str, Any]:
            if broken["yes"]:
                raise RuntimeError("boom")
            call_id = state["messages"][-1].tool_calls[0]["id"]
            return {"messages": [LCToolMessage("ok", tool_call_id=call_id)]}

        g = StateGraph(MessagesState)
        g.add_node("talk", talk)
        g.add_node("tool", tool)
        g.add_edge(START, "talk")
        g.add_edge("talk", "tool")
        g.add_conditional_edges(
            "tool", lambda s: "talk" if len(s["messages"]) < 7 else END
        )
        graph = g.compile(checkpointer=saver)
        thread = {"configurable": {"thread_id": thread_id}}
        first = LCHumanMessage("go", id="h")
        assert graph.run({"messages": [first]}, thread).status == "failed"
        broken["yes"] = False
        messages = graph.invoke(None, thread)["messages"]
        assert [type(m).__name__ for m in messages] == [
            "HumanMessage",
            *["AIMessage", "ToolMessage"] * 3,
        ]
        assert messages[1].tool_calls == [
            {"name": "f", "args": {"n": 1}, "id": "c1", "type": "tool_call"}
        ]
        history = list(graph.get_state_history(thread))
        for snap in history:
            assert all(
                isinstance(m, (LCHumanMessage, LCAIMessage, LCToolMessage))
                for m in snap.values.get("messages", [])
            )
        # fork from the first model reply: the list is rebuilt from the checkpoint
        after_talk = next(s for s in history if len(s.values["messages"]) == 2)
        fork = graph.update_state(
            after_talk.config, {"messages": [LCAIMessage("edited", id="a1")]}
        )
        forked = graph.get_state(fork).values["messages"]
        assert [m.content for m in forked] == ["go", "edited"]
        assert forked[0] == first
