"""/v1/dlq: dead letters, and replaying them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime.api.base import OrisApi, not_empty, rfc3339
from runtime.api.schema import documented
from runtime.errors import NotFound
from runtime.models import DeadLetter
from runtime.services.dead_letters import dead_letter_replay


def dead_letter_item(entry: DeadLetter) -> dict[str, Any]:
    return {
        "attempt_id": entry.attempt_id,
        "run_id": entry.job.thread_id,
        "attempt_no": entry.attempt_no,
        "terminal_status": entry.terminal_status,
        "reason": entry.reason,
        "dead_at": rfc3339(entry.dead_at),
        "replay_status": entry.replay_status,
        "replay_count": entry.replay_count,
        "last_replayed_at": rfc3339(entry.last_replayed_at),
    }


def dead_letter_get(attempt_id: str) -> DeadLetter:
    found = DeadLetter.objects.select_related("job").filter(
        pk=not_empty(attempt_id, "attempt_id")
    )
    entry = found.first()
    if entry is None:
        raise NotFound("dead letter not found")
    return entry


class DeadLetterListApi(OrisApi):
    required_scope = "dlq"

    class Query(serializers.Serializer):
        status = serializers.CharField(required=False, allow_blank=True)
        limit = serializers.IntegerField(required=False, default=100)

    @documented(
        "list_dead_letters", "ApiEnvelope_DeadLetterListResponse", parameters=[Query]
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.Query)
        entries = DeadLetter.objects.select_related("job").order_by("-dead_at")
        if (query.get("status") or "").strip():
            entries = entries.filter(replay_status=query["status"].strip())
        limit = min(max(query["limit"], 1), 500)
        return self.ok({"entries": [dead_letter_item(e) for e in entries[:limit]]})


class DeadLetterDetailApi(OrisApi):
    required_scope = "dlq"

    @documented("inspect_dead_letter", "ApiEnvelope_DeadLetterItem")
    def get(self, request: Request, attempt_id: str) -> Response:
        return self.ok(dead_letter_item(dead_letter_get(attempt_id)))


class DeadLetterReplayApi(OrisApi):
    """Requeues the dead attempt; takes no body."""

    required_scope = "dlq"

    @documented(
        "replay_dead_letter", "ApiEnvelope_DeadLetterReplayResponse", request=None
    )
    def post(self, request: Request, attempt_id: str) -> Response:
        entry = dead_letter_replay(
            dead_letter=dead_letter_get(attempt_id), actor=self.actor()
        )
        return self.ok(
            {
                "attempt_id": entry.attempt_id,
                "status": "requeued",
                "replay_count": entry.replay_count,
            }
        )
