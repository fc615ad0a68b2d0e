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
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timesince

from agents.approval import DECISION_TYPES
from runtime import selectors
from runtime.admin.answers import (
    SchemaAnswerForm,
    answer_template,
    response_schema,
    template_is_an_answer,
)
from runtime.admin.approvals import (
    CLAIM_REFUSALS,
    POLICY_REFUSALS,
    AssignmentFilter,
    PolicyColumns,
    policy_context,
    vote_recorded,
)
from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.admin.conversation import compact, conversation, shown
from runtime.admin.formatting import (
    HINT_KEYS,
    action_requests,
    decisions_summary,
    is_tool_approval,
    pretty_json,
    request_summary,
    request_title,
    status_badge,
    truncated,
)
from runtime.errors import InterruptAlreadyResolved, OrisError
from runtime.models import Interrupt
from runtime.services.interrupts import (
    interrupt_claim,
    interrupt_dismiss,
    interrupt_reject,
    interrupt_release,
    interrupt_resume,
)


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}") from exc


class ApproveValueForm(forms.Form):
    """Resume with a JSON value the operator wrote (prefilled with the answer
    template: ``answers.answer_template``, never the request)."""

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


class DismissForm(forms.Form):
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
    )


DECISION_LABELS = {
    "approve": "Approve",
    "edit": "Edit: run it with the arguments below",
    "reject": "Reject: the model gets your message instead of a result",
}


class ToolCallDecisionsForm(forms.Form):
    """One decision per tool call, among those its review config allows; submitted
    as ``{"decisions": [...]}`` in request order (agents/approval.py's shape).

    Changed arguments turn an approval into an ``edit`` decision; the arguments are
    editable only where ``edit`` is allowed, and a rejection needs a message, which
    the agent receives as the call's tool result."""

    def __init__(self, *args: Any, requests: list[dict[str, Any]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.requests = requests
        for request in requests:
            self._add_fields(request)

    def _add_fields(self, request: dict[str, Any]) -> None:
        index, name = request["index"], request["name"]
        allowed = [d for d in request["allowed"] if d in DECISION_TYPES]
        # The choices are the server-side check: a decision the review config does
        # not allow is an ``invalid_choice`` error, whatever the browser sent.
        self.fields[f"decision_{index}"] = forms.ChoiceField(
            label=f"Decision on {name}",
            choices=[(d, DECISION_LABELS[d]) for d in allowed],
            initial="approve" if "approve" in allowed else next(iter(allowed), None),
            widget=forms.RadioSelect(attrs={"class": "radiolist"}),
            error_messages={
                "invalid_choice": f"%(value)s is not allowed for "
                f"{name.replace('%', '%%')} (allowed: {', '.join(allowed)}).",
            },
        )
        self.fields[f"args_{index}"] = forms.CharField(
            label=f"{name} arguments (JSON)",
            initial=pretty_json(request["args"]),
            disabled="edit" not in allowed,
            widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        )
        if "reject" in allowed:
            self.fields[f"message_{index}"] = forms.CharField(
                label="Message to the model (required to reject)",
                required=False,
                widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
            )

    def calls(self) -> list[dict[str, Any]]:
        """Each request with its bound fields, for the template."""
        rows = []
        for request in self.requests:
            index = request["index"]
            message = f"message_{index}"
            rows.append(
                {
                    "request": request,
                    "decision": self[f"decision_{index}"],
                    "args": self[f"args_{index}"],
                    "message": self[message] if message in self.fields else None,
                }
            )
        return rows

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for request in self.requests:
            index = request["index"]
            name = f"args_{index}"
            if cleaned.get(f"decision_{index}") == "reject":
                if not cleaned.get(f"message_{index}"):
                    self.add_error(
                        f"message_{index}",
                        "Say why: a rejected call needs a message to the model.",
                    )
            elif name in cleaned:  # a rejected call's arguments do not matter
                args = _json_field(self, name, cleaned[name])
                if args is not None and not isinstance(args, dict):
                    self.add_error(name, "The arguments must be a JSON object.")
                cleaned[name] = args
        return cleaned

    def decisions(self) -> dict[str, Any]:
        return {"decisions": [self._decision(r) for r in self.requests]}

    def _decision(self, request: dict[str, Any]) -> dict[str, Any]:
        index = request["index"]
        kind = self.cleaned_data[f"decision_{index}"]
        if kind == "reject":
            return {"type": "reject", "message": self.cleaned_data[f"message_{index}"]}
        args = self.cleaned_data[f"args_{index}"]
        if kind == "approve" and args == request["args"]:
            return {"type": "approve"}
        return {
            "type": "edit",
            "edited_action": {"name": request["name"], "args": args},
        }


def _json_field(form: forms.Form, name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        form.add_error(name, f"Not valid JSON: {exc}")
        return None


@admin.register(Interrupt)
class InterruptAdmin(PolicyColumns, ConsoleAdmin):
    detail_template = "admin/runtime/interrupt/detail.html"
    list_display = (
        "request",
        "summary",
        "graph",
        "thread",
        "age",
        "status_badge",
        "assigned",
        "deadline",
        "quorum",
    )
    list_filter = (AssignmentFilter, "status", "job__graph")
    search_fields = ("id", "job__thread_id", "job__tenant_id")
    list_select_related = ("job",)
    actions = ("approve_selected",)
    list_per_page = 50
    audit_resource = "interrupt"
    audit_actions = {
        "approve_selected": "interrupt.resume",
        "approve": "interrupt.resume",
        "approve_value": "interrupt.resume",
        "calls": "interrupt.resume",
        "schema": "interrupt.resume",
        "reject": "interrupt.reject",
        "dismiss": "interrupt.dismiss",
        "claim": "interrupt.claim",
        "release": "interrupt.release",
    }

    def detail_action(self, request: HttpRequest) -> str:
        return request.POST.get("decision", "")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Interrupt]:
        return selectors.interrupts_with_approvals(super().get_queryset(request))

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        pending_first = Case(
            When(status=Interrupt.Status.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [pending_first.asc(), "-created_at"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "change")

    @admin.display(description="request", ordering="created_at")
    def request(self, obj: Interrupt) -> str:
        return truncated(request_title(obj.value), css="oris-cell oris-title")

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Interrupt) -> str:
        return timesince(obj.created_at, depth=1)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Interrupt) -> str:
        return status_badge(obj.status)

    @admin.display(description="graph", ordering="job__graph")
    def graph(self, obj: Interrupt) -> str:
        return obj.job.graph

    @admin.display(description="thread", ordering="job__thread_id")
    def thread(self, obj: Interrupt) -> str:
        url = reverse("admin:runtime_job_change", args=[obj.job_id])
        cell = truncated(obj.job.thread_id, css="oris-cell oris-id")
        return format_html('<a href="{}">{}</a>', url, cell)

    @admin.display(description="summary")
    def summary(self, obj: Interrupt) -> str:
        return truncated(request_summary(obj.value), css="oris-cell oris-summary")

    @admin.action(
        permissions=["resolve"],
        description="Approve selected (each with its answer template)",
    )
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Interrupt]
    ) -> None:
        actor = actor_for(request)
        approved = voted = refused = unanswerable = 0
        for interrupt in queryset.filter(status=Interrupt.Status.PENDING):
            if not template_is_an_answer(interrupt.value):
                unanswerable += 1  # its required fields need a person's answer
                continue
            try:
                answered = interrupt_resume(
                    interrupt=interrupt,
                    value=answer_template(interrupt.value),
                    actor=actor,
                )
            except InterruptAlreadyResolved as exc:  # answered meanwhile
                self.refused(request, "approve_selected", interrupt, exc)
                continue
            except POLICY_REFUSALS as exc:  # its policy says not you, or why
                self.refused(request, "approve_selected", interrupt, exc)
                self.report(request, f"{interrupt.pk}: {exc}", messages.WARNING)
                refused += 1
                continue
            if answered.status == Interrupt.Status.PENDING:
                voted += 1  # one vote of a quorum
            else:
                approved += 1
        skipped = queryset.count() - approved - voted - refused - unanswerable
        self.report(request, f"Approved {approved} interrupt(s).")
        if voted:
            self.report(
                request,
                f"Recorded your approval on {voted} interrupt(s) that need more "
                "approvals (a quorum).",
            )
        if unanswerable:
            self.report(
                request,
                f"{unanswerable} interrupt(s) ask for an answer of their own "
                "(open each to answer it) and were left pending.",
                messages.WARNING,
            )
        if skipped:
            self.report(
                request,
                f"{skipped} interrupt(s) were already resolved by someone else "
                "and were left as they were.",
                messages.WARNING,
            )

    # --- detail page -------------------------------------------------------------

    def detail_context(self, request: HttpRequest, obj: Interrupt) -> dict[str, Any]:
        may_resolve = self.has_resolve_permission(request)
        policy = policy_context(request, obj, may_resolve=may_resolve)
        tool = is_tool_approval(obj.value)
        requests = action_requests(obj.value) if tool else []
        schema = response_schema(obj.value)
        state = selectors.job_latest_state(job=obj.job) or {}
        template = answer_template(obj.value)
        return {
            "title": request_title(obj.value),
            "payload_json": pretty_json(obj.value),
            "request_fields": _request_fields(obj.value),
            "is_tool_approval": tool,
            "action_requests": requests,
            "conversation": conversation(state),
            "referred_state": _referred_state(obj.value, state),
            "can_resolve": obj.status == Interrupt.Status.PENDING
            and may_resolve
            and policy["policy_may_answer"],
            "answer_template": compact(template),
            "can_approve": template_is_an_answer(obj.value),
            "approve_form": ApproveValueForm(initial={"value": pretty_json(template)}),
            "schema_form": SchemaAnswerForm(schema=schema) if schema else None,
            "calls_form": ToolCallDecisionsForm(requests=requests) if tool else None,
            "reject_form": RejectForm(),
            "dismiss_form": DismissForm(),
            "resume_json": pretty_json(obj.resume_value)
            if obj.resume_value is not None
            else "",
            "job_url": reverse("admin:runtime_job_change", args=[obj.job_id]),
            **policy,
        }

    def handle_post(self, request: HttpRequest, obj: Interrupt) -> HttpResponse:
        if not self.has_resolve_permission(request):
            return super().handle_post(request, obj)
        decision = request.POST.get("decision", "")
        if decision in ("claim", "release"):
            return self._claim(request, obj, decision)
        if decision == "approve" and template_is_an_answer(obj.value):
            return self._resume(request, obj, answer_template(obj.value))
        schema = response_schema(obj.value)
        if decision == "schema" and schema is not None:
            answer = SchemaAnswerForm(request.POST, schema=schema)
            if answer.is_valid():
                return self._resume(request, obj, answer.answer())
            return self.render_detail(request, obj, schema_form=answer)
        if decision == "approve_value":
            form = ApproveValueForm(request.POST)
            if form.is_valid():
                return self._resume(request, obj, form.cleaned_data["value"])
            return self.render_detail(request, obj, approve_form=form)
        if decision == "calls" and is_tool_approval(obj.value):
            calls = ToolCallDecisionsForm(
                request.POST, requests=action_requests(obj.value)
            )
            if calls.is_valid():
                value = calls.decisions()
                summary = decisions_summary(value["decisions"])
                return self._resume(request, obj, value, f"Decided ({summary})")
            return self.render_detail(request, obj, calls_form=calls)
        if decision == "reject":
            reject = RejectForm(request.POST)
            if reject.is_valid():
                return self._reject(request, obj, reject.cleaned_data["reason"])
            return self.render_detail(request, obj, reject_form=reject)
        if decision == "dismiss":
            dismiss = DismissForm(request.POST)
            dismiss.is_valid()
            return self._dismiss(request, obj, dismiss.cleaned_data.get("note", ""))
        self.report(request, "Unknown decision.", messages.ERROR)
        return self.redirect_to(obj)

    def _resume(
        self,
        request: HttpRequest,
        obj: Interrupt,
        value: Any,
        text: str = "Answered",
    ) -> HttpResponse:
        was_pending = obj.status == Interrupt.Status.PENDING
        reason = request.POST.get("reason", "").strip()
        try:
            answered = interrupt_resume(
                interrupt=obj, value=value, actor=actor_for(request), reason=reason
            )
        except InterruptAlreadyResolved as exc:
            self.refused(request, "approve", obj, exc)
            return self._already_resolved(request, obj)
        except POLICY_REFUSALS as exc:
            return self._policy_refused(request, "approve", obj, exc)
        if not was_pending:  # the same answer again: nothing new happened
            return self._already_resolved(request, obj)
        if answered.status == Interrupt.Status.PENDING:  # one vote of a quorum
            text = vote_recorded(answered)
        else:
            sent = compact(value)
            text = f"{text}: sent {sent}; the run continues from its checkpoint."
        self.report(request, text)
        return self.redirect_to(obj)

    def _policy_refused(
        self, request: HttpRequest, name: str, obj: Interrupt, error: OrisError
    ) -> HttpResponse:
        self.refused(request, name, obj, error)
        self.report(request, f"Not applied: {error}.", messages.ERROR)
        return self.redirect_to(obj)

    def _claim(self, request: HttpRequest, obj: Interrupt, name: str) -> HttpResponse:
        service = interrupt_claim if name == "claim" else interrupt_release
        try:
            service(interrupt=obj, actor=actor_for(request))
        except CLAIM_REFUSALS as exc:
            return self._policy_refused(request, name, obj, exc)
        if name == "claim":
            self.report(request, "You took this interrupt: only you can answer it now.")
        else:
            self.report(request, "Released: its assignees can take it again.")
        return self.redirect_to(obj)

    def _reject(
        self, request: HttpRequest, obj: Interrupt, reason: str
    ) -> HttpResponse:
        try:
            interrupt_reject(interrupt=obj, actor=actor_for(request), reason=reason)
        except InterruptAlreadyResolved as exc:
            self.refused(request, "reject", obj, exc)
            return self._already_resolved(request, obj)
        except POLICY_REFUSALS as exc:
            return self._policy_refused(request, "reject", obj, exc)
        self.report(request, "Rejected: the run was cancelled.")
        return self.redirect_to(obj)

    def _dismiss(self, request: HttpRequest, obj: Interrupt, note: str) -> HttpResponse:
        try:
            interrupt_dismiss(interrupt=obj, actor=actor_for(request), reason=note)
        except InterruptAlreadyResolved as exc:
            self.refused(request, "dismiss", obj, exc)
            return self._already_resolved(request, obj)
        except POLICY_REFUSALS as exc:
            return self._policy_refused(request, "dismiss", obj, exc)
        self.report(
            request,
            "Dismissed: nothing was sent to the run, which ended as cancelled "
            "without acting.",
        )
        return self.redirect_to(obj)

    def _already_resolved(self, request: HttpRequest, obj: Interrupt) -> HttpResponse:
        obj = selectors.interrupt_get(interrupt_id=obj.pk)
        me = str(actor_for(request))
        if obj.resolved_by == me:
            text = f"You already {obj.status} this interrupt; nothing more was done."
        else:
            who = obj.resolved_by or "the system (the run was cancelled)"
            when = date_format(obj.resolved_at) if obj.resolved_at else "?"
            text = (
                f"Someone else resolved this interrupt first: it was {obj.status} "
                f"by {who} at {when}. Your answer was not applied."
            )
        self.report(request, text, messages.WARNING)
        return self.redirect_to(obj)


def _request_fields(value: Any) -> list[tuple[str, Any]]:
    """The request's fields besides its title and answer schema, for reading."""
    if not isinstance(value, dict) or is_tool_approval(value):
        return []
    title = request_title(value)
    return [
        (key, shown(item))
        for key, item in value.items()
        if key not in HINT_KEYS and item != title
    ]


def _referred_state(value: Any, state: dict[str, Any]) -> list[tuple[str, Any]]:
    """The state fields the request refers to: those it names as its own keys,
    or lists under ``state_keys``; messages show in the conversation instead."""
    keys = list(value) if isinstance(value, dict) else []
    listed = value.get("state_keys") if isinstance(value, dict) else None
    if isinstance(listed, list):
        keys += [k for k in listed if isinstance(k, str)]
    return [
        (key, shown(state[key]))
        for key in dict.fromkeys(keys)
        if key in state and key != "messages" and state[key] != value.get(key)
    ]
