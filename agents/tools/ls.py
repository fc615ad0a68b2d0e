"""``ls``: list a workspace directory."""

from __future__ import annotations

from typing import Any

from agents.errors import ToolError
from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["LsTool"]


class LsTool(BaseTool):
    """List the entries of a directory (directories end with ``/``).

    Args:
        workspace: The sandbox.
    """

    name = "ls"
    description = "List files and directories at a path in the workspace."
    parameters = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Directory path.", "default": "/"}
        },
        "required": [],
    }

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        target = self.workspace.resolve(args.get("path", "/"))
        if not target.is_dir():
            raise ToolError(f"Not a directory: {args.get('path', '/')}")
        entries = []
        for child in sorted(target.iterdir()):
            try:
                self.workspace.resolve(self.workspace.display(child.absolute()))
            except (ToolError, ValueError):
                continue  # a symlink leading outside: not part of the workspace
            entries.append(child.name + ("/" if child.is_dir() else ""))
        return "\n".join(entries) if entries else "(empty)"
