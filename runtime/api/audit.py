"""/v1/audit/logs and /v1/attempts/{attempt_id}/retries (read-only)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present, selectors
from runtime.api import fields
from runtime.api.base import OrisApi, not_empty
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, documented
from runtime.errors import InvalidArgument
from runtime.models import AuditLog


class AuditLogListApi(OrisApi):
    """Audit records, newest first: every control action, by whom (actor, role,
    request id), with its result (`ok`, or `error` for a refused one); filter by
    actor, action, resource and time window."""

    required_scope = Scope.AUDIT

    class Query(serializers.Serializer):
        request_id = fields.text(
            AuditLog, "request_id", required=False, allow_blank=True, default=""
        )
        action = fields.text(
            AuditLog, "action", required=False, allow_blank=True, default=""
        )
        from_ms = fields.MillisecondsField(required=False)
        to_ms = fields.MillisecondsField(required=False)
        limit = fields.integer(required=False, default=100)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            start, end = attrs.get("from_ms"), attrs.get("to_ms")
            if start is not None and end is not None and start > end:
                raise InvalidArgument("from_ms must be less than or equal to to_ms")
            return attrs

    @documented(
        "list_audit_logs",
        "ApiEnvelope_AuditLogListResponse",
        parameters=[Query],
        errors=READ_ERRORS,
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.Query)
        logs = selectors.audit_log_list(
            request_id=query["request_id"].strip(),
            action=query["action"].strip(),
            since=query.get("from_ms"),
            until=query.get("to_ms"),
            limit=min(max(query["limit"], 1), 500),
        )
        return self.ok(present.audit_logs(logs))


class AttemptRetriesApi(OrisApi):
    """An attempt's retries: when each was scheduled, with which backoff and
    policy, and where the attempt stands now."""

    required_scope = Scope.ATTEMPTS

    @documented(
        "attempt_retries", "ApiEnvelope_AttemptRetryHistoryResponse", errors=READ_ERRORS
    )
    def get(self, request: Request, attempt_id: str) -> Response:
        attempt = selectors.attempt_get(attempt_id=not_empty(attempt_id, "attempt_id"))
        return self.ok(present.attempt_retries(attempt))
