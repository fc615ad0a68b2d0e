"""A live Oris for the Agent Server tests: uvicorn (ASGI) and a django-q2 cluster,
real subprocesses on the test database, driven by LangGraph's own SDK.

One server per test module (starting it takes seconds). The tests are
transactional: the database is emptied after each one, and the server reads it as
any client would. The server's admin credential is the static
``ORIS_API_AUTH_API_KEY``, so it survives those flushes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.runtime.agent_server.graphs import AGENT_GRAPHS
from tests.runtime.sample_graphs import TEST_GRAPHS
from tests.runtime.test_crash_recovery import start_qcluster, worker_env
from tests.runtime.test_metrics_workload import free_port

ADMIN_KEY = "agent-server-admin-secret"


@dataclass
class LiveServer:
    url: str
    api_key: str  # an admin's x-api-key
    env: dict[str, str]
    logs: Path
    web: subprocess.Popen[bytes]
    cluster: subprocess.Popen[bytes] | None

    def log(self) -> str:
        """Both processes' output so far (for assertion messages)."""
        return "\n".join(
            f"== {path.name}\n{path.read_text(errors='replace')[-6000:]}"
            for path in sorted(self.logs.glob("*.log"))
        )


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ok", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def start_web(env: dict[str, str], log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """uvicorn serving ``oris_site.asgi`` on a free port, as ``make run`` does."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "oris_site.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return f"http://127.0.0.1:{port}", process


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the leader stops its own children
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):  # what is left of the group
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def server_env() -> dict[str, str]:
    env = worker_env()
    graphs = TEST_GRAPHS | AGENT_GRAPHS
    env["ORIS_GRAPHS"] = ",".join(f"{k}={v}" for k, v in graphs.items())
    env["ORIS_API_AUTH_API_KEY"] = ADMIN_KEY
    env["ORIS_LOG_FORMAT"] = "text"
    return env


@pytest.fixture(scope="module")
def agent_server(
    django_db_setup: None,
    django_db_blocker: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """uvicorn and a q2 cluster on the test database, for this module's tests."""
    logs = tmp_path_factory.mktemp("agent-server")
    env = server_env()
    url, web = start_web(env, logs / "web.log")
    cluster = start_qcluster(env, logs / "qcluster.log")
    server = LiveServer(url, ADMIN_KEY, env, logs, web, cluster)
    try:
        wait_until("the web process", lambda: _up(url) or web.poll() is not None)
        assert web.poll() is None, server.log()
        yield server
    finally:
        stop(web)
        stop(cluster)


@pytest.fixture(autouse=True)
def _agent_graphs(settings: object) -> None:
    """The server's graphs are this process's too (services called in a test)."""
    from runtime import registry

    settings.ORIS_GRAPHS = TEST_GRAPHS | AGENT_GRAPHS  # type: ignore[attr-defined]
    registry._cache.clear()
