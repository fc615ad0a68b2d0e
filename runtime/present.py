"""Graph state as plain JSON for API responses."""

from __future__ import annotations

from typing import Any

from graphs import serde


def present(value: Any) -> Any:
    """Messages and other registered objects as their JSON dicts, recursively."""
    if isinstance(value, dict):
        return {str(k): present(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [present(v) for v in value]
    if hasattr(value, "to_json"):
        return present(value.to_json())
    return serde.to_jsonable(value)
