"""CPU and transactions per job on the dispatch path, load-insensitively.

Run: ``.venv/bin/python bench/bench_dispatch.py [--n 200] [--rate 25]``.

A real ``manage.py qcluster`` (2 workers) on a fresh PostgreSQL database runs 3-node
graph jobs submitted with ``job_create``: paced at ``--rate`` jobs/s (each job rung
on its own, as in the latency phase of ``bench_runtime.py``), then ``--n`` at once
in one transaction (a backlog). For each phase: CPU milliseconds per job of the
submitter (this process), of the cluster's processes (its whole session, read
from ``/proc``; also each of its processes, the busiest first: the q2 workers)
and of the database's backends (``/proc/<pid>/stat`` of the pids
in ``pg_stat_activity``), transactions committed per job
(``pg_stat_database.xact_commit``) and submit -> start (``created_at`` ->
``started_at``, the database's clock). CPU time does not depend on how busy the
machine is, wall time does. The database is named ``ORIS_BENCH_DB_PREFIX``
(default ``oris_bench``) ``_dispatch_<tag>`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_runtime import (  # noqa: E402
    GRAPH,
    GRAPH_PATH,
    PG_SERVER,
    percentile,
    stop_cluster,
    wait_for,
)

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> tuple[int, float]:
    """``(session id, CPU seconds)`` of a process, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[3]), (int(fields[11]) + int(fields[12])) / TICK


def session_cpu(session: int) -> dict[int, float]:
    """CPU seconds of each live process of ``session``, by pid."""
    cpus = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                sid, cpu = proc_cpu(int(entry))
            except (OSError, IndexError):
                continue
            if sid == session:
                cpus[int(entry)] = cpu
    return cpus


def backends() -> tuple[float, int]:
    """CPU seconds of this database's backends, and its commits so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
        pids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        commits = cursor.fetchone()[0]
    cpu = 0.0
    for pid in pids:
        try:
            cpu += proc_cpu(pid)[1]
        except OSError:
            continue
    return cpu, commits


def snapshot(cluster: int) -> tuple[float, dict[int, float], float, int]:
    db_cpu, commits = backends()
    return time.process_time(), session_cpu(cluster), db_cpu, commits


def submit(batch: str, n: int, pace: float) -> None:
    from django.db import transaction

    from runtime.services.audit import Actor
    from runtime.services.jobs import job_create

    def one(i: int) -> None:
        job_create(
            graph=GRAPH, input={"n": i}, actor=Actor.system(), thread_id=f"{batch}-{i}"
        )

    if pace:
        for i in range(n):
            one(i)
            time.sleep(pace)
        return
    with transaction.atomic():
        for i in range(n):
            one(i)


def phase(cluster: int, n: int, pace: float) -> dict[str, Any]:
    from runtime.models import Attempt, Job

    batch = uuid.uuid4().hex[:8]
    time.sleep(2.0)  # quiet: the warm-up's tail is not counted
    before = snapshot(cluster)
    submit(batch, n, pace)
    jobs = Job.objects.filter(thread_id__startswith=f"{batch}-")
    assert wait_for(
        lambda: jobs.filter(status="completed").count() == n, timeout=300, poll=0.05
    )
    after = snapshot(cluster)
    rows = Attempt.objects.filter(job__in=jobs).values_list(
        "job__created_at", "started_at"
    )
    lat = [(s - c).total_seconds() * 1e3 for c, s in rows]
    # Per cluster process (the busiest first: the q2 workers): its share.
    each = sorted(
        ((cpu - before[1].get(pid, 0.0)) * 1e3 / n for pid, cpu in after[1].items()),
        reverse=True,
    )
    cpu = [(after[0] - before[0]) * 1e3 / n, sum(each)]
    cpu.append((after[2] - before[2]) * 1e3 / n)
    return {
        "submitter_ms": cpu[0],
        "cluster_ms": cpu[1],
        "cluster_each_ms": [round(ms, 2) for ms in each if ms > 0],
        "postgres_ms": cpu[2],
        "total_ms": sum(cpu),
        "commits": (after[3] - before[3]) / n,
        "start_p50_ms": percentile(lat, 0.5),
        "start_p95_ms": percentile(lat, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rate", type=float, default=25.0)
    args = parser.parse_args()
    import psycopg

    prefix = os.environ.get("ORIS_BENCH_DB_PREFIX", "oris_bench")
    name = f"{prefix}_dispatch_{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "oris_site.settings",
        "ORIS_SECRET_KEY": "bench-not-secret",
        "ORIS_WORKERS": "2",
        "ORIS_GRAPHS": f"{GRAPH}={GRAPH_PATH}",
        "ORIS_LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"{PG_SERVER}/{name}",
    }
    server = f"{PG_SERVER}/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    proc = None
    try:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        os.environ.update(env)
        import django

        django.setup()
        proc = subprocess.Popen(
            [*manage, "qcluster"], env=env, cwd=ROOT, start_new_session=True
        )
        phase(proc.pid, 10, 0.05)  # warm-up: workers import and connect
        result = {
            "paced": phase(proc.pid, args.n, 1.0 / args.rate),
            "backlog": phase(proc.pid, args.n, 0.0),
        }
        print(json.dumps(result, indent=1))
    finally:
        if proc is not None:
            stop_cluster(proc)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
