"""Stored assistants of the Agent Server API: a registered graph with its config,
context and metadata, versioned. (System assistants — one per registered graph —
are not stored: they are derived from the registry.)

Each change adds an ``AssistantVersion``; the ``Assistant`` row holds the active
version's fields, so a run reads one row.
"""

from __future__ import annotations

import uuid

from django.db import models


class Assistant(models.Model):
    assistant_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    graph_id = models.CharField(max_length=128)
    name = models.CharField(max_length=256, blank=True, default="")
    description = models.TextField(null=True, blank=True)  # noqa: DJ001 (None: none)
    config = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)  # the active version
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["graph_id", "-created_at"], name="assistant_graph")
        ]

    def __str__(self) -> str:
        return f"{self.name or self.assistant_id} ({self.graph_id} v{self.version})"


class AssistantVersion(models.Model):
    """One version of an assistant, as it was written (never changed)."""

    assistant = models.ForeignKey(
        Assistant, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    graph_id = models.CharField(max_length=128)
    name = models.CharField(max_length=256, blank=True, default="")
    description = models.TextField(null=True, blank=True)  # noqa: DJ001 (None: none)
    config = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assistant", "version"], name="assistant_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.assistant_id} v{self.version}"
