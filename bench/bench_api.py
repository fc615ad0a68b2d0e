"""Benchmark the /v1 API: the reference's six hot paths, and a load run on gunicorn.

Run: ``.venv/bin/python bench/bench_api.py [--quick] [--samples N] [--output PATH]``.

1. **Hot paths, in process.** The reference's runtime benchmark suite
   (``spec/oris-reference.md`` §8.1) with the same ids, order and JSON report, but
   through Django's whole handler stack (middleware, DRF authentication with an
   admin API key, serializers, envelope), on a migrated temporary SQLite file, and
   on PostgreSQL when the local server answers. A request is handed to Django's
   ``WSGIHandler`` as a WSGI server (gunicorn) hands it: a minimal environ, the
   handler called, its body read and closed (so ``request_started`` and
   ``request_finished`` run as under a server). Until 2026-12-03 the client was
   ``rest_framework.test.APIClient``, whose test-only work (template signals,
   the request and context kept on the response, cookies) a server does not do;
   ``POST /v1/jobs/run`` is also measured through it, printed as the row
   ``api_run_job_test_client`` (not in the JSON report). Only the request is
   timed; seeding and clean-up are not:

   - ``scheduler_dispatch``: enqueue ``bench-dispatch-{i}``; **POST
     /v1/workers/poll** (must dispatch that attempt); ack it completed.
   - ``lease_heartbeat``: one attempt leased once; **POST .../heartbeat**.
   - ``api_run_job``: **POST /v1/jobs/run** (``echo`` graph, thread
     ``bench-run-job-{i}``, input ``"hello"``).
   - ``api_inspect_job``: one ``approval`` run executed to its interrupt;
     **GET /v1/jobs/{thread}**.
   - ``api_list_jobs``: 60 runs seeded; **GET /v1/jobs?limit=50** (non-empty).
   - ``api_replay_job``: a completed run ``bench-replay-{i}`` per iteration;
     **POST /v1/jobs/{thread}/replay**.

   The report (``--output``, default ``var/bench/runtime-benchmark-latest.json``) is
   the SQLite run, as the reference's; PostgreSQL's goes next to it with a
   ``-postgres`` suffix. The printed table adds p50 and p99 per path.
2. **Load.** ``gunicorn oris_site.wsgi -w 2`` on a free loopback port, bearer-token
   auth, the same database; 8 then 32 concurrent clients (threads with one
   ``httpx.Client`` each) send a bounded number of requests (count and time) to
   ``GET /v1/jobs?limit=50`` and ``POST /v1/jobs/run`` (unique threads): requests/s,
   p50, p99 and errors.

Each backend is measured in its own subprocess (settings are read at import); this
process orchestrates: databases, gunicorn, the load clients, the tables. PostgreSQL
is ``ORIS_BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``); the script
creates and drops its own ``oris_bench_api`` database there (``ORIS_BENCH_DB_PREFIX``:
another prefix than ``oris_bench``). Unknown arguments are
ignored, so ``bench/run.py`` can pass every script the same ones.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_SERVER = os.environ.get("ORIS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PG_DB = os.environ.get("ORIS_BENCH_DB_PREFIX", "oris_bench") + "_api"
BEARER = "bench-api-token"
DEFAULT_OUTPUT = ROOT / "var" / "bench" / "runtime-benchmark-latest.json"
PATHS = [
    ("scheduler_dispatch", "scheduler"),
    ("lease_heartbeat", "lease"),
    ("api_run_job", "api"),
    ("api_inspect_job", "api"),
    ("api_list_jobs", "api"),
    ("api_replay_job", "replay"),
]
RUN_TARGET_P50_MS = 1.5  # issue 11: in process, on PostgreSQL
COMPARED = "api_run_job_test_client"  # printed beside the paths, not reported


# -- shared helpers -------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rfc3339_now() -> str:
    """``chrono::DateTime<Utc>::to_rfc3339()``: ``+00:00``, 0, 3 or 6 fraction
    digits as needed."""
    now = datetime.now(UTC)
    base = now.strftime("%Y-%m-%dT%H:%M:%S")
    micros = now.microsecond
    if micros == 0:
        frac = ""
    elif micros % 1000 == 0:
        frac = f".{micros // 1000:03d}"
    else:
        frac = f".{micros:06d}"
    return f"{base}{frac}+00:00"


def platform_name() -> str:
    """Rust's ``{OS}-{ARCH}``: ``linux-x86_64``, ``macos-aarch64``."""
    osname = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    arch = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    return f"{osname}-{arch}"


def package_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return f"oris-django {data['project']['version']}"


def emit(result: dict[str, Any]) -> None:
    """A measuring subprocess hands its result back as the last stdout line."""
    print("RESULT " + json.dumps(result), flush=True)


# -- role inproc: the six hot paths through Django's handler stack --------------------


class WsgiClient:
    """Requests handed to Django's WSGI handler as a WSGI server hands them: the
    environ gunicorn's sync worker builds for a loopback request (its own keys
    left out), the response's body read and the response closed."""

    def __init__(self, headers: dict[str, str]) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.headers = {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in headers.items()
        }

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """The status code and body of ``method path`` (``path`` may carry a
        query string)."""
        path_info, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "RAW_URI": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "50000",
            "HTTP_HOST": "testserver",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **self.headers,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        started: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
            started.append(status)

        result = self.handler(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            result.close()  # request_finished, as a server sends it
        return int(started[0].split(" ", 1)[0]), content

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        return self.request("POST", path, json.dumps(body).encode())


class Bench:
    """One backend's measuring process: an admin-keyed client and the paths."""

    def __init__(self) -> None:
        from rest_framework.test import APIClient

        from runtime.services.api_keys import api_key_create
        from runtime.services.audit import Actor

        self.actor = Actor.system()
        key_id = f"bench-{uuid.uuid4().hex[:8]}"
        _, secret = api_key_create(actor=self.actor, role="admin", key_id=key_id)
        self.wsgi = WsgiClient({"x-api-key-id": key_id, "x-api-key": secret})
        # The test client, as the hot paths were measured until 2026-12-03.
        self.client = APIClient()
        self.client.credentials(HTTP_X_API_KEY_ID=key_id, HTTP_X_API_KEY=secret)
        self.round = 0  # a profiled second round needs other thread ids

    def name(self, prefix: str, i: int | None = None) -> str:
        """The reference's ``bench-run-job-{i}``; warm-ups (``i < 0``) and later
        rounds get their own names."""
        name = prefix if self.round == 0 else f"{prefix}-r{self.round}"
        if i is None:
            return name
        return f"{name}-{i}" if i >= 0 else f"{name}-warmup{-i}"

    # requests -----------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _data("POST", path, *self.wsgi.post(path, body))

    def get(self, path: str) -> dict[str, Any]:
        return _data("GET", path, *self.wsgi.request("GET", path))

    # seeding (untimed) --------------------------------------------------------------

    def enqueue(self, thread_id: str, graph: str = "echo", value: Any = "hello") -> str:
        """A queued job; returns its attempt id."""
        from runtime.services.jobs import job_create

        job = job_create(
            graph=graph, input=value, actor=self.actor, thread_id=thread_id
        )
        return job.attempts.get().pk

    def executed(self, thread_id: str, graph: str, value: Any, expect: str) -> None:
        """A job run by an in-process worker to its next stop (``expect``)."""
        from runtime.models import Job
        from runtime.worker.drain import worker_drain

        attempt_id = self.enqueue(thread_id, graph, value)
        worker_drain(attempt_id=attempt_id, worker_id="bench-seed", limit=1)
        status = Job.objects.get(thread_id=thread_id).status
        if status != expect:
            raise RuntimeError(f"seeded {thread_id} is {status}, not {expect}")

    # the paths: each returns the timed seconds of iteration ``i`` -------------------

    def scheduler_dispatch(self, i: int) -> float:
        worker = "bench-worker-dispatch"
        attempt_id = self.enqueue(self.name("bench-dispatch", i))
        start = time.perf_counter()
        data = self.post("/v1/workers/poll", {"worker_id": worker})
        elapsed = time.perf_counter() - start
        if data["decision"] != "dispatched" or data["attempt_id"] != attempt_id:
            raise RuntimeError(f"poll did not dispatch {attempt_id}: {data}")
        ack = {"attempt_id": attempt_id, "terminal_status": "completed"}
        self.post(f"/v1/workers/{worker}/ack", ack)
        return elapsed

    def lease_heartbeat_setup(self) -> None:
        self.hb_worker = "bench-worker-heartbeat"
        self.hb_attempt = self.enqueue(self.name("bench-heartbeat"))
        data = self.post("/v1/workers/poll", {"worker_id": self.hb_worker})
        if data["attempt_id"] != self.hb_attempt:
            raise RuntimeError(f"poll did not dispatch {self.hb_attempt}: {data}")
        self.hb_lease = data["lease_id"]

    def lease_heartbeat(self, i: int) -> float:
        path = f"/v1/workers/{self.hb_worker}/heartbeat"
        start = time.perf_counter()
        self.post(path, {"lease_id": self.hb_lease})
        return time.perf_counter() - start

    def lease_heartbeat_teardown(self) -> None:
        ack = {"attempt_id": self.hb_attempt, "terminal_status": "completed"}
        self.post(f"/v1/workers/{self.hb_worker}/ack", ack)

    def api_run_job(self, i: int) -> float:
        body = {"thread_id": self.name("bench-run-job", i), "input": "hello"}
        start = time.perf_counter()
        data = self.post("/v1/jobs/run", body)
        elapsed = time.perf_counter() - start
        if data["status"] != "queued":
            raise RuntimeError(f"run answered {data}")
        return elapsed

    def api_run_job_test_client(self, i: int) -> float:
        """``api_run_job`` through ``APIClient``, as measured until 2026-12-03."""
        body = {"thread_id": self.name("bench-run-job-tc", i), "input": "hello"}
        start = time.perf_counter()
        response = self.client.post("/v1/jobs/run", body, format="json")
        elapsed = time.perf_counter() - start
        data = _data("POST", "/v1/jobs/run", response.status_code, response.content)
        if data["status"] != "queued":
            raise RuntimeError(f"run answered {data}")
        return elapsed

    def api_inspect_job_setup(self) -> None:
        self.inspect_thread = self.name("bench-inspect")
        topic = {"topic": "durable agents"}
        self.executed(self.inspect_thread, "approval", topic, "interrupted")

    def api_inspect_job(self, i: int) -> float:
        path = f"/v1/jobs/{self.inspect_thread}"
        start = time.perf_counter()
        data = self.get(path)
        elapsed = time.perf_counter() - start
        if not data["values"].get("draft"):
            raise RuntimeError(f"inspect answered {data}")
        return elapsed

    def api_list_jobs_setup(self) -> None:
        for k in range(60):
            self.enqueue(self.name("bench-list", k))

    def api_list_jobs(self, i: int) -> float:
        start = time.perf_counter()
        data = self.get("/v1/jobs?limit=50")
        elapsed = time.perf_counter() - start
        if not data["jobs"]:
            raise RuntimeError("list_jobs returned no jobs")
        return elapsed

    def api_replay_job(self, i: int) -> float:
        thread_id = self.name("bench-replay", i)
        self.executed(thread_id, "echo", "hello", "completed")
        start = time.perf_counter()
        data = self.post(f"/v1/jobs/{thread_id}/replay", {})
        elapsed = time.perf_counter() - start
        if data["status"] != "queued":
            raise RuntimeError(f"replay answered {data}")
        return elapsed


def _data(method: str, path: str, status: int, content: bytes) -> dict[str, Any]:
    if status != 200:
        raise RuntimeError(f"{method} {path}: {status} {content!r}")
    return json.loads(content)["data"]


def measure_path(
    bench: Bench, name: str, samples: int, warmup: int, profiler: Any = None
) -> list[float]:
    """Per-iteration milliseconds of one path (after ``warmup`` untimed calls)."""
    setup = getattr(bench, f"{name}_setup", None)
    teardown = getattr(bench, f"{name}_teardown", None)
    fn: Callable[[int], float] = getattr(bench, name)
    if setup:
        setup()
    for i in range(warmup):
        fn(-1 - i)
    times = []
    if profiler is not None:
        profiler.enable()
    for i in range(samples):
        times.append(fn(i) * 1e3)
    if profiler is not None:
        profiler.disable()
    if teardown:
        teardown()
    return times


def role_inproc(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic
    import django

    django.setup()
    from django.db import connection

    bench = Bench()
    results: dict[str, Any] = {"vendor": connection.vendor, "paths": {}}
    for name in [name for name, _ in PATHS] + [COMPARED]:
        results["paths"][name] = measure_path(bench, name, args.samples, args.warmup)
    if args.profile:
        profiler = cProfile.Profile()
        bench.round += 1
        measure_path(bench, args.profile, args.samples, 0, profiler)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        results["profile"] = out.getvalue()
    emit(results)


# -- orchestration: databases, subprocesses --------------------------------------------


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
    env.pop("DATABASE_URL", None)
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="oris_site.settings",
        ORIS_SECRET_KEY="bench-not-secret",
        ORIS_LOG_LEVEL="WARNING",
        ORIS_API_AUTH_BEARER_TOKEN=BEARER,
        # Counted (the limiter's cost is measured) but never reached.
        ORIS_API_RATE_LIMIT="100000000/minute",
        ORIS_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
    )
    return env


def pg_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def postgres_up() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[dict[str, str]]:
    """A migrated, empty database; yields the environment that points at it."""
    env = base_env()
    if backend == "sqlite":
        env["ORIS_SQLITE_DB"] = str(workdir / f"oris-bench-api-{os.getpid()}.sqlite")
    else:
        pg_execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        pg_execute(f'CREATE DATABASE "{PG_DB}"')
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    try:
        subprocess.run(
            [PY, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        yield env
    finally:
        if backend == "postgres":
            pg_execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


def run_role(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [PY, str(Path(__file__).resolve()), *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout)
        raise RuntimeError(f"{argv} failed with exit code {proc.returncode}")
    return json.loads(lines[-1][len("RESULT ") :])


def report_json(paths: dict[str, list[float]], samples: int) -> dict[str, Any]:
    """The reference's report: ``BenchmarkReport`` with six ``BenchmarkMetric``."""
    benchmarks = []
    for name, group in PATHS:
        times = paths[name]
        total_ms = sum(times)
        benchmarks.append(
            {
                "id": name,
                "group": group,
                "unit": "ms",
                "iterations": len(times),
                "total_ms": total_ms,
                "avg_ms": total_ms / len(times) if times else 0.0,
                "throughput_per_sec": len(times) / (total_ms / 1e3)
                if total_ms
                else 0.0,
            }
        )
    return {
        "generated_at": rfc3339_now(),
        "sample_size": samples,
        "environment": {
            "crate_version": package_version(),
            "platform": platform_name(),
            "regression_policy": "manual-review-on-baseline-delta",
        },
        "benchmarks": benchmarks,
    }


def output_for(output: Path, backend: str) -> Path:
    if backend == "sqlite":
        return output
    return output.with_name(f"{output.stem}-{backend}{output.suffix}")


# -- load: gunicorn on loopback, threads with httpx ------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int) -> Iterator[str]:
    """``gunicorn oris_site.wsgi`` on a free loopback port, stopped with SIGTERM."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [PY, "-m", "gunicorn", "oris_site.wsgi", "-b", f"127.0.0.1:{port}"]
            + ["-w", str(workers), "--timeout", "120", "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {log}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer on {url}; see {log}")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group we started, by its id
            proc.wait(timeout=10)


def load_run(
    url: str, kind: str, clients: int, requests: int, seconds: float
) -> dict[str, Any]:
    """``clients`` threads share ``requests`` requests, stopping at ``seconds``."""
    import httpx

    tag = uuid.uuid4().hex[:8]
    per_client = max(1, requests // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_error: list[str] = []
    barrier = threading.Barrier(clients + 1)
    headers = {"Authorization": f"Bearer {BEARER}"}
    deadline = [0.0]

    def client(c: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            barrier.wait()
            for k in range(per_client):
                if time.monotonic() > deadline[0]:
                    return
                start = time.perf_counter()
                try:
                    if kind == "list":
                        r = http.get("/v1/jobs", params={"limit": 50})
                        ok = r.status_code == 200 and bool(r.json()["data"]["jobs"])
                    else:
                        body = {"thread_id": f"load-{tag}-{c}-{k}", "input": "hello"}
                        r = http.post("/v1/jobs/run", json=body)
                        ok = r.status_code == 200
                except httpx.HTTPError as exc:
                    ok, r = False, exc
                latencies[c].append((time.perf_counter() - start) * 1e3)
                if not ok:
                    errors[c] += 1
                    if not first_error:
                        first_error.append(describe(r))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds
    start = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    return {
        "kind": kind,
        "clients": clients,
        "requests": len(flat),
        "seconds": wall,
        "rps": len(flat) / wall if wall else 0.0,
        "p50_ms": percentile(flat, 0.50),
        "p99_ms": percentile(flat, 0.99),
        "errors": sum(errors),
        "first_error": first_error[0] if first_error else None,
    }


def describe(outcome: Any) -> str:
    if isinstance(outcome, Exception):
        return repr(outcome)[:300]
    return f"{outcome.status_code} {outcome.text[:300]}"


def measure_load(
    env: dict[str, str], log: Path, requests: int, seconds: float
) -> list[dict[str, Any]]:
    results = []
    with gunicorn(env, log, workers=2) as url:
        for kind in ("list", "run"):
            load_run(url, kind, 4, 24, 5.0)  # warm-up: both workers import, connect
            for clients in (8, 32):
                results.append(load_run(url, kind, clients, requests, seconds))
    return results


# -- tables ---------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def hot_path_table(results: dict[str, dict[str, Any]]) -> str:
    backends = list(results)
    header = ["path"]
    for b in backends:
        header += [f"{b} p50 ms", f"{b} avg ms", f"{b} p99 ms", f"{b} /s"]
    rows = []
    for name in [name for name, _ in PATHS] + [COMPARED]:
        row = [f"`{name}`"]
        for b in backends:
            times = results[b]["paths"][name]
            avg = statistics.fmean(times)
            row += [
                f"{percentile(times, 0.5):.2f}",
                f"{avg:.2f}",
                f"{percentile(times, 0.99):.2f}",
                f"{1e3 / avg:.0f}",
            ]
        rows.append(row)
    return table(header, rows)


def load_table(results: dict[str, list[dict[str, Any]]]) -> str:
    label = {"list": "GET /v1/jobs?limit=50", "run": "POST /v1/jobs/run"}
    rows = []
    for backend, runs in results.items():
        for r in runs:
            rows.append(
                [
                    f"{backend}, `{label[r['kind']]}`",
                    str(r["clients"]),
                    str(r["requests"]),
                    f"{r['rps']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    str(r["errors"]),
                ]
            )
    header = ["backend, request", "clients", "requests", "req/s", "p50 ms"]
    return table(header + ["p99 ms", "errors"], rows)


# -- main -----------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast look (< 1 min)")
    parser.add_argument("--samples", type=int, help="iterations per hot path")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated subset"
    )
    parser.add_argument("--no-load", action="store_true", help="skip the gunicorn run")
    parser.add_argument("--load-requests", type=int, help="requests per load run")
    parser.add_argument("--load-seconds", type=float, help="time cap per load run")
    parser.add_argument(
        "--profile",
        metavar="PATH_ID",
        help="also cProfile one hot path, e.g. api_run_job",
    )
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args(argv)  # bench/run.py passes all through
    if args.samples is None:
        args.samples = 40 if args.quick else 300
    if args.load_requests is None:
        args.load_requests = 300 if args.quick else 2000
    if args.load_seconds is None:
        args.load_seconds = 2.5 if args.quick else 20.0
    args.samples = max(1, args.samples)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.role == "inproc":
        role_inproc(args)
        return 0
    return orchestrate(args)


def orchestrate(args: argparse.Namespace) -> int:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgres" in backends and not postgres_up():
        print(f"PostgreSQL at {PG_SERVER} does not answer: SQLite only", flush=True)
        backends.remove("postgres")
    workdir = Path(tempfile.mkdtemp(prefix="oris-bench-api-"))
    hot: dict[str, dict[str, Any]] = {}
    load: dict[str, list[dict[str, Any]]] = {}
    status = 0
    try:
        for backend in backends:
            print(f"-- {backend}: hot paths ({args.samples} samples)", flush=True)
            with database(backend, workdir) as env:
                role = ["--role", "inproc", "--samples", str(args.samples)]
                role += ["--warmup", str(args.warmup)]
                if args.profile:
                    role += ["--profile", args.profile]
                hot[backend] = run_role(role, env, timeout=600)
                report = report_json(hot[backend]["paths"], args.samples)
                out = output_for(args.output, backend)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(report, indent=2) + "\n")
                print(f"   report: {out}", flush=True)
                if "profile" in hot[backend]:
                    print(hot[backend]["profile"], flush=True)
                if not args.no_load:
                    print(f"-- {backend}: load on gunicorn", flush=True)
                    log = workdir / f"gunicorn-{backend}.log"
                    load[backend] = measure_load(
                        env, log, args.load_requests, args.load_seconds
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"Hot paths, in process, ms per call ({args.samples} samples)")
    print(hot_path_table(hot))
    for backend, data in hot.items():
        p50 = percentile(data["paths"]["api_run_job"], 0.5)
        verdict = "met" if p50 <= RUN_TARGET_P50_MS else "MISSED"
        print(
            f"{backend}: POST /v1/jobs/run p50 {p50:.2f} ms, target <= "
            f"{RUN_TARGET_P50_MS} ms: {verdict}"
        )
    if load:
        print()
        print(
            f"Load on gunicorn -w 2 (at most {args.load_requests} requests or "
            f"{args.load_seconds:g} s per row)"
        )
        print(load_table(load))
        for backend, runs in load.items():
            for r in runs:
                if r["errors"]:
                    status = 1
                    print(f"{backend} {r['kind']} x{r['clients']}: {r['first_error']}")
    return status


if __name__ == "__main__":
    sys.exit(main())
