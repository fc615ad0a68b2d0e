"""``write_file``: create or overwrite a workspace file."""

from __future__ import annotations

from typing import Any

from agents.errors import ToolError
from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["WriteFileTool"]


class WriteFileTool(BaseTool):
    """Write ``content`` to ``path`` (parent directories are created).

    Args:
        workspace: The sandbox.
    """

    name = "write_file"
    description = "Create or overwrite a text file in the workspace."
    parameters = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path."},
            "content": {"type": "string", "description": "Full new content."},
        },
        "required": ["path", "content"],
    }

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        target = self.workspace.resolve(args["path"])
        if target.is_dir():
            raise ToolError(f"Is a directory: {args['path']}")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = args["content"].encode("utf-8")
        target.write_bytes(data)
        return f"Wrote {len(data)} bytes to {self.workspace.display(target)}"
