"""The interrupt inbox: pending first, payloads made readable, answered through
the same services as ``/v1`` (resume, reject)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.admin.formatting import (
    action_requests,
    approve_all,
    is_tool_approval,
    payload_summary,
    pretty_json,
)
from runtime.errors import InterruptAlreadyResolved
from runtime.models import Interrupt
from runtime.services.interrupts import interrupt_reject, interrupt_resume


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}") from exc


class ApproveValueForm(forms.Form):
    """Resume with a JSON value the operator wrote (prefilled from the payload)."""

    value = forms.CharField(
        label="Resume value (JSON)",
        widget=forms.Textarea(
            attrs={"rows": 10, "cols": 80, "class": "vLargeTextField"}
        ),
    )

    def clean_value(self) -> Any:
        return parse_json(self.cleaned_data["value"])


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        error_messages={"required": "Say why: a reason is required to reject."},
    )


class EditToolCallsForm(forms.Form):
    """One JSON field per tool call; submitting approves the calls, with the
    changed arguments as ``edit`` decisions (agents/approval.py's shape)."""

    def __init__(self, *args: Any, requests: list[dict[str, Any]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.requests = requests
        for request in requests:
            self.fields[f"args_{request['index']}"] = forms.CharField(
                label=f"{request['name']} arguments (JSON)",
                initial=pretty_json(request["args"]),
                disabled="edit" not in request["allowed"],
                widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for request in self.requests:
            name = f"args_{request['index']}"
            if name not in cleaned:
                continue
            args = _json_field(self, name, cleaned[name])
            if args is not None and not isinstance(args, dict):
                self.add_error(name, "The arguments must be a JSON object.")
            cleaned[name] = args
        return cleaned

    def decisions(self) -> dict[str, Any]:
        decisions: list[dict[str, Any]] = []
        for request in self.requests:
            args = self.cleaned_data[f"args_{request['index']}"]
            if args == request["args"]:
                decisions.append({"type": "approve"})
            else:
                decisions.append(
                    {
                        "type": "edit",
                        "edited_action": {"name": request["name"], "args": args},
                    }
                )
        return {"decisions": decisions}


def _json_field(form: forms.Form, name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        form.add_error(name, f"Not valid JSON: {exc}")
        return None


@admin.register(Interrupt)
class InterruptAdmin(ConsoleAdmin):
    detail_template = "admin/runtime/interrupt/detail.html"
    list_display = ("short_id", "status", "age", "graph", "thread", "summary")
    list_filter = ("status", "job__graph")
    search_fields = ("id", "job__thread_id", "job__tenant_id")
    list_select_related = ("job",)
    actions = ("approve_selected",)
    list_per_page = 50

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        pending_first = Case(
            When(status=Interrupt.Status.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [pending_first.asc(), "-created_at"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "change")

    @admin.display(description="interrupt", ordering="id")
    def short_id(self, obj: Interrupt) -> str:
        return obj.pk[:16]

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Interrupt) -> str:
        return timesince(obj.created_at)

    @admin.display(description="graph", ordering="job__graph")
    def graph(self, obj: Interrupt) -> str:
        return obj.job.graph

    @admin.display(description="thread", ordering="job__thread_id")
    def thread(self, obj: Interrupt) -> str:
        url = reverse("admin:runtime_job_change", args=[obj.job_id])
        return format_html('<a href="{}">{}</a>', url, obj.job.thread_id)

    @admin.display(description="request")
    def summary(self, obj: Interrupt) -> str:
        return payload_summary(obj.value)

    @admin.action(
        permissions=["resolve"], description="Approve selected (resume with true)"
    )
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Interrupt]
    ) -> None:
        actor = actor_for(request)
        approved = 0
        for interrupt in queryset.filter(status=Interrupt.Status.PENDING):
            try:
                interrupt_resume(interrupt=interrupt, value=True, actor=actor)
                approved += 1
            except InterruptAlreadyResolved:  # answered meanwhile
                continue
        skipped = queryset.count() - approved
        self.report(request, f"Approved {approved} interrupt(s).")
        if skipped:
            self.report(
                request,
                f"{skipped} interrupt(s) were already resolved by someone else "
                "and were left as they were.",
                messages.WARNING,
            )

    # --- detail page -------------------------------------------------------------

    def detail_context(self, request: HttpRequest, obj: Interrupt) -> dict[str, Any]:
        tool = is_tool_approval(obj.value)
        requests = action_requests(obj.value) if tool else []
        prefill = approve_all(obj.value) if tool else obj.value
        return {
            "title": f"Interrupt {obj.pk}",
            "payload_json": pretty_json(obj.value),
            "is_tool_approval": tool,
            "action_requests": requests,
            "can_resolve": obj.status == Interrupt.Status.PENDING
            and self.has_resolve_permission(request),
            "approve_form": ApproveValueForm(initial={"value": pretty_json(prefill)}),
            "edit_form": EditToolCallsForm(requests=requests) if tool else None,
            "reject_form": RejectForm(),
            "resume_json": pretty_json(obj.resume_value)
            if obj.resume_value is not None
            else "",
            "job_url": reverse("admin:runtime_job_change", args=[obj.job_id]),
        }

    def handle_post(self, request: HttpRequest, obj: Interrupt) -> HttpResponse:
        if not self.has_resolve_permission(request):
            return super().handle_post(request, obj)
        decision = request.POST.get("decision", "")
        if decision == "approve":
            return self._resume(request, obj, True)
        if decision == "approve_value":
            form = ApproveValueForm(request.POST)
            if form.is_valid():
                return self._resume(request, obj, form.cleaned_data["value"])
            return self.render_detail(request, obj, approve_form=form)
        if decision == "edit" and is_tool_approval(obj.value):
            edit = EditToolCallsForm(request.POST, requests=action_requests(obj.value))
            if edit.is_valid():
                return self._resume(request, obj, edit.decisions())
            return self.render_detail(request, obj, edit_form=edit)
        if decision == "reject":
            reject = RejectForm(request.POST)
            if reject.is_valid():
                return self._reject(request, obj, reject.cleaned_data["reason"])
            return self.render_detail(request, obj, reject_form=reject)
        self.report(request, "Unknown decision.", messages.ERROR)
        return self.redirect_to(obj)

    def _resume(self, request: HttpRequest, obj: Interrupt, value: Any) -> HttpResponse:
        was_pending = obj.status == Interrupt.Status.PENDING
        try:
            interrupt_resume(interrupt=obj, value=value, actor=actor_for(request))
        except InterruptAlreadyResolved:
            return self._already_resolved(request, obj)
        if not was_pending:  # the same answer again: nothing new happened
            return self._already_resolved(request, obj)
        self.report(request, "Approved: the run continues from its checkpoint.")
        return self.redirect_to(obj)

    def _reject(
        self, request: HttpRequest, obj: Interrupt, reason: str
    ) -> HttpResponse:
        try:
            interrupt_reject(interrupt=obj, actor=actor_for(request), reason=reason)
        except InterruptAlreadyResolved:
            return self._already_resolved(request, obj)
        self.report(request, "Rejected: the run was cancelled.")
        return self.redirect_to(obj)

    def _already_resolved(self, request: HttpRequest, obj: Interrupt) -> HttpResponse:
        obj.refresh_from_db()
        me = str(actor_for(request))
        if obj.resolved_by == me:
            text = f"You already {obj.status} this interrupt; nothing more was done."
        else:
            who = obj.resolved_by or "the system (the run was cancelled)"
            when = (
                obj.resolved_at.strftime("%Y-%m-%d %H:%M:%S")
                if obj.resolved_at
                else "?"
            )
            text = (
                f"Someone else resolved this interrupt first: it was {obj.status} "
                f"by {who} at {when}. Your answer was not applied."
            )
        self.report(request, text, messages.WARNING)
        return self.redirect_to(obj)
