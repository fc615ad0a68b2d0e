"""The ``assistant`` demo graph: a calculator and workspace files, writes approved.

With no model configured it runs a deterministic script, so the approval inbox
shows a real tool approval without any API key: it computes the arithmetic in the
user's message (or ``(17 + 25) * 3``), asks to write the result to
``results/calculation.txt`` (this pauses for approval), then reports what happened.
Pass ``model="openai:gpt-4o-mini"`` (or ``"anthropic"``, ``"ollama:llama3.2"``,
``"auto"``...) to drive the same graph with a real model.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from agents.agent import create_agent
from agents.chat_models import BaseChatModel, ScriptedChatModel, init_chat_model
from agents.errors import ToolError
from agents.tools import CalculatorTool, CurrentTimeTool, calculate, filesystem_tools
from graphs.messages import BaseMessage, HumanMessage, ToolMessage

__all__ = ["ASSISTANT_PROMPT", "build_assistant", "demo_model"]

ASSISTANT_PROMPT = (
    "You are a careful assistant. Use the calculator for any arithmetic instead of "
    "computing in your head. You can list, read, search and write files in the "
    "workspace; writing and editing files needs a human's approval, so explain what "
    "you are about to write. Keep answers short."
)
DEFAULT_EXPRESSION = "(17 + 25) * 3"
RESULT_PATH = "results/calculation.txt"
_EXPRESSION = re.compile(r"[\d(][\d\s+\-*/().^%]*[\d)]")


def _expression(messages: list[BaseMessage]) -> str:
    text = next((m.text for m in messages if isinstance(m, HumanMessage)), "")
    candidates: list[str] = _EXPRESSION.findall(text)
    for candidate in candidates:
        if any(op in candidate for op in "+-*/^%"):
            try:
                calculate(candidate)
            except ToolError:
                continue  # not a computable expression; keep looking
            return candidate.strip()
    return DEFAULT_EXPRESSION


def _tool_results(messages: list[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def _calculate(messages: list[BaseMessage]) -> dict[str, Any]:
    return {
        "content": "Let me calculate that.",
        "tool_calls": [
            {"name": "calculator", "args": {"expression": _expression(messages)}}
        ],
    }


def _write(messages: list[BaseMessage]) -> dict[str, Any]:
    result = _tool_results(messages)[-1].text
    return {
        "content": f"The result is {result}. I'd like to save it to {RESULT_PATH}.",
        "tool_calls": [
            {
                "name": "write_file",
                "args": {
                    "path": RESULT_PATH,
                    "content": f"{_expression(messages)} = {result}\n",
                },
            }
        ],
    }


def _report(messages: list[BaseMessage]) -> str:
    results = _tool_results(messages)
    value, saved = results[0].text, results[-1]
    if saved.status == "error":
        return f"The result is {value}. I did not save it: {saved.text}"
    return f"The result is {value}; I saved it to {RESULT_PATH}."


def demo_model() -> ScriptedChatModel:
    """The deterministic script behind the key-less demo."""
    return ScriptedChatModel(
        [_calculate, _write, _report],
        model="oris-demo-script",
        when_exhausted=(
            "The demo script is finished. Configure a real model to keep chatting."
        ),
    )


def build_assistant(
    *,
    model: str | BaseChatModel | None = None,
    workspace_root: str | os.PathLike[str] | None = None,
    checkpointer: Any = None,
) -> Any:
    """Build the ``assistant`` demo graph.

    Args:
        model: ``None`` for the scripted demo, a chat model, or a
            ``"provider:model"`` string (``"auto"`` picks a provider from
            ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` / ``OLLAMA_HOST``).
        workspace_root: Directory the file tools are confined to (default:
            ``<system temp>/oris-assistant``).
        checkpointer: Saver (the runtime rebinds its own).

    Returns:
        A compiled agent graph; ``write_file`` and ``edit_file`` need approval.
    """
    chat = demo_model() if model is None else init_chat_model(model)
    root = Path(workspace_root or Path(tempfile.gettempdir()) / "oris-assistant")
    return create_agent(
        chat,
        [CalculatorTool(), CurrentTimeTool(), *filesystem_tools(root)],
        system_prompt=ASSISTANT_PROMPT,
        interrupt_on={"write_file": True, "edit_file": True},
        checkpointer=checkpointer,
        name="assistant",
    )
