"""Merging run configs: a graph's defaults (``with_config``) under a call's config."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_configs"]


def merge_configs(*configs: dict[str, Any] | None) -> dict[str, Any]:
    """Merge configs left to right, as LangGraph does; later values win.

    ``configurable`` and ``metadata`` are merged key by key, ``tags`` are
    concatenated, any other key is replaced. Empty values (``None``, ``{}``,
    ``[]``) never override.

    Args:
        *configs: Configs, lowest priority first; ``None`` entries are skipped.

    Returns:
        A new dict; the inputs are not modified.
    """
    base: dict[str, Any] = {}
    for config in configs:
        if not config:
            continue
        for key, value in config.items():
            if value is None or (isinstance(value, (dict, list, tuple)) and not value):
                continue
            old = base.get(key)
            if key in ("configurable", "metadata") and old:
                base[key] = {**old, **value}
            elif key == "tags" and old:
                base[key] = [*old, *(t for t in value if t not in old)]
            else:
                base[key] = value
    return base
