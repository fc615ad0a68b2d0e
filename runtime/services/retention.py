"""Retention: bounding what finished threads keep.

A finished thread (its job completed, failed or cancelled) is, by the policy that
matches its graph and tenant (:func:`policy_for`):

* **deleted** once ``ttl_seconds`` have passed since it finished: its checkpoints,
  blobs and pending writes, its job row and everything that cascades from it
  (attempts, leases, interrupts and votes, dead letters, retries, step reports),
  its idempotency records. The audit log is kept.
* **pruned** to the last ``keep_last`` checkpoints of each namespace (the head
  always among them), keeping every blob a kept checkpoint reads (the range of
  versions its delta chain spans, exactly what the saver fetches) and the
  pending writes of kept checkpoints only.
* **compacted** (``compact``): the head's delta chains are rewritten as full
  copies, so the head decodes from one blob per channel and the chain's older
  links can go.

Work goes in batches (``ORIS_RETENTION_BATCH`` jobs): each batch is planned with
plain reads, then applied in one short transaction that locks the batch's job
rows with ``SKIP LOCKED`` (rows a run is changing are skipped until the next
sweep) and re-checks that each job is still finished, unchanged since the plan.
Running jobs are never read or written, so the hot path is not blocked.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from graphs import serde
from graphs.checkpoint.format import assemble_checkpoint
from runtime.models import (
    Checkpoint,
    CheckpointBlob,
    CheckpointWrite,
    IdempotencyRecord,
    Job,
    RetentionPolicy,
)
from runtime.models.jobs import JOB_TERMINAL
from runtime.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)

# Tables keyed by thread id (not cascading from the job row) that go with it.
THREAD_TABLES: tuple[Any, ...] = (
    CheckpointWrite,
    CheckpointBlob,
    Checkpoint,
    IdempotencyRecord,
)
_CHUNK = 2000  # ids per DELETE statement


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The retention that applies to one thread (``None``: no limit)."""

    keep_last: int | None = None
    ttl_seconds: int | None = None
    compact: bool = False

    @property
    def prunes(self) -> bool:
        return self.keep_last is not None or self.compact


@dataclass(slots=True, kw_only=True)
class PruneReport:
    """What a sweep removed (or, dry, would remove)."""

    dry_run: bool = False
    threads_deleted: int = 0
    threads_pruned: int = 0
    threads_skipped: int = 0  # locked or changed since planned: next sweep
    checkpoints: int = 0
    blobs: int = 0
    writes: int = 0
    chains_compacted: int = 0
    rows: int = 0  # every row deleted, jobs and their cascades included
    seconds: float = 0.0
    deleted_thread_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "threads_deleted": self.threads_deleted,
            "threads_pruned": self.threads_pruned,
            "threads_skipped": self.threads_skipped,
            "checkpoints": self.checkpoints,
            "blobs": self.blobs,
            "writes": self.writes,
            "chains_compacted": self.chains_compacted,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "deleted_thread_ids": self.deleted_thread_ids,
        }


def default_policy() -> Policy:
    """The policy of ``ORIS_RETENTION_*`` settings (no limits by default)."""
    return Policy(
        keep_last=settings.ORIS_RETENTION_KEEP_LAST,
        ttl_seconds=settings.ORIS_RETENTION_TTL_SECONDS,
        compact=settings.ORIS_RETENTION_COMPACT,
    )


class Policies:
    """The policy rows, loaded once per sweep, matched most specific first."""

    def __init__(self, rows: Iterable[RetentionPolicy] | None = None) -> None:
        found = RetentionPolicy.objects.all() if rows is None else rows
        self.rows = {(r.graph, r.tenant_id): r for r in found}
        self.default = default_policy()

    def for_job(self, graph: str, tenant_id: str) -> Policy:
        for key in ((graph, tenant_id), (graph, ""), ("", tenant_id), ("", "")):
            row = self.rows.get(key)
            if row is not None:
                return Policy(
                    keep_last=row.keep_last,
                    ttl_seconds=row.ttl_seconds,
                    compact=row.compact,
                )
        return self.default


def policy_for(*, graph: str, tenant_id: str) -> Policy:
    """The retention policy of a graph's threads for a tenant."""
    return Policies().for_job(graph, tenant_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Candidate:
    pk: int
    thread_id: str
    finished_at: datetime


@dataclass(slots=True, kw_only=True)
class _ThreadPlan:
    """The rows one thread loses, and the compacted blobs and headers it gets."""

    job: _Candidate
    checkpoints: list[int] = field(default_factory=list)
    blobs: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    snapshot_blobs: list[tuple[int, bytes]] = field(default_factory=list)
    headers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.checkpoints or self.blobs or self.writes or self.headers)


def prune(
    *,
    dry_run: bool = False,
    batch: int | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> PruneReport:
    """One retention sweep over finished threads (see the module docstring).

    Args:
        dry_run: Plan and count, write nothing.
        batch: Jobs per transaction (default ``ORIS_RETENTION_BATCH``).
        now: The clock (tests).
        limit: Stop after this many jobs were looked at (``None``: all).
    """
    started = time.perf_counter()
    report = PruneReport(dry_run=dry_run)
    policies = Policies()
    now = now or timezone.now()
    size = batch or settings.ORIS_RETENTION_BATCH
    for jobs in _finished_batches(size, limit):
        expired: list[_Candidate] = []
        pruned: list[_ThreadPlan] = []
        for pk, thread_id, graph, tenant_id, finished_at, pruned_at in jobs:
            policy = policies.for_job(graph, tenant_id)
            job = _Candidate(pk=pk, thread_id=thread_id, finished_at=finished_at)
            ttl = policy.ttl_seconds
            if ttl is not None and finished_at <= now - timedelta(seconds=ttl):
                expired.append(job)
            elif policy.prunes and (pruned_at is None or pruned_at < finished_at):
                pruned.append(_plan_thread(job, policy))
        if expired:
            _delete_threads(expired, report)
        if pruned:
            _prune_threads(pruned, report, now)
    report.seconds = time.perf_counter() - started
    if not dry_run and (report.rows or report.chains_compacted):
        logger.info("retention sweep: %s", report.as_dict())
    return report


def _finished_batches(size: int, limit: int | None) -> Iterator[list[tuple]]:
    """Finished jobs in id order, ``size`` at a time (keyset pages: each page is
    one short indexed read, however many jobs there are)."""
    last, seen = 0, 0
    rows = Job.objects.filter(status__in=JOB_TERMINAL, finished_at__isnull=False)
    while limit is None or seen < limit:
        take = size if limit is None else min(size, limit - seen)
        page = list(
            rows.filter(pk__gt=last)
            .order_by("pk")
            .values_list(
                "pk", "thread_id", "graph", "tenant_id", "finished_at", "pruned_at"
            )[:take]
        )
        if not page:
            return
        yield page
        last, seen = page[-1][0], seen + len(page)


def _lock_unchanged(jobs: Sequence[_Candidate]) -> set[int]:
    """Locks the jobs still finished as planned; skips rows another transaction
    holds (a run being resumed or replayed), which the next sweep retries."""
    planned = {job.pk: job.finished_at for job in jobs}
    locked = (
        Job.objects.select_for_update(skip_locked=True)
        .filter(pk__in=planned, status__in=JOB_TERMINAL)
        .values_list("pk", "finished_at")
    )
    return {pk for pk, finished in locked if finished == planned[pk]}


def _delete_threads(jobs: list[_Candidate], report: PruneReport) -> None:
    """Deletes expired threads: their job (with its cascades) and thread rows."""
    if report.dry_run:
        threads = [job.thread_id for job in jobs]
        report.checkpoints += Checkpoint.objects.filter(thread_id__in=threads).count()
        report.blobs += CheckpointBlob.objects.filter(thread_id__in=threads).count()
        report.writes += CheckpointWrite.objects.filter(thread_id__in=threads).count()
        report.threads_deleted += len(jobs)
        report.deleted_thread_ids += threads
        return
    with transaction.atomic():
        keep = _lock_unchanged(jobs)
        gone = [job for job in jobs if job.pk in keep]
        report.threads_skipped += len(jobs) - len(gone)
        threads = [job.thread_id for job in gone]
        for model in THREAD_TABLES:
            count, _ = model.objects.filter(thread_id__in=threads).delete()
            report.rows += count
            _count(report, model, count)
        deleted, _ = Job.objects.filter(pk__in=keep).delete()
        report.rows += deleted
    report.threads_deleted += len(gone)
    report.deleted_thread_ids += threads


def _count(report: PruneReport, model: Any, count: int) -> None:
    if model is Checkpoint:
        report.checkpoints += count
    elif model is CheckpointBlob:
        report.blobs += count
    elif model is CheckpointWrite:
        report.writes += count


def _prune_threads(
    plans: list[_ThreadPlan], report: PruneReport, now: datetime
) -> None:
    """Applies the plans of one batch in one transaction."""
    report.chains_compacted += sum(len(p.snapshot_blobs) for p in plans)
    if report.dry_run:
        for plan in plans:
            _tally(report, plan)
        return
    with transaction.atomic():
        keep = _lock_unchanged([plan.job for plan in plans])
        applied = [plan for plan in plans if plan.job.pk in keep]
        report.threads_skipped += len(plans) - len(applied)
        for plan in applied:
            for pk, value in plan.snapshot_blobs:
                CheckpointBlob.objects.filter(pk=pk).update(type="json", value=value)
            for pk, header in plan.headers:
                Checkpoint.objects.filter(pk=pk).update(checkpoint=header)
        for model, attr in (
            (CheckpointWrite, "writes"),
            (CheckpointBlob, "blobs"),
            (Checkpoint, "checkpoints"),
        ):
            ids = [pk for plan in applied for pk in getattr(plan, attr)]
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                report.rows += model.objects.filter(pk__in=chunk).delete()[0]
        Job.objects.filter(pk__in=[p.job.pk for p in applied]).update(pruned_at=now)
    for plan in applied:
        _tally(report, plan)


def _tally(report: PruneReport, plan: _ThreadPlan) -> None:
    report.threads_pruned += 1
    report.checkpoints += len(plan.checkpoints)
    report.blobs += len(plan.blobs)
    report.writes += len(plan.writes)


def _plan_thread(job: _Candidate, policy: Policy) -> _ThreadPlan:
    """What one finished thread keeps: per namespace, the last ``keep_last``
    checkpoints, the blobs their chains read and the writes they own."""
    plan = _ThreadPlan(job=job)
    by_ns: dict[str, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
    for pk, ns, cid, header in Checkpoint.objects.filter(
        thread_id=job.thread_id
    ).values_list("pk", "checkpoint_ns", "checkpoint_id", "checkpoint"):
        by_ns[ns].append((pk, cid, header))
    blobs: dict[str, dict[tuple[str, str], tuple[int, str]]] = defaultdict(dict)
    for pk, ns, channel, version, kind in CheckpointBlob.objects.filter(
        thread_id=job.thread_id
    ).values_list("pk", "checkpoint_ns", "channel", "version", "type"):
        blobs[ns][(channel, version)] = (pk, kind)
    kept: set[tuple[str, str]] = set()
    for ns, rows in by_ns.items():
        rows.sort(key=lambda row: row[1])
        keep_n = len(rows) if policy.keep_last is None else max(policy.keep_last, 1)
        plan.checkpoints += [pk for pk, _, _ in rows[:-keep_n]]
        if policy.compact:
            compacted = _compact_head(plan, rows[-1], blobs[ns])
            if compacted is not None:  # what the rest reads sees the snapshot
                rows[-1] = (rows[-1][0], rows[-1][1], compacted)
        needed: set[tuple[str, str]] = set()
        for _, cid, header in rows[-keep_n:]:
            kept.add((ns, cid))
            needed |= _blobs_read(header, blobs[ns])
        plan.blobs += [pk for key, (pk, _) in blobs[ns].items() if key not in needed]
    # Blobs of a namespace with no checkpoint left (never the case for a
    # finished thread's root) are unreadable: they go too.
    plan.blobs += [
        pk for ns in blobs.keys() - by_ns.keys() for pk, _ in blobs[ns].values()
    ]
    plan.writes = [
        pk
        for pk, ns, cid in CheckpointWrite.objects.filter(
            thread_id=job.thread_id
        ).values_list("pk", "checkpoint_ns", "checkpoint_id")
        if (ns, cid) not in kept
    ]
    return plan


def _blobs_read(
    header: dict[str, Any], blobs: dict[tuple[str, str], tuple[int, str]]
) -> set[tuple[str, str]]:
    """The (channel, version) blobs reading a checkpoint fetches: each channel's
    version and, for a delta chain, every version from its base to it (the
    saver's range query; versions are time-ordered ids)."""
    chain = header.get("chain") or {}
    needed: set[tuple[str, str]] = set()
    for channel, version in (header.get("channel_versions") or {}).items():
        version = str(version)
        base = str(chain[channel][2]) if channel in chain else version
        if base == version:
            needed.add((channel, version))
            continue
        needed |= {
            key for key in blobs if key[0] == channel and base <= key[1] <= version
        }
    return needed


def _compact_head(
    plan: _ThreadPlan,
    head: tuple[int, str, dict[str, Any]],
    blobs: dict[tuple[str, str], tuple[int, str]],
) -> dict[str, Any] | None:
    """Plans the head's delta channels as full copies: the blob at the head's
    version becomes the whole list, and the header's chain starts there.
    Returns the new stored header (``None``: nothing to compact)."""
    pk, _, stored = head
    header = serde.from_jsonable(stored)
    chain = header.get("chain") or {}
    deltas = {
        channel: str(version)
        for channel, version in (header.get("channel_versions") or {}).items()
        if channel in chain and str(chain[channel][2]) != str(version)
    }
    if not deltas:
        return None
    reads = _blobs_read(header, blobs)
    rows = {
        (b.channel, b.version): (b.type, bytes(b.value or b""))
        for b in CheckpointBlob.objects.filter(
            pk__in=[blobs[key][0] for key in reads]
        ).only("channel", "version", "type", "value")
    }
    values = assemble_checkpoint(header, lambda ch, v: rows.get((ch, v)))
    new_chain = dict(stored.get("chain") or {})
    for channel, version in deltas.items():
        value = values["channel_values"][channel]
        plan.snapshot_blobs.append((blobs[(channel, version)][0], serde.dumps(value)))
        blobs[(channel, version)] = (blobs[(channel, version)][0], "json")
        new_chain[channel] = [0, len(value), version]
    compacted = {**stored, "chain": new_chain}
    plan.headers.append((pk, compacted))
    return compacted


def retention_policy_save(*, policy: RetentionPolicy, actor: Actor) -> RetentionPolicy:
    """Creates or changes a policy (the console's form), audited."""
    created = policy.pk is None
    with transaction.atomic():
        policy.full_clean()
        policy.save()
        audit_record(
            actor=actor,
            action="retention_policy.create" if created else "retention_policy.update",
            resource_type="retention_policy",
            resource_id=str(policy.pk),
            details=_policy_details(policy),
        )
    return policy


def retention_policy_delete(*, policy: RetentionPolicy, actor: Actor) -> None:
    """Removes a policy (its threads fall back to a wider one), audited."""
    with transaction.atomic():
        details = _policy_details(policy)
        resource_id = str(policy.pk)
        policy.delete()
        audit_record(
            actor=actor,
            action="retention_policy.delete",
            resource_type="retention_policy",
            resource_id=resource_id,
            details=details,
        )


def _policy_details(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "graph": policy.graph,
        "tenant_id": policy.tenant_id,
        "keep_last": policy.keep_last,
        "ttl_seconds": policy.ttl_seconds,
        "compact": policy.compact,
    }
