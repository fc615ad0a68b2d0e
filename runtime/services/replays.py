"""Recorded replay: a job's run re-executed by the current code with every effect
answered from the ledger. It writes nothing (its checkpoints stay in memory) and
sends nothing to a model or a tool; it reports whether the run was reproduced,
or the first effect that differs (Temporal's Replayer, for reasoning)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from graphs import Command, EffectDivergence, EffectOptions
from graphs.checkpoint import InMemorySaver
from graphs.effects import first_unanswered
from runtime import registry, selectors
from runtime.errors import Conflict
from runtime.models import Interrupt, Job
from runtime.present import present
from runtime.selectors.effects import job_effects
from runtime.services.audit import Actor, audit_record

REPLAYABLE = (Job.Status.COMPLETED, Job.Status.FAILED, Job.Status.INTERRUPTED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """What a recorded replay found."""

    thread_id: str
    graph: str
    status: str  # reproduced | diverged
    effects_recorded: int
    effects_answered: int
    divergence: dict[str, Any] | None = None
    state_changes: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0


def job_replay_recorded(*, job: Job, actor: Actor | None = None) -> ReplayReport:
    """Replays a settled job with its recorded effects (audited when an actor
    asks); raises ``Conflict`` for a job still queued or running."""
    if job.status not in REPLAYABLE:
        raise Conflict(
            f"job '{job.thread_id}' is {job.status}: only a settled run replays",
            details={"status": job.status},
        )
    began = time.perf_counter()
    recorded = job_effects(job=job)
    options = EffectOptions(mode="recorded", recorded=recorded)
    graph = registry.graph_get(job.graph).graph.with_checkpointer(InMemorySaver())
    config: dict[str, Any] = {
        "configurable": {"thread_id": f"replay:{job.thread_id}"},
        "effects": options,
    }
    # nothing of a replay must survive a crash: its in-memory checkpoints are
    # written when it stops (an interrupt, the end), not after every superstep
    result = graph.run(job.input, config, durability="exit")
    # the answers it was resumed with are read only when the replay pauses
    answers = _resume_values(job) if result.status == "interrupted" else []
    while result.status == "interrupted" and answers:
        result = graph.run(Command(resume=answers.pop(0)), config, durability="exit")
    divergence = _divergence(result, options, failed=job.status == Job.Status.FAILED)
    changes: list[dict[str, Any]] = []
    if divergence is None and job.status == Job.Status.COMPLETED:
        changes = _state_changes(job.result or {}, present(result.state))
        if changes:
            divergence = {"reason": "the final state differs", "expected": None}
    report = ReplayReport(
        thread_id=job.thread_id,
        graph=job.graph,
        status="reproduced" if divergence is None else "diverged",
        effects_recorded=len(recorded),
        effects_answered=len(options.answered),
        divergence=divergence,
        state_changes=changes,
        duration_ms=round((time.perf_counter() - began) * 1000, 3),
    )
    if actor is not None:
        audit_record(
            actor=actor,
            action="job.replay_recorded",
            resource_type="thread",
            resource_id=job.thread_id,
            details={"status": report.status},
        )
    return report


def replay_test(
    *, graph: str = "", thread_ids: list[str], limit: int
) -> list[ReplayReport]:
    """Recorded replays of the given jobs, or of the ``limit`` latest completed
    ones (of ``graph``): what CI runs before a deploy."""
    if thread_ids:
        jobs = [selectors.job_get(thread_id=t) for t in thread_ids]
    else:
        found = Job.objects.filter(status=Job.Status.COMPLETED)
        if graph:
            found = found.filter(graph=graph)
        jobs = list(found.order_by("-updated_at")[:limit])
    return [job_replay_recorded(job=job) for job in jobs]


def _resume_values(job: Job) -> list[Any]:
    """The answers the run was resumed with, in order."""
    answered = Interrupt.objects.filter(job=job, status=Interrupt.Status.RESUMED)
    return [i.resume_value for i in answered.order_by("created_at", "id")]


def _divergence(
    result: Any, options: EffectOptions, *, failed: bool
) -> dict[str, Any] | None:
    if isinstance(result.error, EffectDivergence):
        return result.error.report
    if result.error is not None and not failed:
        return {"reason": f"the replay failed: {result.error!r}", "expected": None}
    missing = first_unanswered(options)
    if missing is not None:
        return {
            "reason": "a recorded effect was not asked for",
            "expected": missing.summary(),
            "actual": None,
        }
    return None


def _state_changes(expected: Any, actual: Any) -> list[dict[str, Any]]:
    """Where the replayed state differs (message ids aside: a run's input
    messages get fresh ids)."""
    before, after = _without_ids(expected), _without_ids(actual)
    if not isinstance(before, dict) or not isinstance(after, dict):
        same = before == after
        return (
            []
            if same
            else [{"key": "", "kind": "changed", "before": before, "after": after}]
        )
    return [
        {"key": c.key, "kind": c.kind, "before": c.before, "after": c.after}
        for c in selectors.state_changes(before, after)
    ]


def _without_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    if isinstance(value, dict):
        message = "type" in value and "content" in value
        return {
            k: _without_ids(v) for k, v in value.items() if not (message and k == "id")
        }
    return value
