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

Agent Server threads created or updated with a TTL are erased once it has passed
(``threads.thread_expire_due``, audited as ``thread.expire``), whatever their
policy.

Work goes in batches (``ORIS_RETENTION_BATCH`` jobs): each batch is planned with
plain reads, then applied in one short transaction that locks the batch's job
rows with ``SKIP LOCKED`` (rows a run is changing are skipped until the next
sweep) and re-checks that each job is still finished, unchanged since the plan.
Running jobs are never read or written, so the hot path is not blocked.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from graphs import serde
from graphs.checkpoint.format import assemble_checkpoint
from runtime.models import (
    Checkpoint,
    CheckpointBlob,
    CheckpointWrite,
    Effect,
    IdempotencyRecord,
    Job,
    RetentionPolicy,
    Thread,
)
from runtime.models.jobs import JOB_TERMINAL
from runtime.services.audit import Actor
from runtime.services.policies import policy_delete, policy_save
from runtime.services.threads import thread_expire_due

logger = logging.getLogger(__name__)

# Tables keyed by thread id (not cascading from the job row) that go with it.
THREAD_TABLES: tuple[Any, ...] = (
    CheckpointWrite,
    CheckpointBlob,
    Checkpoint,
    IdempotencyRecord,
    Effect,  # the effect ledger
    Thread,  # the Agent Server's thread, with its runs, their events and crons
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
    threads_expired: int = 0  # Agent Server threads past their TTL
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
            "threads_expired": self.threads_expired,
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
    compact: bool = False
    # ns -> (channel, version) -> (pk, type), and ns -> kept (pk, id, header)
    blob_index: dict[str, dict[tuple[str, str], tuple[int, str]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    kept: dict[str, list[tuple[int, str, dict[str, Any]]]] = field(default_factory=dict)
    checkpoints: list[int] = field(default_factory=list)  # the ids that go
    blobs: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    kept_checkpoints: list[int] = field(default_factory=list)  # the ids that stay
    kept_blobs: list[int] = field(default_factory=list)
    kept_writes: list[int] = field(default_factory=list)
    snapshot_blobs: list[tuple[int, bytes]] = field(default_factory=list)
    headers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def kept_ids(self) -> set[tuple[str, str]]:
        return {(ns, cid) for ns, rows in self.kept.items() for _, cid, _ in rows}

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
    if dry_run:
        report.threads_expired = Thread.objects.filter(expires_at__lte=now).count()
    else:
        report.threads_expired = thread_expire_due(now=now)
    for jobs in _finished_batches(size, limit):
        expired: list[_Candidate] = []
        pruned: list[tuple[_Candidate, Policy]] = []
        for pk, thread_id, graph, tenant_id, finished_at, pruned_at in jobs:
            policy = policies.for_job(graph, tenant_id)
            job = _Candidate(pk=pk, thread_id=thread_id, finished_at=finished_at)
            ttl = policy.ttl_seconds
            if ttl is not None and finished_at <= now - timedelta(seconds=ttl):
                expired.append(job)
            elif policy.prunes and (pruned_at is None or pruned_at < finished_at):
                pruned.append((job, policy))
        if expired:
            _delete_threads(expired, report)
        if pruned:
            _prune_threads(_plan_threads(pruned), report, now)
    report.seconds = time.perf_counter() - started
    if not dry_run and (
        report.rows or report.chains_compacted or report.threads_expired
    ):
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
    """Applies the plans of one batch in one transaction: each table loses the
    batch threads' rows but those kept (short statements: the kept ids are few)."""
    report.chains_compacted += sum(len(p.snapshot_blobs) for p in plans)
    if report.dry_run:
        for plan in plans:
            _tally(report, plan)
        return
    with transaction.atomic():
        keep = _lock_unchanged([plan.job for plan in plans])
        applied = [plan for plan in plans if plan.job.pk in keep and not plan.empty]
        report.threads_skipped += sum(plan.job.pk not in keep for plan in plans)
        _write_snapshots(applied)
        threads = [plan.job.thread_id for plan in applied]
        for model, attr in (
            (CheckpointWrite, "kept_writes"),
            (CheckpointBlob, "kept_blobs"),
            (Checkpoint, "kept_checkpoints"),
        ):
            kept = [pk for plan in applied for pk in getattr(plan, attr)]
            rows = model.objects.filter(thread_id__in=threads).exclude(pk__in=kept)
            report.rows += rows.delete()[0]
        Job.objects.filter(pk__in=keep).update(pruned_at=now)
    for plan in applied:
        _tally(report, plan)


def _write_snapshots(plans: list[_ThreadPlan]) -> None:
    """The compacted blobs and headers of a batch, as two batched statements
    (pipelined on PostgreSQL)."""
    blobs = [(value, pk) for plan in plans for pk, value in plan.snapshot_blobs]
    headers = [
        (json.dumps(header), pk) for plan in plans for pk, header in plan.headers
    ]
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        if blobs:
            cursor.executemany(
                f"UPDATE {CheckpointBlob._meta.db_table} "
                "SET type = 'json', value = %s WHERE id = %s",
                blobs,
            )
        if headers:
            cursor.executemany(
                f"UPDATE {Checkpoint._meta.db_table} "
                f"SET checkpoint = %s{cast} WHERE id = %s",
                headers,
            )


def _tally(report: PruneReport, plan: _ThreadPlan) -> None:
    report.threads_pruned += 1
    report.checkpoints += len(plan.checkpoints)
    report.blobs += len(plan.blobs)
    report.writes += len(plan.writes)


Rows = dict[str, list[tuple[Any, ...]]]


def _by_thread(rows: Iterable[tuple[Any, ...]]) -> Rows:
    found: Rows = defaultdict(list)
    for row in rows:
        found[row[0]].append(row[1:])
    return found


def _plan_threads(batch: list[tuple[_Candidate, Policy]]) -> list[_ThreadPlan]:
    """Plans a batch of finished threads with three reads (plus one for the
    blobs compaction rewrites)."""
    threads = [job.thread_id for job, _ in batch]
    # Ids first: only the kept checkpoints' headers are read (and decoded).
    headers = _by_thread(
        Checkpoint.objects.filter(thread_id__in=threads).values_list(
            "thread_id", "pk", "checkpoint_ns", "checkpoint_id"
        )
    )
    blobs = _by_thread(
        CheckpointBlob.objects.filter(thread_id__in=threads).values_list(
            "thread_id", "pk", "checkpoint_ns", "channel", "version", "type"
        )
    )
    writes = _by_thread(
        CheckpointWrite.objects.filter(thread_id__in=threads).values_list(
            "thread_id", "pk", "checkpoint_ns", "checkpoint_id"
        )
    )
    plans = [
        _plan_thread(job, policy, headers[job.thread_id], blobs[job.thread_id])
        for job, policy in batch
    ]
    heads = [pk for plan in plans for rows in plan.kept.values() for pk, _, _ in rows]
    stored = dict(
        Checkpoint.objects.filter(pk__in=heads).values_list("pk", "checkpoint")
    )
    for plan in plans:
        for rows in plan.kept.values():
            rows[:] = [(pk, cid, stored[pk]) for pk, cid, _ in rows]
    _compact(plans)
    for plan in plans:
        kept_ids = plan.kept_ids
        for pk, ns, cid in writes[plan.job.thread_id]:
            (plan.kept_writes if (ns, cid) in kept_ids else plan.writes).append(pk)
    return plans


def _plan_thread(
    job: _Candidate,
    policy: Policy,
    headers: list[tuple[Any, ...]],
    blob_rows: list[tuple[Any, ...]],
) -> _ThreadPlan:
    """What one finished thread keeps: per namespace, the last ``keep_last``
    checkpoints (and, compacting, the head as a snapshot) and the blobs their
    chains read; the writes follow in :func:`_plan_threads`."""
    plan = _ThreadPlan(job=job, compact=policy.compact)
    by_ns: dict[str, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
    for pk, ns, cid in headers:
        by_ns[ns].append((pk, cid, {}))  # headers of the kept ones are read next
    for pk, ns, channel, version, kind in blob_rows:
        plan.blob_index[ns][(channel, version)] = (pk, kind)
    for ns, rows in by_ns.items():
        rows.sort(key=lambda row: row[1])
        keep_n = len(rows) if policy.keep_last is None else max(policy.keep_last, 1)
        plan.checkpoints += [pk for pk, _, _ in rows[:-keep_n]]
        plan.kept[ns] = rows[-keep_n:]
    return plan


def _compact(plans: list[_ThreadPlan]) -> None:
    """Rewrites the compacting plans' heads as snapshots, then settles every
    plan's blobs: those a kept checkpoint reads stay, the rest go."""
    heads = [
        (plan, ns, rows)
        for plan in plans
        if plan.compact
        for ns, rows in plan.kept.items()
    ]
    wanted = [
        pk
        for plan, ns, rows in heads
        for key in _blobs_read(serde.from_jsonable(rows[-1][2]), plan.blob_index[ns])
        for pk in [plan.blob_index[ns][key][0]]
    ]
    values: dict[int, tuple[str, bytes]] = {}
    for start in range(0, len(wanted), _CHUNK):
        for pk, kind, value in CheckpointBlob.objects.filter(
            pk__in=wanted[start : start + _CHUNK]
        ).values_list("pk", "type", "value"):
            values[pk] = (kind, bytes(value or b""))
    for plan, ns, rows in heads:
        compacted = _compact_head(plan, rows[-1], plan.blob_index[ns], values)
        if compacted is not None:  # what the rest reads sees the snapshot
            rows[-1] = (rows[-1][0], rows[-1][1], compacted)
    for plan in plans:
        for ns, index in plan.blob_index.items():
            needed: set[tuple[str, str]] = set()
            for _, _, header in plan.kept.get(ns, []):
                needed |= _blobs_read(header, index)
            for key, (pk, _) in index.items():
                (plan.kept_blobs if key in needed else plan.blobs).append(pk)
        plan.kept_checkpoints = [pk for rows in plan.kept.values() for pk, _, _ in rows]


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
    values: dict[int, tuple[str, bytes]],
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

    def lookup(channel: str, version: str) -> tuple[str, bytes] | None:
        found = blobs.get((channel, version))
        return values.get(found[0]) if found else None

    state = assemble_checkpoint(header, lookup)["channel_values"]
    new_chain = dict(stored.get("chain") or {})
    for channel, version in deltas.items():
        blob_pk = blobs[(channel, version)][0]
        plan.snapshot_blobs.append((blob_pk, serde.dumps(state[channel])))
        blobs[(channel, version)] = (blob_pk, "json")
        new_chain[channel] = [0, len(state[channel]), version]
    compacted = {**stored, "chain": new_chain}
    plan.headers.append((pk, compacted))
    return compacted


def retention_policy_save(*, policy: RetentionPolicy, actor: Actor) -> RetentionPolicy:
    """Creates or changes a retention policy (the console's form), audited."""
    return policy_save(
        policy=policy, actor=actor, resource="retention_policy", details=_policy_details
    )


def retention_policy_delete(*, policy: RetentionPolicy, actor: Actor) -> None:
    """Removes a retention policy (its runs fall back to a wider one), audited."""
    policy_delete(
        policy=policy, actor=actor, resource="retention_policy", details=_policy_details
    )


def _policy_details(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "graph": policy.graph,
        "tenant_id": policy.tenant_id,
        "keep_last": policy.keep_last,
        "ttl_seconds": policy.ttl_seconds,
        "compact": policy.compact,
    }
