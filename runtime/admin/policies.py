"""Policies an admin edits in the console: retention (what finished threads
keep). Saves and deletes go through the services, which audit them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from runtime.admin.base import actor_for
from runtime.models import RetentionPolicy
from runtime.services import retention


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "graph_scope",
        "tenant_scope",
        "keep_last",
        "ttl_seconds",
        "compact",
    )
    ordering = ("graph", "tenant_id")
    fields = ("graph", "tenant_id", "keep_last", "ttl_seconds", "compact")

    @admin.display(description="graph", ordering="graph")
    def graph_scope(self, obj: RetentionPolicy) -> str:
        return obj.graph or "every graph"

    @admin.display(description="tenant", ordering="tenant_id")
    def tenant_scope(self, obj: RetentionPolicy) -> str:
        return obj.tenant_id or "every tenant"

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm, change: bool
    ) -> None:
        retention.retention_policy_save(policy=obj, actor=actor_for(request))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        retention.retention_policy_delete(policy=obj, actor=actor_for(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
