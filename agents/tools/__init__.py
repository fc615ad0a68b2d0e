"""Tools the agent can call: ``@tool`` for your own, plus built-ins.

Built-ins: ``write_todos`` (planning), the workspace filesystem (``ls``,
``read_file``, ``write_file``, ``edit_file``, ``glob``, ``grep``, sandboxed to a
root), ``http_fetch`` (allowlisted hosts), ``calculator`` and ``current_time``.
"""

from __future__ import annotations

from agents.tools._workspace import Workspace
from agents.tools.base import BaseTool, Tool, ToolRuntime, ToolSpec, to_tool_spec, tool
from agents.tools.calculator import CalculatorTool, calculate
from agents.tools.current_time import CurrentTimeTool
from agents.tools.edit_file import EditFileTool
from agents.tools.filesystem import filesystem_tools
from agents.tools.glob_tool import GlobTool
from agents.tools.grep import GrepTool
from agents.tools.http_fetch import HttpFetchTool
from agents.tools.ls import LsTool
from agents.tools.read_file import ReadFileTool
from agents.tools.write_file import WriteFileTool
from agents.tools.write_todos import Todo, WriteTodosTool

__all__ = [
    "BaseTool",
    "CalculatorTool",
    "CurrentTimeTool",
    "EditFileTool",
    "GlobTool",
    "GrepTool",
    "HttpFetchTool",
    "LsTool",
    "ReadFileTool",
    "Todo",
    "Tool",
    "ToolRuntime",
    "ToolSpec",
    "WriteFileTool",
    "WriteTodosTool",
    "Workspace",
    "calculate",
    "filesystem_tools",
    "to_tool_spec",
    "tool",
]
