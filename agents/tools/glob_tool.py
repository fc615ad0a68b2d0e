"""``glob``: find workspace files by pattern."""

from __future__ import annotations

from typing import Any

from agents.errors import ToolError
from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["GlobTool"]

MAX_RESULTS = 500


class GlobTool(BaseTool):
    """Files matching a glob (``**/*.py``) under ``path``.

    Args:
        workspace: The sandbox.
    """

    name = "glob"
    description = "Find files in the workspace matching a glob pattern like **/*.md."
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Glob pattern."},
            "path": {
                "type": "string",
                "description": "Directory to search.",
                "default": "/",
            },
        },
        "required": ["pattern"],
    }

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        pattern = args["pattern"].lstrip("/")
        if ".." in pattern.split("/"):
            raise ToolError("'..' is not allowed in patterns")
        base = self.workspace.resolve(args.get("path", "/"))
        matches = []
        for candidate in sorted(base.glob(pattern)):
            if not candidate.is_file():
                continue
            try:
                self.workspace.resolve(self.workspace.display(candidate))
            except (ToolError, ValueError):
                continue
            matches.append(self.workspace.display(candidate))
            if len(matches) >= MAX_RESULTS:
                break
        return "\n".join(matches) if matches else "No files match."
