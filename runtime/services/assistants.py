"""Assistants of the Agent Server API: a registered graph with its configuration.

Every registered graph is a *system* assistant whose id is LangGraph's: the
``uuid5`` of the graph name in LangGraph's namespace, so ``agent`` is
``fe096781-5601-53d2-b2f6-0d3403f7e9ca`` here as on LangGraph's own server. Run
endpoints accept the graph name wherever an assistant id goes. Stored assistants
(``Assistant`` rows) add a config, a context and metadata to a graph; each change
is a new version, and one version is the active one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from runtime import registry
from runtime.errors import Conflict, NotFound
from runtime.models import Assistant, AssistantVersion
from runtime.services.audit import Actor, audit_record

# LangGraph's namespace for system assistant ids.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")

# The fields of a version, copied between an assistant and its versions.
VERSIONED = ("graph_id", "name", "description", "config", "context", "metadata")


def system_assistant_id(graph: str) -> uuid.UUID:
    return uuid.uuid5(ASSISTANT_NAMESPACE, graph)


def system_graph(assistant_id: uuid.UUID) -> str | None:
    """The registered graph whose system assistant is ``assistant_id``, if any."""
    for name in registry.graph_names():
        if system_assistant_id(name) == assistant_id:
            return name
    return None


@dataclass(frozen=True, slots=True)
class ResolvedAssistant:
    """What a run needs of its assistant."""

    assistant_id: uuid.UUID
    graph: str
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def assistant_resolve(value: str) -> ResolvedAssistant:
    """The assistant a run names: its id (a system or a stored assistant, at its
    active version), or a graph name (its system assistant). Raises ``NotFound``
    for anything else."""
    if value in registry.graph_names():
        return ResolvedAssistant(system_assistant_id(value), value)
    try:
        wanted = uuid.UUID(value)
    except ValueError:
        raise NotFound(f"Assistant '{value}' not found") from None
    graph = system_graph(wanted)
    if graph is not None:
        return ResolvedAssistant(wanted, graph)
    stored = Assistant.objects.filter(pk=wanted).first()
    if stored is None:
        raise NotFound(f"Assistant '{value}' not found")
    return ResolvedAssistant(
        wanted, stored.graph_id, dict(stored.config), dict(stored.context)
    )


def _check_graph(graph_id: str) -> None:
    if graph_id not in registry.graph_names():
        raise NotFound(f"Graph '{graph_id}' not found")


def _stored(assistant_id: uuid.UUID, *, lock: bool = False) -> Assistant:
    rows = Assistant.objects.select_for_update() if lock else Assistant.objects
    found = rows.filter(pk=assistant_id).first()
    if found is None:
        if system_graph(assistant_id) is not None:
            raise Conflict("A system assistant cannot be changed")
        raise NotFound(f"Assistant '{assistant_id}' not found")
    return found


def _add_version(assistant: Assistant, at: Any) -> None:
    AssistantVersion.objects.create(
        assistant=assistant,
        version=assistant.version,
        created_at=at,
        **{name: getattr(assistant, name) for name in VERSIONED},
    )


def _activate(assistant: Assistant, version: int, at: Any) -> None:
    """Writes the assistant's fields as its active ``version``."""
    assistant.version, assistant.updated_at = version, at
    Assistant.objects.filter(pk=assistant.pk).update(
        version=version,
        updated_at=at,
        **{name: getattr(assistant, name) for name in VERSIONED},
    )


def _audit(actor: Actor, action: str, assistant: Assistant, at: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        resource_type="assistant",
        resource_id=str(assistant.assistant_id),
        details={"graph_id": assistant.graph_id, "version": assistant.version},
        at=at,
    )


def assistant_create(
    *,
    actor: Actor,
    graph_id: str,
    assistant_id: uuid.UUID | None = None,
    config: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    description: str | None = None,
    if_exists: Literal["raise", "do_nothing"] = "raise",
) -> Assistant:
    """A stored assistant of ``graph_id`` at version 1. An existing id is a
    ``Conflict``, or (``if_exists="do_nothing"``) the existing assistant."""
    _check_graph(graph_id)
    assistant_id = assistant_id or uuid.uuid4()
    if system_graph(assistant_id) is not None:
        raise Conflict(f"Assistant '{assistant_id}' already exists")
    now = timezone.now()
    try:
        with transaction.atomic():
            assistant = Assistant.objects.create(
                assistant_id=assistant_id,
                graph_id=graph_id,
                name=name or "Untitled",
                description=description,
                config=config or {},
                context=context or {},
                metadata=metadata or {},
                version=1,
                created_at=now,
                updated_at=now,
            )
            _add_version(assistant, now)
            _audit(actor, "assistant.create", assistant, now)
            return assistant
    except IntegrityError:
        existing = Assistant.objects.filter(pk=assistant_id).first()
        if existing is None:
            raise
        if if_exists == "do_nothing":
            return existing
        raise Conflict(f"Assistant '{assistant_id}' already exists") from None


def assistant_update(
    *,
    actor: Actor,
    assistant_id: uuid.UUID,
    graph_id: str | None = None,
    config: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Assistant:
    """A new version of the assistant, made active: the fields given replace the
    active version's (``metadata`` is merged into it)."""
    if graph_id is not None:
        _check_graph(graph_id)
    now = timezone.now()
    with transaction.atomic():
        assistant = _stored(assistant_id, lock=True)
        newest = assistant.versions.aggregate(top=Max("version"))["top"] or 0
        changes: dict[str, Any] = {
            "graph_id": graph_id,
            "config": config,
            "context": context,
            "name": name,
            "description": description,
        }
        for key, value in changes.items():
            if value is not None:
                setattr(assistant, key, value)
        if metadata is not None:
            assistant.metadata = {**assistant.metadata, **metadata}
        _activate(assistant, newest + 1, now)
        _add_version(assistant, now)
        _audit(actor, "assistant.update", assistant, now)
    return assistant


def assistant_set_latest(
    *, actor: Actor, assistant_id: uuid.UUID, version: int
) -> Assistant:
    """Makes ``version`` the assistant's active version."""
    now = timezone.now()
    with transaction.atomic():
        assistant = _stored(assistant_id, lock=True)
        chosen = assistant.versions.filter(version=version).first()
        if chosen is None:
            raise NotFound(f"Assistant '{assistant_id}' has no version {version}")
        for name in VERSIONED:
            setattr(assistant, name, getattr(chosen, name))
        _activate(assistant, version, now)
        _audit(actor, "assistant.set_latest", assistant, now)
    return assistant


def assistant_delete(*, actor: Actor, assistant_id: uuid.UUID) -> None:
    """Deletes a stored assistant and its versions (its threads and runs stay)."""
    with transaction.atomic():
        assistant = _stored(assistant_id, lock=True)
        assistant.versions.all().delete()
        Assistant.objects.filter(pk=assistant.pk).delete()
        _audit(actor, "assistant.delete", assistant, timezone.now())
