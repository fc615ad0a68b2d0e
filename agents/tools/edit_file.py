"""``edit_file``: exact string replacements in a workspace file."""

from __future__ import annotations

from typing import Any

from agents.errors import ToolError
from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["EditFileTool"]


class EditFileTool(BaseTool):
    """Replace ``old_string`` by ``new_string`` (or apply a list of replacements).

    Each ``old_string`` must occur exactly once unless ``replace_all`` is set, so an
    ambiguous edit is refused rather than applied in the wrong place.

    Args:
        workspace: The sandbox.
    """

    name = "edit_file"
    description = (
        "Edit a workspace file by exact string replacement. Give old_string and "
        "new_string, or replacements=[{old_string, new_string}]."
    )
    parameters = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path."},
            "old_string": {"type": "string", "description": "Text to replace."},
            "new_string": {"type": "string", "description": "Replacement text."},
            "replace_all": {
                "type": "boolean",
                "description": "Replace every occurrence.",
            },
            "replacements": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "old_string": {"type": "string"},
                        "new_string": {"type": "string"},
                    },
                    "required": ["old_string", "new_string"],
                },
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
        edits = list(args.get("replacements") or [])
        if "old_string" in args:
            edits.append(
                {
                    "old_string": args["old_string"],
                    "new_string": args.get("new_string", ""),
                }
            )
        if not edits:
            raise ToolError(
                "Nothing to edit: give old_string/new_string or replacements"
            )
        text = target.read_text(encoding="utf-8")
        total = 0
        for edit in edits:
            old, new = edit["old_string"], edit["new_string"]
            count = text.count(old) if old else 0
            if count == 0:
                raise ToolError(f"old_string not found in {args['path']}: {old[:80]!r}")
            if count > 1 and not args.get("replace_all"):
                raise ToolError(
                    f"old_string occurs {count} times in {args['path']}; add context "
                    "or set replace_all"
                )
            text = text.replace(old, new)
            total += count
        target.write_text(text, encoding="utf-8")
        return f"Edited {self.workspace.display(target)} ({total} replacement(s))"
