"""The ``oris_runtime_*`` Prometheus series, counted where the work happens and
correct across processes and restarts.

Every series is declared once, in ``SERIES``. Counting is cheap: a process adds
what it counts to an in-memory buffer (a dict update, no I/O), and a daemon
thread adds the buffer to ``MetricCounter`` rows every ``ORIS_METRICS_FLUSH_MS``
in one transaction. A scrape of any web process flushes its own buffer, then
reads the rows, so it sees every process (web, q2 workers, HTTP workers) of the
deployment, and totals survive restarts. What is counted inside a transaction is
counted when it commits, so a rolled-back outcome never counts. Gauges are read
from the ledger at scrape time (``runtime.selectors.health``).
"""

from __future__ import annotations

import atexit
import bisect
import logging
import multiprocessing.util
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from agents import instrumentation
from agents.errors import ToolNotFoundError
from graphs.instrumentation import NodeStart, SuperstepStart
from graphs.messages import AIMessage
from runtime.models import MetricCounter

logger = logging.getLogger(__name__)

PREFIX = "oris_runtime_"
BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)  # the reference's, in ms
# Recovery waits for a lease to expire: seconds, not milliseconds. The reference's
# bounds come first, so its queries still work.
_WIDE = (*BUCKETS, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000)
SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_MAX_VALUE = 80  # characters of one label value (graph, node, model names)


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One declared series. Counter names end in ``_total`` (the database row's
    name); ``always`` lists label values emitted even before they first count.
    Each is declared once, so it hashes by identity (the caches below key on it
    on every count)."""

    name: str
    kind: str  # counter | histogram | gauge (gauges are computed at scrape time)
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    always: tuple[tuple[str, ...], ...] = ()


def _counter(name: str, help: str, *labels: str, **kw: Any) -> Series:
    return Series(name, "counter", help, labels, **kw)


def _histogram(
    name: str, help: str, buckets: tuple[float, ...], *labels: str
) -> Series:
    return Series(name, "histogram", help, labels, buckets)


def _gauge(name: str, help: str, *labels: str) -> Series:
    return Series(name, "gauge", help, labels)


_REFERENCE = [
    _gauge("queue_depth", "Number of dispatchable attempts currently queued."),
    _counter("lease_operations_total", "Total lease-sensitive operations observed."),
    _counter("lease_conflicts_total", "Total lease conflicts observed."),
    _gauge("lease_conflict_rate", "Lease conflicts divided by lease operations."),
    _counter(
        "backpressure_total",
        "Total worker poll backpressure decisions by reason.",
        "reason",
        always=(("worker_limit",), ("tenant_limit",)),
    ),
    _counter(
        "terminal_acks_total",
        "Total terminal worker acknowledgements by status.",
        "status",
        always=(("completed",), ("failed",), ("cancelled",)),
    ),
    _gauge(
        "terminal_error_rate",
        "Terminal failed/cancelled acknowledgements divided by all terminal "
        "acknowledgements.",
    ),
    _histogram("dispatch_latency_ms", "Dispatch latency in milliseconds.", BUCKETS),
    _histogram(
        "recovery_latency_ms", "Failover recovery latency in milliseconds.", _WIDE
    ),
]
_RUNS = [
    _counter("runs_started_total", "Runs (and replays) that began executing.", "graph"),
    _counter(
        "runs_finished_total",
        "Jobs that reached completed, failed or cancelled.",
        "graph",
        "status",
    ),
    _histogram(
        "attempt_duration_seconds",
        "An attempt's run, from its claim to its recorded outcome.",
        SECONDS,
        "graph",
        "outcome",
    ),
    _histogram(
        "superstep_duration_seconds",
        "A superstep, up to the commit of its checkpoint.",
        SECONDS,
        "graph",
    ),
    _histogram("node_duration_seconds", "One run of a node.", SECONDS, "graph", "node"),
    _histogram(
        "submit_to_start_seconds",
        "From an attempt's creation to its first claim by a worker.",
        SECONDS,
        "graph",
    ),
    _counter("retries_scheduled_total", "Failed attempts scheduled to retry.", "graph"),
    _counter("dead_letters_total", "Attempts dead-lettered.", "graph", "reason"),
    _counter(
        "checkpoint_written_bytes_total", "Bytes of checkpoints and blobs written."
    ),
]
_EFFECTS = [
    _counter("llm_calls_total", "Chat model calls.", "provider", "model", "outcome"),
    _counter("llm_input_tokens_total", "Input tokens.", "provider", "model"),
    _counter("llm_output_tokens_total", "Output tokens.", "provider", "model"),
    _counter("llm_cost_usd_total", "Cost of model calls in USD.", "provider", "model"),
    _counter("tool_calls_total", "Tool calls.", "tool", "outcome"),
    _counter("tenant_tokens_total", "Tokens of durable runs' model calls.", "tenant"),
    _counter(
        "tenant_cost_usd_total", "Cost of durable runs' model calls in USD.", "tenant"
    ),
    _counter(
        "budget_exceeded_total",
        "Calls stopped by a spent budget (the run paused or failed).",
        "scope",
        "budget",
        "on_exceed",
    ),
]
_LEDGER = [
    _gauge("queue_oldest_age_seconds", "Age of the oldest claimable attempt."),
    _gauge("dead_letters_pending", "Dead letters waiting for a replay."),
    _gauge("interrupts_pending", "Interrupts waiting for a person."),
    _gauge("interrupts_oldest_age_seconds", "Age of the oldest interrupt waiting."),
    _gauge("workers_live", "Workers seen recently, by kind.", "kind"),
    _gauge("leases_held", "Live leases held by workers."),
]
SERIES: dict[str, Series] = {
    s.name: s for s in (*_REFERENCE, *_RUNS, *_EFFECTS, *_LEDGER)
}


def _bound(value: float) -> str:
    return format(value, "g")


# --- counting -------------------------------------------------------------------

Key = tuple[str, str]  # (row name, label text)
# the row key of each counter without labels
_UNLABELLED: dict[str, Key] = {
    s.name: (s.name, "")
    for s in SERIES.values()
    if s.kind == "counter" and not s.labels
}


class _Buffer:
    """This process's counts not yet in the database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flushing = threading.Lock()  # one flush at a time, taken to written
        self.values: dict[Key, float] = {}
        self.flusher: threading.Thread | None = None

    def add(self, items: Iterable[tuple[Key, float]]) -> None:
        with self.lock:
            for key, amount in items:
                self.values[key] = self.values.get(key, 0.0) + amount
            if self.flusher is None and settings.ORIS_METRICS_FLUSH_MS:
                self.flusher = threading.Thread(
                    target=_flush_forever, name="oris-metrics", daemon=True
                )
                self.flusher.start()
                # At exit: atexit for a plain process, a multiprocessing
                # finalizer for a q2 worker (its process ends with os._exit).
                atexit.register(_flush_quietly)
                multiprocessing.util.Finalize(None, _flush_quietly, exitpriority=10)

    def take(self) -> dict[Key, float]:
        with self.lock:
            values, self.values = self.values, {}
        return values


_buffer = _Buffer()


def _forked() -> None:
    # A forked worker starts with nothing to flush (its parent flushes its own),
    # no flusher thread and a lock nobody holds.
    global _buffer
    _buffer = _Buffer()


os.register_at_fork(after_in_child=_forked)


def _escape(value: object) -> str:
    text = str(value)[:_MAX_VALUE]
    return text.replace("%", "%25").replace(",", "%2C").replace("=", "%3D")


def _unescape(text: str) -> str:
    return text.replace("%3D", "=").replace("%2C", ",").replace("%25", "%")


def _label_text(series: Series, labels: Mapping[str, object]) -> str:
    if len(labels) != len(series.labels):
        raise ValueError(f"{series.name} takes labels {series.labels}, not {labels}")
    return _joined(series.labels, tuple(labels[k] for k in series.labels))


# Label sets are few (bounded by the registry), so their texts are built once.
@lru_cache(maxsize=4096)
def _joined(names: tuple[str, ...], values: tuple[object, ...]) -> str:
    return ",".join(f"{k}={_escape(v)}" for k, v in zip(names, values, strict=True))


def _record(items: list[tuple[Key, float]]) -> None:
    """Buffers counts; inside a transaction, when (and if) it commits."""
    # the connection looked up once (each read through django.db.connection,
    # and transaction.on_commit, looks it up again: five calls each)
    current = connections[DEFAULT_DB_ALIAS]
    if current.in_atomic_block:
        current.on_commit(partial(_buffer.add, items))
    else:
        _buffer.add(items)


def inc(name: str, amount: float = 1, **labels: object) -> None:
    """Adds ``amount`` to counter ``oris_runtime_<name>``."""
    key = None if labels else _UNLABELLED.get(name)  # bytes written: each put
    if key is None:
        key = (name, _label_text(SERIES[name], labels))
    _record([(key, amount)])


def seen(name: str, **labels: object) -> None:
    """Counts one on counter ``oris_runtime_<name>`` at once, even if the
    transaction around it rolls back (a conflict that aborts it)."""
    _buffer.add([((name, _label_text(SERIES[name], labels)), 1.0)])


def inc_now(name: str, amount: float, **labels: object) -> None:
    """Adds ``amount`` to counter ``oris_runtime_<name>`` at once, whatever the
    transaction around it does (what a model call spent is spent)."""
    _buffer.add([((name, _label_text(SERIES[name], labels)), amount)])


def _observation(series: Series, value: float, text: str) -> list[tuple[Key, float]]:
    buckets, total = _bucket_keys(series, text)
    return [(buckets[bisect.bisect_left(series.buckets, value)], 1), (total, value)]


@lru_cache(maxsize=4096)
def _bucket_keys(series: Series, text: str) -> tuple[tuple[Key, ...], Key]:
    """The row keys of each bucket (``+Inf`` last) and of the sum."""
    head = f"{text},le=" if text else "le="
    bounds = (*map(_bound, series.buckets), "+Inf")
    name = f"{series.name}:bucket"
    return tuple((name, head + b) for b in bounds), (f"{series.name}:sum", text)


def observe(name: str, value: float, **labels: object) -> None:
    """Records one observation of histogram ``oris_runtime_<name>``."""
    series = SERIES[name]
    _record(_observation(series, value, _label_text(series, labels)))


# --- what the runtime reports ---------------------------------------------------
# One call per event, from where it happens; names and labels come from the
# registry's graphs and their nodes, never from thread ids.

_TERMINAL = frozenset({"completed", "failed", "cancelled"})


def attempt_claimed(
    *, graph: str, kind: str, dispatches: int, waited_s: float, dispatch_ms: float
) -> None:
    """A worker (in process or over HTTP) claimed an attempt."""
    items = [(("lease_operations_total", ""), 1.0)]
    items += _observation(SERIES["dispatch_latency_ms"], dispatch_ms, "")
    if dispatches == 1:  # its first start: how long it waited to be picked up
        g = _label_text(SERIES["runs_started_total"], {"graph": graph})
        items += _observation(SERIES["submit_to_start_seconds"], waited_s, g)
        if kind in ("run", "replay"):
            items.append((("runs_started_total", g), 1.0))
    _record(items)


def attempt_finished(*, graph: str, outcome: str, seconds: float) -> None:
    """A worker recorded an attempt's outcome (``attempts.Outcome``); the
    terminal ones are the reference's terminal acknowledgements."""
    series = SERIES["attempt_duration_seconds"]
    text = _label_text(series, {"graph": graph, "outcome": outcome})
    items = _observation(series, seconds, text)
    if outcome in _TERMINAL:
        items.append((("terminal_acks_total", f"status={outcome}"), 1.0))
    _record(items)


def run_finished(*, graph: str, status: str) -> None:
    """A job reached a terminal status (by any path: worker, reaper, operator)."""
    inc("runs_finished_total", graph=graph, status=status)


def dead_lettered(*, graph: str, reason: str) -> None:
    inc("dead_letters_total", graph=graph, reason=reason)
    run_finished(graph=graph, status="failed")


# the attempt running in this context: (its thread id, its graph's label text)
_ATTEMPT: ContextVar[tuple[str, str] | None] = ContextVar(
    "oris_metrics_attempt", default=None
)


@contextmanager
def attempt_steps(*, graph: str, thread_id: str) -> Iterator[None]:
    """Around running an attempt's graph: the supersteps of its thread's root
    graph and their nodes are timed (by ``STEPS``) under ``graph``; a subgraph's
    or another thread's (a subagent a tool runs) are not."""
    text = _label_text(SERIES["superstep_duration_seconds"], {"graph": graph})
    token = _ATTEMPT.set((thread_id, text))
    try:
        yield
    finally:
        _ATTEMPT.reset(token)


@lru_cache(maxsize=4096)
def _node_text(graph: str, node: str) -> str:
    return f"{graph},node={_escape(node)}"


class StepMetrics:
    """Times the supersteps and node runs of attempts: a ``graphs.instrumentation``
    listener, installed at startup (beside the tracing one while tracing), so the
    engine measures once for both. Only the root graph of a run under
    :func:`attempt_steps` is timed (a subgraph's steps are inside its parent's
    node); a superstep counts once committed, a node run once it returned."""

    __slots__ = ()

    def superstep_start(self, start: SuperstepStart) -> Any:
        attempt = _ATTEMPT.get()
        if attempt is None or start.namespace or start.thread_id != attempt[0]:
            return None  # not observed: the engine tells nothing more
        return attempt[1], time.perf_counter()

    def superstep_end(
        self,
        handle: tuple[str, float],
        *,
        error: BaseException | None,
        interrupted: bool,
    ) -> None:
        if error is None and not interrupted:
            text, started = handle
            seconds = time.perf_counter() - started
            _buffer.add(_observation(_SUPERSTEPS, seconds, text))

    def node_start(self, start: NodeStart) -> Any:
        return _node_text(start.parent[0], start.node), time.perf_counter()

    def node_end(
        self,
        handle: tuple[str, float],
        *,
        error: BaseException | None,
        interrupted: bool,
    ) -> None:
        if error is None and not interrupted:
            text, started = handle
            _buffer.add(_observation(_NODES, time.perf_counter() - started, text))


_SUPERSTEPS = SERIES["superstep_duration_seconds"]
_NODES = SERIES["node_duration_seconds"]
STEPS = StepMetrics()


class CallMetrics:
    """Counts the model and tool calls of agents: an ``agents.instrumentation``
    listener, installed at startup (beside the tracing one while tracing).
    Calls happen on any thread and outside transactions: a call is counted when
    it ends."""

    def model_start(self, start: instrumentation.ModelStart) -> Any:
        return start

    def model_end(
        self,
        handle: instrumentation.ModelStart,
        *,
        reply: AIMessage | None,
        error: BaseException | None,
    ) -> None:
        pm = {"provider": handle.provider, "model": handle.model}
        text = _label_text(SERIES["llm_input_tokens_total"], pm)
        outcome = {**pm, "outcome": _outcome(error)}
        calls = _label_text(SERIES["llm_calls_total"], outcome)
        items = [(("llm_calls_total", calls), 1.0)]
        usage = reply.usage_metadata if reply is not None else None
        if usage is not None:
            items.append((("llm_input_tokens_total", text), usage["input_tokens"]))
            items.append((("llm_output_tokens_total", text), usage["output_tokens"]))
        cost = reply.response_metadata.get("cost_usd") if reply is not None else None
        if cost is not None:
            items.append((("llm_cost_usd_total", text), cost))
        _buffer.add(items)

    def tool_start(self, start: instrumentation.ToolStart) -> Any:
        return start.name

    def tool_end(self, handle: str, *, error: BaseException | None) -> None:
        # a tool the model made up is not a label value: labels stay bounded
        tool = "unknown" if isinstance(error, ToolNotFoundError) else handle
        labels = {"tool": tool, "outcome": _outcome(error)}
        text = _label_text(SERIES["tool_calls_total"], labels)
        _buffer.add([(("tool_calls_total", text), 1.0)])


def _outcome(error: BaseException | None) -> str:
    return "ok" if error is None else "error"


CALLS = CallMetrics()


# --- flushing -------------------------------------------------------------------

_TABLE = MetricCounter._meta.db_table
_UPSERT = (
    f"INSERT INTO {_TABLE} (name, labels, value) VALUES (%s, %s, %s)"
    f" ON CONFLICT (name, labels) DO UPDATE SET value = {_TABLE}.value + excluded.value"
)


def flush() -> None:
    """Adds this process's buffered counts to the database, in one transaction
    (rows in a fixed order, so concurrent flushes never deadlock); on failure
    they stay buffered for the next flush. When it returns, everything counted
    before the call is in the database (a flush under way is waited for)."""
    buffer = _buffer
    with buffer.flushing:
        values = buffer.take()
        if not values:
            return
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                rows = [(n, labels, v) for (n, labels), v in sorted(values.items())]
                cursor.executemany(_UPSERT, rows)
        except BaseException:
            buffer.add(values.items())
            raise


def discard_pending() -> None:
    """Drops this process's counts not yet flushed (a test's leftovers)."""
    _buffer.take()


def _flush_quietly() -> None:
    try:
        flush()
    except Exception:  # the database is away: the next flush tries again
        logger.warning("runtime metrics not flushed", exc_info=True)
        connection.close()


def _flush_forever() -> None:
    while True:
        time.sleep(settings.ORIS_METRICS_FLUSH_MS / 1000)
        _flush_quietly()


# --- scraping -------------------------------------------------------------------

Rows = dict[str, dict[str, float]]  # row name -> label text -> value


def _parse(text: str) -> dict[str, str]:
    return dict(
        (k, _unescape(v)) for k, v in (p.split("=", 1) for p in text.split(",") if p)
    )


def _values(series: Series, text: str) -> list[str]:
    labels = _parse(text)
    return [labels.get(k, "") for k in series.labels]


def _family_counter(series: Series, rows: Rows) -> CounterMetricFamily:
    family = CounterMetricFamily(
        PREFIX + series.name.removesuffix("_total"),
        series.help,
        labels=list(series.labels),
    )
    found = {tuple(_values(series, t)): v for t, v in rows.get(series.name, {}).items()}
    for values in series.always if series.labels else [()]:  # zero until counted
        found.setdefault(values, 0.0)
    for values, value in sorted(found.items()):
        family.add_metric(list(values), value)
    return family


def _family_histogram(series: Series, rows: Rows) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        PREFIX + series.name, series.help, labels=list(series.labels)
    )
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    for text, value in rows.get(f"{series.name}:bucket", {}).items():
        head, _, bound = text.rpartition("le=")
        counts[head.removesuffix(",")][bound] = value
    sums = rows.get(f"{series.name}:sum", {})
    unlabelled = set() if series.labels else {""}  # always shown
    for text in sorted(set(counts) | set(sums) | unlabelled):
        cumulative, buckets = 0.0, []
        for bound in (*map(_bound, series.buckets), "+Inf"):
            cumulative += counts[text].get(bound, 0.0)
            buckets.append((bound, cumulative))
        family.add_metric(_values(series, text), buckets, sums.get(text, 0.0))
    return family


def _family_gauge(series: Series, value: float | dict[str, float]) -> Metric:
    if isinstance(value, dict):
        family = GaugeMetricFamily(
            PREFIX + series.name, series.help, labels=list(series.labels)
        )
        for label, number in sorted(value.items()):
            family.add_metric([label], number)
        return family
    return GaugeMetricFamily(PREFIX + series.name, series.help, value=value)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _gauges(rows: Rows) -> dict[str, float | dict[str, float]]:
    from runtime.selectors.health import health_snapshot

    health = health_snapshot()
    acks = rows.get("terminal_acks_total", {})
    errors = acks.get("status=failed", 0) + acks.get("status=cancelled", 0)
    ops = rows.get("lease_operations_total", {}).get("", 0)
    return {
        "queue_depth": health.queue_depth,
        "lease_conflict_rate": _ratio(
            rows.get("lease_conflicts_total", {}).get("", 0), ops
        ),
        "terminal_error_rate": _ratio(errors, sum(acks.values())),
        "queue_oldest_age_seconds": health.queue_lag_seconds,
        "dead_letters_pending": health.dead_letters_pending,
        "interrupts_pending": health.interrupts_pending,
        "interrupts_oldest_age_seconds": health.interrupts_oldest_age_seconds,
        "workers_live": {
            "q2_cluster": health.clusters_live,
            "http_worker": health.http_workers_live,
        },
        "leases_held": health.leases_held,
    }


class RuntimeCollector:
    """Renders every declared series from the database at scrape time."""

    def describe(self) -> Iterator[Metric]:
        """Names only: registering the collector must not query the database."""
        for series in SERIES.values():
            name = PREFIX + series.name
            if series.kind == "counter":
                yield CounterMetricFamily(name.removesuffix("_total"), series.help)
            elif series.kind == "histogram":
                yield HistogramMetricFamily(name, series.help)
            else:
                yield GaugeMetricFamily(name, series.help)

    def collect(self) -> Iterator[Metric]:
        try:
            flush()  # this process's own counts first
        except Exception:
            logger.warning("runtime metrics of this process not flushed", exc_info=True)
        try:
            rows: Rows = defaultdict(dict)
            for name, labels, value in MetricCounter.objects.values_list(
                "name", "labels", "value"
            ):
                rows[name][labels] = value
            gauges = _gauges(rows)
        except Exception:  # a scrape must not fail because the database is down
            logger.exception("runtime metrics unavailable")
            return
        for series in SERIES.values():
            if series.kind == "counter":
                yield _family_counter(series, rows)
            elif series.kind == "histogram":
                yield _family_histogram(series, rows)
            else:
                yield _family_gauge(series, gauges[series.name])


_registered = False


def register_collector() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(RuntimeCollector())
        _registered = True
