"""Benchmark the runtime: end-to-end jobs/s through django-q2, and the checkpointer.

Run: ``.venv/bin/python bench/bench_runtime.py [--quick] [--runs N]``.

1. **End to end.** A real ``manage.py qcluster`` with 2 workers runs batches of
   3-node graph jobs (``job_create``) and, on the same cluster, batches of django-q2
   no-op tasks (``async_task("math.floor", 1.5)``), on SQLite, on PostgreSQL with
   the listening broker (NOTIFY) and on PostgreSQL with django-q2 as it ships: its
   ORM broker (``ORIS_Q_LISTEN=false``: a poll every 50 ms) and its default
   ``save_limit`` of 250 successful results kept (Oris keeps none; without saved
   results a no-op's start cannot be read, so its latency is ``nan`` in the other
   configurations). Rate = batch size / (first submit
   -> last job completed). Then a paced phase (below capacity) gives submit -> start
   latency: job ``created_at`` -> attempt ``started_at`` for Oris, enqueue -> the
   no-op task running. On PostgreSQL, last, the idle cluster's transactions per
   second (``pg_stat_database.xact_commit``).
2. **Checkpointer alone.** Durable supersteps/s of a 10-node chain: the graphs
   engine with ``runtime.checkpointer.DjangoSaver`` against LangGraph with its
   ``SqliteSaver`` / ``PostgresSaver``, on the same SQLite file / PostgreSQL database.
3. **Cost of tracing** (``--only tracing``). The same end-to-end jobs/s and
   checkpointer supersteps/s with OpenTelemetry off and on (spans exported over
   OTLP/HTTP to a sink process that drops them): clusters off and on alternate
   within one run of this script; the checkpointer switches tracing on and off
   between chunks of invokes in one process.
4. **Cost of metrics and tracing in process** (``--only overhead``). A 3-node job
   as a q2 worker runs it (create, claim, run, outcome) and the 10-node chain, with
   metrics and tracing off, metrics on, and both on, switched between chunks of
   invokes in one process; ``--calls`` and ``--callgrind`` add what does not depend
   on the machine's load: function calls (all threads) and instructions per invoke.

Every figure is the median of ``--runs`` interleaved runs. Each configuration runs in
its own processes, since settings are read from the environment at start: this
process only orchestrates (databases, subprocesses, the table); ``--role e2e`` and
``--role saver`` are the measuring subprocesses. PostgreSQL is the local server at
``ORIS_BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``); the script creates
and drops its own databases, named ``oris_bench_*`` (``ORIS_BENCH_DB_PREFIX``: another
prefix, when several people share the server).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_SERVER = os.environ.get("ORIS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_PREFIX = os.environ.get("ORIS_BENCH_DB_PREFIX", "oris_bench")
GRAPH = "bench3"
GRAPH_PATH = "bench.bench_runtime:build_three_nodes"
BACKENDS = ("sqlite", "postgres")
# End-to-end configurations: name -> (backend, ORIS_Q_LISTEN). On SQLite the
# listening broker is django-q2's ORM broker (it polls); "postgres-poll" is the
# stock django-q2 on PostgreSQL (ORM broker, results kept), the peer of the
# notification path.
E2E_CONFIGS = {
    "sqlite": ("sqlite", True),
    "postgres": ("postgres", True),
    "postgres-poll": ("postgres", False),
}
# Idle backends flush their statistics up to 10 s late (PostgreSQL 15's
# PGSTAT_IDLE_INTERVAL): the idle count starts after that much quiet.
IDLE_SETTLE_S = 11.0


# -- graphs under test (imported by the qcluster workers via ORIS_GRAPHS) -----------


class Counter(TypedDict):
    n: int


def inc(state: Counter) -> dict[str, int]:
    return {"n": state["n"] + 1}


def build_chain(size: int, lib: str = "graphs") -> Any:
    """A ``size``-node chain of ``inc`` (uncompiled) in graphs or LangGraph."""
    if lib == "graphs":
        from graphs import END, START, StateGraph
    else:
        from langgraph.graph import END, START, StateGraph
    g = StateGraph(Counter)
    names = [f"n{i}" for i in range(size)]
    for name in names:
        g.add_node(name, inc)
    g.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(names[-1], END)
    return g


def build_three_nodes() -> Any:
    """The end-to-end workload: ``n -> n + 3`` in three supersteps."""
    return build_chain(3)


# -- shared helpers -------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_for(predicate: Callable[[], bool], *, timeout: float, poll: float) -> bool:
    """Polls ``predicate`` until true or ``timeout`` seconds; returns the outcome."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def emit(result: dict[str, Any]) -> None:
    """A measuring subprocess hands its result back as the last stdout line."""
    print("RESULT " + json.dumps(result), flush=True)


def db_backend_cpu(*, own: bool = False) -> float:
    """CPU seconds used so far by the PostgreSQL backends now serving this
    process's database (``own``: only this connection's backend), read from
    ``/proc`` (the server is local); 0 on SQLite, whose work is in this
    process's own CPU time."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid()"
            if own
            else "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def cpu_now() -> tuple[float, float]:
    """``(this process's CPU seconds, its database backends' CPU seconds)``."""
    return time.process_time(), db_backend_cpu()


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# -- role e2e: one cluster, interleaved batches ---------------------------------------


@contextmanager
def qcluster(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py qcluster`` in its own session, stopped with SIGTERM."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [PY, str(ROOT / "manage.py"), "qcluster"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_cluster(proc)


def stop_cluster(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we started, by its id
        proc.wait(timeout=10)


Q2_SAVE_LIMIT = 250  # django-q2's default save_limit


def queue_empty() -> bool:
    from django_q.models import OrmQ

    return not OrmQ.objects.exists()


def submit(kind: str, batch: str, count: int, pace: float = 0.0) -> None:
    """Submits ``count`` jobs (or no-op tasks): paced one by one, or, unpaced, in
    one transaction, so the cluster sees the whole batch at once (a backlog)."""
    one = submit_one_oris if kind == "oris" else submit_one_noop
    if pace:
        for i in range(count):
            one(batch, i, True)
            time.sleep(pace)
        return
    from django.db import transaction

    with transaction.atomic():
        for i in range(count):
            one(batch, i, False)


def submit_one_oris(batch: str, i: int, timed: bool) -> None:
    from runtime.services.audit import Actor
    from runtime.services.jobs import job_create

    job_create(
        graph=GRAPH, input={"n": i}, actor=Actor.system(), thread_id=f"{batch}-{i:06d}"
    )


def submit_one_noop(batch: str, i: int, timed: bool) -> None:
    from django_q.tasks import async_task

    if timed:  # the task returns when it ran; its name says when it was queued
        async_task("time.time", task_name=f"{batch}:{time.time():.6f}")
    else:
        async_task("math.floor", 1.5, task_name=f"{batch}:{i}")


def oris_done(batch: str, count: int) -> Callable[[], bool]:
    """Whether the batch is done: as cheap a probe as q2's ``queue_empty`` (an
    indexed ``EXISTS``), since it runs every 10 ms beside the cluster; the batch's
    jobs are checked once it says so."""
    from runtime.models import Job

    def done() -> bool:
        if Job.objects.filter(status__in=["queued", "running"]).exists():
            return False
        jobs = Job.objects.filter(thread_id__startswith=f"{batch}-")
        completed = jobs.filter(status="completed").count()
        if completed < count:
            raise RuntimeError(f"{count - completed} bench jobs did not complete")
        return True

    return done


def run_batch(kind: str, count: int, timeout: float) -> dict[str, float]:
    """Submits ``count`` jobs or no-ops at full speed; times them to completion."""
    batch = f"{kind}-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    submit(kind, batch, count)
    done = oris_done(batch, count) if kind == "oris" else queue_empty
    submitted = time.perf_counter()
    if not wait_for(done, timeout=timeout, poll=0.01):
        raise RuntimeError(f"{kind} batch of {count} not done in {timeout:.0f} s")
    finished = time.perf_counter()
    # Oris leaves doorbells of already-drained attempts behind; they are not part
    # of the jobs' completion, but the next batch must not inherit them.
    wait_for(queue_empty, timeout=timeout, poll=0.01)
    drained = time.perf_counter()
    return {
        "rate": count / (finished - start),
        "rate_queue_empty": count / (drained - start),
        "submit_s": submitted - start,
    }


def latency_oris(count: int, pace: float, timeout: float) -> list[float]:
    from runtime.models import Attempt

    batch = f"lat-{uuid.uuid4().hex[:8]}"
    submit("oris", batch, count, pace)
    wait_for(oris_done(batch, count), timeout=timeout, poll=0.02)
    rows = Attempt.objects.filter(job__thread_id__startswith=f"{batch}-").values_list(
        "job__created_at", "started_at"
    )
    return [(started - created).total_seconds() * 1e3 for created, started in rows]


def latency_noop(count: int, pace: float, timeout: float) -> list[float]:
    from django_q.models import Task

    batch = f"latnoop-{uuid.uuid4().hex[:8]}"
    submit("noop", batch, count, pace)
    wait_for(queue_empty, timeout=timeout, poll=0.02)
    rows = Task.objects.filter(name__startswith=f"{batch}:").values_list(
        "name", "result"
    )
    # q2's Task.started is the enqueue time; the task's result is when it ran.
    return [(ran - float(name.partition(":")[2])) * 1e3 for name, ran in rows]


def idle_commits_per_second(seconds: float) -> float:
    """Transactions per second the database commits while the cluster idles; the
    two reads of this probe are not counted."""
    from django.db import connection

    def commits() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    time.sleep(IDLE_SETTLE_S)
    before = commits()
    time.sleep(seconds)
    return (commits() - before - 1) / seconds


def role_e2e(args: argparse.Namespace) -> None:
    django_setup()
    timeout = 120.0
    order = args.order.split(",")
    with qcluster(Path(args.log)):
        for kind in ("noop", "oris"):  # warm-up: workers import and connect
            run_batch(kind, 4, timeout)
        rates: dict[str, list[dict[str, float]]] = {k: [] for k in order}
        for kind in order:
            rates[kind].append(run_batch(kind, args.n, timeout))
        pace = 1.0 / args.latency_rate
        lat = {
            "oris": latency_oris(args.latency_n, pace, timeout),
            "noop": latency_noop(args.latency_n, pace, timeout),
        }
        idle = idle_commits_per_second(args.idle_s) if args.idle_s else None
    emit({"rates": rates, "latency_ms": lat, "idle_qps": idle})


# -- role saver: the checkpointer alone, in process -----------------------------------


def time_invokes(invoke: Callable[[int], Any], count: int, steps: int) -> float:
    """Durable supersteps/s over ``count`` invokes on fresh threads."""
    start = time.perf_counter()
    for i in range(count):
        invoke(i)
    return count * steps / (time.perf_counter() - start)


def ours_chain(size: int) -> Callable[[int], Any]:
    from runtime.checkpointer import DjangoSaver

    graph = build_chain(size).compile(checkpointer=DjangoSaver())
    prefix, ids = f"ours-{uuid.uuid4().hex[:8]}", itertools.count()

    def invoke(i: int) -> Any:  # a fresh thread per call
        config = {"configurable": {"thread_id": f"{prefix}-{next(ids)}"}}
        return graph.invoke({"n": 0}, config)

    return invoke


def theirs_chain(size: int, saver: Any) -> Callable[[int], Any]:
    graph = build_chain(size, lib="langgraph").compile(checkpointer=saver)
    prefix, ids = f"lg-{uuid.uuid4().hex[:8]}", itertools.count()

    def invoke(i: int) -> Any:  # a fresh thread per call
        config = {"configurable": {"thread_id": f"{prefix}-{next(ids)}"}}
        return graph.invoke({"n": 0}, config)

    return invoke


@contextmanager
def langgraph_savers(backend: str) -> Iterator[dict[str, Any]]:
    """LangGraph's saver on the database Django uses (same file / same database).

    On SQLite also a second connection with Oris' pragmas (WAL, synchronous=NORMAL;
    SqliteSaver's own connection keeps SQLite's default synchronous=FULL), to show
    how much of the difference is the fsync per commit.
    """
    from django.conf import settings

    if backend == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(os.environ["DATABASE_URL"]) as saver:
            saver.setup()
            yield {"theirs": saver}
        return
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    path = str(settings.DATABASES["default"]["NAME"])
    default = sqlite3.connect(path, check_same_thread=False)
    normal = sqlite3.connect(path, check_same_thread=False)
    normal.execute("PRAGMA synchronous=NORMAL")
    try:
        savers = {"theirs": SqliteSaver(default), "theirs_normal": SqliteSaver(normal)}
        savers["theirs"].setup()
        yield savers
    finally:
        default.close()
        normal.close()


def role_saver(args: argparse.Namespace) -> None:
    django_setup()
    size = 10
    if args.tracing:
        contenders = traced_contenders(size)
        for fn in contenders.values():  # warm-up
            time_invokes(fn, 5, size)
        results: dict[str, list[float]] = {name: [] for name in contenders}
        for run in range(args.runs):
            for name, rate in interleaved(contenders, args.n, size, run).items():
                results[name].append(rate)
        emit(results)
        return
    with langgraph_savers(args.backend) as savers:
        contenders = {"ours": ours_chain(size)}
        contenders |= {k: theirs_chain(size, v) for k, v in savers.items()}
        for fn in contenders.values():  # warm-up
            time_invokes(fn, 5, size)
        results = {name: [] for name in contenders}
        for run in range(args.runs):
            for name, rate in interleaved(contenders, args.n, size, run).items():
                results[name].append(rate)
    emit(results)


def traced_contenders(size: int) -> dict[str, Callable[[int], Any]]:
    """DjangoSaver's chain with tracing off and on, in this one process: the
    tracer provider that ``OTEL_*`` set up at start (its batch exporter sending
    to the sink) is switched on around each traced invoke only."""
    from opentelemetry import trace

    from runtime import telemetry

    provider: Any = trace.get_tracer_provider()
    if telemetry.tracer() is None:
        raise RuntimeError("--tracing needs the OTEL_* variables of the sink")
    telemetry.configure(None)
    plain, traced = ours_chain(size), ours_chain(size)

    def with_tracing(i: int) -> Any:
        telemetry.configure(provider)
        try:
            return traced(i)
        finally:
            telemetry.configure(None)

    return {"off": plain, "on": with_tracing}


def interleaved(
    contenders: dict[str, Callable[[int], Any]], count: int, steps: int, run: int
) -> dict[str, float]:
    """Supersteps/s of each contender, timed in alternating chunks of 5 invokes so
    that load from elsewhere on the machine hits all of them alike."""
    return interleaved_clocks(contenders, count, steps, run)[0]


def interleaved_clocks(
    contenders: dict[str, Callable[[int], Any]],
    count: int,
    steps: int,
    run: int,
    background: tuple[str, Callable[[], float], Callable[[], Any]] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`interleaved`'s rates by the wall clock and by this process's CPU
    time (every thread's), which other load on the machine disturbs far less.

    ``background`` is ``(contender, clock, flush)``: the CPU clock of threads
    that work for that contender alone, when they like (the span exporter's),
    and what makes them finish that work. Their CPU is taken out of whichever
    chunk it fell in and given to that contender, with the CPU of the run's
    ``flush``."""
    wall = dict.fromkeys(contenders, 0.0)
    cpu = dict.fromkeys(contenders, 0.0)
    order = list(contenders.items())
    if run % 2:
        order.reverse()
    owner, clock, flush = background or ("", lambda: 0.0, lambda: None)
    begun = clock()
    for chunk in range(0, count, 5):
        for name, fn in order:
            start, start_cpu, start_bg = (
                time.perf_counter(),
                time.process_time(),
                clock(),
            )
            for i in range(chunk, min(count, chunk + 5)):
                fn(i)
            wall[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - start_cpu - (clock() - start_bg)
    if background:  # its CPU out of the chunks, and the run's last spans' export
        exported, start_cpu = clock() - begun, time.process_time()
        flush()  # (in this thread: the SDK's force_flush exports in its caller's)
        cpu[owner] += exported + time.process_time() - start_cpu
    return (
        {name: count * steps / wall[name] for name in contenders},
        {name: count * steps / cpu[name] for name in contenders},
    )


def exporter_clock() -> Callable[[], float]:
    """The CPU time of the span processors' export threads (the SDK's batch
    processor names its thread ``OtelBatch...``), read from the thread's own
    clock."""
    import threading

    clocks = [
        time.pthread_getcpuclockid(thread.ident)
        for thread in threading.enumerate()
        if thread.name.startswith("OtelBatch") and thread.ident is not None
    ]
    return lambda: sum(time.clock_gettime(c) for c in clocks)


# -- orchestration --------------------------------------------------------------------


class Databases:
    """Fresh databases per run, copied from one migrated template per backend."""

    def __init__(self, workdir: Path, prefix: str = DB_PREFIX) -> None:
        self.workdir = workdir
        self.prefix = prefix
        self.tag = uuid.uuid4().hex[:6]
        self.created: list[str] = []
        self.count = 0

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
        env.pop("DATABASE_URL", None)
        env.update(
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="oris_site.settings",
            ORIS_SECRET_KEY="bench-not-secret",
            ORIS_WORKERS="2",
            ORIS_GRAPHS=f"{GRAPH}={GRAPH_PATH}",
            ORIS_LOG_LEVEL="WARNING",
        )
        return env

    def env(self, backend: str, name: str, *, listen: bool = True) -> dict[str, str]:
        env = self.base_env()
        env["ORIS_Q_LISTEN"] = "true" if listen else "false"
        if not listen:  # django-q2 as it ships: its ORM broker, results kept
            env["ORIS_Q_SAVE_LIMIT"] = str(Q2_SAVE_LIMIT)
        if backend == "sqlite":
            env["ORIS_SQLITE_DB"] = str(self.workdir / f"{name}.db")
        else:
            env["DATABASE_URL"] = f"{PG_SERVER}/{name}"
        return env

    def template(self, backend: str) -> str:
        return f"{self.prefix}_{self.tag}_{backend}_tpl"

    def prepare(self) -> None:
        for backend in BACKENDS:
            name = self.template(backend)
            if backend == "postgres":
                self.pg(f'CREATE DATABASE "{name}"')
                self.created.append(name)
            subprocess.run(
                [PY, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                env=self.env(backend, name),
                cwd=ROOT,
                check=True,
            )

    def fresh(self, backend: str) -> str:
        self.count += 1
        name = f"{self.prefix}_{self.tag}_{backend}_{self.count}"
        if backend == "postgres":
            self.pg(f'CREATE DATABASE "{name}" TEMPLATE "{self.template(backend)}"')
            self.created.append(name)
        else:
            src = self.workdir / f"{self.template(backend)}.db"
            shutil.copyfile(src, self.workdir / f"{name}.db")
        return name

    def pg(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def drop_all(self) -> None:
        for name in self.created:
            self.pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def run_role(
    args: list[str], env: dict[str, str], timeout: float, script: str = __file__
) -> dict[str, Any]:
    """Runs ``script`` (this one by default) with ``args`` in a child process and
    returns the JSON of its last ``RESULT`` line."""
    proc = subprocess.run(
        [PY, str(Path(script).resolve()), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{args[:2]} failed with exit code {proc.returncode}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def ensure_postgres() -> None:
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
        return
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
        check=True,
    )
    if not wait_for(
        lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0,
        timeout=30,
        poll=0.5,
    ):
        raise RuntimeError("PostgreSQL is not accepting connections on 127.0.0.1")


class Plan(TypedDict):
    runs: int
    saver_runs: int
    n: int
    latency_n: int
    latency_rate: float
    saver_n: int
    idle_s: float


def plan_for(args: argparse.Namespace) -> Plan:
    if args.quick:
        plan = Plan(
            runs=3,
            saver_runs=5,
            n=80,
            latency_n=10,
            latency_rate=40,
            saver_n=20,
            idle_s=5,
        )
    else:
        plan = Plan(
            runs=3,
            saver_runs=7,
            n=300,
            latency_n=100,
            latency_rate=25,
            saver_n=50,
            idle_s=10,
        )
    if args.runs:
        plan["runs"] = plan["saver_runs"] = args.runs
    return plan


def measure_e2e(
    dbs: Databases, plan: Plan, log: Path, configs: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for config in configs:
        backend, listen = E2E_CONFIGS[config]
        rates: dict[str, list[dict[str, float]]] = {"oris": [], "noop": []}
        lat: dict[str, list[float]] = {"oris": [], "noop": []}
        idle: list[float] = []
        for run in range(plan["runs"]):
            order = "oris,noop" if run % 2 == 0 else "noop,oris"
            print(f"  e2e {config} run {run + 1}: {order}", flush=True)
            name = dbs.fresh(backend)
            args = ["--role", "e2e", "--order", order, "--n", str(plan["n"])]
            args += ["--latency-n", str(plan["latency_n"]), "--log", str(log)]
            args += ["--latency-rate", str(plan["latency_rate"])]
            if backend == "postgres" and run == 0:  # a count, not a timing
                args += ["--idle-s", str(plan["idle_s"])]
            env = dbs.env(backend, name, listen=listen)
            result = run_role(args, env, timeout=600)
            for kind in rates:
                rates[kind] += result["rates"][kind]
                lat[kind] += result["latency_ms"][kind]
            if result["idle_qps"] is not None:
                idle.append(result["idle_qps"])
        out[config] = {"rates": rates, "latency_ms": lat, "idle_qps": idle}
    return out


def measure_saver(dbs: Databases, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        print(f"  checkpointer {backend}", flush=True)
        name = dbs.fresh(backend)
        args = ["--role", "saver", "--backend", backend]
        args += ["--runs", str(plan["saver_runs"]), "--n", str(plan["saver_n"])]
        out[backend] = run_role(args, dbs.env(backend, name), timeout=600)
    return out


# -- the cost of tracing: the same work with it off and on, interleaved ------------


def role_sink() -> None:
    """An OTLP/HTTP receiver that reads and drops what it is sent; prints its port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive connections, as a collector's

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


@contextmanager
def otlp_sink() -> Iterator[dict[str, str]]:
    """A sink process; yields the variables that turn tracing on towards it."""
    proc = subprocess.Popen(
        [PY, str(Path(__file__).resolve()), "--role", "sink"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().split()[1]
        yield {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_SERVICE_NAME": "oris-bench",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure_tracing(dbs: Databases, plan: Plan, log: Path) -> dict[str, Any]:
    """Per backend: end-to-end jobs/s with tracing off and on (a cluster each,
    runs alternating off/on), and the checkpointer's supersteps/s off and on in
    one process, in alternating chunks."""
    out: dict[str, Any] = {}
    with otlp_sink() as tracing_env:
        for backend in BACKENDS:
            e2e: dict[str, list[float]] = {"off": [], "on": []}
            for run in range(plan["runs"]):
                for mode in ("off", "on") if run % 2 == 0 else ("on", "off"):
                    print(f"  tracing e2e {backend} run {run + 1}: {mode}", flush=True)
                    env = dbs.env(backend, dbs.fresh(backend))
                    if mode == "on":
                        env |= tracing_env
                    args = ["--role", "e2e", "--order", "oris", "--n", str(plan["n"])]
                    args += ["--latency-n", "0", "--log", str(log)]
                    result = run_role(args, env, timeout=600)
                    e2e[mode] += [r["rate"] for r in result["rates"]["oris"]]
            print(f"  tracing checkpointer {backend}", flush=True)
            env = dbs.env(backend, dbs.fresh(backend)) | tracing_env
            args = ["--role", "saver", "--backend", backend, "--tracing"]
            args += ["--runs", str(plan["saver_runs"]), "--n", str(plan["saver_n"])]
            out[backend] = {"e2e": e2e, "saver": run_role(args, env, timeout=600)}
    return out


# -- the cost of metrics and tracing in process: the worker's hot path -------------

# What each configuration counts and traces: (metrics on, tracing on).
OVERHEAD_CONFIGS = {
    "bare": (False, False),
    "metrics": (True, False),
    "traced": (True, True),
}
# The reporting calls of runtime.metrics that "metrics off" makes no-ops.
METRIC_CALLS = (
    "inc",
    "seen",
    "observe",
    "attempt_claimed",
    "attempt_finished",
    "run_finished",
    "dead_lettered",
)


class Switches:
    """Turns this process's metrics and tracing on and off between invokes."""

    def __init__(self) -> None:
        from opentelemetry import trace

        import graphs.instrumentation
        from runtime import metrics, telemetry

        self.metrics, self.telemetry = metrics, telemetry
        self.listeners = graphs.instrumentation
        self.calls = {name: getattr(metrics, name) for name in METRIC_CALLS}
        self.provider: Any = trace.get_tracer_provider()
        self.current = ""  # the configuration set last
        if telemetry.tracer() is None:
            raise RuntimeError("--role overhead needs the OTEL_* variables of a sink")

    def set(self, config: str) -> None:
        self.current = config
        counting, tracing = OVERHEAD_CONFIGS[config]
        self.telemetry.configure(self.provider if tracing else None)
        for name, call in self.calls.items():
            setattr(self.metrics, name, call if counting else _nothing)
        if not counting:  # no step listener of the metrics either
            spans = self.telemetry.GraphSpans() if tracing else None
            self.listeners.set_listener(spans)


def _count_calls() -> Callable[[], int]:
    """Counts the function calls (Python and C) of every thread from now on: a
    measure of the work done that does not depend on the machine's load."""
    import threading

    count = [0]

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            count[0] += 1

    sys.setprofile(profile)
    threading.setprofile(profile)
    return lambda: count[0]


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def job_through_worker() -> Callable[[int], Any]:
    """One 3-node job as a q2 worker runs it, in this process: created, claimed,
    run and its outcome recorded (no q2 broker in between)."""
    from runtime.services import claims
    from runtime.worker.execute import run_leased

    batch = f"oh-{uuid.uuid4().hex[:8]}"

    def one(i: int) -> Any:
        submit_one_oris(batch, i, False)
        lease = claims.attempt_claim(worker_id="bench-worker")
        assert lease is not None
        return run_leased(lease=lease)

    return one


def role_overhead(args: argparse.Namespace) -> None:
    """Jobs/s and checkpointer supersteps/s of each configuration, interleaved in
    chunks; or, with ``--config``, that one configuration's ``--n`` invokes only
    (for callgrind: the instructions of a run)."""
    calls = _count_calls() if args.count_calls else None
    django_setup()
    switches = Switches()
    workloads = {"jobs": (job_through_worker(), 1), "chain": (ours_chain(10), 10)}
    # the start-up's objects out of the collector's way, as a q2 worker's are
    # at its spawn: what a run allocates is collected as it is
    from runtime.worker import heap

    heap.settle()
    if args.config:
        switches.set(args.config)
        for name, (fn, _steps) in workloads.items():
            if name in args.workloads.split(","):
                for i in range(args.n):
                    fn(i)
        switches.provider.force_flush()  # every span of the run encoded and sent
        emit({"calls": calls() if calls else None})
        return
    results: dict[str, dict[str, dict[str, list[float]]]] = {"wall": {}, "cpu": {}}
    for name, (fn, steps) in workloads.items():
        contenders = {c: _configured(switches, c, fn) for c in OVERHEAD_CONFIGS}
        for each in contenders.values():  # warm-up
            time_invokes(each, 5, steps)
        for clock in results.values():
            clock[name] = {c: [] for c in contenders}
        exporter = ("traced", exporter_clock(), switches.provider.force_flush)
        for run in range(args.runs):
            rates = interleaved_clocks(contenders, args.n, steps, run, exporter)
            for clock, measured in zip(results.values(), rates, strict=True):
                for c, rate in measured.items():
                    clock[name][c].append(rate)
    switches.provider.force_flush()  # the CPU of exporting the last spans too
    emit(results)


def _configured(
    switches: Switches, config: str, fn: Callable[[int], Any]
) -> Callable[[int], Any]:
    counter = itertools.count()

    def invoke(_i: int) -> Any:
        if switches.current != config:  # once a chunk, not once an invoke
            switches.set(config)
        return fn(next(counter) + 1_000_000 * list(OVERHEAD_CONFIGS).index(config))

    return invoke


# invokes of the two callgrind runs of each workload (their difference is counted)
CALLGRIND_SIZES = {"jobs": (10, 40), "chain": (5, 20)}


def callgrind_ir(env: dict[str, str], workload: str, config: str, n: int) -> int:
    """Instructions (callgrind's Ir) of one ``--role overhead --config`` process."""
    with tempfile.TemporaryDirectory(prefix="oris_cg_") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        cmd += [PY, str(Path(__file__).resolve()), "--role", "overhead"]
        cmd += ["--config", config, "--workloads", workload, "--n", str(n)]
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise RuntimeError(f"callgrind {config} {workload} failed")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def counted_calls(env: dict[str, str], workload: str, config: str, n: int) -> int:
    """Function calls of one ``--role overhead --config --count-calls`` process."""
    args = ["--role", "overhead", "--config", config, "--workloads", workload]
    args += ["--n", str(n), "--count-calls"]
    return int(run_role(args, env, timeout=1800)["calls"])


def measure_overhead(
    dbs: Databases, plan: Plan, *, callgrind: bool, calls: bool
) -> dict[str, Any]:
    """Per backend: the in-process figures of each configuration, interleaved;
    with ``callgrind``, instructions per invoke of each (the difference of two
    runs of different lengths, so start-up cancels out)."""
    out: dict[str, Any] = {}
    with otlp_sink() as tracing_env:
        for backend in BACKENDS:
            print(f"  overhead {backend}", flush=True)
            env = dbs.env(backend, dbs.fresh(backend)) | tracing_env
            args = ["--role", "overhead", "--runs", str(plan["saver_runs"])]
            args += ["--n", str(plan["saver_n"])]
            rates = run_role(args, env, timeout=1800)
            out[backend] = {"rates": rates["wall"], "cpu": rates["cpu"]}
            counters = {"ir": callgrind_ir} if callgrind else {}
            counters |= {"calls": counted_calls} if calls else {}
            if backend != "sqlite":  # counts: one backend is enough
                continue
            for key, counter in counters.items():
                out[backend][key] = counted(dbs, backend, tracing_env, counter)
    return out


def counted(
    dbs: Databases,
    backend: str,
    tracing_env: dict[str, str],
    counter: Callable[[dict[str, str], str, str, int], int],
) -> dict[str, dict[str, float]]:
    """Per workload and configuration, what ``counter`` counts per invoke: the
    difference of two runs of different lengths, so start-up cancels out."""
    # each its own process on a fresh database, four at once (the counts do not
    # depend on load; valgrind runs them 50 times slower)
    runs = {
        (workload, config, n): dbs.env(backend, dbs.fresh(backend))
        for workload, sizes in CALLGRIND_SIZES.items()
        for config in OVERHEAD_CONFIGS
        for n in sizes
    }
    print(f"  {counter.__name__} {backend}: {len(runs)} processes", flush=True)
    # Timers would fire far more often per invoke than at full speed: the
    # metrics' flush (once a second, not per invoke) and the span exporter's
    # (every 5 s; each 512 spans still, and all at the end) wait past the run.
    slow = tracing_env | {
        "ORIS_METRICS_FLUSH_MS": "600000",
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    jobs = [(env | slow, *key) for key, env in runs.items()]
    with ThreadPoolExecutor(4) as pool:
        counts = dict(zip(runs, pool.map(lambda job: counter(*job), jobs), strict=True))
    return {
        workload: {
            config: (counts[workload, config, many] - counts[workload, config, few])
            / (many - few)
            for config in OVERHEAD_CONFIGS
        }
        for workload, (few, many) in CALLGRIND_SIZES.items()
    }


def _count_row(
    backend: str, workload: str, unit: str, count: dict[str, float], scale: float
) -> list[str]:
    b, m, t = count["bare"], count["metrics"], count["traced"]
    return [backend, workload, unit, f"{b / scale:.0f}", f"{m / scale:.0f}"] + [
        f"{t / scale:.0f}",
        f"{m / b - 1:+.1%}",
        f"{t / m - 1:+.1%}",
    ]


def _rate_row(
    backend: str, workload: str, unit: str, rates: dict[str, list[float]]
) -> list[str]:
    m = {c: median(v) for c, v in rates.items()}
    return (
        [backend, workload, unit]
        + [f"{m[c]:.0f}" for c in OVERHEAD_CONFIGS]
        + [
            f"{m['bare'] / m['metrics'] - 1:+.1%}",
            f"{m['metrics'] / m['traced'] - 1:+.1%}",
        ]
    )


def _costs(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per view (wall, CPU, calls, instructions) and workload: the cost of
    tracing (how much slower, or how much more work, than metrics alone)."""
    costs: dict[str, dict[str, float]] = {}
    for view in ("rates", "cpu"):
        for workload, rates in result.get(view, {}).items():
            m = {c: median(v) for c, v in rates.items()}
            costs.setdefault(view, {})[workload] = m["metrics"] / m["traced"] - 1
    for view in ("calls", "ir"):
        for workload, count in result.get(view, {}).items():
            costs.setdefault(view, {})[workload] = (
                count["traced"] / count["metrics"] - 1
            )
    return costs


VIEWS = {
    "rates": "wall clock",
    "cpu": "CPU time (all threads)",
    "calls": "function calls",
    "ir": "instructions (callgrind)",
}


def tracing_summary(data: dict[str, Any]) -> str:
    """The cost of tracing on both figures of the target, side by side."""
    head = ["database", "measured by", "jobs/s", "checkpointer supersteps/s"]
    rows = []
    for backend, result in data.items():
        for view, costs in _costs(result).items():
            rows.append(
                [backend, VIEWS[view]]
                + [f"{costs[w]:+.1%}" if w in costs else "-" for w in ("jobs", "chain")]
            )
    return (
        "Tracing cost (OTLP/HTTP to a local sink; target at most +10 % on both):"
        "\n\n" + table(head, rows)
    )


def overhead_report(data: dict[str, Any], plan: Plan) -> str:
    head = ["database", "workload", "figure", *OVERHEAD_CONFIGS]
    head += ["metrics cost", "tracing cost"]
    rows = []
    for backend, result in data.items():
        for workload, rates in result["rates"].items():
            unit = "jobs/s" if workload == "jobs" else "supersteps/s"
            rows.append(_rate_row(backend, workload, unit, rates))
        for workload, rates in result.get("cpu", {}).items():
            unit = "jobs/CPU s" if workload == "jobs" else "supersteps/CPU s"
            rows.append(_rate_row(backend, workload, unit, rates))
        for workload, ir in result.get("calls", {}).items():
            unit = "calls per job" if workload == "jobs" else "calls per invoke"
            rows.append(_count_row(backend, workload, unit, ir, 1))
        for workload, ir in result.get("ir", {}).items():
            unit = "Ir per job" if workload == "jobs" else "Ir per invoke (10 steps)"
            rows.append(
                [
                    backend,
                    workload,
                    unit,
                    f"{ir['bare'] / 1e6:.2f} M",
                    f"{ir['metrics'] / 1e6:.2f} M",
                    f"{ir['traced'] / 1e6:.2f} M",
                    f"{ir['metrics'] / ir['bare'] - 1:+.1%}",
                    f"{ir['traced'] / ir['metrics'] - 1:+.1%}",
                ]
            )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        "Cost of metrics and tracing in process (the worker's hot path: create, "
        "claim, run, record a 3-node job; the 10-node chain on DjangoSaver), "
        f"median of {plan['saver_runs']} interleaved runs of {plan['saver_n']} "
        f"invokes; load average at the end {load}. Costs: how much slower "
        "(rates: bare/metrics - 1, metrics/traced - 1) or how much more work "
        "(counts: metrics/bare - 1, traced/metrics - 1).\n\n"
        + table(head, rows)
        + "\n\n"
        + tracing_summary(data)
    )


def tracing_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for backend, result in data.items():
        for figure, values in (
            ("end to end jobs/s", result["e2e"]),
            ("checkpointer supersteps/s", result["saver"]),
        ):
            off, on = median(values["off"]), median(values["on"])
            rows.append(
                [
                    backend,
                    figure,
                    f"{off:.0f}",
                    f"{on:.0f}",
                    f"{(1 - on / off) * 100:+.1f} %",
                ]
            )
    return rows


DISPATCH = {
    "sqlite": "poll, 50 ms",
    "postgres": "NOTIFY",
    "postgres-poll": "stock django-q2: poll, 50 ms, results kept",
}


def rate_of(result: dict[str, Any], kind: str, key: str = "rate") -> float:
    return median([r[key] for r in result["rates"][kind]])


def p50_p95(values: list[float]) -> str:
    return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"


def e2e_rows(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for config, result in data.items():
        oris, noop = rate_of(result, "oris"), rate_of(result, "noop")
        lat = result["latency_ms"]
        idle = result["idle_qps"]
        rows.append(
            [
                f"{E2E_CONFIGS[config][0]} ({DISPATCH[config]})",
                f"{oris:.0f}",
                f"{rate_of(result, 'oris', 'rate_queue_empty'):.0f}",
                f"{noop:.0f}",
                f"{oris / noop:.2f}x",
                p50_p95(lat["oris"]),
                p50_p95(lat["noop"]),
                f"{median(idle):.1f}" if idle else "-",
            ]
        )
    return rows


def against_stock(data: dict[str, Any]) -> str:
    """Oris on the notification path against stock django-q2 on PostgreSQL."""
    if "postgres" not in data or "postgres-poll" not in data:
        return ""
    ours, stock = data["postgres"], data["postgres-poll"]
    ratio = rate_of(ours, "oris") / rate_of(stock, "noop")
    return (
        f"PostgreSQL, Oris with NOTIFY against django-q2's stock no-op: {ratio:.2f}x "
        f"the jobs/s; submit->start p50 "
        f"{percentile(ours['latency_ms']['oris'], 0.5):.1f} ms against "
        f"{percentile(stock['latency_ms']['noop'], 0.5):.1f} ms."
    )


def saver_rows(data: dict[str, Any]) -> list[list[str]]:
    peers = {"sqlite": "SqliteSaver", "postgres": "PostgresSaver"}
    rows = []
    for backend, result in data.items():
        ours = median(result["ours"])
        for key, note in (("theirs", ""), ("theirs_normal", ", synchronous=NORMAL")):
            if key not in result:
                continue
            theirs = median(result[key])
            rows.append(
                [
                    backend,
                    f"{ours:.0f}",
                    f"{theirs:.0f} ({peers[backend]}{note})",
                    f"{ours / theirs:.2f}x",
                ]
            )
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def tracing_report(data: dict[str, Any], plan: Plan) -> str:
    head = ["database", "figure", "tracing off", "tracing on", "slower by"]
    return (
        f"Cost of tracing (OTLP/HTTP to a local sink): end to end, batches of "
        f"{plan['n']}, a cluster per run, {plan['runs']} runs each, off and on "
        f"alternating; checkpointer, {plan['saver_n']} invokes per run, median of "
        f"{plan['saver_runs']} runs, off and on in alternating chunks of one process."
        "\n\n" + table(head, tracing_rows(data))
    )


def report(e2e: dict[str, Any], saver: dict[str, Any], plan: Plan) -> str:
    head_e2e = [
        "database",
        "Oris jobs/s",
        "Oris jobs/s (queue empty)",
        "q2 no-op tasks/s",
        "Oris / no-op",
        "Oris submit->start p50/p95 ms",
        "no-op enqueue->start p50/p95 ms",
        "idle cluster commits/s",
    ]
    head_saver = ["database", "DjangoSaver steps/s", "LangGraph steps/s", "ratio"]
    parts = []
    if e2e:
        parts.append(
            f"End to end: 3-node graph, django-q2 cluster with 2 workers, batches of "
            f"{plan['n']}, median of {plan['runs']} runs; latency at "
            f"{plan['latency_rate']:g}/s; idle: commits/s over {plan['idle_s']:g} s "
            f"after {IDLE_SETTLE_S:g} s of quiet, first run.\n\n"
            + table(head_e2e, e2e_rows(e2e))
            + "\n\n"
            + against_stock(e2e)
        )
    if saver:
        parts.append(
            f"Checkpointer alone: 10-node chain, durable supersteps/s, "
            f"{plan['saver_n']} invokes per run, median of {plan['saver_runs']} "
            "runs.\n\n" + table(head_saver, saver_rows(saver))
        )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast look")
    parser.add_argument("--runs", type=int, default=0, help="runs per figure")
    parser.add_argument(
        "--role", choices=["e2e", "saver", "sink", "overhead"], help=argparse.SUPPRESS
    )
    parser.add_argument("--tracing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--config", choices=list(OVERHEAD_CONFIGS), help=argparse.SUPPRESS
    )
    parser.add_argument("--workloads", default="jobs,chain", help=argparse.SUPPRESS)
    parser.add_argument("--count-calls", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--calls",
        action="store_true",
        help="with --only overhead: also function calls per invoke (all threads)",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="with --only overhead: also instructions per invoke (valgrind)",
    )
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--order", default="oris,noop", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--latency-n", type=int, default=30, help=argparse.SUPPRESS)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="jobs/s")
    parser.add_argument("--idle-s", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=os.devnull, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument(
        "--only",
        choices=["e2e", "saver", "tracing", "overhead"],
        help="one part only (tracing: its cost end to end, off against on; "
        "overhead: metrics and tracing in process, off against on)",
    )
    parser.add_argument(
        "--configs",
        default=",".join(E2E_CONFIGS),
        help="the end-to-end configurations to run, comma-separated "
        f"(default: {','.join(E2E_CONFIGS)})",
    )
    args = parser.parse_args(argv)
    if args.role == "e2e":
        role_e2e(args)
        return 0
    if args.role == "saver":
        args.runs = args.runs or 5
        role_saver(args)
        return 0
    if args.role == "sink":
        role_sink()
        return 0
    if args.role == "overhead":
        args.runs = args.runs or 5
        role_overhead(args)
        return 0
    return orchestrate(args)


def orchestrate(args: argparse.Namespace) -> int:
    plan = plan_for(args)
    ensure_postgres()
    workdir = Path(tempfile.mkdtemp(prefix="oris_bench_", dir="/tmp"))
    dbs = Databases(workdir)
    log = workdir / "qcluster.log"
    tracing: dict[str, Any] = {}
    overhead: dict[str, Any] = {}
    saver: dict[str, Any] = {}
    e2e: dict[str, Any] = {}
    try:
        dbs.prepare()
        if args.only == "tracing":
            tracing = measure_tracing(dbs, plan, log)
        elif args.only == "overhead":
            overhead = measure_overhead(
                dbs, plan, callgrind=args.callgrind, calls=args.calls
            )
        else:
            saver = measure_saver(dbs, plan) if args.only != "e2e" else {}
            configs = args.configs.split(",")
            unknown = set(configs) - set(E2E_CONFIGS)
            if unknown:
                raise SystemExit(f"unknown --configs: {', '.join(sorted(unknown))}")
            e2e = measure_e2e(dbs, plan, log, configs) if args.only != "saver" else {}
    finally:
        dbs.drop_all()
    if overhead:
        print(overhead_report(overhead, plan))
    else:
        print(tracing_report(tracing, plan) if tracing else report(e2e, saver, plan))
    if args.json:
        raw = {"e2e": e2e, "saver": saver, "tracing": tracing, "overhead": overhead}
        Path(args.json).write_text(json.dumps(raw))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
