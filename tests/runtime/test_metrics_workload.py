"""The metrics tell the truth under a real workload: runs through a supervised
django-q2 cluster of two worker processes (success, retry, dead letter,
interrupt, cancel, timeout, a killed worker, an agent calling a model and a tool)
and through the HTTP worker API of a real web process; then ``/metrics`` of that
web process is scraped and every series must have moved by what the workload
did. A real Prometheus scrapes the web process meanwhile: its HTTP API must see
the series move, and every query of the shipped dashboard must return data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime import registry
from runtime.models import Job
from runtime.services.api_keys import api_key_create
from tests.agents.conftest import Reply, WireServer
from tests.factories import ALICE, make_job
from tests.runtime.faults.conftest import Supervised, wait_for
from tests.runtime.metrics_graphs import METRICS_GRAPHS, PRICING
from tests.runtime.sample_graphs import TEST_GRAPHS
from tests.runtime.test_crash_recovery import MANAGE, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = Path(MANAGE).parent / "docs" / "observability" / "runtime-dashboard.json"
GRAPHS = {**TEST_GRAPHS, **METRICS_GRAPHS}
TTL = 3
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: dict | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read().decode(), error.code
    return status, (json.loads(raw) if raw.startswith(("{", "[")) else raw)


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("oris_runtime_"):
                samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


class Moved:
    """How much each sample moved between two scrapes."""

    def __init__(self, before: Samples, after: Samples) -> None:
        self.after = after
        self.delta = {k: v - before.get(k, 0.0) for k, v in after.items()}

    def __call__(self, name: str, **labels: str) -> float:
        return self.delta.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """Summed over the samples of ``name`` that carry ``labels``."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.delta.items() if n == name and want <= ls)

    def now(self, name: str, **labels: str) -> float:
        return self.after[(name, frozenset(labels.items()))]


class Web:
    """A real web process (``runserver``) on the test database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.addr = f"127.0.0.1:{free_port()}"
        self.url = f"http://{self.addr}"
        self.process = subprocess.Popen(
            [sys.executable, MANAGE, "runserver", self.addr, "--noreload"],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for("the web process", self._up)
        except BaseException:
            self.stop()
            raise

    def _up(self) -> bool:
        try:
            return http("GET", f"{self.url}/healthz")[0] == 200
        except OSError:
            return False

    def scrape(self) -> Samples:
        status, text = http("GET", f"{self.url}/metrics")
        assert status == 200
        return parse(text)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Prometheus:
    """A short-lived real Prometheus scraping the web process every second."""

    def __init__(self, target: str, home: Path) -> None:
        home.mkdir()
        config = home / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: oris\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=(home / "log").open("w"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                "Prometheus to scrape Oris", lambda: self.query('up{job="oris"} == 1')
            )
        except BaseException:
            self.stop()
            raise

    def query(self, expr: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            status, body = http("GET", url)
        except OSError:  # not listening yet
            return []
        if status == 503:  # starting up
            return []
        assert status == 200, (expr, body)
        return body["data"]["result"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def oris(transactional_db, settings, tmp_path, monkeypatch) -> Iterator[dict[str, Any]]:
    """The model server, a web process and (if installed) Prometheus; the test
    starts the cluster itself."""
    settings.ORIS_GRAPHS = GRAPHS
    registry._cache.clear()
    monkeypatch.setenv("ORIS_TEST_SLEEP_SECONDS", "4")
    wire = WireServer()
    monkeypatch.setenv("ORIS_TEST_LLM_URL", wire.url)
    env = worker_env() | {
        "ORIS_GRAPHS": ",".join(f"{k}={v}" for k, v in GRAPHS.items()),
        "ORIS_LEASE_TTL_SECONDS": str(TTL),
        "ORIS_HEARTBEAT_INTERVAL_SECONDS": "1",
        "ORIS_CLUSTER_STALL_SECONDS": str(TTL),
        "ORIS_WORKERS": "2",
        "ORIS_METRICS_FLUSH_MS": "200",
    }
    started: list[Any] = []
    try:
        web = Web(env, tmp_path / "web.log")
        started.append(web)
        prometheus = None
        if shutil.which("prometheus"):
            prometheus = Prometheus(web.addr, tmp_path / "prometheus")
            started.append(prometheus)
        yield {
            "env": env,
            "web": web,
            "wire": wire,
            "prometheus": prometheus,
            "started": started,
        }
    finally:
        for process in reversed(started):
            process.stop()
        wire.close()


def openai_reply(
    usage: tuple[int, int], content: str = "", call: dict | None = None
) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if call is not None:
        message["tool_calls"] = [
            {
                "id": "call-1",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": json.dumps(call["args"]),
                },
            }
        ]
    return Reply(
        json={
            "id": "r",
            "model": "oris-test-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]},
        }
    )


def q2_workload() -> dict[str, Job]:
    retry = {"strategy": "fixed", "backoff_ms": 10, "max_retries": 1}
    return {
        "chain-1": make_job("chain"),
        "chain-2": make_job("chain"),
        "flaky": make_job("flaky", retry_policy=retry),
        "fails": make_job("fails"),
        "asks": make_job("asks"),
        "self_cancel": make_job("self_cancel"),
        "sleeps": make_job(
            "sleeps",
            timeout_policy={"timeout_ms": 500, "on_timeout_status": "failed"},
        ),
        "dies_once": make_job("dies_once"),
        "agent": make_job("agent", {"messages": [{"role": "user", "content": "2+3?"}]}),
    }


END_STATES = {
    "chain-1": Job.Status.COMPLETED,
    "chain-2": Job.Status.COMPLETED,
    "flaky": Job.Status.COMPLETED,
    "fails": Job.Status.FAILED,
    "asks": Job.Status.INTERRUPTED,
    "self_cancel": Job.Status.CANCELLED,
    "sleeps": Job.Status.FAILED,
    "dies_once": Job.Status.COMPLETED,
    "agent": Job.Status.COMPLETED,
}


def settled(jobs: dict[str, Job]) -> bool:
    for key, job in jobs.items():
        job.refresh_from_db()
        if job.status != END_STATES[key]:
            return False
    return True


def http_worker_workload(web: Web) -> None:
    """One HTTP worker completes a run, another fails one for good; polls over
    the worker and the tenant limits are refused; a stranger's heartbeat is a
    lease conflict."""
    _, secret = api_key_create(actor=ALICE, role="worker", key_id="edge")
    auth = {"x-api-key-id": "edge", "x-api-key": secret}

    def post(path: str, body: dict) -> dict:
        status, answer = http("POST", f"{web.url}/v1/workers/{path}", body, auth)
        return {"status": status, **(answer if isinstance(answer, dict) else {})}

    make_job("chain", thread_id="http-done")
    make_job("chain", thread_id="http-dead")
    first = post("poll", {"worker_id": "edge-1", "max_active_leases": 1})["data"]
    assert first["decision"] == "dispatched"
    busy = post("poll", {"worker_id": "edge-1", "max_active_leases": 1})["data"]
    assert busy["reason"] == "worker_limit"
    lease = {"lease_id": first["lease_id"]}
    assert post("edge-1/heartbeat", lease)["status"] == 200
    assert post("edge-2/heartbeat", lease)["status"] == 409
    done = {"attempt_id": first["attempt_id"], "terminal_status": "completed"}
    assert post("edge-1/ack", done)["status"] == 200
    second = post("poll", {"worker_id": "edge-1"})["data"]
    dead = {"attempt_id": second["attempt_id"], "terminal_status": "failed"}
    assert post("edge-1/ack", dead)["data"]["status"] == "failed"
    make_job("chain", thread_id="t-1", tenant_id="acme")
    make_job("chain", thread_id="t-2", tenant_id="acme")
    limits = {"tenant_max_active_leases": 1}
    assert (
        post("poll", {"worker_id": "edge-3", **limits})["data"]["tenant_id"] == "acme"
    )
    refused = post("poll", {"worker_id": "edge-4", **limits})["data"]
    assert refused["reason"] == "tenant_limit"


@pytest.mark.prometheus
def test_every_series_moves_by_what_the_workload_did(oris, tmp_path) -> None:
    web: Web = oris["web"]
    prometheus: Prometheus | None = oris["prometheus"]
    wire: WireServer = oris["wire"]
    wire.reply(
        openai_reply(
            (12, 5), call={"name": "calculator", "args": {"expression": "2+3"}}
        ),
        openai_reply((30, 7), content="5"),
    )
    before = web.scrape()
    supervisor = Supervised(oris["env"], tmp_path / "supervisor.log")
    oris["started"].append(supervisor)
    jobs = q2_workload()
    wait_for("the runs to end", lambda: settled(jobs), timeout=120)
    # What the workers counted reaches the database within their flush period.
    wait_for(
        "the workers' counts",
        lambda: (
            Moved(before, web.scrape()).total(
                "oris_runtime_attempt_duration_seconds_count"
            )
            == 10
        ),
    )
    live = Moved(before, web.scrape())
    assert live.now("oris_runtime_workers_live", kind="q2_cluster") == 1
    supervisor.stop()
    http_worker_workload(web)
    moved = Moved(before, web.scrape())

    # The reference series, now moving under the built-in workers too.
    claims = 11 + 3  # q2: 9 first runs, the retry, the rerun after the kill; HTTP: 3
    assert moved("oris_runtime_dispatch_latency_ms_count") == claims
    assert moved("oris_runtime_lease_operations_total") >= claims + 2  # + heartbeats
    assert moved("oris_runtime_lease_conflicts_total") >= 2  # the timeout, edge-2
    assert 0 < moved.now("oris_runtime_lease_conflict_rate") < 1
    assert moved("oris_runtime_backpressure_total", reason="worker_limit") == 1
    assert moved("oris_runtime_backpressure_total", reason="tenant_limit") == 1
    assert moved("oris_runtime_terminal_acks_total", status="completed") == 5 + 1
    assert moved("oris_runtime_terminal_acks_total", status="failed") == 1 + 1
    assert moved("oris_runtime_terminal_acks_total", status="cancelled") == 1
    assert moved.now("oris_runtime_terminal_error_rate") == pytest.approx(3 / 9)
    assert moved("oris_runtime_recovery_latency_ms_count") == 1
    assert moved.now("oris_runtime_queue_depth") == 1  # acme's second run waits

    # Runs, attempts, steps, nodes.
    started = {"chain": 2 + 3, "flaky": 1, "fails": 1, "asks": 1, "self_cancel": 1}
    started |= {"sleeps": 1, "dies_once": 1, "agent": 1}
    for graph, count in started.items():
        assert moved("oris_runtime_runs_started_total", graph=graph) == count, graph
    finished = {
        ("chain", "completed"): 3,
        ("chain", "failed"): 1,
        ("flaky", "completed"): 1,
        ("dies_once", "completed"): 1,
        ("agent", "completed"): 1,
        ("fails", "failed"): 1,
        ("sleeps", "failed"): 1,
        ("self_cancel", "cancelled"): 1,
    }
    for (graph, status), count in finished.items():
        got = moved("oris_runtime_runs_finished_total", graph=graph, status=status)
        assert got == count, (graph, status)
    assert moved.total("oris_runtime_runs_finished_total") == sum(finished.values())
    outcomes = {"completed": 6, "retry_scheduled": 1, "failed": 2}
    outcomes |= {"interrupted": 1, "cancelled": 1, "lease_lost": 1}
    for outcome, count in outcomes.items():
        got = moved.total(
            "oris_runtime_attempt_duration_seconds_count", outcome=outcome
        )
        assert got == count, outcome
    assert moved("oris_runtime_submit_to_start_seconds_count", graph="chain") == 5
    assert moved.total("oris_runtime_submit_to_start_seconds_count") == 9 + 3
    # Each chain run: the input's superstep (``__start__``), then a, b and c.
    assert moved("oris_runtime_superstep_duration_seconds_count", graph="chain") == 8
    for node in ("a", "b", "c"):
        nodes = moved(
            "oris_runtime_node_duration_seconds_count", graph="chain", node=node
        )
        assert nodes == 2, node  # the q2 runs; HTTP workers run their own code
    assert moved("oris_runtime_retries_scheduled_total", graph="flaky") == 1
    dead = {("fails", "terminal_failed"), ("sleeps", "execution_timeout")}
    dead |= {("chain", "terminal_failed")}
    for graph, reason in dead:
        assert moved("oris_runtime_dead_letters_total", graph=graph, reason=reason) == 1
    assert moved.now("oris_runtime_dead_letters_pending") == 3
    assert moved.now("oris_runtime_interrupts_pending") == 1
    assert moved.now("oris_runtime_interrupts_oldest_age_seconds") > 0
    assert moved.now("oris_runtime_queue_oldest_age_seconds") > 0
    assert moved("oris_runtime_checkpoint_written_bytes_total") > 1000
    assert moved.now("oris_runtime_leases_held") == 1  # edge-3's
    assert moved.now("oris_runtime_workers_live", kind="http_worker") == 1

    # The agent's model calls and tool call, priced.
    model = {"provider": "openai", "model": "oris-test-model"}
    assert moved("oris_runtime_llm_calls_total", **model, outcome="ok") == 2
    assert moved("oris_runtime_llm_input_tokens_total", **model) == 42
    assert moved("oris_runtime_llm_output_tokens_total", **model) == 12
    cost = PRICING.cost({"input_tokens": 42, "output_tokens": 12, "total_tokens": 54})
    assert moved("oris_runtime_llm_cost_usd_total", **model) == pytest.approx(cost)
    assert moved("oris_runtime_tool_calls_total", tool="calculator", outcome="ok") == 1

    if prometheus is None:
        pytest.skip(
            "the series moved; the real-Prometheus half needs the prometheus "
            "binary (apt-get install prometheus)"
        )
    check_prometheus(prometheus)


def check_prometheus(prometheus: Prometheus) -> None:
    # It scraped before the runs and after them: it saw the counters move.
    wait_for(
        "Prometheus to see runs finish",
        lambda: prometheus.query(
            "sum(increase(oris_runtime_runs_finished_total[5m])) > 0"
        ),
    )
    assert prometheus.query("changes(oris_runtime_interrupts_pending[5m]) > 0")
    empty = [expr for expr in dashboard_queries() if not prometheus.query(expr)]
    assert empty == []


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    return exprs
