"""agents/deep.py and agents/skills.py: planning, files, the task tool, skills."""

from __future__ import annotations

import pytest

from agents.chat_models import ScriptedChatModel
from agents.deep import DEFAULT_DEEP_PROMPT, SubAgent, create_deep_agent
from agents.skills import load_skills, parse_front_matter, relevant_skills
from graphs import Command
from graphs.checkpoint import InMemorySaver
from graphs.messages import ToolMessage


def calls(*pairs):
    return {"tool_calls": [{"name": n, "args": a} for n, a in pairs]}


@pytest.fixture
def skills_dir(tmp_path):
    base = tmp_path / "skills"
    (base / "pdf-reports").mkdir(parents=True)
    (base / "pdf-reports" / "SKILL.md").write_text(
        "---\nname: pdf-reports\n"
        "description: Build quarterly PDF reports from CSV data\n---\n"
        "# How to build reports\nAlways start with a summary table.\n"
    )
    (base / "haiku").mkdir()
    (base / "haiku" / "SKILL.md").write_text(
        "---\nname: haiku\ndescription: 'Write poems in 5-7-5 syllables'\n---\n"
        "Count syllables."
    )
    (base / "not-a-skill").mkdir()
    return base


def test_front_matter_is_parsed():
    meta, body = parse_front_matter("---\nname: x\ndescription: does y\n---\nbody\n")
    assert meta == {"name": "x", "description": "does y"}
    assert body == "body"
    assert parse_front_matter("no front matter") == ({}, "no front matter")


def test_skills_load_and_match_by_word_overlap(skills_dir):
    skills = load_skills([skills_dir])
    assert [s.name for s in skills] == ["haiku", "pdf-reports"]
    assert [s.name for s in relevant_skills(skills, "I need the quarterly report")] == [
        "pdf-reports"
    ]
    assert relevant_skills(skills, "what is the weather") == []


def test_deep_agent_plans_writes_files_and_uses_skills(tmp_path, skills_dir):
    ws = tmp_path / "ws"
    model = ScriptedChatModel(
        [
            calls(
                (
                    "write_todos",
                    {
                        "todos": [
                            {"content": "draft report", "status": "in_progress"},
                            {"content": "review", "status": "pending"},
                        ]
                    },
                )
            ),
            calls(("write_file", {"path": "/report.md", "content": "# Q3\n"})),
            "Report drafted.",
        ]
    )
    agent = create_deep_agent(
        model,
        system_prompt="You write reports.",
        workspace_root=ws,
        skills_dirs=[skills_dir],
        general_purpose_agent=False,
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": "deep"}}
    out = agent.invoke({"messages": [("user", "Build the quarterly report")]}, cfg)
    assert out["todos"][0] == {
        "id": "todo_0",
        "title": "draft report",
        "status": "in_progress",
    }
    assert (ws / "report.md").read_text() == "# Q3\n"
    first_prompt = model.calls[0][0].text
    assert first_prompt.startswith("You write reports.\n\n" + DEFAULT_DEEP_PROMPT)
    assert "- haiku: Write poems in 5-7-5 syllables" in first_prompt
    assert "### pdf-reports\n# How to build reports" in first_prompt
    assert "### haiku" not in first_prompt
    assert "## Current plan\n- [in_progress] draft report" in model.calls[1][0].text
    tool_names = {t["name"] for t in agent_tools(model)}
    assert {
        "write_todos",
        "ls",
        "read_file",
        "write_file",
        "edit_file",
        "glob",
        "grep",
    } <= tool_names
    assert "task" not in tool_names


def agent_tools(model):
    return model.last_tools


def test_task_tool_delegates_to_subagents_in_a_fresh_context():
    def specialist(label):
        return ScriptedChatModel(
            [],
            when_exhausted=lambda msgs: f"{label}: {msgs[-1].text} ({len(msgs)} msgs)",
        )

    researcher_model = specialist("researched")
    main = ScriptedChatModel(
        [
            calls(
                ("task", {"description": "find owl facts", "subagent_type": "writer"}),
                ("task", {"description": "summarise"}),
                ("task", {"description": "x", "subagent_type": "nobody"}),
            ),
            lambda msgs: " | ".join(m.text for m in msgs if isinstance(m, ToolMessage)),
        ]
    )
    agent = create_deep_agent(
        main,
        general_purpose_agent=False,
        subagents=[
            SubAgent(
                name="researcher",
                description="Finds facts.",
                system_prompt="Research well.",
                model=researcher_model,
            ),
            {"name": "writer", "description": "Writes.", "model": specialist("wrote")},
        ],
    )
    out = agent.invoke({"messages": [("user", "owls")]})
    # System prompt + the task only: the subagent never sees the main conversation.
    assert sorted(out["messages"][-1].text.split(" | ")) == [
        "Invalid arguments for task: $.subagent_type: 'nobody' is not one of "
        "['researcher', 'writer']",
        "researched: summarise (2 msgs)",  # no type given -> the first subagent
        "wrote: find owl facts (2 msgs)",
    ]
    assert researcher_model.calls[0][0].text == "Research well."
    task = next(t for t in main.last_tools if t["name"] == "task")
    assert task["parameters"]["properties"]["subagent_type"]["enum"] == [
        "researcher",
        "writer",
    ]


def test_the_general_purpose_subagent_is_there_by_default():
    main = ScriptedChatModel(["hi"])
    create_deep_agent(main).invoke({"messages": [("user", "x")]})
    task = next(t for t in main.last_tools if t["name"] == "task")
    assert task["parameters"]["properties"]["subagent_type"]["enum"] == [
        "general-purpose"
    ]
    assert "ls" not in {t["name"] for t in main.last_tools}  # no workspace_root


def test_deep_agent_write_approval_uses_the_builtin_tool_names(tmp_path):
    model = ScriptedChatModel(
        [calls(("write_file", {"path": "a.txt", "content": "x"})), "ok"]
    )
    agent = create_deep_agent(
        model,
        workspace_root=tmp_path,
        interrupt_on={"write_file": True},
        general_purpose_agent=False,
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": "w"}}
    out = agent.invoke({"messages": [("user", "write")]}, cfg)
    assert out["__interrupt__"][0].value["action_requests"][0]["name"] == "write_file"
    assert not (tmp_path / "a.txt").exists()
    agent.invoke(Command(resume={"decisions": [{"type": "approve"}]}), cfg)
    assert (tmp_path / "a.txt").read_text() == "x"
