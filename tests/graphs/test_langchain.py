"""LangChain interop: messages in the state, Oris conversions, Runnables, streaming.

The model is langchain_core's GenericFakeChatModel (no network).
"""

from __future__ import annotations

import asyncio
import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
)
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda

from agents.agent import create_agent
from agents.chat_models import ScriptedChatModel
from graphs import (
    END,
    START,
    MessagesState,
    StateGraph,
    add_messages,
)
from graphs import messages as oris
from graphs._langchain import new_id
from graphs.messages import REMOVE_ALL_MESSAGES, from_langchain, to_langchain


class LCState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def thread(name: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


# -- add_messages ----------------------------------------------------------------


def test_langchain_messages_stay_langchain_and_plain_inputs_join_them() -> None:
    left = [HumanMessage("hi", id="1")]
    merged = add_messages(left, [("ai", "hello"), {"role": "user", "content": "x"}])
    assert [type(m) for m in merged] == [HumanMessage, AIMessage, HumanMessage]
    assert merged[0] is left[0]
    assert all(m.id for m in merged)


def test_a_single_message_or_string_is_one_message() -> None:
    assert add_messages([HumanMessage("a", id="1")], AIMessage("b", id="2")) == [
        HumanMessage("a", id="1"),
        AIMessage("b", id="2"),
    ]
    [msg] = add_messages([], HumanMessage("x"))
    assert msg.id is not None  # assigned in place, as LangGraph does


def test_replace_and_remove_by_id() -> None:
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    replaced = add_messages(left, [AIMessage("b2", id="2"), HumanMessage("c", id="3")])
    assert [m.content for m in replaced] == ["a", "b2", "c"]
    assert add_messages(left, RemoveMessage(id="1")) == [AIMessage("b", id="2")]
    with pytest.raises(ValueError, match="doesn't exist"):
        add_messages(left, [RemoveMessage(id="nope")])
    cleared = add_messages(
        left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("new", id="9")]
    )
    assert cleared == [HumanMessage("new", id="9")]


def test_chunks_become_messages() -> None:
    [msg] = add_messages([], [AIMessageChunk("par", id="c")])
    assert type(msg) is AIMessage


def test_oris_messages_join_a_langchain_list_as_langchain() -> None:
    left = [HumanMessage("hi", id="1")]
    merged = add_messages(left, [oris.AIMessage("yo", id="2")])
    assert merged == [HumanMessage("hi", id="1"), AIMessage("yo", id="2")]


def test_a_declared_langchain_key_turns_plain_inputs_into_langchain() -> None:
    g = StateGraph(LCState)
    g.add_node("bot", lambda s: {"messages": [("ai", f"{len(s['messages'])}")]})
    g.add_edge(START, "bot")
    out = g.compile().invoke({"messages": "hi"})
    assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage]


def test_a_declared_oris_key_turns_langchain_messages_into_oris() -> None:
    class OrisState(TypedDict):
        messages: Annotated[list[oris.AnyMessage], add_messages]

    g = StateGraph(OrisState)
    g.add_node("bot", lambda s: {"messages": [AIMessage("lc", id="a")]})
    g.add_edge(START, "bot")
    out = g.compile().invoke({"messages": [HumanMessage("hi", id="h")]})
    assert out["messages"] == [
        oris.HumanMessage("hi", id="h"),
        oris.AIMessage("lc", id="a"),
    ]


def test_without_langchain_messages_the_state_holds_oris_messages() -> None:
    g = StateGraph(MessagesState)
    g.add_node("bot", lambda s: {"messages": [("ai", "yo")]})
    g.add_edge(START, "bot")
    out = g.compile().invoke({"messages": "hi"})
    assert [type(m) for m in out["messages"]] == [oris.HumanMessage, oris.AIMessage]


def test_format_langchain_openai() -> None:
    class State(TypedDict):
        messages: Annotated[list, add_messages(format="langchain-openai")]

    image = {"type": "image", "source_type": "base64", "data": "1234"}
    image["mime_type"] = "image/jpeg"
    g = StateGraph(State)
    g.add_node(
        "bot",
        lambda s: {"messages": [{"role": "user", "content": [image]}]},
    )
    g.add_edge(START, "bot")
    [msg] = g.compile().invoke({"messages": []})["messages"]
    assert isinstance(msg, HumanMessage)
    assert msg.content == [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,1234"}}
    ]
    with pytest.raises(ValueError, match="format"):
        add_messages([], [], format="xml")  # type: ignore[arg-type]


def test_both_sides_are_required() -> None:
    with pytest.raises(ValueError, match="right"):
        add_messages(None, [HumanMessage("x")])


# -- Oris <-> LangChain ----------------------------------------------------------


def test_messages_convert_both_ways_without_loss() -> None:
    originals = [
        oris.SystemMessage("be brief", id="s"),
        oris.HumanMessage("hi", id="h", name="ann"),
        oris.AIMessage(
            "calling",
            id="a",
            tool_calls=[oris.tool_call("add", {"a": 1}, "c1")],
            usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
            response_metadata={"model": "m"},
        ),
        oris.ToolMessage("3", id="t", tool_call_id="c1", status="error"),
        oris.AIMessageChunk(
            "par",
            id="k",
            tool_call_chunks=[
                {"name": "f", "args": "{", "id": "c", "index": 0}
                | {"type": "tool_call_chunk"}
            ],
        ),
    ]
    converted = [to_langchain(m) for m in originals]
    assert [type(m).__name__ for m in converted] == [
        "SystemMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessageChunk",
    ]
    assert converted[2].tool_calls == [
        {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}
    ]
    assert [from_langchain(m) for m in converted] == originals


def test_an_oris_agent_sits_in_a_langchain_message_state() -> None:
    agent = create_agent(ScriptedChatModel(["the answer"]), name="agent")
    g = StateGraph(LCState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    out = g.compile().invoke({"messages": [HumanMessage("question", id="q")]})
    assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage]
    assert out["messages"][0].id == "q"
    assert out["messages"][1].content == "the answer"


def test_oris_chat_models_accept_langchain_messages() -> None:
    model = ScriptedChatModel([lambda msgs: f"{[type(m).__name__ for m in msgs]}"])
    reply = model.invoke([SystemMessage("s"), HumanMessage("hi", id="h")])
    assert reply.text == "['SystemMessage', 'HumanMessage']"
    assert model.calls[0][1] == oris.HumanMessage("hi", id="h")


def test_a_langchain_chain_sits_in_an_oris_message_state() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "be kind"), ("placeholder", "{messages}")]
    )
    seen: list[Any] = []
    chain = (
        prompt
        | RunnableLambda(lambda p: seen.append(p.to_messages()) or p)
        | fake_model("lc reply")
        | RunnableLambda(lambda m: {"messages": [m]})
    )

    class OrisState(TypedDict):
        messages: Annotated[list[oris.AnyMessage], add_messages]

    g = StateGraph(OrisState)
    g.add_node("chain", chain)
    g.add_edge(START, "chain")
    out = g.compile().invoke({"messages": [oris.HumanMessage("hi", id="h")]})
    assert [type(m).__name__ for m in seen[0]] == ["SystemMessage", "HumanMessage"]
    assert out["messages"] == [
        oris.HumanMessage("hi", id="h"),
        oris.AIMessage("lc reply", id="r0"),
    ]


def test_a_langgraph_graph_sits_in_an_oris_message_state() -> None:
    lg_graph = pytest.importorskip("langgraph.graph")
    inner = lg_graph.StateGraph(lg_graph.MessagesState)
    inner.add_node("bot", lambda s: {"messages": [("ai", f"{len(s['messages'])}")]})
    inner.add_edge(lg_graph.START, "bot")

    g = StateGraph(MessagesState)
    g.add_node("langgraph", inner.compile())
    g.add_edge(START, "langgraph")
    out = g.compile().invoke({"messages": [oris.HumanMessage("hi", id="h")]})
    # the reply is LangChain's, so the (loosely typed) list now holds LangChain
    assert [(type(m), m.content) for m in out["messages"]] == [
        (HumanMessage, "hi"),
        (AIMessage, "1"),
    ]
    assert out["messages"][0].id == "h"


# -- Runnables, config and streaming ---------------------------------------------


class Log(TypedDict):
    log: Annotated[list[str], operator.add]
    route: str


def test_runnables_are_nodes_and_branches() -> None:
    g = StateGraph(Log)
    g.add_node("a", RunnableLambda(lambda s: {"log": ["a"], "route": "b"}))
    g.add_node("b", RunnableLambda(lambda s: {"log": ["b"]}))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", RunnableLambda(lambda s: s["route"]), ["b", END])
    graph = g.compile()
    assert graph.invoke({"log": []})["log"] == ["a", "b"]
    assert asyncio.run(graph.ainvoke({"log": []}))["log"] == ["a", "b"]


def test_async_only_runnables_run_under_ainvoke() -> None:
    async def step(state: Log) -> dict[str, Any]:
        return {"log": ["async"]}

    g = StateGraph(Log)
    g.add_node("a", RunnableLambda(step))
    g.add_edge(START, "a")
    assert asyncio.run(g.compile().ainvoke({"log": []}))["log"] == ["async"]


def test_runnable_config_params_carry_the_node_metadata() -> None:
    seen: list[dict[str, Any]] = []

    def node(state: Log, config: RunnableConfig) -> dict[str, Any]:
        inner = RunnableLambda(lambda _, config: seen.append(config["metadata"]))
        inner.invoke(None)  # no config passed: LangChain's context supplies it
        return {"log": ["n"]}

    g = StateGraph(Log)
    g.add_node("n", node)
    g.add_edge(START, "n")
    g.compile().invoke({"log": []}, thread())
    [meta] = seen
    assert meta["langgraph_node"] == "n"
    assert meta["langgraph_triggers"] == ("branch:to:n",)
    assert meta["thread_id"] == "t"


def fake_model(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(
        messages=iter([AIMessage(r, id=f"r{i}") for i, r in enumerate(replies)])
    )


def chat_graph(model: GenericFakeChatModel) -> Any:
    async def bot(state: LCState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def sync_bot(state: LCState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(LCState)
    g.add_node("bot", bot)
    g.add_node("again", sync_bot)
    g.add_node("plain", lambda s: {"messages": [AIMessage("whole", id="w")]})

    g.add_edge(START, "bot")
    g.add_edge("bot", "again")
    g.add_edge("again", "plain")
    return g.compile()


def test_chat_model_tokens_stream_with_langgraph_metadata() -> None:
    graph = chat_graph(fake_model("hello there", "bye now"))

    async def collect() -> list[Any]:
        return [
            c
            async for c in graph.astream(
                {"messages": [HumanMessage("hi", id="h")]}, stream_mode="messages"
            )
        ]

    chunks = asyncio.run(collect())
    texts = [(m.content, meta["langgraph_node"]) for m, meta in chunks]
    assert texts == [
        ("hello", "bot"),
        (" ", "bot"),
        ("there", "bot"),
        ("bye", "again"),
        (" ", "again"),
        ("now", "again"),
        ("whole", "plain"),
    ]
    assert all(isinstance(m, AIMessageChunk) for m, _ in chunks[:6])
    meta = chunks[0][1]
    assert meta["langgraph_triggers"] == ("branch:to:bot",)
    assert meta["langgraph_path"] == ("__pregel_pull", "bot")
    assert meta["langgraph_checkpoint_ns"].startswith("bot:")
    assert meta["ls_provider"] == "genericfakechatmodel"
    assert chunks[3][1]["langgraph_step"] == meta["langgraph_step"] + 1


def test_sync_stream_and_nostream_models() -> None:
    quiet = fake_model("secret").with_config(tags=["nostream"])
    graph = chat_graph(fake_model("a b", "c"))
    chunks = list(graph.stream({"messages": "hi"}, stream_mode="messages"))
    assert [m.content for m, _ in chunks] == ["a", " ", "b", "c", "whole"]

    g = StateGraph(LCState)
    g.add_node("q", lambda s: {"messages": [quiet.invoke(s["messages"])]})
    g.add_edge(START, "q")
    out = list(g.compile().stream({"messages": "hi"}, stream_mode="messages"))
    # the reply is not streamed as tokens, but the node's update still is
    assert [m.content for m, _ in out] == ["secret"]
    assert isinstance(out[0][0], AIMessage)


def test_a_prompt_model_chain_is_a_node_and_streams() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "terse"), ("user", "{q}")])
    chain = (
        RunnableLambda(lambda s: {"q": s["messages"][-1].content})
        | prompt
        | fake_model("ok then")
        | RunnableLambda(lambda m: {"messages": [m]})
    )
    g = StateGraph(LCState)
    g.add_node("chain", chain)
    g.add_edge(START, "chain")
    chunks = list(g.compile().stream({"messages": "go"}, stream_mode="messages"))
    assert [m.content for m, _ in chunks] == ["ok", " ", "then"]
    assert {meta["langgraph_node"] for _, meta in chunks} == {"chain"}


@pytest.mark.parametrize(
    "read",
    [
        lambda c: {**c},
        lambda c: dict(c),
        lambda c: dict(c.items()),
        lambda c: c.copy(),
        lambda c: {k: c[k] for k in c},
    ],
    ids=["unpack", "dict", "items", "copy", "iterate"],
)
def test_the_node_config_in_langchains_context_reads_as_a_dict(read: Any) -> None:
    from langchain_core.runnables.config import var_child_runnable_config

    seen: list[dict[str, Any]] = []

    def node(state: Log) -> dict[str, Any]:
        seen.append(read(var_child_runnable_config.get()))
        return {"log": ["n"]}

    g = StateGraph(Log)
    g.add_node("n", node)
    g.add_edge(START, "n")
    list(g.compile().stream({"log": []}, thread(), stream_mode="messages"))
    [config] = seen
    assert config["metadata"]["langgraph_node"] == "n"
    assert config["configurable"]["thread_id"] == "t"
    assert len(config["callbacks"]) == 1  # the messages stream's handler


def test_assigned_message_ids_are_uuid4_text() -> None:
    ids = [new_id() for _ in range(500)]
    assert len(set(ids)) == 500
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # the canonical form, as str(uuid.uuid4())
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # every variant digit (8, 9, a, b) occurs: the random bits are kept
    assert {text[19] for text in ids} == set("89ab")


def test_a_reply_without_id_gets_one_in_place() -> None:
    reply = AIMessage("hi")
    merged = add_messages([HumanMessage("q", id="q")], [reply])
    assert merged[1] is reply
    assert uuid.UUID(reply.id).version == 4
