"""/v1/jobs/{thread_id}: its effects, recorded replay, forks and comparison."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime import present
from runtime.api import fields
from runtime.api.base import AnyJSONField, OrisApi
from runtime.api.jobs import job_for
from runtime.api.permissions import Scope
from runtime.api.schema import READ_ERRORS, documented, envelope_schema
from runtime.models import Checkpoint
from runtime.selectors import effects as effect_selectors
from runtime.services import forks, replays

_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
EFFECTS = {
    "type": "object",
    "required": ["thread_id", "effects", "totals"],
    "properties": {
        "thread_id": {"type": "string"},
        "effects": {"type": "array", "items": _OBJECT},
        "totals": _OBJECT,
    },
}
REPLAY_REPORT = {
    "type": "object",
    "required": ["thread_id", "status", "effects_recorded", "effects_answered"],
    "properties": {
        "thread_id": {"type": "string"},
        "graph": {"type": "string"},
        "status": {"type": "string", "enum": ["reproduced", "diverged"]},
        "effects_recorded": {"type": "integer"},
        "effects_answered": {"type": "integer"},
        "divergence": {**_OBJECT, "nullable": True},
        "state_changes": {"type": "array", "items": _OBJECT},
        "duration_ms": {"type": "number"},
    },
}
COMPARISON = {
    "type": "object",
    "required": ["original", "fork", "state_changes", "effects", "totals"],
    "properties": {
        "original": {"type": "string"},
        "fork": {"type": "string"},
        "overrides": _OBJECT,
        "state_changes": {"type": "array", "items": _OBJECT},
        "effects": {"type": "array", "items": _OBJECT},
        "totals": _OBJECT,
    },
}


class JobEffectsApi(OrisApi):
    """The job's effects (model and tool calls) in the order they ran, with
    their usage, cost and totals."""

    required_scope = Scope.JOBS
    in_contract = False

    @documented(
        "job_effects",
        envelope_schema(EFFECTS),
        errors=READ_ERRORS,
        summary="List a job's effects",
    )
    def get(self, request: Request, thread_id: str) -> Response:
        job = job_for(thread_id)
        records = effect_selectors.job_effects(job=job)
        return self.ok(present.job_effects(job, records))


class ReplayRecordedInput(serializers.Serializer):
    """No fields yet: the body, when there is one, must be an object."""


class JobReplayRecordedApi(OrisApi):
    """Replays the job with every effect answered from the ledger (nothing is
    sent, nothing is written); reports the first divergence."""

    required_scope = Scope.JOBS
    in_contract = False
    audit_action, audit_resource = "job.replay_recorded", "thread"
    audit_resource_kwarg = "thread_id"

    @documented(
        "replay_job_recorded",
        envelope_schema(REPLAY_REPORT),
        request=ReplayRecordedInput,
        summary="Replay a job from its recorded effects",
    )
    def post(self, request: Request, thread_id: str) -> Response:
        self.body(ReplayRecordedInput)
        report = replays.job_replay_recorded(job=job_for(thread_id), actor=self.actor())
        return self.ok(present.replay_report(report))


class ForkJobInput(serializers.Serializer):
    checkpoint_id = fields.text(Checkpoint, "checkpoint_id")
    overrides = AnyJSONField(required=False, default=dict)


class JobForkApi(OrisApi):
    """Forks the job at a checkpoint: a new job that runs live from there with
    overrides (``model``, ``temperature``, ``system_prompt``, ``tool_results``)."""

    required_scope = Scope.JOBS
    in_contract = False
    audit_action, audit_resource = "job.fork", "thread"
    audit_resource_kwarg = "thread_id"

    @documented(
        "fork_job",
        "ApiEnvelope_RunJobResponse",
        request=ForkJobInput,
        summary="Fork a job at a checkpoint with overrides",
    )
    def post(self, request: Request, thread_id: str) -> Response:
        body = self.body(ForkJobInput)
        fork = forks.job_fork(
            job=job_for(thread_id),
            actor=self.actor(),
            checkpoint_id=body["checkpoint_id"],
            overrides=body["overrides"],
        )
        return self.ok(present.run_response(fork, trace=fork.trace))


class JobCompareApi(OrisApi):
    """A job and another (its fork) side by side: final state changes, effects
    paired in order, tokens and cost."""

    required_scope = Scope.JOBS
    in_contract = False

    @documented(
        "compare_jobs",
        envelope_schema(COMPARISON),
        errors=READ_ERRORS,
        summary="Compare a job with its fork",
    )
    def get(self, request: Request, thread_id: str, other: str) -> Response:
        compared = effect_selectors.job_compare(
            original=job_for(thread_id), fork=job_for(other)
        )
        return self.ok(present.job_comparison(compared))
