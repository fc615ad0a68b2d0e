"""Benchmark recovery: a cluster SIGKILLed mid-run, against the lease TTL.

Run: ``.venv/bin/python bench/bench_recovery.py [--quick] [--ttls 5,10] [--kills N]``.

Two supervised clusters (``manage.py oris_worker``, 2 workers each) on a fresh
PostgreSQL database run a steady stream of 3-node jobs (each node sleeps 50 ms),
submitted at a fixed rate below capacity. Once the stream is warm, one cluster's
process group is SIGKILLed while it runs something; its supervisor restarts it.

- **Recovery latency**: kill -> every attempt the killed cluster was running is
  running again elsewhere (or done), polled every 50 ms. The target is p50 <=
  TTL + 5 s, max <= 2 x TTL. The ``oris_runtime_recovery_latency_ms`` metric (the
  dead worker's last heartbeat -> requeue, as the reaper records it) is shown
  beside it.
- **Throughput** before and after: jobs completed per second over the
  ``WINDOW`` seconds before the kill and the ``WINDOW`` seconds after recovery,
  against the submission rate (no collapse: after ~ before ~ rate).

Each TTL runs in its own measuring subprocess (``--role measure``), since settings
are read from the environment at start. PostgreSQL is the local server at
``ORIS_BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_runtime import (
    PG_SERVER,
    PY,
    ROOT,
    django_setup,
    emit,
    ensure_postgres,
    median,
    run_role,
    table,
)

GRAPH = "recovery3"
GRAPH_PATH = "bench.bench_recovery:build_slow_three_nodes"
WINDOW = 8.0  # seconds of throughput measured before the kill and after recovery
RATE = 10.0  # jobs submitted per second, below the 4 workers' capacity
STEP_SECONDS = 0.05


class Counter(TypedDict):
    n: int


def slow_inc(state: Counter) -> dict[str, int]:
    time.sleep(STEP_SECONDS)
    return {"n": state["n"] + 1}


def build_slow_three_nodes() -> Any:
    """Three nodes of ``STEP_SECONDS`` each: runs long enough to be killed in."""
    from graphs import END, START, StateGraph

    graph = StateGraph(Counter)
    graph.add_sequence([(f"s{i}", slow_inc) for i in range(3)])
    graph.add_edge(START, "s0")
    graph.add_edge("s2", END)
    return graph


# -- role measure: two supervised clusters on one database ---------------------------


class Supervisor:
    """``manage.py oris_worker`` in its own session."""

    def __init__(self, log: Path) -> None:
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [PY, str(ROOT / "manage.py"), "oris_worker"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

    def cluster_pid(self) -> int | None:
        from runtime.models import WorkerCluster

        record = WorkerCluster.objects.filter(id__contains=f":{self.proc.pid}:").first()
        return record.pid if record else None

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started
            self.proc.wait()


def leases_of(cluster_pid: int) -> dict[str, str]:
    """The attempts the cluster's workers hold leases on -> their worker ids."""
    from runtime.models import Lease

    held = {}
    for attempt_id, worker_id in Lease.objects.values_list("attempt_id", "worker_id"):
        try:
            if os.getpgid(int(worker_id.rsplit(":", 1)[1])) == cluster_pid:
                held[attempt_id] = worker_id
        except (ValueError, ProcessLookupError):
            continue
    return held


def resumed(held: dict[str, str]) -> bool:
    from runtime.models import Attempt, Lease

    for attempt_id, dead in held.items():
        status = Attempt.objects.filter(pk=attempt_id).values_list("status", flat=True)
        if status.first() == Attempt.Status.COMPLETED:
            continue
        owner = Lease.objects.filter(attempt_id=attempt_id).values_list(
            "worker_id", flat=True
        )
        if owner.first() in (None, dead):
            return False
    return True


def completed_between(start: datetime, end: datetime) -> float:
    from runtime.models import Attempt

    done = Attempt.objects.filter(
        status=Attempt.Status.COMPLETED, finished_at__gte=start, finished_at__lt=end
    ).count()
    return done / (end - start).total_seconds()


class Stream:
    """Submits jobs at ``RATE`` per second from a thread until stopped."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from django.db import connection

        from runtime.services.audit import Actor
        from runtime.services.jobs import job_create

        actor = Actor.system()
        next_at = time.monotonic()
        while not self.stopping.is_set():
            job_create(graph=GRAPH, input={"n": 0}, actor=actor)
            next_at += 1 / RATE
            time.sleep(max(0.0, next_at - time.monotonic()))
        connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def one_kill(doomed: Supervisor, ttl: int) -> dict[str, float]:
    from django.utils import timezone

    time.sleep(WINDOW)  # the window before
    deadline = time.monotonic() + 30
    while not (held := leases_of(doomed.cluster_pid() or -1)):
        if time.monotonic() > deadline:
            raise RuntimeError("the doomed cluster ran nothing")
        time.sleep(0.01)
    killed_wall, killed = timezone.now(), time.monotonic()
    os.killpg(doomed.cluster_pid(), signal.SIGKILL)
    while not resumed(held):
        if time.monotonic() - killed > 10 * ttl + 60:
            raise RuntimeError("the killed runs did not resume")
        time.sleep(0.05)
    latency = time.monotonic() - killed
    resumed_wall = timezone.now()
    time.sleep(WINDOW)
    window = timedelta(seconds=WINDOW)
    return {
        "latency_s": latency,
        "runs_killed": len(held),
        "before_jobs_s": completed_between(killed_wall - window, killed_wall),
        "after_jobs_s": completed_between(resumed_wall, resumed_wall + window),
    }


def role_measure(args: argparse.Namespace) -> None:
    django_setup()
    from django.core.management import call_command

    from runtime.models import MetricCounter

    call_command("migrate", verbosity=0)

    log = Path(args.log)
    doomed, other = Supervisor(log), Supervisor(log)
    stream = Stream()
    time.sleep(WINDOW)  # both clusters up, the stream steady
    try:
        kills = [one_kill(doomed, args.ttl) for _ in range(args.kills)]
    finally:
        stream.stop()
        for supervisor in (doomed, other):
            supervisor.stop()
    series = MetricCounter.objects.filter(name__startswith="recovery_latency_ms:")
    total = sum(m.value for m in series if m.name.endswith(":sum"))
    count = sum(m.value for m in series if m.name.endswith(":bucket"))
    emit({"kills": kills, "metric_mean_ms": total / count if count else None})


# -- orchestration ---------------------------------------------------------------------


def measure(ttl: int, kills: int, workdir: Path) -> dict[str, Any]:
    import psycopg

    name = f"oris_bench_recovery_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "oris_site.settings",
        "DATABASE_URL": f"{PG_SERVER}/{name}",
        "ORIS_SECRET_KEY": "bench-not-secret",
        "ORIS_WORKERS": "2",
        "ORIS_GRAPHS": f"{GRAPH}={GRAPH_PATH}",
        "ORIS_LOG_LEVEL": "ERROR",
        "ORIS_LEASE_TTL_SECONDS": str(ttl),
        "ORIS_HEARTBEAT_INTERVAL_SECONDS": str(max(1, ttl // 3)),
    }
    try:
        args = ["--role", "measure", "--ttl", str(ttl), "--kills", str(kills)]
        args += ["--log", str(workdir / f"ttl{ttl}.log")]
        timeout = kills * (2 * WINDOW + 12 * ttl + 60) + 120
        return run_role(args, env, timeout, script=__file__)
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(results: dict[int, dict[str, Any]], kills: int) -> str:
    header = [
        "lease TTL s",
        "recovery p50 s",
        "recovery max s",
        "target p50 / max s",
        "metric mean s",
        "jobs/s before",
        "jobs/s after",
        "runs killed",
    ]
    rows = []
    for ttl, result in sorted(results.items()):
        latencies = [k["latency_s"] for k in result["kills"]]
        mean_ms = result["metric_mean_ms"]
        rows.append(
            [
                str(ttl),
                f"{median(latencies):.1f}",
                f"{max(latencies):.1f}",
                f"{ttl + 5} / {2 * ttl}",
                "-" if mean_ms is None else f"{mean_ms / 1000:.1f}",
                f"{median([k['before_jobs_s'] for k in result['kills']]):.1f}",
                f"{median([k['after_jobs_s'] for k in result['kills']]):.1f}",
                str(sum(k["runs_killed"] for k in result["kills"])),
            ]
        )
    return (
        f"Recovery after a cluster SIGKILL: 2 supervised clusters x 2 workers, "
        f"PostgreSQL, 3-node jobs submitted at {RATE:g}/s, {kills} kills per TTL; "
        f"throughput over {WINDOW:g} s before the kill and after recovery.\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one TTL, 2 kills")
    parser.add_argument("--ttls", default="5,10", help="lease TTLs in seconds")
    parser.add_argument("--kills", type=int, default=3, help="kills per TTL")
    parser.add_argument("--role", choices=["measure"], help=argparse.SUPPRESS)
    parser.add_argument("--ttl", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=os.devnull, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(argv)
    if args.role == "measure":
        role_measure(args)
        return 0
    ttls = [5] if args.quick else [int(t) for t in args.ttls.split(",")]
    kills = 2 if args.quick else args.kills
    ensure_postgres()
    workdir = Path(f"/tmp/oris_bench_recovery_{uuid.uuid4().hex[:6]}")
    workdir.mkdir()
    results = {ttl: measure(ttl, kills, workdir) for ttl in ttls}
    print(report(results, kills))
    if args.json:
        Path(args.json).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
