"""InMemorySaver: the conformance suite, plus storage-shape specifics."""

from __future__ import annotations

from typing import Any

import pytest

from graphs import END, START, CheckpointDecodeError, MessagesState, StateGraph
from graphs.checkpoint import (
    InMemorySaver,
    assemble_checkpoint,
    dump_header,
    load_header,
    split_checkpoint,
)
from graphs.messages import AIMessage

from .checkpointer_conformance import CheckpointerConformance, make_checkpoint


class TestInMemorySaver(CheckpointerConformance):
    @pytest.fixture
    def saver(self) -> InMemorySaver:
        return InMemorySaver()


def growing_thread(saver: InMemorySaver, steps: int, thread_id: str) -> None:
    g = StateGraph(MessagesState)
    g.add_node("talk", lambda s: {"messages": [AIMessage(content="word " * 20)]})
    g.add_edge(START, "talk")
    g.add_conditional_edges(
        "talk", lambda s: "talk" if len(s["messages"]) < steps else END
    )
    cfg = {"configurable": {"thread_id": thread_id}, "recursion_limit": steps + 5}
    g.compile(checkpointer=saver).invoke({"messages": []}, cfg)


def test_storage_grows_with_the_delta_not_with_steps_times_state() -> None:
    saver = InMemorySaver()
    growing_thread(saver, 50, "short")
    growing_thread(saver, 200, "long")
    per_step_short = saver.stored_bytes("short") / 50
    per_step_long = saver.stored_bytes("long") / 200
    # quadratic storage would make the long thread's per-step cost ~4x the short one's
    assert per_step_long < per_step_short * 1.5


def test_unchanged_channels_are_not_rewritten() -> None:
    saver = InMemorySaver()
    cfg = {"configurable": {"thread_id": "t"}}
    g = StateGraph(MessagesState)
    g.add_node("noop", lambda s: {})
    g.add_edge(START, "noop")
    graph = g.compile(checkpointer=saver)
    graph.invoke({"messages": [AIMessage(content="x" * 5000)]}, cfg)
    # the message is stored twice (in the input checkpoint, then in the state),
    # not once more for the step that did not change it
    assert saver.stored_bytes("t") < 13000


def test_split_and_assemble_are_inverse() -> None:
    checkpoint = make_checkpoint({"a": 1, "b": [1, 2]}, {"a": "v1", "b": "v1"})
    header, blobs = split_checkpoint(checkpoint, {"a": "v1", "b": "v1"})
    assert "channel_values" not in header
    rows = {(ch, v): (kind, data) for ch, v, kind, data in blobs}
    rebuilt = assemble_checkpoint(
        load_header(dump_header(header)), lambda c, v: rows.get((c, v))
    )
    assert rebuilt["channel_values"] == {"a": 1, "b": [1, 2]}


def test_a_corrupt_blob_raises_a_typed_error() -> None:
    saver = InMemorySaver()
    cfg = {"configurable": {"thread_id": "t"}}
    g = StateGraph(MessagesState)
    g.add_node("noop", lambda s: {})
    g.add_edge(START, "noop")
    g.compile(checkpointer=saver).invoke({"messages": [AIMessage(content="x")]}, cfg)
    for key, (kind, _) in list(saver._blobs.items()):
        saver._blobs[key] = (kind, b'{"__t": "message.unknown", "v": {}}')
    with pytest.raises(CheckpointDecodeError, match="unknown serde tag"):
        saver.get_tuple(cfg)


def test_a_missing_blob_raises_a_typed_error() -> None:
    checkpoint: dict[str, Any] = make_checkpoint({}, {"a": "v9"})
    header, _ = split_checkpoint(checkpoint, {})
    with pytest.raises(CheckpointDecodeError, match="missing"):
        assemble_checkpoint(header, lambda c, v: None)


def test_a_newer_format_version_is_rejected() -> None:
    with pytest.raises(CheckpointDecodeError, match="format"):
        load_header(b'{"v": 99, "id": "x"}')
