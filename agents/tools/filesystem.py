"""The workspace filesystem tools as one bundle."""

from __future__ import annotations

import os

from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool
from agents.tools.edit_file import EditFileTool
from agents.tools.glob_tool import GlobTool
from agents.tools.grep import GrepTool
from agents.tools.ls import LsTool
from agents.tools.read_file import ReadFileTool
from agents.tools.write_file import WriteFileTool

__all__ = ["filesystem_tools"]


def filesystem_tools(
    root: str | os.PathLike[str] | Workspace, *, read_only: bool = False
) -> list[BaseTool]:
    """The workspace tools: ls, read_file, write_file, edit_file, glob and grep.

    Args:
        root: Workspace directory (created if missing) or a :class:`Workspace`.
        read_only: Leave out ``write_file`` and ``edit_file``.

    Returns:
        The tools, all sandboxed to ``root``.
    """
    ws = root if isinstance(root, Workspace) else Workspace(root)
    tools: list[BaseTool] = [LsTool(ws), ReadFileTool(ws), GlobTool(ws), GrepTool(ws)]
    if not read_only:
        tools[2:2] = [WriteFileTool(ws), EditFileTool(ws)]
    return tools
