"""Differential: chat models, Runnables and the ``messages`` stream vs LangGraph.

The model is langchain_core's GenericFakeChatModel (a fresh one per run). Chunks
are compared with their LangGraph metadata: node, triggers, path, the namespace's
node part, and the step relative to the run's first chunk.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda

from .test_langchain_messages import OURS, THEIRS, Api, normalise

KEYS = ("langgraph_node", "langgraph_triggers", "langgraph_path")


def model(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(
        messages=iter([AIMessage(r, id=f"reply{i}") for i, r in enumerate(replies)])
    )


def lc_state(api: Api) -> Any:
    return TypedDict(
        "State", {"messages": Annotated[list[AnyMessage], api.add_messages]}
    )


def chunks_view(chunks: list[Any]) -> list[Any]:
    """``(message, metadata)`` chunks as comparable tuples."""
    first = None
    out = []
    for item in chunks:
        mode, payload = item if isinstance(item[0], str) else ("messages", item)
        if mode != "messages":
            out.append((mode, payload))
            continue
        message, meta = payload
        first = meta["langgraph_step"] if first is None else first
        out.append(
            (
                message,
                {k: meta[k] for k in KEYS},
                meta["langgraph_checkpoint_ns"].split(":")[0],
                meta["langgraph_step"] - first,
                meta.get("ls_provider"),
            )
        )
    return out


def compare(scenario: Any) -> list[Any]:
    ours = normalise(chunks_view(scenario(OURS)))
    theirs = normalise(chunks_view(scenario(THEIRS)))
    assert ours == theirs
    return ours


def async_model_without_config(api: Api) -> list[Any]:
    llm = model("hello there", "bye")

    async def bot(state: Any) -> dict[str, Any]:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    async def whole(state: Any) -> dict[str, Any]:
        return {"messages": [AIMessage("no model here", id="w")]}

    g = api.StateGraph(api.MessagesState)
    g.add_node("bot", bot)
    g.add_node("whole", whole)
    g.add_node("again", bot)
    g.add_edge(api.START, "bot")
    g.add_edge("bot", "whole")
    g.add_edge("whole", "again")
    graph = g.compile()

    async def collect() -> list[Any]:
        inp = {"messages": [HumanMessage("hi", id="h")]}
        return [c async for c in graph.astream(inp, stream_mode="messages")]

    return asyncio.run(collect())


def test_await_ainvoke_without_config_streams_tokens() -> None:
    chunks = compare(async_model_without_config)
    assert [c[1]["langgraph_node"] for c in chunks] == ["bot"] * 3 + ["whole", "again"]


def sync_model_and_fan_out(api: Api) -> list[Any]:
    llm = model("a b")
    other = model("c d")
    g = api.StateGraph(lc_state(api))
    g.add_node("left", lambda s: {"messages": [llm.invoke(s["messages"])]})
    g.add_node("right", lambda s, config: {"messages": [other.invoke("x", config)]})
    g.add_node("join", lambda s: {"messages": [AIMessage("joined", id="j")]})
    g.add_edge(api.START, "left")
    g.add_edge("left", "right")
    g.add_edge(["left", "right"], "join")
    return list(g.compile().stream({"messages": "go"}, stream_mode="messages"))


def test_sync_models_with_and_without_config_and_a_join() -> None:
    chunks = compare(sync_model_and_fan_out)
    triggers = chunks[-1][1]["langgraph_triggers"]
    assert triggers == ("branch:to:join", "join:left+right:join")


def runnable_nodes_and_branch(api: Api) -> list[Any]:
    prompt = ChatPromptTemplate.from_messages([("system", "terse"), ("user", "{q}")])
    answer = (
        RunnableLambda(lambda s: {"q": s["messages"][-1].content})
        | prompt
        | model("ok then")
        | RunnableLambda(lambda m: {"messages": [m]})
    )
    g = api.StateGraph(lc_state(api))
    g.add_node("answer", answer)
    g.add_node("done", RunnableLambda(lambda s: {"messages": [("ai", "done")]}))
    g.add_edge(api.START, "answer")
    g.add_conditional_edges(
        "answer",
        RunnableLambda(
            lambda s: "done" if len(s["messages"]) < 3 else api.END, name="route"
        ),
        ["done", api.END],
    )
    graph = g.compile()
    return list(graph.stream({"messages": "q?"}, stream_mode=["messages", "updates"]))


def test_runnable_chains_as_nodes_and_branches() -> None:
    chunks = compare(runnable_nodes_and_branch)
    assert [c[0] for c in chunks if c[0] in ("updates",)] == ["updates", "updates"]


def config_metadata(api: Api) -> list[Any]:
    seen: list[Any] = []

    class Log(TypedDict):
        log: Annotated[list[str], operator.add]

    def node(state: Log, config: RunnableConfig) -> dict[str, Any]:
        inner = RunnableLambda(lambda _, config: config["metadata"])
        meta = inner.invoke(None)
        seen.append((config["metadata"]["langgraph_node"], meta["langgraph_node"]))
        return {"log": [meta["langgraph_triggers"][0]]}

    g = api.StateGraph(Log)
    g.add_node("n", node)
    g.add_edge(api.START, "n")
    out = g.compile().invoke({"log": []}, {"configurable": {"thread_id": "t"}})
    return [out, seen]


def test_runnable_config_params_and_nested_runnables_see_the_node() -> None:
    ours, theirs = config_metadata(OURS), config_metadata(THEIRS)
    assert ours == theirs == [{"log": ["branch:to:n"]}, [("n", "n")]]


def test_streamed_replies_land_in_the_state_once() -> None:
    def final(api: Api) -> Any:
        llm = model("one two")
        g = api.StateGraph(api.MessagesState)
        g.add_node("bot", lambda s: {"messages": [llm.invoke(s["messages"])]})
        g.add_edge(api.START, "bot")
        chunks = list(
            g.compile().stream(
                {"messages": [HumanMessage("hi", id="h")]},
                stream_mode=["messages", "values"],
            )
        )
        return [c for mode, c in chunks if mode == "values"][-1]

    ours, theirs = normalise(final(OURS)), normalise(final(THEIRS))
    assert ours == theirs
    assert [m[1]["content"] for m in ours["messages"]] == ["hi", "one two"]
    assert isinstance(final(OURS)["messages"][-1], BaseMessage)


def subgraph_model(api: Api, subgraphs: bool) -> list[Any]:
    llm = model("in sub")
    inner = api.StateGraph(api.MessagesState)
    inner.add_node("talk", lambda s: {"messages": [llm.invoke(s["messages"])]})
    inner.add_edge(api.START, "talk")
    outer = api.StateGraph(api.MessagesState)
    outer.add_node("child", inner.compile())
    outer.add_edge(api.START, "child")
    graph = outer.compile()
    inp = {"messages": [HumanMessage("hi", id="h")]}
    out = []
    for chunk in graph.stream(inp, stream_mode="messages", subgraphs=subgraphs):
        ns, (message, meta) = chunk if subgraphs else ((), chunk)
        node_ns = tuple(part.split(":")[0] for part in ns)
        out.append((node_ns, message, meta["langgraph_node"]))
    return out


@pytest.mark.parametrize("subgraphs", [False, True])
def test_a_model_inside_a_subgraph(subgraphs: bool) -> None:
    ours = normalise(subgraph_model(OURS, subgraphs))
    theirs = normalise(subgraph_model(THEIRS, subgraphs))
    assert ours == theirs
    # tokens only with subgraphs=True; else the subgraph's whole reply
    assert len(ours) == (3 if subgraphs else 1)


def callbacks_of_the_call(api: Api) -> list[str]:
    from langchain_core.callbacks import BaseCallbackHandler

    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            self.seen.append(f"token:{token}")

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            self.seen.append("end")

    llm = model("x y")
    tokens = Tokens()
    g = api.StateGraph(lc_state(api))
    g.add_node("bot", lambda s: {"messages": [llm.invoke(s["messages"])]})
    g.add_edge(api.START, "bot")
    list(
        g.compile().stream(
            {"messages": "hi"}, {"callbacks": [tokens]}, stream_mode="messages"
        )
    )
    return tokens.seen


def test_callbacks_given_to_the_run_reach_models_in_nodes() -> None:
    ours, theirs = callbacks_of_the_call(OURS), callbacks_of_the_call(THEIRS)
    assert ours == theirs == ["token:x", "token: ", "token:y", "end"]


def explicit_config_with_run_callbacks(api: Api) -> list[Any]:
    from langchain_core.callbacks import BaseCallbackHandler

    class Quiet(BaseCallbackHandler):
        pass

    llm, chained = model("p q"), model("r s")

    def node(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"], config)]}

    g = api.StateGraph(lc_state(api))
    g.add_node("fn", node)
    g.add_node("chain", RunnableLambda(lambda s: {"messages": [chained.invoke("x")]}))
    g.add_edge(api.START, "fn")
    g.add_edge("fn", "chain")
    config = {"callbacks": [Quiet()]}
    return list(g.compile().stream({"messages": "hi"}, config, stream_mode="messages"))


def test_explicit_configs_keep_streaming_next_to_run_callbacks() -> None:
    chunks = compare(explicit_config_with_run_callbacks)
    assert [c[0][1]["content"] for c in chunks] == ["p", " ", "q", "r", " ", "s"]
