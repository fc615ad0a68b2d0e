"""``write_todos``: the agent's plan, kept in the graph state under ``todos``."""

from __future__ import annotations

from typing import Any, TypedDict

from agents.tools.base import BaseTool, ToolRuntime
from graphs.messages import ToolMessage
from graphs.types import Command

__all__ = ["Todo", "WriteTodosTool", "normalise_todos"]

STATUSES = ("pending", "in_progress", "completed", "cancelled")
_ALIASES = {"done": "completed", "complete": "completed", "doing": "in_progress"}


class Todo(TypedDict):
    """One plan item."""

    id: str
    title: str
    status: str


def normalise_todos(raw: list[Any]) -> list[Todo]:
    """Accept Oris (``title``) and deepagents (``content``) item shapes.

    Missing titles become ``"Item N"``, missing ids ``"todo_N"`` and unknown
    statuses ``"pending"``.
    """
    todos: list[Todo] = []
    for i, item in enumerate(raw):
        item = item if isinstance(item, dict) else {"title": str(item)}
        status = str(item.get("status") or "pending").lower()
        status = _ALIASES.get(status, status)
        todos.append(
            {
                "id": str(item.get("id") or f"todo_{i}"),
                "title": str(
                    item.get("title") or item.get("content") or f"Item {i + 1}"
                ),
                "status": status if status in STATUSES else "pending",
            }
        )
    return todos


class WriteTodosTool(BaseTool):
    """Replaces the todo list; the list is part of the (checkpointed) state."""

    name = "write_todos"
    description = (
        "Write your plan as a todo list. Send the whole list each time, with each "
        "item's status: pending, in_progress, completed or cancelled. Use it for "
        "multi-step tasks and update it as you progress."
    )
    parameters = {
        "type": "object",
        "properties": {
            "todos": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "content": {"type": "string"},
                        "status": {"type": "string"},
                    },
                },
            }
        },
        "required": ["todos"],
    }

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> Command[Any]:
        todos = normalise_todos(args["todos"])
        done = sum(t["status"] == "completed" for t in todos)
        return Command(
            update={
                "todos": todos,
                "messages": [
                    ToolMessage(
                        f"Todo list updated ({len(todos)} items saved for this "
                        f"session, {done} completed).",
                        tool_call_id=str(runtime.tool_call_id),
                        name=self.name,
                    )
                ],
            }
        )
