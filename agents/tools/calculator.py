"""``calculator``: arithmetic evaluated from the AST (never ``eval``)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from agents.errors import ToolError
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["CalculatorTool", "calculate"]

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
    "factorial": math.factorial,
}
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
MAX_EXPRESSION = 500
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1_000


def calculate(expression: str) -> int | float:
    """Evaluate an arithmetic expression safely.

    Supports numbers, ``+ - * / // % **``, parentheses, ``pi``/``e``/``tau`` and
    ``abs round min max sqrt exp log log10 sin cos tan floor ceil factorial``.

    Args:
        expression: For example ``"2 + 3 * sqrt(16)"``.

    Returns:
        The value.

    Raises:
        ToolError: For anything else (names, attributes, huge powers...).
    """
    if len(expression) > MAX_EXPRESSION:
        raise ToolError("Expression too long")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"Not an arithmetic expression: {expression!r}") from exc
    try:
        value: int | float = _eval(tree.body)
        return value
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ToolError(f"Cannot compute {expression!r}: {exc}") from exc


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError("Exponent too large")
        return _BINARY[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        args = [_eval(a) for a in node.args]
        if node.func.id == "factorial" and args and args[0] > MAX_FACTORIAL:
            raise ToolError("Factorial argument too large")
        return _FUNCTIONS[node.func.id](*args)
    raise ToolError(f"Unsupported syntax: {ast.dump(node)[:60]}")


class CalculatorTool(BaseTool):
    """Evaluates arithmetic for the model (see :func:`calculate`)."""

    name = "calculator"
    description = (
        "Evaluate an arithmetic expression, e.g. '2 + 3 * 4' or 'sqrt(2) * pi'. "
        "Supports + - * / // % ** and abs, round, min, max, sqrt, exp, log, log10, "
        "sin, cos, tan, floor, ceil, factorial."
    )
    parameters = {
        "type": "object",
        "properties": {
            "expression": {"type": "string", "description": "The expression."}
        },
        "required": ["expression"],
    }

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        value = calculate(args["expression"])
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            value = int(value)
        return str(value)
