"""agents/demo.py: the ``assistant`` graph the runtime registers."""

from __future__ import annotations

import json

from agents.chat_models import ScriptedChatModel
from agents.demo import RESULT_PATH, build_assistant
from graphs import Command, serde
from graphs.checkpoint import InMemorySaver

CFG = {"configurable": {"thread_id": "demo"}}


def test_the_scripted_demo_calculates_then_asks_before_writing(tmp_path):
    graph = build_assistant(workspace_root=tmp_path).with_checkpointer(InMemorySaver())
    out = graph.invoke({"messages": [("user", "What is 12 * (3 + 4)?")]}, CFG)
    (pending,) = out["__interrupt__"]
    assert pending.value["action_requests"][0]["name"] == "write_file"
    assert pending.value["action_requests"][0]["args"] == {
        "path": RESULT_PATH,
        "content": "12 * (3 + 4) = 84\n",
    }
    assert json.loads(json.dumps(pending.value)) == pending.value
    assert not (tmp_path / RESULT_PATH).exists()
    out = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), CFG)
    assert (tmp_path / RESULT_PATH).read_text() == "12 * (3 + 4) = 84\n"
    assert out["messages"][-1].text == f"The result is 84; I saved it to {RESULT_PATH}."


def test_a_rejected_write_is_reported(tmp_path):
    graph = build_assistant(workspace_root=tmp_path, checkpointer=InMemorySaver())
    graph.invoke({"messages": [("user", "hello")]}, CFG)
    out = graph.invoke(
        Command(resume={"decisions": [{"type": "reject", "message": "no files"}]}), CFG
    )
    assert not (tmp_path / RESULT_PATH).exists()
    assert out["messages"][-1].text == (
        "The result is 126. I did not save it: Tool call rejected by user. no files"
    )


def test_the_paused_state_serialises_as_json(tmp_path):
    graph = build_assistant(workspace_root=tmp_path, checkpointer=InMemorySaver())
    graph.invoke({"messages": [("user", "2+2")]}, CFG)
    values = graph.get_state(CFG).values
    assert serde.loads(serde.dumps(values)) == values


def test_any_chat_model_can_drive_the_demo(tmp_path):
    model = ScriptedChatModel(["Nothing to do."])
    out = build_assistant(model=model, workspace_root=tmp_path).invoke(
        {"messages": [("user", "hi")]}
    )
    assert out["messages"][-1].text == "Nothing to do."
    offered = {t["name"] for t in model.last_tools}
    assert offered == {
        "calculator",
        "current_time",
        "ls",
        "read_file",
        "write_file",
        "edit_file",
        "glob",
        "grep",
    }
