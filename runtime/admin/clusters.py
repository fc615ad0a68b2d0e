"""The workers: supervised django-q2 clusters as their supervisors last saw them,
with the leases their processes hold, and every worker (q2 or HTTP) holding a
lease, with its last heartbeat (read-only; ``/readyz`` serves the same)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from runtime.admin.base import ConsoleAdmin
from runtime.models import WorkerCluster
from runtime.selectors.health import clusters_with_leases, workers_list


@admin.register(WorkerCluster)
class WorkerClusterAdmin(ConsoleAdmin):
    change_list_template = "admin/runtime/workercluster/change_list.html"
    list_display = (
        "id",
        "state",
        "pid",
        "seen_at",
        "progressed_at",
        "leases_held",
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkerCluster]:
        return clusters_with_leases(super().get_queryset(request))

    @admin.display(description="leases held", ordering="leases_held")
    def leases_held(self, obj: WorkerCluster) -> int:
        return int(getattr(obj, "leases_held", 0))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "workers": workers_list()}
        return super().changelist_view(request, context)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}  # supervisors own these rows
