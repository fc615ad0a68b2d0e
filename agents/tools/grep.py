"""``grep``: search workspace files for a regular expression."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from agents.errors import ToolError
from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["GrepTool"]

MAX_MATCHES = 200


class GrepTool(BaseTool):
    """Lines matching ``pattern`` as ``/path:line: text``.

    Args:
        workspace: The sandbox.
    """

    name = "grep"
    description = "Search workspace files for a regular expression."
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Regular expression."},
            "path": {
                "type": "string",
                "description": "Directory or file.",
                "default": "/",
            },
            "glob": {"type": "string", "description": "Only files matching this glob."},
            "ignore_case": {"type": "boolean", "default": False},
        },
        "required": ["pattern"],
    }

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        try:
            regex = re.compile(
                args["pattern"], re.IGNORECASE if args.get("ignore_case") else 0
            )
        except re.error as exc:
            raise ToolError(f"Invalid regular expression: {exc}") from exc
        base = self.workspace.resolve(args.get("path", "/"))
        files = [base] if base.is_file() else self.workspace.walk(base)
        only = args.get("glob")
        out: list[str] = []
        for path in files:
            shown = self.workspace.display(path)
            if (
                only
                and not fnmatch.fnmatch(path.name, only)
                and not fnmatch.fnmatch(shown, only)
            ):
                continue
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            for n, line in enumerate(lines, 1):
                if regex.search(line):
                    out.append(f"{shown}:{n}: {line}")
                    if len(out) >= MAX_MATCHES:
                        return "\n".join(
                            [*out, f"(stopped after {MAX_MATCHES} matches)"]
                        )
        return "\n".join(out) if out else "No matches."
