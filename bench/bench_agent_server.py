"""Benchmark the Agent Server API's runs through LangGraph's own SDK.

Run: ``.venv/bin/python bench/bench_agent_server.py [--quick] [--samples N]``.

Against ``uvicorn oris_site.asgi`` and a ``qcluster`` (as ``make run`` serves them)
on a migrated temporary SQLite file, and on PostgreSQL when the local server
answers (``ORIS_BENCH_PG``, default ``postgres://postgres@127.0.0.1:5432``; the
script creates and drops its own ``oris_bench_agent_server`` database), with a
one-node graph (one ``tick``):

- ``runs.wait`` sequentially on stateless runs: p50 and p99 (ms);
- runs/s with 8 concurrent clients (threads, one SDK client each) calling
  ``runs.wait``;
- time to the first SSE event of ``runs.stream`` (the ``metadata`` event, which
  the worker writes when it starts the run) and to the last one (ms, p50).

Figures depend on the machine and its load: compare runs made side by side.
Unknown arguments are ignored, so ``bench/run.py`` can pass every script the same
ones.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_SERVER = os.environ.get("ORIS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PG_DB = "oris_bench_agent_server"
KEY = "bench-agent-server-key"
GRAPH = "tick=tests.runtime.agent_server.graphs_runs:build_ticks"
ONE_TICK = {"until": 1, "delay": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ok", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """uvicorn and a q2 cluster on ``env``'s database; yields the URL."""
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with tempfile.TemporaryFile() as logs:
        yield from _serve(env, logs)


def _serve(env: dict[str, str], logs: IO[bytes]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [PY, "-m", "uvicorn", "oris_site.asgi:application", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    cluster = subprocess.Popen(
        [PY, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=logs,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _up(url):
            if time.monotonic() > deadline or web.poll() is not None:
                logs.seek(0)
                raise RuntimeError(logs.read().decode(errors="replace")[-3000:])
            time.sleep(0.1)
        yield url
    finally:
        for process in (web, cluster):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (web, cluster):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(url: str, samples: int) -> dict[str, float]:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=url, api_key=KEY, timeout=60)
    client.runs.wait(None, "tick", input=ONE_TICK)  # warm up
    waits = []
    for _ in range(samples):
        started = time.perf_counter()
        assert client.runs.wait(None, "tick", input=ONE_TICK)["n"] == 1
        waits.append((time.perf_counter() - started) * 1000)
    first, last = [], []
    for _ in range(max(samples // 2, 5)):
        started = time.perf_counter()
        seen = None
        for part in client.runs.stream(None, "tick", input=ONE_TICK):
            seen = seen or (time.perf_counter() - started) * 1000
            assert part.event in ("metadata", "values")
        first.append(seen or 0.0)
        last.append((time.perf_counter() - started) * 1000)
    per_client = max(samples // 4, 5)
    errors: list[BaseException] = []

    def load() -> None:
        mine = get_sync_client(url=url, api_key=KEY, timeout=120)
        try:
            for _ in range(per_client):
                mine.runs.wait(None, "tick", input=ONE_TICK)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return {
        "wait_p50_ms": statistics.median(waits),
        "wait_p99_ms": pct(waits, 99),
        "runs_per_s_8_clients": 8 * per_client / elapsed,
        "first_event_p50_ms": statistics.median(first),
        "stream_end_p50_ms": statistics.median(last),
    }


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"ORIS_GRAPHS": GRAPH, "ORIS_API_AUTH_API_KEY": KEY, "PYTHONPATH": str(ROOT)}
    return env


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3):
            return True
    except Exception:
        return False


def pg_database(create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        if create:
            db.execute(f"CREATE DATABASE {PG_DB}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int, default=None)
    args, _ = parser.parse_known_args()
    samples = args.samples or (20 if args.quick else 100)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = base_env() | {"ORIS_SQLITE_DB": str(Path(tmp) / "bench.db")}
        with served(env) as url:
            results["sqlite"] = measure(url, samples)
    if pg_available():
        pg_database(create=True)
        try:
            env = base_env() | {"DATABASE_URL": f"{PG_SERVER}/{PG_DB}"}
            with served(env) as url:
                results["postgresql"] = measure(url, samples)
        finally:
            pg_database(create=False)
    names = list(next(iter(results.values())))
    print(f"{'':24}" + "".join(f"{backend:>14}" for backend in results))
    for name in names:
        row = "".join(f"{results[b][name]:>14.1f}" for b in results)
        print(f"{name:24}{row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
