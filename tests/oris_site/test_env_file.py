"""One configuration for every process: the CLI and the web server read the same
``.env`` file, and a variable set in the environment wins over it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from oris_site.settings import env_file

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
ORIS = str(Path(sys.executable).with_name("oris"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
TOKEN = "token-from-the-env-file"
# Every process here runs on a SQLite file of its own, whichever the test database.
pytestmark = pytest.mark.no_test_database


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once; each test gets its own copy."""
    database = tmp_path_factory.mktemp("env-db") / "migrated.db"
    found = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    found |= {"ORIS_SQLITE_DB": str(database), "ORIS_ENV_FILE": ""}
    subprocess.run(
        [sys.executable, MANAGE, "migrate", "--noinput", "-v0"], env=found, check=True
    )
    return database


@pytest.fixture
def env(tmp_path: Path, migrated: Path) -> dict[str, str]:
    """A process environment whose configuration is all in a ``.env`` file."""
    shutil.copyfile(migrated, tmp_path / "env.db")
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# what `make run`, the CLI, qcluster and the tests all read\n"
        f"ORIS_SQLITE_DB={tmp_path / 'env.db'}\n"
        "ORIS_GRAPHS=from_env=tests.runtime.sample_graphs:build_chain\n"
        f'ORIS_API_AUTH_BEARER_TOKEN="{TOKEN}"\n'
        "ORIS_WORKERS=5\n"
    )
    names = ("DATABASE_URL", "ORIS_SQLITE_DB", "ORIS_GRAPHS", "ORIS_WORKERS")
    found = {k: v for k, v in os.environ.items() if k not in names}
    found = {k: v for k, v in found.items() if not k.startswith("ORIS_API_AUTH")}
    found["ORIS_ENV_FILE"] = str(dotenv)
    return found


def cli_json(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [ORIS, *args, "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_cli_reads_the_env_file(env: dict[str, str]) -> None:
    names = {g["name"] for g in cli_json(env, "graphs")["graphs"]}
    assert "from_env" in names
    config = cli_json(env, "config")
    rows = {r["name"]: r for r in config["settings"]}
    assert rows["ORIS_WORKERS"] == {
        "name": "ORIS_WORKERS",
        "value": "5",
        "source": ".env",
    }
    assert rows["ORIS_API_AUTH_BEARER_TOKEN"]["value"] == "********"
    assert rows["ORIS_API_AUTH_BEARER_TOKEN"]["source"] == ".env"
    assert config["env_file"] == env["ORIS_ENV_FILE"]
    assert TOKEN not in json.dumps(config)


def test_the_environment_wins_over_the_file(env: dict[str, str]) -> None:
    rows = {
        r["name"]: r
        for r in cli_json({**env, "ORIS_WORKERS": "7"}, "config")["settings"]
    }
    assert rows["ORIS_WORKERS"] == {
        "name": "ORIS_WORKERS",
        "value": "7",
        "source": "environment",
    }


def test_the_web_server_reads_the_same_file(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1", "oris_site.wsgi"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/graphs",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "from_env" in {g["name"] for g in body["data"]["graphs"]}


def test_a_named_env_file_that_is_missing_stops_startup(env: dict[str, str]) -> None:
    done = subprocess.run(
        [ORIS, "config"],
        env={**env, "ORIS_ENV_FILE": "/nonexistent/.env"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "ORIS_ENV_FILE='/nonexistent/.env' is not a file" in done.stderr


def test_by_default_the_file_is_the_project_roots(monkeypatch) -> None:
    monkeypatch.delenv("ORIS_ENV_FILE", raising=False)
    assert env_file() == Path(settings.BASE_DIR) / ".env"
    monkeypatch.setenv("ORIS_ENV_FILE", "")
    assert env_file() is None
