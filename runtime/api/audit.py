"""/v1/audit/logs and /v1/attempts/{attempt_id}/retries (read-only)."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime.api.base import OrisApi, not_empty, rfc3339
from runtime.api.schema import documented
from runtime.errors import InvalidArgument, NotFound
from runtime.models import Attempt, AuditLog


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class AuditLogListApi(OrisApi):
    required_scope = "audit"

    class Query(serializers.Serializer):
        request_id = serializers.CharField(required=False, allow_blank=True)
        action = serializers.CharField(required=False, allow_blank=True)
        from_ms = serializers.IntegerField(required=False)
        to_ms = serializers.IntegerField(required=False)
        limit = serializers.IntegerField(required=False, default=100)

    @documented(
        "list_audit_logs", "ApiEnvelope_AuditLogListResponse", parameters=[Query]
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.Query)
        start, end = query.get("from_ms"), query.get("to_ms")
        if start is not None and end is not None and start > end:
            raise InvalidArgument("from_ms must be less than or equal to to_ms")
        logs = AuditLog.objects.order_by("-id")
        if (query.get("request_id") or "").strip():
            logs = logs.filter(request_id=query["request_id"].strip())
        if (query.get("action") or "").strip():
            logs = logs.filter(action=query["action"].strip())
        if start is not None:
            logs = logs.filter(created_at__gte=from_ms(start))
        if end is not None:
            logs = logs.filter(created_at__lte=from_ms(end))
        limit = min(max(query["limit"], 1), 500)
        return self.ok(
            {
                "logs": [
                    {
                        "audit_id": log.pk,
                        "actor_type": log.actor_type,
                        "actor_id": log.actor_id or None,
                        "actor_role": log.actor_role or None,
                        "action": log.action,
                        "resource_type": log.resource_type,
                        "resource_id": log.resource_id or None,
                        "result": log.result,
                        "request_id": log.request_id,
                        "details": log.details,
                        "created_at": rfc3339(log.created_at),
                    }
                    for log in logs[:limit]
                ]
            }
        )


class AttemptRetriesApi(OrisApi):
    required_scope = "attempts"

    @documented("attempt_retries", "ApiEnvelope_AttemptRetryHistoryResponse")
    def get(self, request: Request, attempt_id: str) -> Response:
        attempt = Attempt.objects.filter(pk=not_empty(attempt_id, "attempt_id")).first()
        if attempt is None:
            raise NotFound("attempt not found")
        return self.ok(
            {
                "attempt_id": attempt.pk,
                "current_attempt_no": max(attempt.attempt_no, 1),
                "current_status": attempt.status,
                "history": [
                    {
                        "retry_no": n,
                        "attempt_no": r.attempt_no,
                        "strategy": r.strategy,
                        "backoff_ms": r.backoff_ms,
                        "max_retries": r.max_retries,
                        "scheduled_at": rfc3339(r.scheduled_at),
                    }
                    for n, r in enumerate(attempt.retries.all(), start=1)
                ],
            }
        )
