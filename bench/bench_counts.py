"""Per-operation costs that do not depend on the machine's load: round trips to the
database (statements, ``BEGIN``/``COMMIT``, Django's connection health checks),
function calls and CPU time per operation and, with ``--callgrind``, client-side
instructions counted by valgrind.

Operations, each as production runs it (the connection's state included):

- ``api_run``: ``POST /v1/jobs/run`` with an admin API key through Django's whole
  stack, handed to its WSGI handler as a WSGI server hands it (bench_api's
  ``WsgiClient``: ``request_started``, so the connection's health check, and
  ``request_finished`` as under a server);
- ``api_run_client``: the same through ``rest_framework.test.APIClient``, as
  ``api_run`` was measured until 2026-12-03 (the test client's own work, such as
  its template signals and the request kept on the response, included; the
  health check called before it, since it skips ``request_started``);
- ``job_create``: a submission outside a transaction;
- ``delivery``: one django-q2 delivery of a queue's doorbell as a q2 worker makes
  it (``close_old_connections`` first, then ``tasks.run_queue``) running one
  queued 3-node job;
- ``pusher_claim``: the listening broker's claim of one task after a wake-up;
- ``wake``: what an idle q2 worker does when a ring's notification wakes it
  (``runtime/worker/serve.py``: ``close_old_connections``, then a drain), running
  one queued 3-node job: on PostgreSQL the path of a run instead of
  ``pusher_claim`` and ``delivery`` (and the q2 task's acknowledgement).

Reproduce (PostgreSQL, a database of its own, created and dropped)::

    .venv/bin/python bench/bench_counts.py                 # round trips
    .venv/bin/python bench/bench_counts.py --callgrind     # + instructions (minutes)

Instructions are the difference of two runs of different lengths (``N`` and
``4N`` operations) divided by ``3N``, so start-up cancels out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("ORIS_BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from bench.bench_api import PG_SERVER, Bench, pg_execute  # noqa: E402

PY = sys.executable
PG_DB = os.environ.get("ORIS_BENCH_DB_PREFIX", "oris_bench") + "_counts"
OPERATIONS = (
    "api_run",
    "api_run_client",
    "job_create",
    "delivery",
    "pusher_claim",
    "wake",
)


class Ops(Bench):
    """One process's operations, set up once (bench_api's admin-keyed client)."""

    def __init__(self) -> None:
        super().__init__()
        self.i = 0

    def thread(self) -> str:
        self.i += 1
        return f"bench-{os.getpid()}-{self.i}"

    def prepare(self, op: str) -> None:
        """What an operation needs beforehand (not counted)."""
        from runtime.services.dispatch import dispatch_ring

        if op in ("delivery", "wake"):
            from django.db import transaction

            from runtime.services.jobs import job_create
            from runtime.worker.drain import worker_drain

            while worker_drain(limit=100):  # the other operations' jobs
                pass
            job_create(
                graph="bench-three",
                input={"n": 0},
                actor=self.actor,
                thread_id=self.thread(),
            )
            if op == "delivery":
                with transaction.atomic():
                    dispatch_ring(queue="default")
        if op == "pusher_claim":
            from django_q.models import OrmQ
            from django_q.tasks import async_task

            OrmQ.objects.all().delete()
            async_task("math.floor", 1.5)

    def run(self, op: str) -> None:
        if op == "api_run":
            body = {"thread_id": self.thread(), "input": "hello"}
            status, content = self.wsgi.post("/v1/jobs/run", body)
            assert status == 200, content
        elif op == "api_run_client":
            from django.db import close_old_connections

            # as a server's request_started does (Django's test client skips it)
            close_old_connections()
            body = {"thread_id": self.thread(), "input": "hello"}
            response = self.client.post("/v1/jobs/run", body, format="json")
            assert response.status_code == 200, response.content
        elif op == "job_create":
            from runtime.services.jobs import job_create

            job_create(
                graph="echo", input="hello", actor=self.actor, thread_id=self.thread()
            )
        elif op == "delivery":
            from django.db import close_old_connections

            from runtime import tasks

            close_old_connections()  # as django-q2's worker, before each task
            assert tasks.run_queue("default") == 1
        elif op == "wake":
            from django.db import close_old_connections

            from runtime.worker.drain import worker_drain

            close_old_connections()  # as the worker does before it drains
            assert worker_drain(reap=True) == 1
        elif op == "pusher_claim":
            from django_q.brokers import get_broker

            broker = get_broker()
            broker._due = True
            assert broker.dequeue(), "no task claimed"


def count(ops: Ops, op: str) -> dict[str, Any]:
    """Round trips of one operation on the default connection."""
    from django.db import connection

    seen: list[str] = []
    commits = 0
    health = 0

    def wrapper(execute: Any, sql: str, *args: Any) -> Any:
        seen.append(sql)
        return execute(sql, *args)

    real_commit, real_usable = connection.commit, connection.is_usable

    def counting_commit() -> None:
        nonlocal commits
        commits += 1
        real_commit()

    def counting_usable() -> bool:
        nonlocal health
        health += 1
        return real_usable()

    ops.prepare(op)
    connection.commit = counting_commit  # type: ignore[method-assign]
    connection.is_usable = counting_usable  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(wrapper):
            ops.run(op)
    finally:
        del connection.commit
        del connection.is_usable
    begins = 2 * commits  # psycopg sends BEGIN and COMMIT as round trips
    kinds = Counter(s.split(None, 1)[0].upper() for s in seen)
    return {
        "statements": len(seen),
        "commits": commits,
        "health_checks": health,
        "round_trips": len(seen) + begins + health,
        "kinds": dict(kinds),
        "sql": [s[:100] for s in seen],
    }


def calls_and_cpu(ops: Ops, op: str, n: int) -> tuple[float, float]:
    """Function calls (Python and C, this thread) and CPU ms per operation, the
    mean of ``n`` each (only the operation itself, not its preparation)."""
    calls = 0

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    for _ in range(n):
        ops.prepare(op)
        sys.setprofile(hook)
        try:
            ops.run(op)
        finally:
            sys.setprofile(None)
    cpu = 0.0
    for _ in range(n):
        ops.prepare(op)
        started = time.process_time()
        ops.run(op)
        cpu += time.process_time() - started
    return calls / n, cpu / n * 1000


def role_counts(args: argparse.Namespace) -> None:
    ops = setup()
    out = {}
    for op in args.ops:
        ops.prepare(op)
        ops.run(op)  # warm: first-use costs (a doorbell row, caches)
        out[op] = count(ops, op)
        out[op]["calls"], out[op]["cpu_ms"] = calls_and_cpu(ops, op, args.n)
    print("RESULT " + json.dumps(out))


def role_loop(args: argparse.Namespace) -> None:
    ops = setup()
    for _ in range(3):
        ops.prepare(args.op)
        ops.run(args.op)
    for _ in range(args.n):
        ops.prepare(args.op)
        ops.run(args.op)


def setup() -> Ops:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from runtime.services import dispatch

    # A run's ring reuses the signed q2 task it did not use for a second at most;
    # under valgrind, many times slower, a request can outlast that, and each one
    # would sign anew: the count would follow the machine's speed and load. A busy
    # queue, what these counts stand for, reuses it.
    dispatch.PACKAGE_REUSE_SECONDS = float("inf")
    return Ops()


def env_for_db() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="oris_site.settings",
        ORIS_SECRET_KEY="bench-not-secret",
        ORIS_LOG_LEVEL="WARNING",
        ORIS_API_RATE_LIMIT="100000000/minute",
        ORIS_ALLOWED_HOSTS="testserver",
        ORIS_GRAPHS="bench-three=bench.bench_runtime:build_three_nodes",
        DATABASE_URL=f"{PG_SERVER}/{PG_DB}",
    )
    return env


Env = dict[str, str]


def callgrind_ir(env: Env, script: str, *args: str, root: Path = ROOT) -> int:
    """Instructions valgrind counts in ``script ARGS`` (a child on ``env``, in
    the tree ``root``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        cmd += [PY, script, *args]
        proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            raise RuntimeError(f"callgrind {' '.join(args)} failed")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def child_result(env: Env, script: str, *args: str, root: Path = ROOT) -> Any:
    """Migrates ``env``'s database with the tree ``root``, runs ``script ARGS``
    there and answers the JSON of its last ``RESULT`` line."""
    migrate = [PY, str(root / "manage.py"), "migrate", "--noinput", "-v0"]
    subprocess.run(migrate, env=env, cwd=root, check=True)
    proc = subprocess.run(
        [PY, script, *args],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--op", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=10, help="callgrind: N and 4N ops")
    parser.add_argument("--ops", nargs="*", default=list(OPERATIONS))
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    parser.add_argument("--sql", action="store_true", help="print the statements")
    args = parser.parse_args()
    roles = {"counts": role_counts, "loop": role_loop}
    if args.role in roles:
        roles[args.role](args)
        return 0
    env = env_for_db()
    pg_execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    pg_execute(f'CREATE DATABASE "{PG_DB}"')
    try:
        role = ("--role", "counts", "--n", str(args.n), "--ops", *args.ops)
        counts = child_result(env, __file__, *role)
        print(
            "| operation (PostgreSQL) | round trips | statements | commits "
            "| health checks | calls | CPU ms | instructions |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for op in args.ops:
            c = counts[op]
            ir = ""
            if args.callgrind:
                n = args.n
                loop = (__file__, "--role", "loop", "--op", op, "--n")
                short, long = (callgrind_ir(env, *loop, str(k)) for k in (n, 4 * n))
                ir = f"{(long - short) / (3 * n) / 1e6:.2f} M"
            print(
                f"| {op} | {c['round_trips']} | {c['statements']} | {c['commits']} "
                f"| {c['health_checks']} | {c['calls']:.0f} | {c['cpu_ms']:.2f} "
                f"| {ir} |",
                flush=True,
            )
            if args.sql:
                for s in c["sql"]:
                    print("    " + re.sub(r"\s+", " ", s))
    finally:
        pg_execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
