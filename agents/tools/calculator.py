"""``calculator``: arithmetic evaluated from the AST (never ``eval``)."""

from __future__ import annotations

import ast
import math
import operator
import time
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
# Every integer the evaluation makes (operands and results) stays under this many
# bits, about 3,900 decimal digits: below Python's 4,300-digit int-to-str limit, so a
# result can always be printed, and small enough that any one operation is quick.
MAX_INT_BITS = 13_000
MAX_FACTORIAL = 1_000  # 1000! is ~8,500 bits
MAX_ROUND_DIGITS = 400  # past ~325 digits a float is already exact
TIME_BUDGET = 1.0  # seconds for one expression, checked at every node


def calculate(expression: str, *, budget: float = TIME_BUDGET) -> int | float:
    """Evaluate an arithmetic expression safely.

    Supports numbers, ``+ - * / // % **``, parentheses, ``pi``/``e``/``tau`` and
    ``abs round min max sqrt exp log log10 sin cos tan floor ceil factorial``.
    Integers are bounded by :data:`MAX_INT_BITS` (every operand and every result),
    ``factorial`` by :data:`MAX_FACTORIAL`, ``round``'s digits by
    :data:`MAX_ROUND_DIGITS`; results must be finite real numbers.

    Args:
        expression: For example ``"2 + 3 * sqrt(16)"``.
        budget: Seconds the evaluation may take; checked before each node, and
            the size bounds keep any single operation far below it.

    Returns:
        The value.

    Raises:
        ToolError: For anything else (names, attributes, huge numbers, overflow,
            a complex result, an exhausted budget...).
    """
    if len(expression) > MAX_EXPRESSION:
        raise ToolError("Expression too long")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise ToolError(f"Not an arithmetic expression: {expression!r}") from exc
    try:
        return _Evaluator(time.monotonic() + budget).value(tree.body)
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        raise ToolError(f"Cannot compute {expression!r}: {exc}") from exc


class _Evaluator:
    """Walks the tree, bounding every value it makes and the time it takes."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def value(self, node: ast.AST) -> int | float:
        if time.monotonic() > self.deadline:
            raise ToolError("Expression took too long to compute")
        return _bounded(self._node(node))

    def _node(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self.value(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(node.op, ast.Pow):
                _check_power(left, right)
            return _BINARY[type(node.op)](left, right)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            args = [self.value(a) for a in node.args]
            _check_call(node.func.id, args)
            return _FUNCTIONS[node.func.id](*args)
        raise ToolError(f"Unsupported syntax: {ast.dump(node)[:60]}")


def _bounded(value: Any) -> int | float:
    """``value`` if it is a real number inside the bounds; ToolError otherwise."""
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise ToolError(f"Number too large (over {MAX_INT_BITS} bits)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolError("Result is not a finite number")
        return value
    raise ToolError(f"Result is not a real number: {value!r}")


def _check_power(base: int | float, exponent: int | float) -> None:
    # Refused before computing: x ** n has at least (bits(x) - 1) * n bits, so this
    # lets through only powers at most about twice MAX_INT_BITS (then _bounded).
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS
    ):
        raise ToolError(f"Power too large (over {MAX_INT_BITS} bits)")


def _check_call(name: str, args: list[int | float]) -> None:
    if name == "factorial" and args and args[0] > MAX_FACTORIAL:
        raise ToolError(f"Factorial argument too large (over {MAX_FACTORIAL})")
    if name == "round" and len(args) > 1 and abs(args[1]) > MAX_ROUND_DIGITS:
        # round(x, -n) computes 10 ** n: unbounded n is unbounded work.
        raise ToolError(f"round() digits out of range (over {MAX_ROUND_DIGITS})")


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
