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


# -- the cached JSON of messages -------------------------------------------------


def _uncached(value: object) -> bytes:
    """What dumps writes without its per-message cache: the tree, encoded."""
    return json.dumps(
        serde.to_jsonable(value), ensure_ascii=False, separators=(",", ":")
    ).encode()


def test_dumps_splices_cached_messages_into_the_same_bytes() -> None:
    human = HumanMessage("héllo", id="h1")
    ai = AIMessage(
        "",
        id="a1",
        tool_calls=[{"name": "f", "args": {"n": 1, "x": 1.5, "b": True}, "id": "c"}],
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        response_metadata={"model": "m", "nested": {"k": [1, None, "s"]}},
    )
    tool = ToolMessage("r", tool_call_id="c", artifact={"t": (1, 2)})  # not cached
    shapes = [
        [human, ai, tool],
        {"prev": "v1", "append": [ai]},
        [("messages", [human]), {"a": (1, [ai], 2.5, float("nan"))}],
        {1: human, "k": [ai]},  # a tagged dict
        {"__t": [human]},  # a dict with the tag key
        (human,),
        [[[[human]]]],
        ai,
        {"empty": [], "none": None, "m": {"n": [human, 3]}},
    ]
    for value in shapes:
        expected = _uncached(value)
        assert serde.dumps(value) == expected  # first time: encoded, cached
        assert serde.dumps(value) == expected  # then: from the cache
        assert serde.loads(serde.dumps(value)) == serde.loads(expected)


def test_a_message_changed_in_place_is_encoded_again() -> None:
    message = AIMessage("before", id="m1", additional_kwargs={"n": 1})
    assert b'"before"' in serde.dumps([message])
    message.content = "after"
    assert b'"after"' in serde.dumps([message])
    message.additional_kwargs["n"] = True  # equal to 1 in Python, not in JSON
    assert b'"n":true' in serde.dumps([message])
    message.additional_kwargs["n"] = 1.0
    assert b'"n":1.0' in serde.dumps([message])
    message.additional_kwargs["extra"] = {"deep": [1]}
    message.additional_kwargs["extra"]["deep"].append(2)
    assert b'"deep":[1,2]' in serde.dumps([message])
    message.id = "m2"
    stored = serde.loads(serde.dumps([message]))[0]
    assert (stored.id, stored.content, stored.additional_kwargs) == (
        "m2",
        "after",
        {"n": 1.0, "extra": {"deep": [1, 2]}},
    )
    assert serde.dumps([message]) == _uncached([message])


def test_input_checkpoints_of_langchain_messages_load_back() -> None:
    graph = StateGraph(LCState)
    graph.add_node("reply", lambda s: {"messages": [AIMessage("ok", id="r")]})
    graph.add_edge(START, "reply")
    app = graph.compile(checkpointer=InMemorySaver())
    history = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(3)]
    for n in (1, 2):  # the same message objects in a second thread: cached
        cfg = thread(f"cached-{n}")
        app.invoke({"messages": history}, cfg)
        states = list(app.get_state_history(cfg))
        first = states[-1]
        assert first.next == ("__start__",)
        assert [m.content for m in states[0].values["messages"]] == [
            "m0",
            "m1",
            "m2",
            "ok",
        ]
        assert first.tasks[0].name == "__start__"


def test_the_cache_forgets_messages_that_are_gone() -> None:
    import gc

    message = HumanMessage("short-lived", id="gone")
    serde.dumps([message])
    key = id(message)
    assert key in serde._cached
    del message
    gc.collect()
    assert key not in serde._cached
