"""The audit log: read-only and filterable; nobody may add, change or delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from runtime.admin.base import ConsoleAdmin
from runtime.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(ConsoleAdmin):
    list_display = ("created_at", "action", "actor", "resource", "result")
    list_filter = ("action", "actor_type", "resource_type", "result", "created_at")
    search_fields = ("actor_id", "resource_id", "request_id", "action")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = (
        "created_at",
        "action",
        "actor_type",
        "actor_id",
        "actor_role",
        "resource_type",
        "resource_id",
        "result",
        "request_id",
        "details",
    )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}  # no bulk actions, not even delete_selected

    @admin.display(description="actor", ordering="actor_id")
    def actor(self, obj: AuditLog) -> str:
        role = f" ({obj.actor_role})" if obj.actor_role else ""
        return (
            f"{obj.actor_type}:{obj.actor_id}{role}" if obj.actor_id else obj.actor_type
        )

    @admin.display(description="resource", ordering="resource_id")
    def resource(self, obj: AuditLog) -> str:
        if not obj.resource_id:
            return obj.resource_type
        return f"{obj.resource_type} {obj.resource_id}"
