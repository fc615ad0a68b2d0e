"""Plain Django views outside the /v1 API."""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from runtime.services import clusters

logger = logging.getLogger(__name__)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness plus a database round trip, for load balancers and `make run`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("healthz database check failed: %s", exc)
        return JsonResponse(
            {"status": "error", "error": "database unavailable"}, status=503
        )
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers, the queue's lag, whether any worker beat
    lately, and each supervised cluster's state; 503 when work is due and no
    cluster is live or starting and no HTTP worker holds a lease (or the
    database is away)."""
    try:
        readiness = clusters.cluster_readiness()
    except DatabaseError as exc:
        logger.warning("readyz database check failed: %s", exc)
        return JsonResponse(
            {"status": "error", "error": "database unavailable"}, status=503
        )
    health = readiness.health
    body = {
        "status": "ok" if readiness.ready else "unavailable",
        "database": "ok",
        "due": readiness.due,
        "queue_lag_seconds": round(health.queue_lag_seconds, 3),
        "heartbeat_recent": health.heartbeat_recent,
        "last_heartbeat": health.last_heartbeat,
        "workers": {
            "q2_clusters_live": health.clusters_live,
            "http_workers_live": health.http_workers_live,
            "leases_held": health.leases_held,
        },
        "clusters": [asdict(status) for status in readiness.clusters],
    }
    return JsonResponse(body, status=200 if readiness.ready else 503)
