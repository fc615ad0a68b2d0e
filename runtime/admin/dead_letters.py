"""The dead-letter queue: why an attempt died, its last state, and replay."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from runtime import selectors
from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.admin.conversation import conversation, plain
from runtime.admin.formatting import pretty_json, truncated
from runtime.errors import OrisError
from runtime.models import DeadLetter
from runtime.services.dead_letters import dead_letter_replay


@admin.register(DeadLetter)
class DeadLetterAdmin(ConsoleAdmin):
    detail_template = "admin/runtime/deadletter/detail.html"
    list_display = (
        "attempt_link",
        "thread",
        "graph",
        "reason",
        "attempt_no",
        "age",
        "replay_status",
        "replay_count",
        "error_message",
    )
    list_filter = ("replay_status", "reason", "job__graph")
    search_fields = ("attempt__id", "job__thread_id", "job__tenant_id")
    list_select_related = ("job",)
    ordering = ("replay_status", "-dead_at")
    actions = ("replay_selected",)
    audit_resource = "attempt"
    audit_actions = {"replay_selected": "dlq.replay", "replay": "dlq.replay"}

    def detail_action(self, request: HttpRequest) -> str:
        return "replay"  # the page's one action

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "change")

    @admin.display(description="attempt", ordering="attempt_id")
    def attempt_link(self, obj: DeadLetter) -> str:
        return truncated(obj.attempt_id, css="oris-cell oris-id")

    @admin.display(description="thread", ordering="job__thread_id")
    def thread(self, obj: DeadLetter) -> str:
        url = reverse("admin:runtime_job_change", args=[obj.job_id])
        cell = truncated(obj.job.thread_id, css="oris-cell oris-id")
        return format_html('<a href="{}">{}</a>', url, cell)

    @admin.display(description="graph", ordering="job__graph")
    def graph(self, obj: DeadLetter) -> str:
        return obj.job.graph

    @admin.display(description="age", ordering="dead_at")
    def age(self, obj: DeadLetter) -> str:
        return timesince(obj.dead_at)

    @admin.display(description="error")
    def error_message(self, obj: DeadLetter) -> str:
        return truncated(str((obj.error or {}).get("message", "")))

    @admin.action(permissions=["replay"], description="Replay selected dead letters…")
    def replay_selected(
        self, request: HttpRequest, queryset: QuerySet[DeadLetter]
    ) -> TemplateResponse | None:
        if request.POST.get("post") != "yes":
            return self._confirm_replay(request, queryset)
        replayed, skipped = self._replay_all(request, queryset)
        if replayed:
            self.report(request, f"Replayed {replayed} dead letter(s).")
        if skipped:
            self.report(
                request,
                f"{skipped} dead letter(s) had already been replayed "
                "(by someone else, or earlier) and were left as they were.",
                messages.WARNING,
            )
        return None

    def _replay_all(
        self, request: HttpRequest, queryset: QuerySet[DeadLetter]
    ) -> tuple[int, int]:
        actor = actor_for(request)
        replayed, skipped = 0, 0
        for dead_letter in queryset:
            try:
                dead_letter_replay(dead_letter=dead_letter, actor=actor)
                replayed += 1
            except OrisError as exc:
                self.refused(request, "replay_selected", dead_letter, exc)
                skipped += 1
        return replayed, skipped

    def _confirm_replay(
        self, request: HttpRequest, queryset: QuerySet[DeadLetter]
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Replay dead letters?",
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "queryset": queryset.select_related("job"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "replay_selected",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/runtime/deadletter/replay_confirmation.html", context
        )

    # --- detail page -------------------------------------------------------------

    def detail_context(self, request: HttpRequest, obj: DeadLetter) -> dict[str, Any]:
        error = obj.error or {}
        state = selectors.job_latest_state(job=obj.job)
        return {
            "title": f"Dead letter {obj.attempt_id}",
            "error_type": error.get("type", ""),
            "error_message": error.get("message", ""),
            "traceback": error.get("traceback", ""),
            "state_json": pretty_json(plain(state)) if state is not None else "",
            "conversation": conversation(state),
            "can_replay": obj.replay_status == DeadLetter.ReplayStatus.PENDING
            and self.has_replay_permission(request),
            "job_url": reverse("admin:runtime_job_change", args=[obj.job_id]),
        }

    def handle_post(self, request: HttpRequest, obj: DeadLetter) -> HttpResponse:
        if not self.has_replay_permission(request):
            return super().handle_post(request, obj)
        try:
            dead_letter_replay(dead_letter=obj, actor=actor_for(request))
        except OrisError as exc:
            self.refused(request, "replay", obj, exc)
            obj = selectors.dead_letter_get(attempt_id=obj.pk)
            self.report(
                request,
                "This dead letter was already replayed "
                f"(replays: {obj.replay_count}); nothing more was done.",
                messages.WARNING,
            )
            return self.redirect_to(obj)
        self.report(request, "Replayed: the attempt is queued again.")
        return self.redirect_to(obj)
