"""Reads of the operational records: dead letters, attempts' retries, the audit log."""

from __future__ import annotations

import time
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
# key id -> (monotonic time read, row): the rows ``api_key_find`` read lately
_KEPT: dict[str, tuple[float, ApiKey]] = {}
KEPT_KEYS = 1024  # past this many key ids, every kept read is forgotten


def api_key_find(*, key_id: str, max_age: float = 0.0) -> ApiKey | None:
    """The stored key with this id, usable or not (the caller checks). With
    ``max_age``, a row this process read at most ``max_age`` seconds ago answers
    without a query (the services that change a key forget it at once:
    ``api_key_forget``); an id with no row is always read."""
    now = time.monotonic()
    kept = _KEPT.get(key_id) if max_age > 0 else None
    if kept is not None and now - kept[0] < max_age:
        return kept[1]
    with connection.cursor() as cursor:
        cursor.execute(_API_KEY, [key_id])
        row = cursor.fetchone()  # key_id is unique
    if row is None:
        _KEPT.pop(key_id, None)
        return None
    key = model_from_row(ApiKey, row)
    if max_age > 0:
        if len(_KEPT) >= KEPT_KEYS:
            _KEPT.clear()  # one step, safe beside other threads' reads
        _KEPT[key_id] = (now, key)
    return key


def api_key_forget(*, key_id: str | None = None) -> None:
    """Forgets the kept read of ``key_id`` (of every key with ``None``): its next
    ``api_key_find`` reads the row."""
    if key_id is None:
        _KEPT.clear()
    else:
        _KEPT.pop(key_id, None)


def api_keys_exist() -> bool:
    return ApiKey.objects.exists()
