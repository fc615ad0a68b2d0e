"""/v1/dlq: dead letters, and replaying them."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present, selectors
from runtime.api import fields
from runtime.api.base import OrisApi, not_empty
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, documented
from runtime.models import DeadLetter
from runtime.services.dead_letters import dead_letter_replay


def dead_letter_for(attempt_id: str) -> DeadLetter:
    """The dead letter an ``{attempt_id}`` path names (404 if none)."""
    return selectors.dead_letter_get(attempt_id=not_empty(attempt_id, "attempt_id"))


class DeadLetterListApi(OrisApi):
    """Attempts that ran out of retries or recoveries, newest first; `status`
    filters by replay status (`pending`, `replayed`)."""

    required_scope = Scope.DLQ

    class Query(serializers.Serializer):
        status = fields.text(
            DeadLetter, "replay_status", required=False, allow_blank=True, default=""
        )
        limit = fields.integer(required=False, default=100)

    @documented(
        "list_dead_letters",
        "ApiEnvelope_DeadLetterListResponse",
        parameters=[Query],
        errors=READ_ERRORS,
    )
    def get(self, request: Request) -> Response:
        query = self.query(self.Query)
        entries = selectors.dead_letter_list(
            replay_status=query["status"].strip(),
            limit=min(max(query["limit"], 1), 500),
        )
        return self.ok(present.dead_letter_list(entries))


class DeadLetterDetailApi(OrisApi):
    """One dead letter: why its attempt died and how often it was replayed."""

    required_scope = Scope.DLQ

    @documented("inspect_dead_letter", "ApiEnvelope_DeadLetterItem", errors=READ_ERRORS)
    def get(self, request: Request, attempt_id: str) -> Response:
        return self.ok(present.dead_letter_item(dead_letter_for(attempt_id)))


class DeadLetterReplayApi(OrisApi):
    """Requeues the dead attempt; takes no body."""

    required_scope = Scope.DLQ
    audit_action, audit_resource = "dlq.replay", "attempt"
    audit_resource_kwarg = "attempt_id"

    @documented(
        "replay_dead_letter", "ApiEnvelope_DeadLetterReplayResponse", request=None
    )
    def post(self, request: Request, attempt_id: str) -> Response:
        entry = dead_letter_replay(
            dead_letter=dead_letter_for(attempt_id), actor=self.actor()
        )
        return self.ok(present.dead_letter_replayed(entry))
