"""LangChain objects in checkpoints, and graphs without LangChain installed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate

from graphs import (
    START,
    CheckpointDecodeError,
    SerializationError,
    StateGraph,
    serde,
)
from graphs.checkpoint import InMemorySaver

from .test_langchain import LCState, thread

# -- checkpoints -----------------------------------------------------------------


def test_langchain_objects_round_trip_as_langchain_json() -> None:
    value = {
        "messages": [
            HumanMessage("hi", id="1"),
            AIMessage("x", id="2", tool_calls=[{"name": "f", "args": {}, "id": "c"}]),
            ToolMessage("r", tool_call_id="c", id="3"),
            SystemMessage("s"),
        ],
        "docs": [Document(page_content="p", metadata={"k": 1})],
    }
    data = serde.dumps(value)
    tree = json.loads(data)
    assert tree["messages"][0] == {
        "__t": "lc",
        "v": {
            "lc": 1,
            "type": "constructor",
            "id": ["langchain", "schema", "messages", "HumanMessage"],
            "kwargs": {"content": "hi", "type": "human", "id": "1"},
        },
    }
    assert serde.loads(data) == value


def test_only_allowlisted_langchain_classes_are_decoded() -> None:
    lc_dict = {"lc": 1, "type": "constructor", "kwargs": {}}
    for path in (
        ["langchain_core", "prompts", "chat", "ChatPromptTemplate"],
        ["os", "system"],
    ):
        blob = json.dumps({"__t": "lc", "v": {**lc_dict, "id": path}})
        with pytest.raises(CheckpointDecodeError, match="not allowed"):
            serde.loads(blob)
    with pytest.raises(CheckpointDecodeError, match="malformed"):
        serde.loads(json.dumps({"__t": "lc", "v": {"lc": 1, "type": "secret"}}))


def test_other_langchain_objects_are_not_stored() -> None:
    prompt = ChatPromptTemplate.from_messages([("user", "{q}")])
    with pytest.raises(SerializationError, match="only LangChain messages"):
        serde.dumps({"p": prompt})


def test_a_thread_of_langchain_messages_resumes_from_its_checkpoint() -> None:
    g = StateGraph(LCState)
    g.add_node("bot", lambda s: {"messages": [AIMessage(f"n={len(s['messages'])}")]})
    g.add_edge(START, "bot")
    graph = g.compile(checkpointer=InMemorySaver())
    graph.invoke({"messages": [HumanMessage("a")]}, thread())
    out = graph.invoke({"messages": [HumanMessage("b")]}, thread())
    assert [m.content for m in out["messages"]] == ["a", "n=1", "b", "n=3"]
    assert all(isinstance(m, (HumanMessage, AIMessage)) for m in out["messages"])


def test_graphs_imports_no_langchain() -> None:
    code = "import sys, graphs, graphs.messages; print('langchain_core' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("langchain_core", "langchain"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
"""


def test_without_langchain_installed() -> None:
    code = BLOCK + (
        "from graphs import StateGraph, START, MessagesState, serde, messages\n"
        "from graphs.errors import CheckpointDecodeError\n"
        "g = StateGraph(MessagesState)\n"
        "g.add_node('b', lambda s: {'messages': [('ai', 'yo')]})\n"
        "g.add_edge(START, 'b')\n"
        "out = g.compile().invoke({'messages': 'hi'})\n"
        "print([type(m).__name__ for m in out['messages']])\n"
        'blob = \'{"__t": "lc", "v": {"lc": 1, "type": "constructor", '
        '"id": ["langchain", "schema", "messages", "HumanMessage"], '
        '"kwargs": {"content": "x"}}}\'\n'
        "try:\n"
        "    serde.loads(blob)\n"
        "except CheckpointDecodeError as exc:\n"
        "    print('decode error:', 'oris[langchain]' in str(exc))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:2] == [
        "['HumanMessage', 'AIMessage']",
        "decode error: True",
    ]


def test_the_stored_form_is_what_langchain_to_json_gives() -> None:
    from langchain_core.messages import ChatMessage, FunctionMessage, HumanMessageChunk

    samples = [
        HumanMessage("hi"),
        HumanMessage([{"type": "text", "text": "x"}], id="1", name="n"),
        AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c"}]),
        AIMessage(
            "u",
            usage_metadata={"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
            response_metadata={"a": 1},
        ),
        AIMessageChunk("c", tool_call_chunks=[{"name": "f", "args": "{", "index": 0}]),
        ToolMessage("r", tool_call_id="c", status="error", artifact={"k": 0}),
        SystemMessage("s", additional_kwargs={"x": None}),
        RemoveMessage(id="9"),
        ChatMessage("c", role="critic"),
        FunctionMessage("f", name="fn"),
        HumanMessageChunk("h"),
        Document(page_content="p", metadata={"k": 1}, id="d"),
        Document(page_content=""),
    ]
    for sample in samples:
        [tree] = json.loads(serde.dumps([sample]))
        assert tree == {"__t": "lc", "v": sample.to_json()}, sample
        assert serde.loads(serde.dumps(sample)) == sample
