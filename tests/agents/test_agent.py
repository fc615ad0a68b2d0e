"""agents/agent.py: create_agent scenarios with the scripted model."""

from __future__ import annotations

import json
from typing import TypedDict

import pytest

from agents.agent import MAX_ITERATIONS_REACHED, create_agent
from agents.chat_models import ScriptedChatModel
from agents.errors import ApprovalError, StructuredOutputError
from agents.tools import ToolRuntime, tool
from graphs import Command, InterruptPolicy
from graphs.checkpoint import InMemorySaver
from graphs.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage


def calls(*pairs):
    """A scripted turn calling tools: calls(("add", {"a": 1}), ...)."""
    return {"tool_calls": [{"name": n, "args": a} for n, a in pairs]}


class Ledger:
    """Tools with side effects we can count."""

    def __init__(self):
        self.effects: list[tuple[str, dict]] = []
        self.fail_next: set[str] = set()

        @tool
        def add(a: int, b: int) -> int:
            """Add two integers.

            Args:
                a: First addend.
                b: Second addend.
            """
            self.effects.append(("add", {"a": a, "b": b}))
            return a + b

        @tool
        def send_email(to: str, body: str) -> str:
            """Send an email.

            Args:
                to: Recipient.
                body: Text.
            """
            if "send_email" in self.fail_next:
                self.fail_next.discard("send_email")
                raise Crash("process died while sending")
            self.effects.append(("send_email", {"to": to, "body": body}))
            return f"sent to {to}"

        self.tools = [add, send_email]

    def count(self, name):
        return sum(1 for n, _ in self.effects if n == name)


class Crash(Exception):
    pass


def thread(name="t1"):
    return {"configurable": {"thread_id": name}}


def test_it_runs_several_tool_rounds_and_sums_usage():
    ledger = Ledger()
    model = ScriptedChatModel(
        [
            calls(("add", {"a": 1, "b": 2})),
            calls(("add", {"a": 3, "b": 4}), ("add", {"a": 5, "b": 6})),
            lambda msgs: (
                f"results: {[m.text for m in msgs if isinstance(m, ToolMessage)]}"
            ),
        ]
    )
    agent = create_agent(model, ledger.tools, system_prompt="You add numbers.")
    out = agent.invoke({"messages": [HumanMessage("add stuff")]})
    assert out["messages"][-1].text == "results: ['3', '7', '11']"
    assert ledger.count("add") == 3
    assert [type(m).__name__ for m in out["messages"]] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
        "ToolMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert all(m.id for m in out["messages"])
    assert out["usage"]["total_tokens"] == model.usage["total_tokens"] > 0
    first_prompt = model.calls[0]
    assert first_prompt[0].text == "You add numbers."
    assert not any(m.type == "system" for m in out["messages"])


def test_tool_errors_are_reported_to_the_model():
    ledger = Ledger()
    model = ScriptedChatModel(
        [
            calls(("add", {"a": "x"}), ("nope", {})),
            lambda msgs: " | ".join(m.text for m in msgs if isinstance(m, ToolMessage)),
        ]
    )
    out = create_agent(model, ledger.tools).invoke({"messages": [("user", "go")]})
    errors = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in errors] == ["error", "error"]
    assert "Invalid arguments for add" in errors[0].text
    assert "'nope' does not exist" in errors[1].text
    assert ledger.effects == []


def approval_agent(ledger, saver, **kw):
    model = ScriptedChatModel(
        [
            calls(
                ("add", {"a": 1, "b": 1}), ("send_email", {"to": "bob", "body": "hi"})
            ),
            lambda msgs: (
                "final: "
                + " | ".join(m.text for m in msgs if isinstance(m, ToolMessage))
            ),
        ]
    )
    return create_agent(
        model, ledger.tools, interrupt_on={"send_email": True}, checkpointer=saver, **kw
    )


def test_it_pauses_with_the_oris_payload_before_a_risky_tool():
    ledger = Ledger()
    agent = approval_agent(ledger, InMemorySaver())
    out = agent.invoke({"messages": [("user", "mail bob")]}, thread())
    (pending,) = out["__interrupt__"]
    assert pending.value["action_requests"] == [
        {
            "name": "send_email",
            "args": {"to": "bob", "body": "hi"},
            "description": pending.value["action_requests"][0]["description"],
        }
    ]
    assert pending.value["review_configs"] == [
        {
            "action_name": "send_email",
            "allowed_decisions": ["approve", "edit", "reject"],
        }
    ]
    json.dumps(pending.value)  # the runtime stores it as JSON
    assert ledger.effects == []  # nothing runs before the decision


def test_an_approved_call_runs():
    ledger = Ledger()
    agent = approval_agent(ledger, InMemorySaver())
    agent.invoke({"messages": [("user", "mail bob")]}, thread())
    out = agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), thread())
    assert out["messages"][-1].text == "final: 2 | sent to bob"
    assert ledger.count("send_email") == 1
    assert "__interrupt__" not in out


def test_an_edited_call_runs_with_the_new_arguments():
    ledger = Ledger()
    agent = approval_agent(ledger, InMemorySaver())
    agent.invoke({"messages": [("user", "mail bob")]}, thread())
    edit = {
        "type": "edit",
        "edited_action": {"name": "send_email", "args": {"to": "carol", "body": "hey"}},
    }
    out = agent.invoke(Command(resume={"decisions": [edit]}), thread())
    # the turn's tool calls run concurrently: their effects come in any order
    assert ("send_email", {"to": "carol", "body": "hey"}) in ledger.effects
    assert ledger.count("send_email") == 1
    ai = out["messages"][1]
    assert ai.tool_calls[1]["args"] == {"to": "carol", "body": "hey"}
    assert len([m for m in out["messages"] if isinstance(m, AIMessage)]) == 2


def test_a_rejected_call_is_answered_without_running():
    ledger = Ledger()
    agent = approval_agent(ledger, InMemorySaver())
    agent.invoke({"messages": [("user", "mail bob")]}, thread())
    out = agent.invoke(
        Command(resume={"decisions": [{"type": "reject", "message": "not bob"}]}),
        thread(),
    )
    assert ledger.count("send_email") == 0
    assert ledger.count("add") == 1
    rejected = [m for m in out["messages"] if getattr(m, "status", "") == "error"]
    assert rejected[0].text == "Tool call rejected by user. not bob"
    assert sorted(out["messages"][-1].text.removeprefix("final: ").split(" | ")) == [
        "2",
        "Tool call rejected by user. not bob",
    ]


def test_a_malformed_decision_asks_again_instead_of_failing():
    ledger = Ledger()
    agent = approval_agent(ledger, InMemorySaver())
    agent.invoke({"messages": [("user", "mail bob")]}, thread())
    out = agent.invoke(Command(resume={"decisions": [{"type": "maybe"}]}), thread())
    (again,) = out["__interrupt__"]
    assert "Not a decision" in again.value["error"]
    out = agent.invoke(Command(resume="approve"), thread())
    assert ledger.count("send_email") == 1


def test_a_decision_outside_allowed_decisions_is_refused():
    ledger = Ledger()
    model = ScriptedChatModel([calls(("send_email", {"to": "b", "body": "x"})), "ok"])
    agent = create_agent(
        model,
        ledger.tools,
        interrupt_on={"send_email": {"allowed_decisions": ["approve", "reject"]}},
        checkpointer=InMemorySaver(),
    )
    out = agent.invoke({"messages": [("user", "go")]}, thread())
    assert out["__interrupt__"][0].value["review_configs"][0]["allowed_decisions"] == [
        "approve",
        "reject",
    ]
    edit = {"type": "edit", "edited_action": {"args": {"to": "c", "body": "y"}}}
    out = agent.invoke(Command(resume={"decisions": [edit]}), thread())
    assert "not allowed" in out["__interrupt__"][0].value["error"]
    assert ledger.effects == []


def test_a_crash_mid_loop_resumes_without_repeating_completed_tool_calls():
    ledger = Ledger()
    saver = InMemorySaver()
    ledger.fail_next.add("send_email")
    script = [
        calls(("add", {"a": 1, "b": 1}), ("send_email", {"to": "bob", "body": "hi"})),
        "all done",
    ]
    agent = create_agent(
        ScriptedChatModel(script),
        ledger.tools,
        checkpointer=saver,
        handle_tool_errors=False,
    )
    with pytest.raises(Crash):
        agent.invoke({"messages": [("user", "go")]}, thread())
    assert ledger.count("add") == 1  # completed before the crash
    # A new process: fresh model and agent objects, same checkpoint store.
    restarted = create_agent(
        ScriptedChatModel(script),
        ledger.tools,
        checkpointer=saver,
        handle_tool_errors=False,
    )
    out = restarted.invoke(None, thread())
    assert out["messages"][-1].text == "all done"
    assert ledger.count("add") == 1
    assert ledger.count("send_email") == 1


def test_a_model_crash_after_tools_does_not_rerun_them():
    ledger = Ledger()
    saver = InMemorySaver()
    state = {"crashed": False}

    def flaky(_msgs):
        if not state["crashed"]:
            state["crashed"] = True
            raise Crash("model process died")
        return "recovered"

    model = ScriptedChatModel([calls(("add", {"a": 2, "b": 2})), flaky])
    agent = create_agent(model, ledger.tools, checkpointer=saver)
    with pytest.raises(Crash):
        agent.invoke({"messages": [("user", "go")]}, thread())
    out = agent.invoke(None, thread())
    assert out["messages"][-1].text == "recovered"
    assert ledger.count("add") == 1


def test_max_iterations_stops_the_loop():
    ledger = Ledger()
    model = ScriptedChatModel([], when_exhausted=calls(("add", {"a": 1, "b": 1})))
    out = create_agent(model, ledger.tools, max_iterations=3).invoke(
        {"messages": [("user", "loop forever")]}
    )
    assert out["messages"][-1].text == MAX_ITERATIONS_REACHED
    assert ledger.count("add") == 3
    assert len(model.calls) == 3


def test_the_iteration_budget_is_per_user_turn():
    ledger = Ledger()
    model = ScriptedChatModel(
        [
            calls(("add", {"a": 1, "b": 1})),
            "one",
            calls(("add", {"a": 2, "b": 2})),
            "two",
        ]
    )
    agent = create_agent(
        model, ledger.tools, max_iterations=2, checkpointer=InMemorySaver()
    )
    agent.invoke({"messages": [("user", "first")]}, thread())
    out = agent.invoke({"messages": [("user", "second")]}, thread())
    assert out["messages"][-1].text == "two"


class Weather(TypedDict):
    city: str
    celsius: int


def test_structured_output_from_a_json_schema():
    schema = {
        "title": "weather",
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
        "required": ["city", "celsius"],
        "additionalProperties": False,
    }
    model = ScriptedChatModel(
        [
            calls(("weather", {"city": "Oslo", "celsius": "warm"})),  # invalid: retried
            calls(("weather", {"city": "Oslo", "celsius": 21})),
        ]
    )
    out = create_agent(model, [], response_format=schema).invoke(
        {"messages": [("user", "weather in Oslo")]}
    )
    assert out["structured_response"] == {"city": "Oslo", "celsius": 21}
    errors = [m for m in out["messages"] if getattr(m, "status", "") == "error"]
    assert "expected integer" in errors[0].text
    assert len(model.calls) == 2


def test_structured_output_from_a_typeddict_and_json_text():
    model = ScriptedChatModel(['```json\n{"city": "Rome", "celsius": 30}\n```'])
    out = create_agent(model, [], response_format=Weather).invoke({"messages": ["hi"]})
    assert out["structured_response"] == {"city": "Rome", "celsius": 30}


def test_structured_output_that_is_not_json_fails_loudly():
    agent = create_agent(ScriptedChatModel(["sunny"]), [], response_format=Weather)
    with pytest.raises(StructuredOutputError):
        agent.invoke({"messages": ["hi"]})


def test_structured_output_with_a_pydantic_model_survives_a_checkpoint():
    pydantic = pytest.importorskip("pydantic")

    class Forecast(pydantic.BaseModel):
        city: str
        celsius: int

    model = ScriptedChatModel([calls(("Forecast", {"city": "Oslo", "celsius": 3}))])
    agent = create_agent(
        model, [], response_format=Forecast, checkpointer=InMemorySaver()
    )
    agent.invoke({"messages": ["hi"]}, thread())
    snapshot = agent.get_state(thread())
    assert snapshot.values["structured_response"] == Forecast(city="Oslo", celsius=3)


def test_model_tokens_and_tool_call_chunks_stream_in_messages_mode():
    ledger = Ledger()
    model = ScriptedChatModel([calls(("add", {"a": 1, "b": 2})), "the sum is 3"])
    agent = create_agent(model, ledger.tools)
    events = list(agent.stream({"messages": ["add"]}, stream_mode="messages"))
    chunks = [m for m, meta in events if isinstance(m, AIMessageChunk)]
    assert any(c.tool_call_chunks for c in chunks)
    assert "".join(c.text for c in chunks) == "the sum is 3"
    metas = [meta for m, meta in events if isinstance(m, AIMessageChunk)]
    assert {meta["langgraph_node"] for meta in metas} == {"model"}
    assert [meta["langgraph_step"] for meta in metas][0] == 1  # step 0 is START
    assert metas[-1]["langgraph_step"] == 3  # model, tools, model


def test_streamed_replies_are_not_sent_again_as_whole_messages():
    ledger = Ledger()
    model = ScriptedChatModel([calls(("add", {"a": 1, "b": 2})), "the sum is 3"])
    agent = create_agent(model, ledger.tools)
    events = list(agent.stream({"messages": ["add"]}, stream_mode="messages"))
    kinds = [type(m).__name__ for m, _ in events]
    assert "AIMessage" not in kinds
    assert kinds.count("ToolMessage") == 1  # not streamed: sent whole, once
    reply_ids = {m.id for m, _ in events if isinstance(m, AIMessageChunk)}
    final = agent.invoke({"messages": ["add"]})["messages"]
    assert len(reply_ids) == 2  # one id per model reply, shared by its chunks
    assert len([m for m in final if isinstance(m, AIMessage)]) == 2


def test_tools_can_read_state_and_return_direct():
    seen = {}

    @tool(return_direct=True)
    def finish(summary: str, runtime: ToolRuntime) -> str:
        """Finish the task.

        Args:
            summary: What was done.
        """
        seen["messages"] = len(runtime.state["messages"])
        seen["id"] = runtime.tool_call_id
        return summary

    model = ScriptedChatModel([calls(("finish", {"summary": "all good"}))])
    out = create_agent(model, [finish]).invoke({"messages": ["go"]})
    assert out["messages"][-1].text == "all good"
    assert seen == {"messages": 2, "id": "call_0_0"}
    assert len(model.calls) == 1


def test_the_agent_runs_asynchronously_and_streams_tokens():
    import asyncio

    ledger = Ledger()
    model = ScriptedChatModel([calls(("add", {"a": 2, "b": 2})), "four it is"])
    agent = create_agent(model, ledger.tools, checkpointer=InMemorySaver())

    async def run():
        chunks = []
        async for message, _meta in agent.astream(
            {"messages": ["2+2"]}, thread("async"), stream_mode="messages"
        ):
            if isinstance(message, AIMessageChunk):
                chunks.append(message.text)
        return chunks, await agent.aget_state(thread("async"))

    chunks, snapshot = asyncio.run(run())
    assert "".join(chunks) == "four it is"
    assert snapshot.values["messages"][-1].text == "four it is"
    assert ledger.count("add") == 1


def test_an_openai_compatible_server_drives_the_agent(wire):
    from agents.chat_models import ChatOpenAI
    from tests.agents.conftest import sse, sse_reply

    ledger = Ledger()

    def delta(d, finish=None):
        return sse({"choices": [{"index": 0, "delta": d, "finish_reason": finish}]})

    call = {"index": 0, "id": "call_a", "function": {"name": "add", "arguments": ""}}
    wire.reply(
        sse_reply(
            delta({"tool_calls": [call]}),
            delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1,'}}]}),
            delta({"tool_calls": [{"index": 0, "function": {"arguments": '"b":41}'}}]}),
            delta({}, "tool_calls"),
            sse("[DONE]"),
        ),
        sse_reply(
            delta({"content": "It is "}),
            delta({"content": "42."}, "stop"),
            sse("[DONE]"),
        ),
    )
    model = ChatOpenAI("gpt-test", api_key="sk", base_url=wire.url + "/v1")
    agent = create_agent(model, ledger.tools)
    events = list(
        agent.stream({"messages": ["1+41?"]}, stream_mode=["messages", "values"])
    )
    final = [payload for mode, payload in events if mode == "values"][-1]
    assert final["messages"][-1].text == "It is 42."
    assert ledger.effects == [("add", {"a": 1, "b": 41})]
    second = wire.requests[1].body["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": "call_a", "content": "42"}
    tokens = [
        m.text
        for mode, (m, _) in (e for e in events if e[0] == "messages")
        if isinstance(m, AIMessageChunk)
    ]
    assert "".join(tokens) == "It is 42."


def test_long_tool_loops_reach_max_iterations_within_the_recursion_limit():
    ledger = Ledger()
    model = ScriptedChatModel([], when_exhausted=calls(("add", {"a": 1, "b": 1})))
    agent = create_agent(model, ledger.tools, max_iterations=15)
    out = agent.invoke({"messages": ["loop"]})
    assert out["messages"][-1].text == MAX_ITERATIONS_REACHED
    assert ledger.count("add") == 15


def twelve_rounds_then_done():
    return ScriptedChatModel(
        [calls(("add", {"a": i, "b": 1})) for i in range(12)] + ["all added"]
    )


def test_twelve_tool_rounds_complete_without_a_recursion_limit():
    # 1 + 12 * 2 supersteps: more than the engine's default limit of 25
    ledger = Ledger()
    agent = create_agent(twelve_rounds_then_done(), ledger.tools, max_iterations=15)
    out = agent.invoke({"messages": ["add twelve times"]})
    assert out["messages"][-1].text == "all added"
    assert ledger.count("add") == 12


def test_the_runtime_path_keeps_the_agents_recursion_limit():
    # the runtime binds its own saver: registered.graph.with_checkpointer(saver)
    ledger = Ledger()
    agent = create_agent(twelve_rounds_then_done(), ledger.tools, max_iterations=15)
    bound = agent.with_checkpointer(InMemorySaver())
    result = bound.run({"messages": ["add twelve times"]}, thread("runtime"))
    assert result.status == "completed", result.error
    assert result.state["messages"][-1].text == "all added"
    assert ledger.count("add") == 12


def test_a_per_call_recursion_limit_still_wins():
    from graphs import GraphRecursionError

    agent = create_agent(twelve_rounds_then_done(), Ledger().tools, max_iterations=15)
    with pytest.raises(GraphRecursionError):
        agent.invoke({"messages": ["add twelve times"]}, {"recursion_limit": 10})


def test_a_tools_interrupt_policy_travels_with_its_approval_interrupt():
    ledger = Ledger()
    policy = InterruptPolicy(group="ops", quorum=2)
    script = [calls(("send_email", {"to": "b", "body": "x"})), "sent"]
    agent = create_agent(
        ScriptedChatModel(script),
        ledger.tools,
        interrupt_on={"send_email": {"policy": policy}},
        checkpointer=InMemorySaver(),
    )
    (pending,) = agent.invoke({"messages": [("user", "go")]}, thread())["__interrupt__"]
    assert pending.policy == policy
    agent.invoke(Command(resume=True), thread())
    assert ledger.count("send_email") == 1


def test_calls_under_different_policies_are_reviewed_one_policy_at_a_time():
    ledger = Ledger()
    strict = InterruptPolicy(group="finance", reason_required=True)
    script = [
        calls(("add", {"a": 1, "b": 2}), ("send_email", {"to": "b", "body": "x"})),
        "done",
    ]
    agent = create_agent(
        ScriptedChatModel(script),
        ledger.tools,
        interrupt_on={"send_email": {"policy": strict}, "add": True},
        checkpointer=InMemorySaver(),
    )
    (first,) = agent.invoke({"messages": [("user", "go")]}, thread())["__interrupt__"]
    assert [a["name"] for a in first.value["action_requests"]] == ["add"]
    assert first.policy is None
    (second,) = agent.invoke(Command(resume=True), thread())["__interrupt__"]
    assert [a["name"] for a in second.value["action_requests"]] == ["send_email"]
    assert second.policy == strict
    assert ledger.effects == []  # nothing runs before every batch is decided
    agent.invoke(Command(resume="reject"), thread())
    assert (ledger.count("add"), ledger.count("send_email")) == (1, 0)


def test_a_policy_in_interrupt_on_must_be_an_interrupt_policy():
    with pytest.raises(ApprovalError, match="InterruptPolicy"):
        create_agent(
            ScriptedChatModel(["hi"]),
            Ledger().tools,
            interrupt_on={"send_email": {"policy": {"quorum": 2}}},
        )
