"""Idempotency keys, reserved inside the transaction of the operation they guard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from runtime.errors import Conflict
from runtime.models import IdempotencyRecord


def idempotency_reserve(
    *, key: str, operation: str, thread_id: str, payload_hash: str, at: datetime
) -> IdempotencyRecord | None:
    """Reserves ``key``; returns the earlier record when the same request already
    used it (replay it), ``None`` when reserved now. A concurrent duplicate waits
    on the unique key until the first commits, then sees its record.

    Raises ``Conflict`` when the key was used with a different request.
    """
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                key=key,
                operation=operation,
                thread_id=thread_id,
                payload_hash=payload_hash,
                created_at=at,
            )
            return None
    except IntegrityError:
        pass
    found = IdempotencyRecord.objects.get(key=key)
    same = (found.operation, found.thread_id, found.payload_hash) == (
        operation,
        thread_id,
        payload_hash,
    )
    if not same:
        raise Conflict(
            "idempotency_key already exists with different request payload",
            details={"idempotency_key": key, "operation": found.operation},
        )
    return found


def idempotency_complete(*, key: str, response: dict[str, Any]) -> None:
    IdempotencyRecord.objects.filter(key=key).update(
        status=IdempotencyRecord.Status.COMPLETED, response=response
    )
