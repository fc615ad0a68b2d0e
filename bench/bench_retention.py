"""Benchmark retention: pruning 100k checkpoints beside a live workload.

Run: ``.venv/bin/python bench/bench_retention.py [--quick] [--backend postgres]``.

A fresh database gets ``--threads`` finished threads (default 1000) of
``--steps`` checkpoints each (default 100: 100k checkpoints), copied from one
real run of a graph that appends to a list every step, so the rows are the
engine's own format (a delta chain with periodic full copies). Then a
``keep_last=1, compact=True`` policy is applied by ``retention.prune()`` while a
second process runs 4-step jobs one after another (claim, four checkpoint
commits, completion) and records each job's wall time.

- **Rate**: checkpoints deleted per second of the sweep (target >= 10k rows/s),
  and all rows (checkpoints, blobs, writes) per second; per wall second and per
  CPU second of the sweep (this process's ``process_time`` plus, on PostgreSQL,
  its database backend's CPU from ``/proc``), the latter being what a loaded
  machine does not distort.
- **No blocking**: the workload's job latency p50 / p99 / max in the seconds
  before the sweep and during it.

PostgreSQL is the local server at ``ORIS_BENCH_PG`` (default
``postgres://postgres@127.0.0.1:5432``), database ``oris_retention_bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_SERVER = os.environ.get("ORIS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("ORIS_BENCH_DB", "oris_retention_bench")
GRAPHS = "grower=tests.runtime.sample_graphs:build_grower"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
    import django

    django.setup()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- role seed: one real thread, copied -----------------------------------------------


def seed(threads: int, steps: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from runtime.checkpointer import DjangoSaver
    from runtime.models import Checkpoint, CheckpointBlob, CheckpointWrite, Job
    from tests.runtime.sample_graphs import build_grower

    graph = build_grower().compile(checkpointer=DjangoSaver())
    config = {"configurable": {"thread_id": "tpl"}, "recursion_limit": steps + 10}
    graph.invoke({"value": steps - 2}, config)
    per_thread = Checkpoint.objects.filter(thread_id="tpl").count()
    now = timezone.now()
    tables = {
        m._meta.db_table: cols
        for m, cols in (
            (
                Checkpoint,
                "checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, "
                "metadata, created_at",
            ),
            (CheckpointBlob, "checkpoint_ns, channel, version, type, value"),
            (
                CheckpointWrite,
                "checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
                "type, value",
            ),
        )
    }
    started = time.perf_counter()
    for first in range(0, threads, 100):
        names = [f"old-{i}" for i in range(first, min(threads, first + 100))]
        with transaction.atomic(), connection.cursor() as cursor:
            for table, cols in tables.items():
                for name in names:
                    cursor.execute(
                        f"INSERT INTO {table} (thread_id, {cols}) "
                        f"SELECT %s, {cols} FROM {table} WHERE thread_id = 'tpl'",
                        [name],
                    )
            Job.objects.bulk_create(
                Job(
                    thread_id=name,
                    graph="grower",
                    graph_hash="x",
                    input={},
                    status=Job.Status.COMPLETED,
                    created_at=now,
                    updated_at=now,
                    finished_at=now,
                )
                for name in names
            )
    Checkpoint.objects.filter(thread_id="tpl").delete()
    CheckpointBlob.objects.filter(thread_id="tpl").delete()
    return {
        "checkpoints": Checkpoint.objects.count(),
        "blobs": CheckpointBlob.objects.count(),
        "per_thread": per_thread,
        "seed_seconds": round(time.perf_counter() - started, 1),
    }


# -- role load: jobs one after another -----------------------------------------------


def load(stop_file: Path, out: Path) -> None:
    from runtime.services.audit import Actor
    from runtime.services.jobs import job_create
    from runtime.worker.drain import worker_drain

    samples: list[tuple[float, float]] = []  # (end time, seconds)
    while not stop_file.exists():
        began = time.perf_counter()
        job_create(graph="grower", input={"value": 4}, actor=Actor.system())
        worker_drain(worker_id="load")
        samples.append((time.time(), time.perf_counter() - began))
        (stop_file.parent / "ready").touch()
    out.write_text(json.dumps(samples))


# -- role measure ------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seeded = seed(args.threads, args.steps)
    from runtime.models import RetentionPolicy
    from runtime.services import retention

    RetentionPolicy.objects.create(keep_last=1, compact=True)
    work = Path(tempfile.mkdtemp(prefix="oris-retention-bench-"))
    stop, out = work / "stop", work / "load.json"
    worker = subprocess.Popen(
        [sys.executable, __file__, "--role", "load", "--work", str(work)],
        env=os.environ.copy(),
    )
    while not (work / "ready").exists():  # the workload runs before the sweep
        time.sleep(0.1)
    time.sleep(args.baseline)
    from bench.bench_runtime import db_backend_cpu

    cpu0, db0 = time.process_time(), db_backend_cpu(own=True)
    began = time.time()
    report = retention.prune()
    ended = time.time()
    cpu = time.process_time() - cpu0 + db_backend_cpu(own=True) - db0
    time.sleep(1.0)
    stop.touch()
    worker.wait(timeout=120)
    samples = json.loads(out.read_text())
    before = [s for t, s in samples if t < began]
    during = [s for t, s in samples if began <= t <= ended + 0.5]
    return {
        "backend": args.backend,
        **seeded,
        "deleted_checkpoints": report.checkpoints,
        "deleted_rows": report.checkpoints + report.blobs + report.writes,
        "compacted": report.chains_compacted,
        "prune_seconds": round(report.seconds, 2),
        "checkpoints_per_second": round(report.checkpoints / report.seconds),
        "rows_per_second": round(
            (report.checkpoints + report.blobs + report.writes) / report.seconds
        ),
        "prune_cpu_seconds": round(cpu, 2),
        "checkpoints_per_cpu_second": round(report.checkpoints / cpu),
        "rows_per_cpu_second": round(
            (report.checkpoints + report.blobs + report.writes) / cpu
        ),
        "load_before_ms": ms(before),
        "load_during_ms": ms(during),
    }


def ms(values: list[float]) -> dict[str, Any]:
    return {
        "jobs": len(values),
        "p50": round(percentile(values, 0.5) * 1000, 1),
        "p99": round(percentile(values, 0.99) * 1000, 1),
        "max": round(max(values, default=float("nan")) * 1000, 1),
    }


def pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="main", choices=["main", "measure", "load"])
    parser.add_argument("--backend", default="", choices=["", "postgres", "sqlite"])
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--baseline", type=float, default=4.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", default="")
    args = parser.parse_args(argv)
    if args.role != "main":
        django_setup()
        if args.role == "load":
            work = Path(args.work)
            load(work / "stop", work / "load.json")
            return 0
        print(json.dumps(measure(args)))
        return 0
    if args.quick:
        args.threads = 100
    results = []
    for backend in [args.backend] if args.backend else ["postgres", "sqlite"]:
        env = {**os.environ, "ORIS_GRAPHS": GRAPHS, "ORIS_METRICS_FLUSH_MS": "0"}
        env.pop("DATABASE_URL", None)
        tmp = tempfile.mkdtemp(prefix="oris-retention-")
        if backend == "postgres":
            pg(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            pg(f'CREATE DATABASE "{DB_NAME}"')
            env["DATABASE_URL"] = f"{PG_SERVER}/{DB_NAME}"
        else:
            env["ORIS_SQLITE_DB"] = str(Path(tmp) / "bench.db")
        command = [sys.executable, __file__, "--role", "measure"]
        command += ["--backend", backend, "--threads", str(args.threads)]
        command += ["--steps", str(args.steps), "--baseline", str(args.baseline)]
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=3600
            )
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return 1
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            if backend == "postgres":
                pg(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    for result in results:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
