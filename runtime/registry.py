"""Graphs by name: ``ORIS_GRAPHS = {"name": "module:builder"}`` and ``@register``.

A builder returns a ``StateGraph`` (compiled here) or a compiled graph; workers
resolve the name, rebind the graph to the runtime's checkpointer and record the
definition hash (of its Mermaid diagram) on each job, so a changed graph is visible.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from runtime.errors import UnknownGraph

Builder = Callable[[], Any]

BUILT_IN_GRAPHS = {
    "approval": "runtime.demo_graphs:build_approval",
    "echo": "runtime.demo_graphs:build_echo",
    "assistant": "runtime.demo_graphs:build_assistant",
}

_registered: dict[str, Builder] = {}
_cache: dict[str, RegisteredGraph] = {}
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class RegisteredGraph:
    name: str
    graph: Any  # graphs.CompiledGraph, without a checkpointer
    definition_hash: str


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``@register("triage")`` on a function returning a graph."""

    def decorate(builder: Builder) -> Builder:
        _registered[name] = builder
        _cache.pop(name, None)
        return builder

    return decorate


def graph_names() -> list[str]:
    return sorted({*BUILT_IN_GRAPHS, *settings.ORIS_GRAPHS, *_registered})


def graph_get(name: str) -> RegisteredGraph:
    """Returns the compiled graph registered as ``name``; raises ``UnknownGraph``."""
    found = _cache.get(name)
    if found is not None:
        return found
    with _lock:
        if name not in _cache:
            graph = _compile(_builder(name)())
            digest = hashlib.sha256(graph.get_graph().draw_mermaid().encode())
            _cache[name] = RegisteredGraph(name, graph, digest.hexdigest())
        return _cache[name]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A registered name, where it is built, and its graph or why it won't load."""

    name: str
    source: str
    found: RegisteredGraph | None
    error: str = ""


def graph_catalog(names: list[str] | None = None) -> list[CatalogEntry]:
    """Every registered graph (or those of ``names``), each loaded or with the
    reason it cannot be, so one broken builder does not hide the others."""
    entries = []
    for name in graph_names() if names is None else names:
        path = settings.ORIS_GRAPHS.get(name) or BUILT_IN_GRAPHS.get(name)
        if name in _registered:
            path = f"{_registered[name].__module__}:{_registered[name].__qualname__}"
        try:
            entries.append(CatalogEntry(name, path or "", graph_get(name)))
        except UnknownGraph as exc:
            entries.append(CatalogEntry(name, path or "", None, exc.message))
    return entries


def _builder(name: str) -> Builder:
    if name in _registered:
        return _registered[name]
    path = settings.ORIS_GRAPHS.get(name) or BUILT_IN_GRAPHS.get(name)
    if path is None:
        raise UnknownGraph(
            f"unknown graph {name!r}", details={"known_graphs": graph_names()}
        )
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownGraph(
            f"graph {name!r} cannot be loaded from {path!r}: {exc}"
        ) from exc


def _compile(graph: Any) -> Any:
    return graph.compile() if hasattr(graph, "add_node") else graph
