"""The ``oris`` console script (and ``manage.py oris``) as a shell user and a script
meet it. Output shapes and refusals run the CLI's entry point in this process, on
the test database (``here``); the installed console script, ``manage.py oris``,
settings from the environment and every ``--wait`` run as real subprocesses on
their own SQLite file, with a real supervised cluster running the jobs (the same
file on either pass of ``make test``: the PostgreSQL pass skips those tests)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import pty
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from runtime import cli
from tests.runtime.policy_graphs import POLICY_GRAPHS
from tests.runtime.sample_graphs import TEST_GRAPHS

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
ORIS = str(Path(sys.executable).with_name("oris"))
NAP = "0.6"  # seconds per node of the `napper` graph: long enough to watch


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh database, the test graphs, no .env file (tests that want one say so)."""
    folder = tmp_path_factory.mktemp("cli")
    found = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    found |= {
        "ORIS_SQLITE_DB": str(folder / "cli.db"),
        "ORIS_ENV_FILE": "",
        "ORIS_GRAPHS": ",".join(
            f"{k}={v}" for k, v in (TEST_GRAPHS | POLICY_GRAPHS).items()
        ),
        "ORIS_TEST_EFFECTS_DIR": str(folder),
        "ORIS_TEST_NAP_SECONDS": NAP,
        "ORIS_TEST_FLAKY_FAILURES": "1000",  # `flaky` always fails: a dead letter
        "ORIS_MAX_DOORBELL_WAIT_SECONDS": "0",
    }
    subprocess.run(
        [sys.executable, MANAGE, "migrate", "--noinput", "-v0"], env=found, check=True
    )
    return found


@pytest.fixture(scope="module")
def cluster(env: dict[str, str], tmp_path_factory) -> Iterator[None]:
    log = tmp_path_factory.mktemp("cluster") / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, MANAGE, "oris_worker"],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    yield
    worker.terminate()
    worker.wait(timeout=30)


def oris(env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [ORIS, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, (done.stdout, done.stderr)
    return done


@pytest.fixture
def here(
    transactional_db, settings, capsys
) -> Callable[..., subprocess.CompletedProcess]:
    """``oris ARGS`` in this process: ``runtime.cli.main`` on the test database,
    its stdout, stderr and exit code as a subprocess's. (Transactional: the
    command closes the database connections when it ends, as it does in a shell.)"""
    settings.ORIS_GRAPHS = TEST_GRAPHS | POLICY_GRAPHS

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            cli.main(args)
            returncode = 0
        except SystemExit as exc:
            returncode = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        assert returncode == code, (out, err)
        return subprocess.CompletedProcess(["oris", *args], returncode, out, err)

    return run


def document(done: subprocess.CompletedProcess) -> dict:
    """``--json``'s stdout: exactly one JSON document, nothing else."""
    return json.loads(done.stdout)


def status_of(env: dict[str, str], thread: str) -> str | None:
    """The thread's status, or ``None`` while it does not exist yet, read from the
    CLI's database file: no process to start, so that a poll sees the change at
    once even on a loaded machine."""
    with contextlib.closing(sqlite3.connect(env["ORIS_SQLITE_DB"])) as db:
        found = db.execute(
            "SELECT status FROM runtime_job WHERE thread_id = ?", (thread,)
        ).fetchone()
    return found and found[0]


# --- output shapes -------------------------------------------------------------------


def test_every_command_prints_one_json_document_with_json(here) -> None:
    run = document(here("run", "chain", "--thread", "j1", "--json"))
    assert (run["thread_id"], run["status"]) == ("j1", "queued")
    for args in (
        ("status", "j1"),
        ("list",),
        ("logs", "j1"),
        ("interrupts", "list"),
        ("dlq", "list"),
        ("graphs",),
        ("graphs", "--show", "approval"),
        ("config",),
        ("cancel", "j1"),
    ):
        assert isinstance(document(here(*args, "--json")), dict), args


def test_list_is_a_table_with_headers(here) -> None:
    here("run", "chain", "--thread", "table-1")
    lines = here("list").stdout.splitlines()
    assert lines[0].split() == ["THREAD", "GRAPH", "STATUS", "UPDATED"]
    row = next(line for line in lines if line.startswith("table-1 "))
    assert row.split()[1:3] == ["chain", "queued"]
    # Columns are aligned: each starts where its header does.
    assert row.index("chain") == lines[0].index("GRAPH")
    assert row.index("queued") == lines[0].index("STATUS")


def test_graphs_lists_and_shows_a_graph(here) -> None:
    lines = here("graphs").stdout.splitlines()
    assert lines[0].split() == ["NAME", "NODES", "SOURCE"]
    assert any(line.startswith("napper ") and "first, second" in line for line in lines)
    shown = here("graphs", "--show", "approval").stdout
    assert "nodes   research -> write_draft -> human_approval -> publish" in shown
    assert "topic      string" in shown
    assert "research --> write_draft" in shown  # the Mermaid source
    data = document(here("graphs", "--show", "approval", "--json"))
    assert data["input_schema"]["properties"]["approved"] == {"type": "boolean"}


def test_status_is_a_readable_summary(here) -> None:
    here("run", "chain", "--thread", "summary-1")
    text = here("status", "summary-1").stdout
    assert "thread    summary-1" in text
    assert "status    queued" in text
    assert not text.lstrip().startswith("{")


def test_cancel_says_what_happened(here) -> None:
    here("run", "chain", "--thread", "c1")
    assert here("cancel", "c1", "--reason", "oops").stdout.split() == [
        "c1",
        "cancelled",
    ]
    again = document(here("cancel", "c1", "--json"))
    assert again["status"] == "cancelled"
    assert "c1" in here("list", "--status", "cancelled").stdout


@pytest.mark.no_test_database
def test_config_masks_secrets_and_says_where_values_come_from(env) -> None:
    secret = "s3cret-token-value"
    done = oris(
        {**env, "ORIS_API_AUTH_BEARER_TOKEN": secret, "ORIS_WORKERS": "3"}, "config"
    )
    assert secret not in done.stdout
    rows = {
        r["name"]: r
        for r in document(
            oris({**env, "ORIS_API_AUTH_BEARER_TOKEN": secret}, "config", "--json")
        )["settings"]
    }
    assert rows["ORIS_API_AUTH_BEARER_TOKEN"] == {
        "name": "ORIS_API_AUTH_BEARER_TOKEN",
        "value": "********",
        "source": "environment",
    }
    assert rows["SECRET_KEY"]["value"] == "********"
    assert rows["ORIS_LEASE_TTL_SECONDS"] == {
        "name": "ORIS_LEASE_TTL_SECONDS",
        "value": "30",
        "source": "default",
    }
    assert rows["DATABASE"]["value"].startswith("sqlite3 ")
    assert "ORIS_WORKERS" in done.stdout.split()


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "nope"), "unknown graph 'nope'; known graphs: approval,"),
        (("run", "chain", "--input", "{bad"), "--input is not valid JSON"),
        (("run", "chain", "--input", '{"zzz": 1}'), "zzz is not in the graph's"),
        (("status", "missing"), "job 'missing' not found"),
        (("resume", "missing", "--approve"), "job 'missing' not found"),
        (("logs", "missing"), "job 'missing' not found"),
        (("interrupts", "show", "int-missing"), "interrupt not found"),
        (("dlq", "replay", "att-missing"), "dead letter not found"),
        (("graphs", "--show", "nope"), "unknown graph 'nope'"),
    ],
)
def test_bad_input_is_a_clear_message_and_exit_2(here, args, message) -> None:
    done = here(*args, code=cli.EXIT_USAGE)
    assert done.stderr == f"Error: {done.stderr[7:]}"
    assert message in done.stderr
    assert done.stdout == ""


def test_a_refusal_with_json_is_one_error_document(here) -> None:
    unknown = document(here("run", "nope", "--json", code=cli.EXIT_USAGE))
    assert unknown["error"]["code"] == "invalid_argument"
    assert "echo" in unknown["error"]["details"]["known_graphs"]
    missing = document(here("status", "missing", "--json", code=cli.EXIT_USAGE))
    assert missing["error"]["code"] == "not_found"


def test_wrong_state_is_exit_2(here) -> None:
    here("run", "chain", "--thread", "ws-1")
    done = here("resume", "ws-1", "--value", "true", code=cli.EXIT_USAGE)
    assert "has no pending interrupt (it is queued)" in done.stderr
    here("cancel", "ws-1")
    done = here("resume", "ws-1", "--approve", "--json", code=cli.EXIT_USAGE)
    assert "it is cancelled" in document(done)["error"]["message"]


@pytest.mark.no_test_database
def test_the_console_script_is_manage_py_oris(env) -> None:
    via_manage = subprocess.run(
        [sys.executable, MANAGE, "oris", "graphs", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(via_manage.stdout) == document(oris(env, "graphs", "--json"))
    usage = oris(env, "--help").stdout
    assert usage.startswith("usage: oris ")
    assert "5 the wait timed out" in usage


# --- resume: never a default decision ------------------------------------------------


@pytest.fixture
def waiting(env, cluster, request) -> str:
    """A thread of the approval graph, paused at its question."""
    thread = f"approve-{request.node.name[-40:]}".replace("[", "-").replace("]", "")
    data = document(
        oris(
            env,
            "run",
            "approval",
            "--thread",
            thread,
            "--input",
            '{"topic": "cli"}',
            "--wait",
            "--json",
        )
    )
    assert data["status"] == "interrupted"
    return thread


@pytest.mark.no_test_database
def test_resume_refuses_to_run_without_an_explicit_answer(env, waiting) -> None:
    done = oris(env, "resume", waiting, code=2)
    assert "one of the arguments --value --approve --reject is required" in done.stderr
    status = document(oris(env, "status", waiting, "--json"))
    assert status["status"] == "interrupted"
    assert len(status["pending_interrupts"]) == 1


@pytest.mark.no_test_database
def test_reject_needs_a_reason_and_then_cancels(env, waiting) -> None:
    done = oris(env, "resume", waiting, "--reject", code=cli.EXIT_USAGE)
    assert "--reject needs --reason" in done.stderr
    assert document(oris(env, "status", waiting, "--json"))["status"] == "interrupted"
    data = document(
        oris(env, "resume", waiting, "--reject", "--reason", "not now", "--json")
    )
    assert data["status"] == "cancelled"
    events = document(oris(env, "logs", waiting, "--json"))["events"]
    # audited with the real actor: the operating-system user who ran it
    actor = f"shell:{getpass.getuser()}"
    assert any(f"interrupt rejected by {actor}: not now" in e["text"] for e in events)


@pytest.mark.no_test_database
def test_approve_and_wait_completes_the_run(env, waiting) -> None:
    shown = oris(env, "interrupts", "list", "--thread", waiting).stdout.splitlines()
    assert shown[0].split()[:4] == ["INTERRUPT", "THREAD", "STATUS", "CREATED"]
    interrupt_id = shown[1].split()[0]
    detail = document(oris(env, "interrupts", "show", interrupt_id, "--json"))
    assert detail["value"]["question"] == "Publish this draft?"
    data = document(oris(env, "resume", waiting, "--approve", "--wait", "--json"))
    assert data["status"] == "completed"
    assert data["result"]["approved"] is True
    assert data["result"]["published"].startswith("Draft on cli")


@pytest.mark.no_test_database
def test_an_explicit_value_is_the_answer(env, waiting) -> None:
    data = document(
        oris(
            env, "resume", waiting, "--value", '{"approved": false}', "--wait", "--json"
        )
    )
    assert (data["status"], data["result"]["approved"]) == ("completed", False)
    assert data["result"]["published"] == ""


# --- waiting: progress, outcomes, exit codes -----------------------------------------


@pytest.mark.no_test_database
def test_wait_shows_progress_on_stderr_and_the_result_on_stdout(env, cluster) -> None:
    done = oris(env, "run", "napper", "--thread", "nap-1", "--wait", "--json")
    assert document(done)["result"] == {"trail": ["first", "second"]}
    lines = done.stderr.splitlines()
    # Not a terminal: one line each time the run moves, no spinner, no \r.
    assert "\r" not in done.stderr
    assert not any(ch in done.stderr for ch in cli.SPINNER)
    assert any(line.startswith("running  node second  step ") for line in lines)
    assert lines[-1].startswith("completed  node -  step ")
    assert lines[-1].endswith("s")


@pytest.mark.no_test_database
def test_a_failed_run_exits_3_and_says_why(env, cluster) -> None:
    done = oris(
        env,
        "run",
        "flaky",
        "--thread",
        "fail-1",
        "--wait",
        "--json",
        code=cli.EXIT_FAILED,
    )
    data = document(done)
    assert data["status"] == "failed"
    assert data["error"] == {
        "type": "builtins.RuntimeError",
        "message": "flaky failure #1",
    }
    assert "run fail-1 failed" in done.stderr
    human = oris(env, "status", "fail-1").stdout
    assert "error     builtins.RuntimeError: flaky failure #1" in human


@pytest.mark.no_test_database
def test_dead_letters_are_listed_and_replayed(env, cluster) -> None:
    oris(env, "run", "flaky", "--thread", "dead-1", "--wait", code=cli.EXIT_FAILED)
    lines = oris(env, "dlq", "list").stdout.splitlines()
    assert lines[0].split()[:4] == ["ATTEMPT", "THREAD", "NO", "STATUS"]
    entry = next(
        e
        for e in document(oris(env, "dlq", "list", "--json"))["entries"]
        if e["run_id"] == "dead-1"
    )
    replayed = document(oris(env, "dlq", "replay", entry["attempt_id"], "--json"))
    assert replayed == {
        "attempt_id": entry["attempt_id"],
        "status": "requeued",
        "replay_count": 1,
    }


@pytest.mark.no_test_database
def test_a_cancelled_wait_exits_4(env, cluster) -> None:
    waiter = subprocess.Popen(
        # Cancelling is seen between supersteps: after a first node of 8 s,
        # cancelled once it runs (a cancel takes about a second, even loaded).
        [ORIS, "run", "napper", "--thread", "cancel-1", "--input", '{"value": 8000}']
        + ["--wait", "--timeout", "300", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while status_of(env, "cancel-1") != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    oris(env, "cancel", "cancel-1")
    out, err = waiter.communicate(timeout=300)
    assert waiter.returncode == cli.EXIT_CANCELLED, err
    assert json.loads(out)["status"] == "cancelled"
    assert "run cancel-1 was cancelled" in err


@pytest.mark.no_test_database
def test_a_wait_that_times_out_says_so_and_exits_5(env, cluster) -> None:
    done = oris(
        env,
        "run",
        "napper",
        "--thread",
        "late-1",
        "--wait",
        "--timeout",
        "0.3",
        code=cli.EXIT_TIMEOUT,
    )
    message = done.stderr.splitlines()[-1]
    assert message.startswith("Error: timed out after 0.3s waiting for late-1: it is ")
    assert "cluster" not in message  # no guessing why
    assert "status    " in done.stdout  # where it stands, as status prints it


@pytest.mark.no_test_database
def test_the_spinner_is_drawn_only_on_a_terminal(env, cluster) -> None:
    leader, follower = pty.openpty()
    done = subprocess.run(
        [ORIS, "run", "napper", "--thread", "tty-1", "--wait", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        timeout=120,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert done.returncode == 0
    assert json.loads(done.stdout)["status"] == "completed"
    text = drawn.decode()
    assert "\r\033[K" in text
    assert any(ch in text for ch in cli.SPINNER)
    assert "running  node second" in text


@pytest.mark.no_test_database
def test_the_remaining_flags(env, waiting) -> None:
    done = oris(env, "run", "chain", "--priority", "101", code=cli.EXIT_USAGE)
    assert "priority must be between 0 and 100" in done.stderr
    assert len(document(oris(env, "list", "--limit", "1", "--json"))["jobs"]) == 1
    done = oris(
        env,
        "resume",
        waiting,
        "--interrupt",
        "int-other",
        "--approve",
        code=cli.EXIT_USAGE,
    )
    assert "has no pending interrupt" in done.stderr
    (pending,) = document(oris(env, "status", waiting, "--json"))["pending_interrupts"]
    data = document(
        oris(
            env,
            "resume",
            waiting,
            "--interrupt",
            pending["interrupt_id"],
            "--value",
            "true",
            "--json",
        )
    )
    assert data["status"] == "queued"
    assert document(oris(env, "dlq", "list", "--status", "replayed", "--json")) == {
        "entries": [
            e
            for e in document(oris(env, "dlq", "list", "--json"))["entries"]
            if e["replay_status"] == "replayed"
        ]
    }


# --- approval policies ---------------------------------------------------------------


def paused_under(env: dict[str, str], thread: str, policy: dict[str, object]) -> None:
    data = document(
        oris(
            env,
            "run",
            "policy_review",
            "--thread",
            thread,
            "--input",
            json.dumps({"policy": policy}),
            "--wait",
            "--json",
        )
    )
    assert data["status"] == "interrupted"


@pytest.mark.no_test_database
def test_resume_gives_the_reason_an_interrupts_policy_requires(env, cluster) -> None:
    paused_under(env, "policy-reason", {"reason_required": True})
    done = oris(env, "resume", "policy-reason", "--approve", code=cli.EXIT_USAGE)
    assert "requires a reason" in done.stderr
    data = document(
        oris(
            env, "resume", "policy-reason", "--approve", "--reason", "checked", "--json"
        )
    )
    assert data["status"] in ("queued", "running", "completed")
    events = document(oris(env, "logs", "policy-reason", "--json"))["events"]
    assert any("checked" in e["text"] for e in events)


@pytest.mark.no_test_database
def test_resume_is_refused_where_the_policy_names_someone_else(env, cluster) -> None:
    paused_under(env, "policy-group", {"group": "oris-operator"})
    done = oris(env, "resume", "policy-group", "--approve", code=cli.EXIT_USAGE)
    assert "may not answer" in done.stderr
    assert document(oris(env, "status", "policy-group", "--json"))["status"] == (
        "interrupted"
    )
