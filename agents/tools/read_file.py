"""``read_file``: read a workspace file with line numbers."""

from __future__ import annotations

from typing import Any

from agents.errors import ToolError
from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["ReadFileTool"]


class ReadFileTool(BaseTool):
    """Read a text file, ``cat -n`` style: ``limit`` lines from ``offset`` (1-based).

    Args:
        workspace: The sandbox.
    """

    name = "read_file"
    description = "Read a text file from the workspace; lines are numbered."
    parameters = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path."},
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "First line (1-based).",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": "Number of lines.",
            },
        },
        "required": ["path"],
    }

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        target = self.workspace.resolve(args["path"])
        if not target.is_file():
            raise ToolError(f"File not found: {args['path']}")
        if target.stat().st_size > self.workspace.max_read_bytes:
            raise ToolError(f"File too large to read: {args['path']}")
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
        start = int(args.get("offset") or 1)
        limit = int(args.get("limit") or 2000)
        chunk = lines[start - 1 : start - 1 + limit]
        if not chunk:
            return "(empty file)" if not lines else f"(no lines from {start})"
        return "\n".join(f"{n:6d}\t{line}" for n, line in enumerate(chunk, start))
