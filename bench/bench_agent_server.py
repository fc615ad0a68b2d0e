"""Benchmark the Agent Server API against LangGraph's own dev server, side by side.

Run: ``.venv/bin/python bench/bench_agent_server.py [--quick] [--only BACKEND]``
(``sqlite`` or ``postgres``; both by default).

Both servers serve the same one-node graph (``{"n": k}`` -> ``{"n": k + 1}``) and
are driven by the same client, LangGraph's ``langgraph-sdk``, from this process:

- **sequential**: ``runs.wait`` on a new thread (``if_not_exists="create"``), one
  after the other: p50 and p99 latency;
- **concurrent**: 8 clients (threads, one SDK client each) doing the same for a
  fixed time: runs/s;
- **first event**: ``runs.stream`` (``values``), time from the request to the first
  event (the ``metadata`` event that names the run);
- **CPU per run**: during the concurrent phase, the CPU time (user + system) of
  every process the server started (uvicorn, the q2 cluster and its workers;
  PostgreSQL's own backends are not counted), less what the idle server uses in
  as long (measured for 3 s at first), divided by the runs completed, for the
  8-client phase and for the sequential one: a number the machine's load moves
  far less than the wall-clock ones. Every measurement starts after
  ``WARM_RUNS`` warm-up runs, so the cluster's start (its processes booting,
  each worker importing and building the graph on its first task) is counted
  neither as idle CPU nor as a run's.

Oris runs as ``make run`` runs it: uvicorn (``oris_site.asgi``) plus a ``qcluster``,
durable (every run is a job with its attempts, leases and checkpoints), on a fresh
SQLite file and on a fresh PostgreSQL database (server ``ORIS_BENCH_PG``, default
``postgres://postgres@127.0.0.1:5432``; database ``ORIS_BENCH_PG_DB``). The peer is
``langgraph dev`` (langgraph-api with its in-memory runtime; no licence key needed),
installed for the benchmark only into its own virtual environment
(``ORIS_BENCH_PEER_VENV``, default ``var/bench/peer-venv``; created with ``pip
install 'langgraph-cli[inmem]'`` when missing). Unknown arguments are ignored, so
``bench/run.py`` can pass every script the same ones.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_SERVER = os.environ.get("ORIS_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PG_DB = os.environ.get("ORIS_BENCH_PG_DB", "oris_bench_agent_server")
PEER_VENV = Path(
    os.environ.get("ORIS_BENCH_PEER_VENV", ROOT / "var" / "bench" / "peer-venv")
)
KEY = "bench-agent-server-key"
GRAPH = "bench_one"
CLIENTS = 8
IDLE_SECONDS = 3.0
WARM_RUNS = 6  # a few per q2 worker (ORIS_WORKERS, 2 by default)

PEER_GRAPH = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    n: int


def step(state: State) -> dict:
    return {"n": state["n"] + 1}


builder = StateGraph(State)
builder.add_node("step", step)
builder.add_edge(START, "step")
builder.add_edge("step", END)
graph = builder.compile()
"""


def build_one_node() -> Any:
    """The Oris side of the benchmark graph (``graphs``, the same definition)."""
    from typing import TypedDict

    from graphs import END, START, StateGraph

    class State(TypedDict):
        n: int

    def step(state: State) -> dict:
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# --- the servers ------------------------------------------------------------------


class Server:
    name: str
    url: str
    api_key: str | None = None

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


class Peer(Server):
    """``langgraph dev`` on a free port, the graph in a temporary project."""

    name = "langgraph dev (in memory)"

    def __init__(self, home: Path) -> None:
        super().__init__()
        langgraph = PEER_VENV / "bin" / "langgraph"
        if not langgraph.exists():
            print(f"installing langgraph-cli[inmem] into {PEER_VENV} ...", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
            subprocess.run(
                [
                    str(PEER_VENV / "bin" / "pip"),
                    "install",
                    "-q",
                    "langgraph-cli[inmem]",
                ],
                check=True,
            )
        project = home / "peer"
        project.mkdir()
        (project / "agent.py").write_text(PEER_GRAPH)
        (project / "langgraph.json").write_text(
            json.dumps({"dependencies": ["."], "graphs": {GRAPH: "./agent.py:graph"}})
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANGSMITH")}
        env |= {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
        log = (home / "peer.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [
                    str(langgraph),
                    "dev",
                    "--no-browser",
                    "--no-reload",
                    "--port",
                    str(port),
                ],
                cwd=project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        wait_up(self.url, self.processes[0])


class Oris(Server):
    """uvicorn + qcluster on a fresh database, as ``make run`` serves."""

    def __init__(self, home: Path, backend: str) -> None:
        super().__init__()
        self.name = f"Oris ({backend}, durable)"
        self.api_key = KEY
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        if backend == "sqlite":
            env["ORIS_SQLITE_DB"] = str(home / "oris.db")
        else:
            subprocess.run(
                [
                    "psql",
                    PG_SERVER + "/postgres",
                    "-q",
                    "-c",
                    f"DROP DATABASE IF EXISTS {PG_DB}",
                    "-c",
                    f"CREATE DATABASE {PG_DB}",
                ],
                check=True,
            )
            env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
        env |= {
            "ORIS_GRAPHS": f"{GRAPH}=bench.bench_agent_server:build_one_node",
            "ORIS_API_AUTH_API_KEY": KEY,
            "ORIS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        manage = str(ROOT / "manage.py")
        subprocess.run([PY, manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        for name, command in (
            (
                "web",
                [
                    PY,
                    "-m",
                    "uvicorn",
                    "oris_site.asgi:application",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
            ),
            ("qcluster", [PY, manage, "qcluster"]),
        ):
            self.processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=(home / f"{name}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_up(self.url, self.processes[0])

    def stop(self) -> None:
        super().stop()
        if "postgres" in self.name:
            subprocess.run(
                [
                    "psql",
                    PG_SERVER + "/postgres",
                    "-q",
                    "-c",
                    f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)",
                ],
                check=False,
            )


# --- the measurements -------------------------------------------------------------


def client(server: Server) -> Any:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=server.url, api_key=server.api_key, timeout=60)


def one_wait(sdk: Any) -> float:
    thread = str(uuid.uuid4())
    started = time.perf_counter()
    answer = sdk.runs.wait(thread, GRAPH, input={"n": 1}, if_not_exists="create")
    took = time.perf_counter() - started
    if answer != {"n": 2}:
        raise AssertionError(f"unexpected answer {answer!r}")
    return took


def warm(server: Server) -> None:
    """Runs until the server is warm: the cluster's workers started, each
    having imported and built the graph once (a cost per process, not per run)."""
    sdk = client(server)
    for _ in range(WARM_RUNS):
        one_wait(sdk)


def sequential(server: Server, runs: int) -> list[float]:
    sdk = client(server)
    return [one_wait(sdk) for _ in range(runs)]


def session_cpu(server: Server) -> float:
    """CPU seconds (user + system) used so far by every process in the server's
    sessions (each was started in a session of its own)."""
    sessions = {process.pid for process in server.processes}
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # from field 3, the state
        if int(fields[3]) in sessions:  # field 6, the session id
            ticks += int(fields[11]) + int(fields[12])  # fields 14, 15
    return ticks / os.sysconf("SC_CLK_TCK")


def concurrent(server: Server, seconds: float) -> tuple[float, int]:
    done = [0] * CLIENTS
    stop_at = time.monotonic() + seconds
    errors: list[BaseException] = []

    def work(i: int) -> None:
        sdk = client(server)
        try:
            while time.monotonic() < stop_at:
                one_wait(sdk)
                done[i] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(done) / (time.monotonic() - started), sum(done)


def first_event(server: Server, runs: int) -> list[float]:
    sdk = client(server)
    found = []
    for _ in range(runs + 2):
        thread = str(uuid.uuid4())
        started = time.perf_counter()
        stream = sdk.runs.stream(
            thread, GRAPH, input={"n": 1}, stream_mode="values", if_not_exists="create"
        )
        first = next(iter(stream))
        found.append(time.perf_counter() - started)
        if first.event != "metadata":
            raise AssertionError(f"first event {first.event!r}, not metadata")
        for _ in stream:  # the rest, so the run ends before the next
            pass
    return found[2:]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(server: Server, *, runs: int, seconds: float) -> dict[str, float]:
    warm(server)
    idle = session_cpu(server)
    time.sleep(IDLE_SECONDS)
    cpu = session_cpu(server)
    idle = (cpu - idle) / IDLE_SECONDS  # what the idle server burns (polls, timers)
    started = time.monotonic()
    waits = sequential(server, runs)
    lone = session_cpu(server) - cpu - idle * (time.monotonic() - started)
    starts = first_event(server, max(10, runs // 4))
    cpu = session_cpu(server)
    started = time.monotonic()
    rate, completed = concurrent(server, seconds)
    cpu = session_cpu(server) - cpu - idle * (time.monotonic() - started)
    return {
        "p50_ms": statistics.median(waits) * 1000,
        "p99_ms": quantile(waits, 0.99) * 1000,
        "runs_per_s": rate,
        "first_event_p50_ms": statistics.median(starts) * 1000,
        "cpu_ms_per_run": cpu * 1000 / max(completed, 1),
        "cpu_ms_per_lone_run": lone * 1000 / runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args, _ = parser.parse_known_args()
    runs, seconds = (30, 5.0) if args.quick else (200, 20.0)
    backends = [args.only] if args.only else ["sqlite", "postgres"]
    home = Path(tempfile.mkdtemp(prefix="oris-bench-agent-server-"))
    results: list[tuple[str, dict[str, float]]] = []
    try:
        peer = Peer(home)
        try:
            results.append((peer.name, measure(peer, runs=runs, seconds=seconds)))
        finally:
            peer.stop()
        for backend in backends:
            (home / backend).mkdir()
            oris = Oris(home / backend, backend)
            try:
                results.append((oris.name, measure(oris, runs=runs, seconds=seconds)))
            finally:
                oris.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    peer_rate = results[0][1]["runs_per_s"]
    peer_p50 = results[0][1]["p50_ms"]
    print(
        f"\nload average {os.getloadavg()[0]:.1f}; {runs} sequential runs; "
        f"{CLIENTS} clients for {seconds:.0f} s"
    )
    print(
        "| server | runs.wait p50 ms | p99 ms | runs/s, 8 clients | vs dev server "
        "| first SSE event p50 ms | server CPU ms per run: 8 clients, sequential |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, found in results:
        print(
            f"| {name} | {found['p50_ms']:.1f} | {found['p99_ms']:.1f} | "
            f"{found['runs_per_s']:.1f} | {found['runs_per_s'] / peer_rate:.2f}x "
            f"(p50 {peer_p50 / found['p50_ms']:.1f}x faster) | "
            f"{found['first_event_p50_ms']:.1f} | {found['cpu_ms_per_run']:.1f}, "
            f"{found['cpu_ms_per_lone_run']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
