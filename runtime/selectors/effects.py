"""A job's effects (its run's lineage of the ledger), their totals and the
comparison of two jobs (a run and its fork), for the API, the console and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from graphs.effects import EffectRecord
from runtime.checkpointer import effect_records
from runtime.models import Checkpoint, Effect, Job
from runtime.selectors.history import StateChange, job_state, state_changes


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectTotals:
    """What a job's effects cost."""

    effects: int
    model_calls: int
    tool_calls: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float
    duration_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectPair:
    """The effects at one position of two runs (``None``: the run has none)."""

    position: int
    status: str  # same | changed | only_original | only_fork
    original: EffectRecord | None
    fork: EffectRecord | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A job and its fork side by side."""

    original: Job
    fork: Job
    state_changes: list[StateChange]
    effects: list[EffectPair]
    original_totals: EffectTotals
    fork_totals: EffectTotals


def _lineage(thread_id: str) -> set[str]:
    """The ids of the root checkpoints from the thread's head back to its input
    (a live replay on the same thread leaves another branch beside it)."""
    parents = dict(
        Checkpoint.objects.filter(thread_id=thread_id, checkpoint_ns="").values_list(
            "checkpoint_id", "parent_checkpoint_id"
        )
    )
    found: set[str] = set()
    at = max(parents, default=None)
    while at and at not in found:
        found.add(at)
        at = parents.get(at) or None
    return found


def job_effects(*, job: Job) -> list[EffectRecord]:
    """The effects of the job's run, in the order they started: those of its
    thread's current lineage (subgraph effects included), and for a fork, the
    original's up to the fork's checkpoint (which the fork continues)."""
    records = _thread_effects(job.thread_id)
    if not job.fork_of:
        return records
    original = Job.objects.filter(thread_id=job.fork_of).first()
    fork_at = (
        Checkpoint.objects.filter(
            thread_id=job.thread_id,
            checkpoint_ns="",
            checkpoint_id=job.fork_checkpoint_id,
        )
        .values_list("metadata", flat=True)
        .first()
    )
    if original is None or fork_at is None:
        return records
    step = int((fork_at or {}).get("step", -1))
    inherited = [r for r in _thread_effects(original.thread_id) if r.step <= step]
    return inherited + records


def _thread_effects(thread_id: str) -> list[EffectRecord]:
    lineage = _lineage(thread_id)
    rows = Effect.objects.filter(thread_id=thread_id).order_by("started_at", "idx")
    return [
        record
        for record in effect_records(rows)
        if record.checkpoint_ns or record.checkpoint_id in lineage
    ]


def job_forks(*, job: Job) -> list[Job]:
    """The forks of a job, oldest first."""
    return list(Job.objects.filter(fork_of=job.thread_id).order_by("created_at"))


def effect_totals(records: list[EffectRecord]) -> EffectTotals:
    """Counts, tokens, cost and time of ``records``."""
    return EffectTotals(
        effects=len(records),
        model_calls=sum(1 for r in records if r.kind == Effect.Kind.MODEL),
        tool_calls=sum(1 for r in records if r.kind == Effect.Kind.TOOL),
        input_tokens=sum(r.usage.get("input_tokens", 0) for r in records),
        output_tokens=sum(r.usage.get("output_tokens", 0) for r in records),
        total_tokens=sum(r.usage.get("total_tokens", 0) for r in records),
        cost_usd=round(sum(r.cost for r in records), 8),
        duration_ms=round(sum(r.duration_ms for r in records), 3),
    )


def effects_diff(
    original: list[EffectRecord], fork: list[EffectRecord]
) -> list[EffectPair]:
    """The two runs' effects paired in the order they ran (a fork's steps are
    numbered on from its checkpoint, so positions, not steps, line them up);
    ``changed`` when the call or its answer differs."""
    mine, theirs = sorted(original, key=_order), sorted(fork, key=_order)
    pairs = []
    for position in range(max(len(mine), len(theirs))):
        a = mine[position] if position < len(mine) else None
        b = theirs[position] if position < len(theirs) else None
        if a is None:
            status = "only_fork"
        elif b is None:
            status = "only_original"
        elif (a.name, a.request, a.response) == (b.name, b.request, b.response):
            status = "same"
        else:
            status = "changed"
        pairs.append(EffectPair(position=position, status=status, original=a, fork=b))
    return pairs


def _order(record: EffectRecord) -> tuple[int, str, int, str]:
    return (record.step, record.task_path, record.index, record.started_at)


def job_compare(*, original: Job, fork: Job) -> Comparison:
    """A job and another (its fork) side by side: the final state's changes,
    the effects paired, and their totals."""
    mine, theirs = job_effects(job=original), job_effects(job=fork)
    return Comparison(
        original=original,
        fork=fork,
        state_changes=state_changes(
            job_state(job=original).values, job_state(job=fork).values
        ),
        effects=effects_diff(mine, theirs),
        original_totals=effect_totals(mine),
        fork_totals=effect_totals(theirs),
    )
