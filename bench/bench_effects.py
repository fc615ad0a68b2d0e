"""Benchmark the effect ledger: what recording costs, and what recorded replay saves.

Run: ``.venv/bin/python bench/bench_effects.py [--quick] [--runs N]``.

1. **Cost of recording, in CPU time** (the default; the machine is shared, so
   wall time says little). A batch of agent jobs with one model call and one
   tool call per step (``create_agent``; its model is a scripted OpenAI-protocol
   server on localhost, in its own process), each attempt executed in process
   as a worker executes it (``attempt_execute``), with ``ORIS_RECORD_EFFECTS``
   on and off; CPU per job = this process's ``process_time`` plus, on
   PostgreSQL, the CPU of the database backends serving it (``/proc``). Runs
   alternate on/off on fresh databases, SQLite and PostgreSQL.
   ``--only e2e`` measures instead the end-to-end rate in jobs/s, as
   ``bench_runtime`` does (a real ``manage.py qcluster`` with 2 workers; wall
   clock, so only meaningful on a quiet machine).
2. **Recorded replay vs live.** A 20-step agent run (21 model calls, 20 tool
   calls): executed live by a worker in process, then replayed from its recorded
   effects (``services.replays.job_replay_recorded``); the ratio of the medians
   of CPU time (process plus database backends; the model server's own CPU is
   not counted for either), and of wall time for reference.

PostgreSQL databases are ``oris_effects_bench_*`` on ``ORIS_BENCH_PG`` (created and
dropped here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_runtime import (
    PY,
    ROOT,
    Databases,
    cpu_now,
    django_setup,
    emit,
    ensure_postgres,
    oris_done,
    qcluster,
    run_role,
    wait_for,
)

GRAPH = "bench_agent"
GRAPH_PATH = "bench.bench_effects:build_agent"


def charge(amount: int) -> str:
    """Charge the customer.

    Args:
        amount: How much.
    """
    return f"charged {amount}"


def build_agent() -> Any:
    """The benchmarked agent: the scripted model at ``ORIS_TEST_LLM_URL``, one tool."""
    from agents import ChatOpenAI, create_agent, tool

    model = ChatOpenAI(
        "bench-gpt",
        base_url=os.environ["ORIS_TEST_LLM_URL"],
        api_key="bench",
        max_retries=0,
    )
    return create_agent(
        model, [tool(charge)], system_prompt="You charge people.", max_iterations=25
    )


def agent_input(steps: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"pay steps={steps}"}]}


# -- roles (subprocesses) -------------------------------------------------------------


def role_server() -> None:
    from tests.agents.agent_wire import AgentWire

    server = AgentWire()
    print(f"URL {server.url}", flush=True)
    while True:
        time.sleep(3600)


def submit(batch: str, count: int, steps: int) -> None:
    from django.db import transaction

    from runtime.services.audit import Actor
    from runtime.services.jobs import job_create

    with transaction.atomic():
        for i in range(count):
            job_create(
                graph=GRAPH,
                input=agent_input(steps),
                actor=Actor.system(),
                thread_id=f"{batch}-{i:06d}",
            )


def role_e2e(args: argparse.Namespace) -> None:
    django_setup()
    with qcluster(Path(args.log)):
        warm = f"warm-{uuid.uuid4().hex[:6]}"
        submit(warm, 4, 1)
        wait_for(oris_done(warm, 4), timeout=120, poll=0.05)
        batch = f"b-{uuid.uuid4().hex[:6]}"
        start = time.perf_counter()
        submit(batch, args.n, 1)
        if not wait_for(oris_done(batch, args.n), timeout=300, poll=0.01):
            raise RuntimeError("the batch did not finish")
        rate = args.n / (time.perf_counter() - start)
    from runtime.models import Effect

    emit({"rate": rate, "effects": Effect.objects.count()})


def role_cpu(args: argparse.Namespace) -> None:
    """CPU per job of ``args.n`` one-step agent jobs executed in process."""
    django_setup()
    from runtime.models import Effect, Job
    from runtime.services.audit import Actor
    from runtime.services.jobs import job_create
    from runtime.worker.execute import attempt_execute

    def batch(count: int) -> list[Job]:
        tag = uuid.uuid4().hex[:6]
        return [
            job_create(
                graph=GRAPH,
                input=agent_input(1),
                actor=Actor.system(),
                thread_id=f"cpu-{tag}-{i:05d}",
            )
            for i in range(count)
        ]

    def execute(jobs: list[Job]) -> None:
        for job in jobs:
            attempt_execute(attempt_id=job.attempts.get().pk, worker_id="bench")

    execute(batch(3))  # warm-up: imports, connections, caches
    jobs = batch(args.n)
    (proc0, db0), wall0 = cpu_now(), time.perf_counter()
    execute(jobs)
    (proc1, db1), wall1 = cpu_now(), time.perf_counter()
    done = Job.objects.filter(pk__in=[j.pk for j in jobs], status="completed")
    assert done.count() == args.n
    emit(
        {
            "cpu_ms_per_job": (proc1 - proc0 + db1 - db0) * 1000 / args.n,
            "process_ms_per_job": (proc1 - proc0) * 1000 / args.n,
            "db_ms_per_job": (db1 - db0) * 1000 / args.n,
            "wall_ms_per_job": (wall1 - wall0) * 1000 / args.n,
            "effects": Effect.objects.count(),
        }
    )


def role_replay(args: argparse.Namespace) -> None:
    django_setup()
    from runtime.models import Job
    from runtime.services.audit import Actor
    from runtime.services.jobs import job_create
    from runtime.services.replays import job_replay_recorded
    from runtime.worker.execute import attempt_execute

    def cpu() -> float:
        proc, db = cpu_now()
        return proc + db

    live, replayed, live_wall, replay_wall = [], [], [], []
    for i in range(args.runs + 1):  # the first of each is a warm-up
        job = job_create(
            graph=GRAPH,
            input=agent_input(args.steps),
            actor=Actor.system(),
            thread_id=f"replay-{uuid.uuid4().hex[:8]}",
        )
        began, wall = cpu(), time.perf_counter()
        attempt_execute(attempt_id=job.attempts.get().pk, worker_id="bench")
        took, took_wall = cpu() - began, time.perf_counter() - wall
        job = Job.objects.get(pk=job.pk)
        assert job.status == "completed", job.error
        began, wall = cpu(), time.perf_counter()
        report = job_replay_recorded(job=job)
        again, again_wall = cpu() - began, time.perf_counter() - wall
        assert report.status == "reproduced", report.divergence
        if i:
            live.append(took)
            replayed.append(again)
            live_wall.append(took_wall)
            replay_wall.append(again_wall)
    emit(
        {
            "live_cpu_s": statistics.median(live),
            "replay_cpu_s": statistics.median(replayed),
            "live_s": statistics.median(live_wall),
            "replay_s": statistics.median(replay_wall),
            "effects": report.effects_recorded,
        }
    )


# -- orchestration --------------------------------------------------------------------


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [PY, str(Path(__file__).resolve()), "--role", "server"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("URL "):
        raise RuntimeError("the model server did not start")
    return proc, line.split()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--role", choices=["server", "e2e", "cpu", "replay"])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument(
        "--only", choices=["cpu", "e2e", "replay"], help="one measurement"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args(argv)
    if args.role == "server":
        role_server()
    if args.role == "e2e":
        role_e2e(args)
        return 0
    if args.role == "cpu":
        role_cpu(args)
        return 0
    if args.role == "replay":
        role_replay(args)
        return 0
    runs = args.runs or (2 if args.quick else 4)
    n = 30 if args.quick else args.n
    recording = "e2e" if args.only == "e2e" else "cpu"
    backends = [args.backend] if args.backend else ["sqlite", "postgres"]
    ensure_postgres()
    workdir = Path(tempfile.mkdtemp(prefix="oris_effects_bench_", dir="/tmp"))
    prefix = os.environ.get("ORIS_BENCH_DB_PREFIX", "oris_effects_bench")
    dbs = Databases(workdir, prefix=prefix)
    server, url = start_server(dbs.base_env())
    results: dict[str, Any] = {"e2e": {}, "cpu": {}, "replay": {}}
    try:
        dbs.prepare()
        for backend in backends:
            rates: dict[str, list[float]] = {"on": [], "off": []}
            for run in range(runs if args.only != "replay" else 0):
                order = ["on", "off"] if run % 2 == 0 else ["off", "on"]
                for record in order:
                    env = dbs.env(backend, dbs.fresh(backend))
                    env["ORIS_GRAPHS"] = f"{GRAPH}={GRAPH_PATH}"
                    env["ORIS_TEST_LLM_URL"] = url
                    env["ORIS_RECORD_EFFECTS"] = "true" if record == "on" else "false"
                    args_ = ["--role", recording, "--n", str(n)]
                    found = run_role(args_, env, timeout=900, script=__file__)
                    if recording == "e2e":
                        print(f"  e2e {backend} {record}: {found['rate']:.1f} jobs/s")
                        rates[record].append(found["rate"])
                    else:
                        print(
                            f"  cpu {backend} {record}: "
                            f"{found['cpu_ms_per_job']:.2f} ms/job "
                            f"(process {found['process_ms_per_job']:.2f}, "
                            f"db {found['db_ms_per_job']:.2f})"
                        )
                        rates[record].append(found["cpu_ms_per_job"])
            if args.only != "replay":
                results[recording][backend] = rates
            if args.only in ("e2e", "cpu"):
                continue
            env = dbs.env(backend, dbs.fresh(backend))
            env["ORIS_GRAPHS"] = f"{GRAPH}={GRAPH_PATH}"
            env["ORIS_TEST_LLM_URL"] = url
            args_ = ["--role", "replay", "--runs", str(runs + 1), "--steps", "20"]
            results["replay"][backend] = run_role(
                args_, env, timeout=900, script=__file__
            )
    finally:
        server.kill()
        server.wait()
        dbs.drop_all()
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict[str, Any]) -> str:
    lines = [
        "| backend | recording off | recording on | cost |",
        "|---|---|---|---|",
    ]
    for backend, rates in results["e2e"].items():
        off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
        lines.append(
            f"| {backend} | {off:.1f} jobs/s | {on:.1f} jobs/s | "
            f"{(1 - on / off) * 100:+.1f} % |"
        )
    for backend, rates in results["cpu"].items():
        off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
        lines.append(
            f"| {backend} | {off:.2f} CPU ms/job | {on:.2f} CPU ms/job | "
            f"{(on / off - 1) * 100:+.1f} % |"
        )
    lines += [
        "",
        "| backend | live 20-step run (CPU s) | recorded replay (CPU s) | speed-up "
        "(CPU) | speed-up (wall) |",
        "|---|---|---|---|---|",
    ]
    for backend, found in results["replay"].items():
        ratio = found["live_cpu_s"] / found["replay_cpu_s"]
        wall = found["live_s"] / found["replay_s"]
        lines.append(
            f"| {backend} | {found['live_cpu_s']:.3f} | {found['replay_cpu_s']:.3f} "
            f"| {ratio:.1f}x | {wall:.1f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
