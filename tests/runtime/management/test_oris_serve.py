"""`oris_serve` (what `make run` starts) serves HTTP, runs the cluster, stops."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
# The server runs on a SQLite file of its own, whichever the test database.
pytestmark = pytest.mark.no_test_database
# q2 keeps no successful task (save_limit -1): the task leaves a row of its own.
ROUND_TRIP = """
import time
from django.contrib.auth.models import Group
from django_q.tasks import async_task
async_task("django.contrib.auth.models.Group.objects.create", name="q2-check")
deadline = time.monotonic() + 20
while not Group.objects.filter(name="q2-check").exists():
    assert time.monotonic() < deadline, "the cluster ran no task"
    time.sleep(0.05)
print("ran")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    unset = ("DATABASE_URL", "ORIS_ADMIN_PASSWORD")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["ORIS_SQLITE_DB"] = str(tmp_path / "serve.db")
    subprocess.run(
        [sys.executable, MANAGE, "migrate", "--noinput", "-v0"], env=env, check=True
    )
    return env


def test_it_serves_and_stops_both_processes_on_sigterm(sqlite_env) -> None:
    addr = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [sys.executable, MANAGE, "oris_serve", "--addr", addr, "--bootstrap"],
        env=sqlite_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert get_json(f"http://{addr}/healthz", time.monotonic() + 30) == {
            "status": "ok"
        }
        assert get_json(f"http://{addr}/ok", time.monotonic()) == {"ok": True}
        # The cluster is up when a queued task has run.
        check = subprocess.run(
            [sys.executable, MANAGE, "shell", "--no-imports", "-c", ROUND_TRIP],
            env=sqlite_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.stdout.strip() == "ran", check.stderr
        # And a job goes through the doorbell, the cluster and the ledger.
        run = subprocess.run(
            [
                sys.executable,
                MANAGE,
                "oris",
                "run",
                "echo",
                "--input",
                '"hi"',
                "--wait",
                "--json",
            ],
            env=sqlite_env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert json.loads(run.stdout)["status"] == "completed", run.stderr
        # Its cluster is supervised: /readyz knows it and saw it progress.
        ready = get_json(f"http://{addr}/readyz", time.monotonic() + 30)
        assert ready["status"] == "ok"
        assert [c["progressed_at"] is not None for c in ready["clusters"]] == [True]
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0
    assert "Traceback" not in output
    # The first screen ends with the framed block: the console and its password,
    # after the server's own start-up lines.
    block = output.index("  Oris console   http://")
    assert block > output.index("Uvicorn running on")  # ASGI, for the SSE streams
    assert output[block:].splitlines()[2].startswith("  password       ")
    assert output.rindex("=" * 72) > block
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{addr}/healthz", timeout=1)
