"""Liveness of supervised django-q2 clusters: what their supervisors and workers
record, and what ``/readyz`` and the supervisors decide from it.

A supervisor starts its cluster with ``ORIS_CLUSTER_ID`` in the environment; the
cluster's workers note their progress under that id (at most every
``PROGRESS_EVERY`` seconds per process, so it costs nothing on the hot path). A
cluster that its supervisor has not seen for ``ORIS_CLUSTER_STALL_SECONDS`` is
dead (its host or supervisor died with it).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from runtime.models import WorkerCluster
from runtime.selectors.health import Health, health_snapshot
from runtime.services import dispatch

logger = logging.getLogger(__name__)

CLUSTER_ID_ENV = "ORIS_CLUSTER_ID"
PROGRESS_EVERY = 1.0  # seconds between two progress notes of one process
DEAD = "dead"  # a computed state: its supervisor stopped seeing it
# A (re)started cluster none of whose workers has spawned yet is not judged by
# the stall bound, which may be shorter than a start on a loaded host, but by this.
STARTUP = timedelta(seconds=60)

_noted_at = -PROGRESS_EVERY


def stall_bound() -> timedelta:
    return timedelta(seconds=settings.ORIS_CLUSTER_STALL_SECONDS)


def cluster_progressed() -> None:
    """A worker of this process's cluster picked up work or beat a lease.

    A no-op outside a supervised cluster, and between notes; it never fails
    the work it reports on."""
    global _noted_at
    cluster_id = os.environ.get(CLUSTER_ID_ENV)
    if not cluster_id or time.monotonic() - _noted_at < PROGRESS_EVERY:
        return
    _noted_at = time.monotonic()
    try:
        WorkerCluster.objects.filter(pk=cluster_id).update(progressed_at=timezone.now())
    except DatabaseError:  # the run reports the database itself
        logger.debug("progress of cluster %s not recorded", cluster_id, exc_info=True)


def cluster_worker_spawned(**kwargs: object) -> None:
    """django-q2's ``post_spawn``: a worker process of the cluster is up."""
    cluster_progressed()


def cluster_started(
    *, cluster_id: str, pid: int, note: str = "", at: datetime | None = None
) -> None:
    """Records a (re)started cluster; a restart counts one and says why."""
    now = at or timezone.now()
    fields = {"pid": pid, "state": WorkerCluster.State.STARTING, "started_at": now}
    fields |= {"seen_at": now, "progressed_at": None}
    if WorkerCluster.objects.filter(pk=cluster_id).update(
        **fields, restarts=F("restarts") + (1 if note else 0), note=note[:255]
    ):
        return
    WorkerCluster.objects.create(
        id=cluster_id, host=socket.gethostname(), note=note[:255], **fields
    )


def cluster_check(
    *, cluster_id: str, due_since: datetime | None, at: datetime | None = None
) -> WorkerCluster.State:
    """Its supervisor sees the cluster's process running; records and returns
    its state. It is wedged when work has been due since ``due_since`` for the
    whole stall bound and no worker of it progressed within that bound (or, if
    none has since it started, within ``STARTUP``); starting until a worker
    spawns or progresses; else live.
    """
    now = at or timezone.now()
    cluster = WorkerCluster.objects.get(pk=cluster_id)
    horizon = now - stall_bound()
    if cluster.progressed_at is None:
        stalled = cluster.started_at <= now - max(stall_bound(), STARTUP)
    else:
        stalled = cluster.progressed_at <= horizon
    if stalled and due_since is not None and due_since <= horizon:
        state = WorkerCluster.State.WEDGED
    elif cluster.progressed_at is None:
        state = WorkerCluster.State.STARTING
    else:
        state = WorkerCluster.State.LIVE
    WorkerCluster.objects.filter(pk=cluster_id).update(state=state, seen_at=now)
    return state


def cluster_remove(*, cluster_id: str) -> None:
    """Its supervisor stopped the cluster on purpose."""
    WorkerCluster.objects.filter(pk=cluster_id).delete()


def clusters_expire(*, at: datetime | None = None) -> list[str]:
    """Removes the clusters no supervisor has seen within the bound (they died
    with their host or supervisor) and forgets the deliveries they may have
    prefetched. Returns their ids."""
    now = at or timezone.now()
    dead = WorkerCluster.objects.filter(seen_at__lte=now - stall_bound())
    ids = list(dead.values_list("id", flat=True))
    if ids:
        WorkerCluster.objects.filter(pk__in=ids).delete()
        logger.warning("clusters %s stopped being seen; forgotten", ", ".join(ids))
        dispatch.dispatch_forget()
    return ids


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterStatus:
    id: str
    host: str
    pid: int | None
    state: str
    seen_at: datetime
    progressed_at: datetime | None
    restarts: int
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    ready: bool
    due: int  # claimable attempts
    clusters: list[ClusterStatus]
    health: Health


def cluster_readiness(*, at: datetime | None = None) -> Readiness:
    """Each cluster's state; ready unless work is due and no cluster is live
    (a starting one will take it as soon as it is up) and no HTTP worker holds
    a live lease."""
    now = at or timezone.now()
    statuses = [
        ClusterStatus(
            id=c.id,
            host=c.host,
            pid=c.pid,
            state=DEAD if c.seen_at <= now - stall_bound() else c.state,
            seen_at=c.seen_at,
            progressed_at=c.progressed_at,
            restarts=c.restarts,
            note=c.note,
        )
        for c in WorkerCluster.objects.order_by("id")
    ]
    health = health_snapshot(at=now)
    serving = (WorkerCluster.State.LIVE, WorkerCluster.State.STARTING)
    ready = (
        not health.queue_depth
        or any(s.state in serving for s in statuses)
        or health.http_workers_live > 0
    )
    return Readiness(
        ready=ready, due=health.queue_depth, clusters=statuses, health=health
    )
