"""Policies an admin edits in the console: retention (what finished threads
keep) and budgets (what runs may spend), and the usage runs recorded
(read-only). Saves and deletes go through the services, which audit them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.models import BudgetPolicy, RetentionPolicy, RunUsage
from runtime.services import budgets, retention


class PolicyAdmin(admin.ModelAdmin):
    """A policy edited in the console: saved and deleted by its services."""

    save_service: ClassVar[Callable[..., Any]]
    delete_service: ClassVar[Callable[..., Any]]

    @admin.display(description="graph", ordering="graph")
    def graph_scope(self, obj: Any) -> str:
        return obj.graph or "every graph"

    @admin.display(description="tenant", ordering="tenant_id")
    def tenant_scope(self, obj: Any) -> str:
        return obj.tenant_id or "every tenant"

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm, change: bool
    ) -> None:
        type(self).save_service(policy=obj, actor=actor_for(request))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        type(self).delete_service(policy=obj, actor=actor_for(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(PolicyAdmin):
    save_service = retention.retention_policy_save
    delete_service = retention.retention_policy_delete
    list_display = (
        "graph_scope",
        "tenant_scope",
        "keep_last",
        "ttl_seconds",
        "compact",
    )
    ordering = ("graph", "tenant_id")
    fields = ("graph", "tenant_id", "keep_last", "ttl_seconds", "compact")


@admin.register(BudgetPolicy)
class BudgetPolicyAdmin(PolicyAdmin):
    save_service = budgets.budget_policy_save
    delete_service = budgets.budget_policy_delete
    list_display = (
        "scope",
        "graph_scope",
        "tenant_scope",
        "max_tokens",
        "max_cost_usd",
        "max_tool_calls",
        "max_wall_seconds",
        "on_exceed",
    )
    list_filter = ("scope", "on_exceed")
    ordering = ("scope", "graph", "tenant_id")
    fields = (
        "scope",
        "graph",
        "tenant_id",
        "max_tokens",
        "max_cost_usd",
        "max_tool_calls",
        "max_wall_seconds",
        "on_exceed",
    )


@admin.register(RunUsage)
class RunUsageAdmin(ConsoleAdmin):
    """What each run spent (read-only; the job page shows it too)."""

    list_display = (
        "job",
        "tenant_id",
        "graph",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "model_calls",
        "tool_calls",
        "updated_at",
    )
    list_filter = ("graph", "tenant_id")
    ordering = ("-updated_at",)
    search_fields = ("job__thread_id", "tenant_id")
    readonly_fields = list_display + ("grants",)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}
