"""Runs: every job with its attempts, timeline, checkpoints and graph; cancel
and replay from a checkpoint through the jobs service."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.timesince import timesince

from runtime import selectors
from runtime.admin import effects
from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.admin.conversation import added_messages, shown
from runtime.admin.formatting import (
    duration,
    mermaid_with_progress,
    pretty_json,
    status_badge,
    truncated,
)
from runtime.errors import InvalidArgument, OrisError
from runtime.models import Job
from runtime.selectors.agent_server import job_agent_thread
from runtime.services.jobs import job_cancel, job_replay
from runtime.services.runs import job_run

CONSOLE_CANCEL_REASON = "cancelled from the console"
REPLAYABLE = (Job.Status.COMPLETED, Job.Status.FAILED)


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 60}))


class StartRunForm(forms.Form):
    """A run as ``POST /v1/jobs/run`` takes it; ``job_run`` checks the rest (the
    input against the graph's schema, the options)."""

    graph = forms.ChoiceField()
    input = forms.CharField(
        label="Input (JSON)",
        widget=forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField"}),
    )
    thread_id = forms.CharField(
        label="Thread id (optional)", required=False, max_length=256
    )
    priority = forms.IntegerField(min_value=0, max_value=100, initial=0)
    tenant_id = forms.CharField(label="Tenant (optional)", required=False)
    queue = forms.CharField(initial="default", max_length=64)

    def __init__(self, *args: Any, graphs: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        graph = self.fields["graph"]
        assert isinstance(graph, forms.ChoiceField)
        graph.choices = [(name, name) for name in graphs]

    def clean_input(self) -> Any:
        try:
            return json.loads(self.cleaned_data["input"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc


@admin.register(Job)
class JobAdmin(ConsoleAdmin):
    detail_template = "admin/runtime/job/detail.html"
    list_display = (
        "thread",
        "graph",
        "status_badge",
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
        "replay_recorded": "job.replay_recorded",
        "fork": "job.fork",
        "add": "job.run",
    }

    def detail_action(self, request: HttpRequest) -> str:
        return request.POST.get("action_name", "")

    def audit_resource_id(self, obj: Job) -> str:
        return obj.thread_id

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        # Tries, as the run page counts them: each attempt's number is its tries.
        tries = Sum("attempts__attempt_no")
        return super().get_queryset(request).annotate(attempt_total=tries)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "change")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "add")

    @admin.display(description="thread", ordering="thread_id")
    def thread(self, obj: Job) -> str:
        return truncated(obj.thread_id, css="oris-cell oris-id")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Job) -> str:
        return status_badge(obj.status)

    @admin.display(description="attempts", ordering="attempt_total")
    def attempt_count(self, obj: Job) -> int:
        return obj.attempt_total or 0  # type: ignore[attr-defined]

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Job) -> str:
        return timesince(obj.created_at, depth=1)

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

    def get_urls(self) -> list[URLPattern]:
        live = self.admin_site.admin_view(self.live_view)
        compare = self.admin_site.admin_view(self.compare_view)
        return [
            path("<path:object_id>/live/", live, name="runtime_job_live"),
            path(
                "<path:object_id>/compare/<path:other>/",
                compare,
                name="runtime_job_compare",
            ),
            *super().get_urls(),
        ]

    def live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The moving part of the run page, which the page fetches while it runs."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "original": obj,
            **self.detail_context(request, obj),
        }
        return TemplateResponse(request, "admin/runtime/job/live.html", context)

    def compare_view(
        self, request: HttpRequest, object_id: str, other: str
    ) -> HttpResponse:
        """A run and its fork side by side: state, effects, tokens and cost."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        try:
            fork_job = selectors.job_get(thread_id=other)
        except OrisError:
            raise Http404(f"no run {other!r}") from None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": f"{obj.thread_id} and {fork_job.thread_id}",
            **effects.compare_context(obj, fork_job),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/runtime/job/compare.html", context)

    def detail_context(self, request: HttpRequest, obj: Job) -> dict[str, Any]:
        can_act = self.has_cancel_permission(request)
        history = selectors.job_history(job=obj)
        nodes = selectors.job_node_runs(job=obj, history=history)
        attempts = list(selectors.job_attempts(job=obj))
        agent_thread, agent_runs = job_agent_thread(job=obj)
        return {
            "title": f"Run {obj.thread_id}",
            "live_url": reverse("admin:runtime_job_live", args=[obj.pk]),
            "version": _version(obj, history, attempts),
            "attempts": attempts,
            "tries": sum(a.attempt_no for a in attempts),
            "next_retry": selectors.job_next_retry(job=obj),
            "timeline": _with_offsets(
                [*selectors.job_timeline(job=obj), *_node_events(nodes)], obj
            ),
            "nodes": nodes,
            "checkpoints": _checkpoints(history),
            "storage": selectors.thread_storage(thread_id=obj.thread_id),
            "usage": selectors.job_usage(job=obj),
            "mermaid": self._mermaid(obj, nodes),
            "definition_change": selectors.job_definition_change(job=obj),
            "current_nodes": selectors.job_current_nodes(job=obj),
            "input_value": shown(obj.input),
            "result_value": shown(obj.result) if obj.result is not None else None,
            "error": obj.error,
            "error_json": pretty_json(obj.error) if obj.error is not None else "",
            "can_cancel": can_act and not obj.is_terminal,
            "can_replay": can_act and obj.status in REPLAYABLE,
            "can_act_effects": can_act,
            "cancel_form": CancelForm(),
            "interrupts": selectors.job_interrupts(job=obj),
            "dead_letters": selectors.job_dead_letters(job=obj),
            "agent_thread": agent_thread,
            "agent_metadata": pretty_json(agent_thread.metadata)
            if agent_thread
            else "",
            "agent_runs": agent_runs,
            "fork_form": effects.ForkForm(),
            **effects.effects_context(obj),
        }

    def _mermaid(self, obj: Job, nodes: list[selectors.NodeRun]) -> str:
        try:
            diagram = selectors.job_graph(job=obj).get_graph().draw_mermaid()
        except OrisError as exc:
            return f"%% graph {obj.graph!r} is not available: {exc.message}"
        done = tuple(n.node for n in nodes if n.status == "done")
        failed = tuple(n.node for n in nodes if n.status == "failed")
        current = selectors.job_current_nodes(job=obj)
        if obj.status == Job.Status.COMPLETED:
            done += ("__start__",)
        return mermaid_with_progress(diagram, current=current, done=done, failed=failed)

    # --- start a run -------------------------------------------------------------

    def add_view(
        self,
        request: HttpRequest,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Start a run of a registered graph, as ``POST /v1/jobs/run`` does."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        catalog = selectors.graph_catalog()
        names = [g.name for g in catalog]
        chosen = request.GET.get("graph") if request.GET.get("graph") in names else None
        first = next((g for g in catalog if g.name == chosen), None) or (
            catalog[0] if catalog else None
        )
        initial = (
            {"graph": first.name, "input": pretty_json(first.example)} if first else {}
        )
        form = StartRunForm(
            request.POST if request.method == "POST" else None,
            graphs=names,
            initial=initial,
        )
        if form.is_valid():
            started = self._start(request, form)
            if started is not None:
                self.report(request, f"Started run {started.thread_id}.")
                return HttpResponseRedirect(self.detail_url(started))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": "Start a run",
            "form": form,
            "catalog": catalog,
            "examples": {g.name: pretty_json(g.example) for g in catalog},
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/runtime/job/start.html", context)

    def _start(self, request: HttpRequest, form: StartRunForm) -> Job | None:
        data = form.cleaned_data
        try:
            result = job_run(
                actor=actor_for(request),
                graph=data["graph"],
                input=data["input"],
                thread_id=data["thread_id"] or None,
                priority=data["priority"],
                tenant_id=data["tenant_id"],
                queue=data["queue"],
            )
        except OrisError as exc:
            self.refused(request, "add", None, exc)
            fields = (exc.details or {}).get("fields") or {}
            errors = [f"{k}: {v}" for k, v in fields.items()] or [exc.message]
            target = "input" if isinstance(exc, InvalidArgument) and fields else None
            for error in errors:
                form.add_error(target, error)
            return None
        return result.job

    def handle_post(self, request: HttpRequest, obj: Job) -> HttpResponse:
        if not self.has_cancel_permission(request):
            return super().handle_post(request, obj)
        action = request.POST.get("action_name", "")
        try:
            if action == "cancel":
                self._cancel(request, obj)
            elif action == "replay":
                self._replay(request, obj)
            elif action == "replay_recorded":
                self.report(request, effects.replay_recorded(request, obj))
            elif action == "fork":
                fork_job = effects.fork(request, obj)
                self.report(request, f"Forked as {fork_job.thread_id}.")
                return HttpResponseRedirect(
                    reverse(
                        "admin:runtime_job_compare", args=[obj.pk, fork_job.thread_id]
                    )
                )
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


def _version(job: Job, history: list[Any], attempts: list[Any]) -> str:
    """What the live part of the run page shows changed when this changes."""
    moves = ",".join(f"{a.pk}:{a.status}:{a.attempt_no}" for a in attempts)
    return f"{job.status}|{job.updated_at.isoformat()}|{len(history)}|{moves}"


def _node_events(nodes: list[selectors.NodeRun]) -> list[selectors.TimelineEvent]:
    """Each node's start and finish (with its duration), for the timeline."""
    events = []
    for run in nodes:
        if run.started_at is not None:
            text = f"node {run.node} started (step {run.step})"
            events.append(
                selectors.TimelineEvent(at=run.started_at, kind="node", text=text)
            )
        if run.finished_at is not None:
            took = duration(run.duration_ms)
            verb = "failed" if run.status == "failed" else "finished"
            text = f"node {run.node} {verb} after {took}"
            events.append(
                selectors.TimelineEvent(at=run.finished_at, kind="node", text=text)
            )
    return events


def _with_offsets(events: list[Any], job: Job) -> list[dict[str, Any]]:
    """Timeline rows in order, with their time since the run was accepted."""
    return [
        {"event": e, "offset_ms": round((e.at - job.created_at).total_seconds() * 1000)}
        for e in sorted(events, key=lambda event: event.at)
    ]


def _checkpoints(history: list[Any]) -> list[dict[str, Any]]:
    """The checkpoints newest first, each change shown readably (messages as a
    chat of the ones added, long values folded)."""
    rows = []
    for entry in reversed(history):
        changes = [
            {
                "change": change,
                "before": shown(change.before),
                "after": shown(change.after),
                "added": added_messages(change.before, change.after),
            }
            for change in entry.changes
        ]
        rows.append({"entry": entry, "changes": changes})
    return rows
