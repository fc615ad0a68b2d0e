"""Threads of the Agent Server API. A thread's first run creates the Oris job of the
same thread id; from then on the thread's state is the job's checkpoints."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from runtime.models import Thread


def thread_ensure(*, thread_id: str, metadata: dict[str, Any] | None = None) -> Thread:
    """The thread ``thread_id``, created (with ``metadata``) if it does not exist:
    what a run with ``if_not_exists="create"`` and a stateless run need."""
    found = Thread.objects.filter(pk=thread_id).first()
    if found is not None:
        return found
    now = timezone.now()
    try:
        with transaction.atomic():
            return Thread.objects.create(
                thread_id=thread_id,
                metadata=metadata or {},
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # created meanwhile by a concurrent request
        return Thread.objects.get(pk=thread_id)
