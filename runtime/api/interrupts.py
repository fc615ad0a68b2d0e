"""/v1/interrupts: list, inspect, resume, reject."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present, selectors
from runtime.api import fields
from runtime.api.base import AnyJSONField, OrisApi, not_empty
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, documented
from runtime.models import Interrupt, Job
from runtime.services import interrupts as services


def interrupt_for(interrupt_id: str) -> Interrupt:
    """The interrupt an ``{interrupt_id}`` path names (404 if none)."""
    return selectors.interrupt_get(interrupt_id=not_empty(interrupt_id, "interrupt_id"))


class InterruptListApi(OrisApi):
    """Interrupts newest first: what each run asked a person, optionally only one
    status (`pending`, `resumed`, `rejected`, `cancelled`) or one thread (`run_id`)."""

    required_scope = Scope.INTERRUPTS

    class Query(serializers.Serializer):
        status = fields.text(
            Interrupt, "status", required=False, allow_blank=True, default=""
        )
        run_id = fields.text(
            Job, "thread_id", required=False, allow_blank=True, default=""
        )
        limit = fields.integer(required=False, min_value=0, default=50)

    @documented(
        "list_interrupts",
        "ApiEnvelope_InterruptListResponse",
        parameters=[Query],
        errors=READ_ERRORS,
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.Query)
        found = selectors.interrupt_list(
            status=query["status"],
            run_id=query["run_id"],
            limit=min(query["limit"], 200),
        )
        return self.ok(present.interrupt_list(found))


class InterruptDetailApi(OrisApi):
    """One interrupt: its thread, the value the graph asked with, its status and
    the attempt that reached it."""

    required_scope = Scope.INTERRUPTS

    @documented(
        "inspect_interrupt", "ApiEnvelope_InterruptDetailResponse", errors=READ_ERRORS
    )
    def get(self, request: Request, interrupt_id: str) -> Response:
        return self.ok(present.interrupt_detail(interrupt_for(interrupt_id)))


class ResumeInput(serializers.Serializer):
    value = AnyJSONField()
    reason = fields.Text(required=False, allow_null=True, allow_blank=True)


class InterruptResumeApi(OrisApi):
    """Answering twice with the same value is harmless; a different one is 409.

    Under the interrupt's approval policy: 403 for a caller it does not assign
    (or when someone else claimed it), 400 without a reason it requires; with a
    quorum the answer is a vote and the run stays interrupted until enough
    distinct callers approved the same value."""

    required_scope = Scope.INTERRUPTS
    audit_action, audit_resource = "interrupt.resume", "interrupt"
    audit_resource_kwarg = "interrupt_id"

    @documented("resume_interrupt", "ApiEnvelope_RunJobResponse", request=ResumeInput)
    def post(self, request: Request, interrupt_id: str) -> Response:
        body = self.body(ResumeInput)
        found = interrupt_for(interrupt_id)
        services.interrupt_resume(
            interrupt=found,
            value=body["value"],
            reason=body.get("reason") or "",
            actor=self.actor(),
        )
        job = selectors.job_get(thread_id=found.job.thread_id)
        pending = selectors.interrupt_list_pending(job=job)
        return self.ok(present.run_response(job, pending=pending, trace=job.trace))


class RejectInput(serializers.Serializer):
    reason = fields.Text(required=False, allow_null=True, allow_blank=True)


class InterruptRejectApi(OrisApi):
    """Refuses the interrupt and cancels its run, with an optional reason (recorded
    in the audit log and the run's timeline)."""

    required_scope = Scope.INTERRUPTS
    audit_action, audit_resource = "interrupt.reject", "interrupt"
    audit_resource_kwarg = "interrupt_id"

    @documented(
        "reject_interrupt", "ApiEnvelope_CancelJobResponse", request=RejectInput
    )
    def post(self, request: Request, interrupt_id: str) -> Response:
        reason = self.body(RejectInput).get("reason") or ""
        found = interrupt_for(interrupt_id)
        services.interrupt_reject(interrupt=found, actor=self.actor(), reason=reason)
        return self.ok(present.interrupt_rejected(found))
