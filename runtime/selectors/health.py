"""What the ledger says about the deployment's health: the queue, the work
waiting for people, and the workers. Read by ``/readyz``, the ``/metrics`` gauges
and the console's workers page.

Workers are of two kinds: supervised django-q2 clusters (``WorkerCluster``, whose
worker processes claim as ``q2:<cluster id>:<pid>``) and HTTP workers, known by
the leases they hold (a lease lives as long as its holder heartbeats it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from runtime.models import DeadLetter, Interrupt, Lease, WorkerCluster
from runtime.services import claims

Q2_PREFIX = "q2:"
SERVING = (WorkerCluster.State.LIVE, WorkerCluster.State.STARTING)


def _stall_bound() -> timedelta:
    return timedelta(seconds=settings.ORIS_CLUSTER_STALL_SECONDS)


def _age(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerRow:
    """One worker process holding leases, or a supervised cluster."""

    id: str
    kind: str  # q2 | http
    cluster_id: str  # its cluster (q2 workers of a supervised cluster)
    leases: int
    last_heartbeat: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    queue_depth: int  # claimable attempts
    queue_lag_seconds: float  # how long the longest-waiting one has waited
    dead_letters_pending: int
    interrupts_pending: int
    interrupts_oldest_age_seconds: float
    clusters_live: int  # live or starting, and seen by their supervisor lately
    http_workers_live: int  # HTTP workers holding a live lease
    leases_held: int
    last_heartbeat: datetime | None  # of any worker: a lease beat, a cluster's progress

    @property
    def heartbeat_recent(self) -> bool:
        return bool(self.clusters_live or self.http_workers_live)


def cluster_of(worker_id: str) -> str:
    """The supervised cluster a q2 worker id names (``""`` if none)."""
    if not worker_id.startswith(Q2_PREFIX):
        return ""
    cluster, _, _pid = worker_id.removeprefix(Q2_PREFIX).rpartition(":")
    return cluster


def workers_list(*, at: datetime | None = None) -> list[WorkerRow]:
    """Every worker holding live leases, with its last heartbeat, busiest first."""
    now = at or timezone.now()
    held = (
        Lease.objects.filter(expires_at__gt=now)
        .values("worker_id")
        .annotate(leases=Count("id"), beat=Max("heartbeat_at"))
    )
    rows = [
        WorkerRow(
            id=row["worker_id"],
            kind="q2" if row["worker_id"].startswith(Q2_PREFIX) else "http",
            cluster_id=cluster_of(row["worker_id"]),
            leases=row["leases"],
            last_heartbeat=row["beat"],
        )
        for row in held
    ]
    return sorted(rows, key=lambda r: (-r.leases, r.id))


def clusters_with_leases(
    clusters: QuerySet[WorkerCluster], *, at: datetime | None = None
) -> QuerySet[WorkerCluster]:
    """``clusters``, each with ``leases_held``: the live leases its worker
    processes hold."""
    now = at or timezone.now()
    held = (
        Lease.objects.filter(
            expires_at__gt=now,
            worker_id__startswith=Concat(Value(Q2_PREFIX), OuterRef("id"), Value(":")),
        )
        .order_by()
        .annotate(n=Func(F("id"), function="COUNT"))
        .values("n")
    )
    return clusters.annotate(
        leases_held=Coalesce(Subquery(held[:1]), 0, output_field=IntegerField())
    )


def health_snapshot(*, at: datetime | None = None) -> Health:
    """The queue, the waiting work and the workers, now."""
    now = at or timezone.now()
    interrupts = Interrupt.objects.filter(status=Interrupt.Status.PENDING).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    live = Lease.objects.filter(expires_at__gt=now)
    leases = live.aggregate(n=Count("id"), beat=Max("heartbeat_at"))
    http = live.exclude(worker_id__startswith=Q2_PREFIX)
    clusters = WorkerCluster.objects.filter(
        state__in=SERVING, seen_at__gt=now - _stall_bound()
    ).aggregate(n=Count("id"), progressed=Max("progressed_at"))
    beats = [b for b in (leases["beat"], clusters["progressed"]) if b is not None]
    return Health(
        queue_depth=claims.claimable_count(at=now),
        queue_lag_seconds=_age(claims.claimable_since(at=now), now),
        dead_letters_pending=DeadLetter.objects.filter(
            replay_status=DeadLetter.ReplayStatus.PENDING
        ).count(),
        interrupts_pending=interrupts["n"],
        interrupts_oldest_age_seconds=_age(interrupts["oldest"], now),
        clusters_live=clusters["n"],
        http_workers_live=http.values("worker_id").distinct().count(),
        leases_held=leases["n"],
        last_heartbeat=max(beats, default=None),
    )
