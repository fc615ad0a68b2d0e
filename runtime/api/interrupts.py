"""/v1/interrupts: list, inspect, resume, reject."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import selectors
from runtime.api.base import AnyJSONField, OrisApi, not_empty, rfc3339
from runtime.api.job_history import interrupt_detail
from runtime.api.jobs import run_response
from runtime.api.schema import documented
from runtime.models import Interrupt
from runtime.services import interrupts as services


class InterruptListApi(OrisApi):
    required_scope = "interrupts"

    class Query(serializers.Serializer):
        status = serializers.CharField(required=False, allow_blank=True)
        run_id = serializers.CharField(required=False, allow_blank=True)
        limit = serializers.IntegerField(required=False, min_value=0, default=50)

    @documented(
        "list_interrupts", "ApiEnvelope_InterruptListResponse", parameters=[Query]
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.Query)
        found = Interrupt.objects.select_related("job").order_by("-created_at")
        if query.get("status"):
            found = found.filter(status=query["status"])
        if query.get("run_id"):
            found = found.filter(job__thread_id=query["run_id"])
        return self.ok(
            {
                "interrupts": [
                    {
                        "interrupt_id": i.pk,
                        "thread_id": i.job.thread_id,
                        "run_id": i.job.thread_id,
                        "value": i.value,
                        "status": i.status,
                        "created_at": rfc3339(i.created_at),
                    }
                    for i in found[: min(query["limit"], 200)]
                ]
            }
        )


class InterruptDetailApi(OrisApi):
    required_scope = "interrupts"

    @documented("inspect_interrupt", "ApiEnvelope_InterruptDetailResponse")
    def get(self, request: Request, interrupt_id: str) -> Response:
        found = selectors.interrupt_get(
            interrupt_id=not_empty(interrupt_id, "interrupt_id")
        )
        return self.ok(interrupt_detail(found))


class ResumeInput(serializers.Serializer):
    value = AnyJSONField()


class InterruptResumeApi(OrisApi):
    """Answering twice with the same value is harmless; a different one is 409."""

    required_scope = "interrupts"

    @documented("resume_interrupt", "ApiEnvelope_RunJobResponse", request=ResumeInput)
    def post(self, request: Request, interrupt_id: str) -> Response:
        value = self.body(ResumeInput)["value"]
        found = selectors.interrupt_get(
            interrupt_id=not_empty(interrupt_id, "interrupt_id")
        )
        services.interrupt_resume(interrupt=found, value=value, actor=self.actor())
        found.job.refresh_from_db()
        return self.ok(run_response(found.job))


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class InterruptRejectApi(OrisApi):
    required_scope = "interrupts"

    @documented(
        "reject_interrupt", "ApiEnvelope_CancelJobResponse", request=RejectInput
    )
    def post(self, request: Request, interrupt_id: str) -> Response:
        reason = self.body(RejectInput).get("reason") or ""
        found = selectors.interrupt_get(
            interrupt_id=not_empty(interrupt_id, "interrupt_id")
        )
        services.interrupt_reject(interrupt=found, actor=self.actor(), reason=reason)
        return self.ok(
            {
                "thread_id": found.job.thread_id,
                "status": "cancelled",
                "reason": "interrupt rejected",
            }
        )
