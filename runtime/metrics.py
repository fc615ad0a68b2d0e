"""The ``oris_runtime_*`` series of the reference, correct across processes.

Counters and histogram buckets live in the database (``MetricCounter``); a collector
registered with prometheus_client reads them at scrape time, next to
django-prometheus's own series on ``/metrics``.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.db.models import F
from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from runtime.models import MetricCounter

logger = logging.getLogger(__name__)

BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
# Recovery waits for a lease to expire: seconds, not milliseconds. The reference's
# bounds come first, so its queries still work.
_WIDE = (*BUCKETS, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000)
_BUCKETS = {"recovery_latency_ms": _WIDE}
PREFIX = "oris_runtime_"


def _labels(**labels: str) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _add(name: str, amount: float, labels: str = "") -> None:
    series = MetricCounter.objects.filter(name=name, labels=labels)
    if series.update(value=F("value") + amount):
        return
    try:
        with transaction.atomic():
            MetricCounter.objects.create(name=name, labels=labels, value=amount)
    except IntegrityError:  # created concurrently
        series.update(value=F("value") + amount)


def inc(name: str, amount: float = 1, **labels: str) -> None:
    """Adds to counter ``oris_runtime_<name>``."""
    _add(name, amount, _labels(**labels))


def observe(name: str, value_ms: float) -> None:
    """Records one observation of histogram ``oris_runtime_<name>``."""
    bounds = _BUCKETS.get(name, BUCKETS)
    slot = bisect.bisect_left(bounds, value_ms)
    bucket = str(bounds[slot]) if slot < len(bounds) else "+Inf"
    _add(f"{name}:bucket", 1, f"le={bucket}")
    _add(f"{name}:sum", value_ms)


class RuntimeCollector:
    """Reads the series from the database at scrape time."""

    def describe(self) -> Iterator[Metric]:
        """Names only: registering the collector must not query the database."""
        for name in ("queue_depth", "lease_conflict_rate", "terminal_error_rate"):
            yield GaugeMetricFamily(PREFIX + name, "")
        for name in (
            "lease_operations",
            "lease_conflicts",
            "backpressure",
            "terminal_acks",
        ):
            yield CounterMetricFamily(PREFIX + name, "")
        for name in ("dispatch_latency_ms", "recovery_latency_ms"):
            yield HistogramMetricFamily(PREFIX + name, "")

    def collect(self) -> Iterator[Metric]:
        try:
            values = {(m.name, m.labels): m.value for m in MetricCounter.objects.all()}
            depth = _queue_depth()
        except Exception:  # a scrape must not fail because the database is down
            logger.exception("runtime metrics unavailable")
            return
        yield _gauge(
            "queue_depth", "Number of dispatchable attempts currently queued.", depth
        )
        ops = values.get(("lease_operations_total", ""), 0)
        conflicts = values.get(("lease_conflicts_total", ""), 0)
        yield _counter(
            "lease_operations", "Total lease-sensitive operations observed.", ops
        )
        yield _counter("lease_conflicts", "Total lease conflicts observed.", conflicts)
        yield _gauge(
            "lease_conflict_rate",
            "Lease conflicts divided by lease operations.",
            conflicts / ops if ops else 0.0,
        )
        backpressure = CounterMetricFamily(
            PREFIX + "backpressure",
            "Total worker poll backpressure decisions by reason.",
            labels=["reason"],
        )
        for reason in ("worker_limit", "tenant_limit"):
            backpressure.add_metric(
                [reason], values.get(("backpressure_total", f"reason={reason}"), 0)
            )
        yield backpressure
        acks = CounterMetricFamily(
            PREFIX + "terminal_acks",
            "Total terminal worker acknowledgements by status.",
            labels=["status"],
        )
        counts = {}
        for status in ("completed", "failed", "cancelled"):
            counts[status] = values.get(("terminal_acks_total", f"status={status}"), 0)
            acks.add_metric([status], counts[status])
        yield acks
        total = sum(counts.values())
        yield _gauge(
            "terminal_error_rate",
            "Terminal failed/cancelled acknowledgements divided by all terminal "
            "acknowledgements.",
            (counts["failed"] + counts["cancelled"]) / total if total else 0.0,
        )
        yield _histogram(
            "dispatch_latency_ms", "Dispatch latency in milliseconds.", values
        )
        yield _histogram(
            "recovery_latency_ms", "Failover recovery latency in milliseconds.", values
        )


def _queue_depth() -> int:
    from runtime.services.claims import claimable_count

    return claimable_count()


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, help_text, value=value)


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, help_text, value=value)


def _histogram(name: str, help_text: str, values: dict) -> HistogramMetricFamily:
    cumulative, buckets = 0.0, []
    for bound in (*map(str, _BUCKETS.get(name, BUCKETS)), "+Inf"):
        cumulative += values.get((f"{name}:bucket", f"le={bound}"), 0)
        buckets.append((bound, cumulative))
    family = HistogramMetricFamily(PREFIX + name, help_text)
    family.add_metric([], buckets, values.get((f"{name}:sum", ""), 0.0))
    return family


_registered = False


def register_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(RuntimeCollector())
        _registered = True
