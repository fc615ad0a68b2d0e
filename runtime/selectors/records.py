"""Reads of the operational records: dead letters, attempts' retries, the audit log."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from runtime.errors import NotFound
from runtime.models import ApiKey, Attempt, AuditLog, DeadLetter
from runtime.services.statements import model_from_row


def dead_letter_get(*, attempt_id: str) -> DeadLetter:
    entry = DeadLetter.objects.select_related("job").filter(pk=attempt_id).first()
    if entry is None:
        raise NotFound("dead letter not found")
    return entry


def dead_letter_list(
    *, replay_status: str = "", limit: int = 100
) -> QuerySet[DeadLetter]:
    """Dead letters, most recently dead first."""
    entries = DeadLetter.objects.select_related("job").order_by("-dead_at")
    if replay_status:
        entries = entries.filter(replay_status=replay_status)
    return entries[:limit]


def attempt_get(*, attempt_id: str) -> Attempt:
    attempt = Attempt.objects.filter(pk=attempt_id).first()
    if attempt is None:
        raise NotFound("attempt not found")
    return attempt


def audit_log_list(
    *,
    request_id: str = "",
    action: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> QuerySet[AuditLog]:
    """Audit rows newest first, filtered by request, action and time window."""
    logs = AuditLog.objects.order_by("-id")
    if request_id:
        logs = logs.filter(request_id=request_id)
    if action:
        logs = logs.filter(action=action)
    if since is not None:
        logs = logs.filter(created_at__gte=since)
    if until is not None:
        logs = logs.filter(created_at__lte=until)
    return logs[:limit]


# Read on every keyed request: one prepared text, no query compiled per call.
_API_KEY = (
    f"SELECT {', '.join(f.column for f in ApiKey._meta.concrete_fields)}"
    f" FROM {ApiKey._meta.db_table} WHERE key_id = %s"
)


def api_key_find(*, key_id: str) -> ApiKey | None:
    """The stored key with this id, usable or not (the caller checks)."""
    with connection.cursor() as cursor:
        cursor.execute(_API_KEY, [key_id])
        row = cursor.fetchone()  # key_id is unique
    return None if row is None else model_from_row(ApiKey, row)


def api_keys_exist() -> bool:
    return ApiKey.objects.exists()
