"""Runs: every job with its attempts, timeline, checkpoints and graph; cancel
and replay from a checkpoint through the jobs service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.timesince import timesince

from runtime import selectors
from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.admin.formatting import mermaid_with_current, pretty_json
from runtime.errors import OrisError
from runtime.models import Job
from runtime.services.jobs import job_cancel, job_replay

CONSOLE_CANCEL_REASON = "cancelled from the console"
REPLAYABLE = (Job.Status.COMPLETED, Job.Status.FAILED)


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 60}))


@admin.register(Job)
class JobAdmin(ConsoleAdmin):
    detail_template = "admin/runtime/job/detail.html"
    list_display = (
        "thread_id",
        "graph",
        "status",
        "tenant_id",
        "attempt_count",
        "age",
        "updated_at",
    )
    list_filter = ("status", "graph", "queue")
    search_fields = ("thread_id", "tenant_id")
    ordering = ("-updated_at",)
    actions = ("cancel_selected",)
    audit_resource = "thread"
    audit_actions = {
        "cancel_selected": "job.cancel",
        "cancel": "job.cancel",
        "replay": "job.replay",
    }

    def detail_action(self, request: HttpRequest) -> str:
        return request.POST.get("action_name", "")

    def audit_resource_id(self, obj: Job) -> str:
        return obj.thread_id

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        return super().get_queryset(request).annotate(attempt_total=Count("attempts"))

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "change")

    @admin.display(description="attempts", ordering="attempt_total")
    def attempt_count(self, obj: Job) -> int:
        return obj.attempt_total  # type: ignore[attr-defined]

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Job) -> str:
        return timesince(obj.created_at)

    @admin.action(permissions=["cancel"], description="Cancel selected runs")
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        actor = actor_for(request)
        cancelled, skipped = 0, 0
        for job in queryset:
            try:
                job_cancel(job=job, actor=actor, reason=CONSOLE_CANCEL_REASON)
                cancelled += 1
            except OrisError as exc:
                self.refused(request, "cancel_selected", job, exc)
                skipped += 1
        self.report(request, f"Cancelled {cancelled} run(s).")
        if skipped:
            self.report(
                request,
                f"{skipped} run(s) had already finished and were left as they were.",
                messages.WARNING,
            )

    # --- detail page -------------------------------------------------------------

    def detail_context(self, request: HttpRequest, obj: Job) -> dict[str, Any]:
        can_act = self.has_cancel_permission(request)
        return {
            "title": f"Run {obj.thread_id}",
            "attempts": selectors.job_attempts(job=obj),
            "timeline": selectors.job_timeline(job=obj),
            "checkpoints": list(reversed(selectors.job_history(job=obj))),
            "mermaid": self._mermaid(obj),
            "definition_change": selectors.job_definition_change(job=obj),
            "current_nodes": selectors.job_current_nodes(job=obj),
            "input_json": pretty_json(obj.input),
            "result_json": pretty_json(obj.result) if obj.result is not None else "",
            "error_json": pretty_json(obj.error) if obj.error is not None else "",
            "can_cancel": can_act and not obj.is_terminal,
            "can_replay": can_act and obj.status in REPLAYABLE,
            "cancel_form": CancelForm(),
            "interrupts": selectors.job_interrupts(job=obj),
            "dead_letters": selectors.job_dead_letters(job=obj),
        }

    def _mermaid(self, obj: Job) -> str:
        try:
            diagram = selectors.job_graph(job=obj).get_graph().draw_mermaid()
        except OrisError as exc:
            return f"%% graph {obj.graph!r} is not available: {exc.message}"
        return mermaid_with_current(diagram, selectors.job_current_nodes(job=obj))

    def handle_post(self, request: HttpRequest, obj: Job) -> HttpResponse:
        if not self.has_cancel_permission(request):
            return super().handle_post(request, obj)
        action = request.POST.get("action_name", "")
        try:
            if action == "cancel":
                self._cancel(request, obj)
            elif action == "replay":
                self._replay(request, obj)
            else:
                self.report(request, "Unknown action.", messages.ERROR)
        except OrisError as exc:
            self.refused(request, action, obj, exc)
            self.report(request, f"Not done: {exc.message}", messages.WARNING)
        return self.redirect_to(obj)

    def _cancel(self, request: HttpRequest, obj: Job) -> None:
        form = CancelForm(request.POST)
        form.is_valid()
        reason = form.cleaned_data.get("reason") or CONSOLE_CANCEL_REASON
        job = job_cancel(job=obj, actor=actor_for(request), reason=reason)
        if job.status == Job.Status.CANCELLED:
            self.report(request, "Cancelled.")
        else:
            self.report(request, "Cancel requested: the run stops at its next step.")

    def _replay(self, request: HttpRequest, obj: Job) -> None:
        checkpoint_id = request.POST.get("checkpoint_id", "")
        job_replay(job=obj, actor=actor_for(request), checkpoint_id=checkpoint_id)
        where = (
            f"checkpoint {checkpoint_id}" if checkpoint_id else "its latest checkpoint"
        )
        self.report(request, f"Replay queued from {where}.")
