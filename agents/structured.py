"""Structured output: the model answers by calling a tool whose schema is the answer.

``response_format`` may be a JSON schema dict, a pydantic model class (used only if
pydantic is installed; it is not a dependency), a ``TypedDict`` or a dataclass. The
validated value is stored in the agent state as ``structured_response`` (pydantic
instances are registered with :mod:`graphs.serde` so they survive checkpoints).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from agents.errors import StructuredOutputError
from agents.tools._schema import json_schema_for, validate_json_schema
from agents.tools.base import ToolSpec
from graphs import serde

__all__ = ["ResponseFormat"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ResponseFormat:
    """A normalised ``response_format``.

    Args:
        schema: JSON schema of the answer.
        name: Name of the synthetic answer tool.
        model_class: The pydantic model / dataclass to build, if any.
    """

    schema: dict[str, Any]
    name: str
    model_class: type | None = None

    @classmethod
    def from_any(cls, response_format: Any) -> ResponseFormat:
        """Normalise a JSON schema dict, pydantic model, TypedDict or dataclass."""
        if isinstance(response_format, ResponseFormat):
            return response_format
        if isinstance(response_format, dict):
            schema = dict(response_format)
            return cls(schema, _tool_name(schema.get("title")))
        if isinstance(response_format, type):
            schema = json_schema_for(response_format)
            if not schema:
                raise TypeError(f"Cannot derive a JSON schema from {response_format!r}")
            is_pydantic = hasattr(response_format, "model_validate")
            if is_pydantic:
                _register_pydantic(response_format)
            keep = is_pydantic or hasattr(response_format, "__dataclass_fields__")
            return cls(
                schema,
                _tool_name(response_format.__name__),
                response_format if keep else None,
            )
        raise TypeError(f"Unsupported response_format: {response_format!r}")

    @property
    def tool_spec(self) -> ToolSpec:
        """The answer tool offered to the model."""
        return {
            "name": self.name,
            "description": self.schema.get(
                "description", "Respond to the user with this structured answer."
            ),
            "parameters": self.schema,
        }

    def parse(self, args: Any) -> Any:
        """Validate and build the answer.

        Raises:
            StructuredOutputError: When validation fails.
        """
        if self.model_class is not None and hasattr(self.model_class, "model_validate"):
            try:
                return self.model_class.model_validate(args)
            except Exception as exc:  # pydantic.ValidationError, without importing it
                raise StructuredOutputError(str(exc)) from exc
        errors = validate_json_schema(args, self.schema)
        if errors:
            raise StructuredOutputError("; ".join(errors))
        if self.model_class is not None:
            return self.model_class(**args)
        return args

    def parse_text(self, text: str) -> Any:
        """Parse a JSON answer given as text (optionally in a code fence).

        Raises:
            StructuredOutputError: When the text is not valid JSON or invalid.
        """
        fenced = _FENCE.search(text)
        raw = fenced.group(1) if fenced else text
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StructuredOutputError(f"The reply is not JSON: {exc}") from exc
        return self.parse(data)


def _tool_name(title: Any) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(title or "structured_response"))
    return name[:64] or "structured_response"


def _register_pydantic(model: type) -> None:
    tag = f"pydantic:{model.__module__}.{model.__qualname__}"
    # A same-named class registered first keeps the tag (ValueError).
    with contextlib.suppress(ValueError):
        serde.register(
            model,
            tag,
            to_json=lambda obj: obj.model_dump(mode="json"),
            from_json=model.model_validate,  # type: ignore[attr-defined]
        )
