"""Assistants of the Agent Server API: a registered graph with its configuration.

Every registered graph is a *system* assistant whose id is LangGraph's: the
``uuid5`` of the graph name in LangGraph's namespace, so ``agent`` is
``fe096781-5601-53d2-b2f6-0d3403f7e9ca`` here as on LangGraph's own server. Run
endpoints accept the graph name wherever an assistant id goes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from runtime import registry
from runtime.errors import NotFound

# LangGraph's namespace for system assistant ids.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def system_assistant_id(graph: str) -> uuid.UUID:
    return uuid.uuid5(ASSISTANT_NAMESPACE, graph)


@dataclass(frozen=True, slots=True)
class ResolvedAssistant:
    """What a run needs of its assistant."""

    assistant_id: uuid.UUID
    graph: str
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def assistant_resolve(value: str) -> ResolvedAssistant:
    """The assistant a run names: its id, or a graph name (its system assistant).
    Raises ``NotFound`` for anything else."""
    names = registry.graph_names()
    if value in names:
        return ResolvedAssistant(system_assistant_id(value), value)
    try:
        wanted = uuid.UUID(value)
    except ValueError:
        raise NotFound(f"Assistant '{value}' not found") from None
    for name in names:
        if system_assistant_id(name) == wanted:
            return ResolvedAssistant(wanted, name)
    raise NotFound(f"Assistant '{value}' not found")
