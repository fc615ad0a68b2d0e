"""Tools the agent can call: ``@tool`` for your own, plus built-ins."""

from __future__ import annotations

from agents.tools.base import BaseTool, Tool, ToolRuntime, ToolSpec, to_tool_spec, tool

__all__ = ["BaseTool", "Tool", "ToolRuntime", "ToolSpec", "to_tool_spec", "tool"]
