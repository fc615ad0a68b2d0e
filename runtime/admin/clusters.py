"""The supervised worker clusters, as their supervisors last saw them (read-only;
``/readyz`` serves the same)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from runtime.admin.base import ConsoleAdmin
from runtime.models import WorkerCluster


@admin.register(WorkerCluster)
class WorkerClusterAdmin(ConsoleAdmin):
    list_display = (
        "id",
        "state",
        "pid",
        "seen_at",
        "progressed_at",
        "restarts",
        "note",
    )
    list_filter = ("state", "host")
    ordering = ("id",)
    readonly_fields = (
        "id",
        "host",
        "pid",
        "state",
        "started_at",
        "seen_at",
        "progressed_at",
        "restarts",
        "note",
    )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}  # supervisors own these rows
