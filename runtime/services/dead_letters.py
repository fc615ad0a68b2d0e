"""Dead letters: operators replay an attempt that failed for good."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from runtime.errors import Conflict
from runtime.models import Attempt, DeadLetter, Job
from runtime.services import dispatch
from runtime.services.audit import Actor, audit_record
from runtime.services.jobs import job_check_definition
from runtime.services.transitions import transition


def dead_letter_replay(
    *, dead_letter: DeadLetter, actor: Actor, at: datetime | None = None
) -> DeadLetter:
    """Requeues the dead attempt (same id, attempt number kept) and its job."""
    now = at or timezone.now()
    with transaction.atomic():
        job_check_definition(job=dead_letter.job, actor=actor, at=now)
        updated = DeadLetter.objects.filter(
            pk=dead_letter.pk, replay_status=DeadLetter.ReplayStatus.PENDING
        ).update(
            replay_status=DeadLetter.ReplayStatus.REPLAYED,
            replay_count=F("replay_count") + 1,
            last_replayed_at=now,
        )
        if updated != 1:
            raise Conflict(
                f"dead letter already replayed for attempt: {dead_letter.pk}"
            )
        transition(
            Attempt,
            dead_letter.pk,
            to=Attempt.Status.QUEUED,
            sources=[Attempt.Status.FAILED],
            retry_at=None,
            finished_at=None,
        )
        transition(
            Job,
            dead_letter.job_id,
            to=Job.Status.QUEUED,
            sources=[Job.Status.FAILED],
            updated_at=now,
            finished_at=None,
        )
        dispatch.dispatch_ring(queue=dead_letter.attempt.queue)
        audit_record(
            actor=actor,
            action="dlq.replay",
            resource_type="attempt",
            resource_id=dead_letter.pk,
            at=now,
        )
    dead_letter.refresh_from_db()
    return dead_letter
