"""Async model and tool calls are effects like the sync ones: ``ainvoke`` and
``astream`` of a chat model and ``ToolExecutor.arun`` (an async tool) inside an
async node are recorded once, answered from the ledger when the task runs again
(after a crash) and by a recorded replay, which sends nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from agents import ScriptedChatModel, tool
from agents.tool_node import ToolExecutor
from graphs import START, EffectOptions, MessagesState, StateGraph
from graphs.checkpoint import InMemorySaver
from graphs.effects import Effect, first_unanswered, get_effect
from graphs.messages import HumanMessage

CALL = {"name": "charge", "args": {"amount": 3}, "id": "call-1"}


class Charges:
    """The async tool's side effects, with the effect key each one got."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []

    def tool(self) -> Any:
        async def charge(amount: int) -> str:
            """Charge ``amount``.

            Args:
                amount: How much.
            """
            await asyncio.sleep(0)
            effect = get_effect()
            self.keys.append(None if effect is None else effect.key)
            return f"charged {amount}"

        return tool(charge)


def model() -> ScriptedChatModel:
    return ScriptedChatModel(
        [{"content": "", "tool_calls": [CALL]}, "all done"], cursor="calls"
    )


def build(chat: ScriptedChatModel, charges: Charges, crash: list[bool]) -> Any:
    """One async node: ``ainvoke``, the async tool, ``astream``, then (while
    ``crash`` holds a True) the process dies."""
    executor = ToolExecutor([charges.tool()])

    async def step(state: MessagesState, config: dict[str, Any]) -> dict[str, Any]:
        messages = list(state["messages"])
        first = await chat.ainvoke(messages)
        update = await executor.arun(
            first.tool_calls[0], state={}, config=config, writer=None
        )
        results = update["messages"]
        chunks = [c async for c in chat.astream([*messages, first, *results])]
        total = chunks[0]
        for chunk in chunks[1:]:
            total = total + chunk
        if crash and crash.pop(0):
            raise ConnectionError("the process died")
        return {"messages": [first, *results, total.to_message()]}

    builder = StateGraph(MessagesState)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    return builder


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"async-{uuid.uuid4().hex}"}}


def test_a_crashed_async_task_is_answered_from_the_ledger_when_it_runs_again() -> None:
    saver, chat, charges = InMemorySaver(), model(), Charges()
    graph = build(chat, charges, [True]).compile(checkpointer=saver)
    config = thread()
    with pytest.raises(ConnectionError):
        asyncio.run(graph.ainvoke({"messages": [HumanMessage("pay")]}, config))
    assert len(chat.calls) == 2
    assert len(charges.keys) == 1

    result = asyncio.run(graph.ainvoke(None, config))
    assert result["messages"][-1].text == "all done"
    assert len(chat.calls) == 2  # both model calls answered from the ledger
    assert len(charges.keys) == 1  # the tool did not run again
    records = saver.list_effects(config["configurable"]["thread_id"])
    assert [(r.kind, r.name) for r in records] == [
        ("model", "scripted:scripted"),
        ("tool", "charge"),
        ("model", "scripted:scripted"),
    ]
    assert charges.keys == [records[1].key]  # the tool got its effect key
    assert all(r.usage.get("total_tokens", 0) > 0 for r in (records[0], records[2]))


def test_an_async_run_is_replayed_from_its_recording_without_calls() -> None:
    saver, charges = InMemorySaver(), Charges()
    config = thread()
    graph = build(model(), charges, []).compile(checkpointer=saver)
    live = asyncio.run(graph.ainvoke({"messages": [HumanMessage("pay")]}, config))
    recorded = saver.list_effects(config["configurable"]["thread_id"])

    silent, untouched = model(), Charges()
    replay = build(silent, untouched, []).compile(checkpointer=InMemorySaver())
    options = EffectOptions(mode="recorded", recorded=recorded)
    again = asyncio.run(
        replay.ainvoke(
            {"messages": [HumanMessage("pay")]}, {**thread(), "effects": options}
        )
    )
    assert [m.text for m in again["messages"]] == [m.text for m in live["messages"]]
    assert silent.calls == []
    assert untouched.keys == []
    assert first_unanswered(options) is None


def test_async_calls_pass_the_effect_gate_with_their_usage() -> None:
    seen: list[tuple[str, str | None, int]] = []

    def after(effect: Effect, error: BaseException | None) -> None:
        seen.append(
            (effect.kind, effect.counts_as, effect.usage.get("total_tokens", 0))
        )

    graph = build(model(), Charges(), []).compile(checkpointer=InMemorySaver())
    config = {**thread(), "effects": EffectOptions(after=[after])}
    asyncio.run(graph.ainvoke({"messages": [HumanMessage("pay")]}, config))
    assert [(kind, counts) for kind, counts, _ in seen] == [
        ("model", "model_call"),
        ("tool", "tool_call"),
        ("model", "model_call"),
    ]
    assert seen[0][2] > 0
    assert seen[2][2] > 0
