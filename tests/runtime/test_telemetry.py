"""runtime/telemetry.py: one trace per run, from the request to every LLM and tool
call, across attempts (retries, resumes, replays) and processes."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import add
from typing import Annotated, Any, TypedDict

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import agents.instrumentation
import graphs.instrumentation
from oris_site.settings import env_otel
from runtime import metrics, registry, telemetry
from runtime.models import Job
from runtime.worker.drain import worker_drain
from tests.agents.conftest import Reply, WireServer
from tests.runtime.api.conftest import keyed_client
from tests.runtime.telemetry_graphs import GRAPHS, calc_replies
from tests.runtime.test_crash_recovery import in_worker

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
QUESTION = {"messages": [{"role": "user", "content": "2 + 3?"}]}


@pytest.fixture
def calc(settings, monkeypatch) -> Iterator[WireServer]:
    """The ``calc`` agent, its model served by a local OpenAI-compatible server."""
    settings.ORIS_GRAPHS = GRAPHS
    registry._cache.clear()
    server = WireServer()
    server.reply(*(Reply(json=body) for body in calc_replies()))
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    yield server
    server.close()


@pytest.fixture
def operator(db):
    return keyed_client("operator", "bob")


def hexid(value: int, width: int = 16) -> str:
    return format(value, f"0{width}x")


def parent_of(span: ReadableSpan) -> str | None:
    return hexid(span.parent.span_id) if span.parent else None


def span_id(span: ReadableSpan) -> str:
    return hexid(span.context.span_id)


def named(finished: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return sorted(
        (s for s in finished if s.name.startswith(prefix)), key=lambda s: s.start_time
    )


def children(finished: tuple[ReadableSpan, ...], of: ReadableSpan) -> list[str]:
    return sorted(s.name for s in finished if parent_of(s) == span_id(of))


def of_node(finished: tuple[ReadableSpan, ...], node: str) -> list[ReadableSpan]:
    """The spans of ``node``'s executions: a one-node superstep's span is its
    node's, a superstep of several nodes has a ``node <name>`` span for each."""
    return sorted(
        (s for s in finished if (s.attributes or {}).get("oris.node") == node),
        key=lambda s: s.start_time,
    )


def run(client, **body) -> dict[str, Any]:
    response = client.post(
        "/v1/jobs/run", body, format="json", HTTP_TRACEPARENT=TRACEPARENT
    )
    assert response.status_code == 200, response.content
    return response.json()["data"]


@pytest.mark.django_db
def test_a_run_is_one_trace_from_request_to_llm_and_tool_calls(
    spans, calc, operator
) -> None:
    data = run(operator, thread_id="calc-1", graph="calc", input=QUESTION)
    worker_drain(worker_id="w-test")
    assert Job.objects.get(thread_id="calc-1").status == Job.Status.COMPLETED

    finished = spans.get_finished_spans()
    assert {hexid(s.context.trace_id, 32) for s in finished} == {TRACE_ID}
    (request,) = named(finished, "POST /v1/jobs/run")
    assert request.kind is SpanKind.SERVER
    assert parent_of(request) == CALLER_SPAN
    assert request.attributes["http.response.status_code"] == 200
    # data.trace names the request's span: the run continues under it
    assert data["trace"]["trace_id"] == TRACE_ID
    assert data["trace"]["span_id"] == span_id(request)
    assert data["trace"]["parent_span_id"] == CALLER_SPAN

    (attempt,) = named(finished, "attempt calc")
    assert parent_of(attempt) == span_id(request)
    assert attempt.attributes["oris.thread_id"] == "calc-1"
    assert attempt.attributes["oris.outcome"] == "completed"
    steps = named(finished, "superstep")
    assert {parent_of(s) for s in steps} == {span_id(attempt)}
    assert [s.attributes["oris.step"] for s in steps] == [0, 1, 2, 3]
    # each superstep runs one node: its span is the node's too
    assert [s.attributes.get("oris.node") for s in steps] == [
        None,
        "model",
        "tools",
        "model",
    ]
    assert all(s.attributes["oris.task_id"] for s in steps[1:])
    assert named(finished, "node ") == []
    first_model, second_model = of_node(finished, "model")
    (tools,) = of_node(finished, "tools")
    assert children(finished, first_model) == ["chat gpt-test"]
    assert children(finished, second_model) == ["chat gpt-test"]
    assert children(finished, tools) == ["execute_tool add"]

    first_chat, second_chat = named(finished, "chat gpt-test")
    assert first_chat.kind is SpanKind.CLIENT
    assert (
        dict(first_chat.attributes).items()
        >= {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-test",
            "gen_ai.response.model": "gpt-test-0613",
            "gen_ai.usage.input_tokens": 11,
            "gen_ai.usage.output_tokens": 7,
            "gen_ai.response.finish_reasons": ("tool_calls",),
            "server.address": "127.0.0.1",
        }.items()
    )
    assert second_chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert second_chat.attributes["gen_ai.usage.input_tokens"] == 20
    (tool,) = named(finished, "execute_tool add")
    assert dict(tool.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
    }
    assert tool.status.status_code is StatusCode.UNSET
    # what a client reads later carries the same trace
    detail = operator.get("/v1/jobs/calc-1/detail").json()["data"]
    assert detail["trace"]["trace_id"] == TRACE_ID


@pytest.mark.django_db
def test_a_failed_llm_call_is_an_error_span(spans, calc, operator) -> None:
    calc.replies.clear()
    calc.reply(Reply(status=400, json={"error": {"message": "bad request"}}))
    run(operator, thread_id="calc-bad", graph="calc", input=QUESTION)
    worker_drain(worker_id="w-test")
    finished = spans.get_finished_spans()
    (chat,) = named(finished, "chat gpt-test")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "ProviderError"
    (node,) = of_node(finished, "model")
    assert node.status.status_code is StatusCode.ERROR
    assert node.attributes["error.type"] == "ProviderError"
    # recorded once, by the node's end (the superstep's end does not repeat it)
    assert [e.name for e in node.events] == ["exception"]
    (attempt,) = named(finished, "attempt calc")
    assert attempt.attributes["oris.outcome"] == "failed"
    assert attempt.status.status_code is StatusCode.ERROR


@pytest.mark.django_db
def test_retries_continue_the_run_trace(spans, operator, monkeypatch) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "1")
    retry = {"strategy": "fixed", "backoff_ms": 1, "max_retries": 1}
    run(operator, thread_id="flaky-1", graph="flaky", retry_policy=retry)
    worker_drain(worker_id="w-test")  # runs, fails, waits the backoff, runs again
    assert Job.objects.get(thread_id="flaky-1").status == Job.Status.COMPLETED

    finished = spans.get_finished_spans()
    (request,) = named(finished, "POST /v1/jobs/run")
    first, second = named(finished, "attempt flaky")
    assert {parent_of(first), parent_of(second)} == {span_id(request)}
    assert [
        first.attributes["oris.attempt.number"],
        second.attributes["oris.attempt.number"],
    ] == [1, 2]
    assert first.attributes["oris.outcome"] == "retry_scheduled"
    assert second.attributes["oris.outcome"] == "completed"
    failed, passed = of_node(finished, "flaky")
    assert failed.status.status_code is StatusCode.ERROR
    assert passed.status.status_code is StatusCode.UNSET
    assert {hexid(s.context.trace_id, 32) for s in finished} == {TRACE_ID}


@pytest.mark.django_db
def test_resumes_and_replays_continue_the_run_trace(spans, operator) -> None:
    run(operator, thread_id="ok-1", graph="approval", input={"topic": "t"})
    worker_drain(worker_id="w-test")
    resumed = operator.post("/v1/jobs/ok-1/resume", {"value": True}, format="json")
    assert resumed.json()["data"]["trace"]["trace_id"] == TRACE_ID
    worker_drain(worker_id="w-test")
    replayed = operator.post("/v1/jobs/ok-1/replay", {}, format="json")
    assert replayed.status_code == 200, replayed.content
    worker_drain(worker_id="w-test")  # from the input: it asks again
    assert Job.objects.get(thread_id="ok-1").status == Job.Status.INTERRUPTED

    finished = spans.get_finished_spans()
    (request,) = named(finished, "POST /v1/jobs/run")
    attempts = named(finished, "attempt approval")
    assert [a.attributes["oris.attempt.kind"] for a in attempts] == [
        "run",
        "resume",
        "replay",
    ]
    assert [a.attributes["oris.outcome"] for a in attempts] == [
        "interrupted",
        "completed",
        "interrupted",
    ]
    assert {parent_of(a) for a in attempts} == {span_id(request)}
    assert {hexid(a.context.trace_id, 32) for a in attempts} == {TRACE_ID}
    interrupted = [s for s in finished if s.attributes.get("oris.interrupted")]
    assert [s.attributes.get("oris.node") for s in interrupted] == [
        "human_approval"
    ] * 2
    # the resume and replay requests are spans of their own
    assert len(named(finished, "POST /v1/jobs/{thread_id}/resume")) == 1
    assert len(named(finished, "POST /v1/jobs/{thread_id}/replay")) == 1


@pytest.mark.django_db
def test_a_request_without_traceparent_starts_the_trace(spans, operator) -> None:
    response = operator.post("/v1/jobs/run", {"thread_id": "new"}, format="json")
    data = response.json()["data"]
    (request,) = named(spans.get_finished_spans(), "POST /v1/jobs/run")
    assert request.parent is None
    assert data["trace"]["trace_id"] == hexid(request.context.trace_id, 32)
    assert data["trace"]["span_id"] == span_id(request)
    assert data["trace"]["parent_span_id"] is None


def test_tracing_is_off_unless_configured(monkeypatch) -> None:
    assert telemetry.tracer() is None
    # off, supersteps, nodes and the agents' calls are still counted (by the
    # metrics' listeners alone)
    assert graphs.instrumentation.get_listener() is metrics.STEPS
    assert agents.instrumentation.get_listener() is metrics.CALLS
    for name in (
        "ORIS_OTEL_ENABLED",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert env_otel() is False
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert env_otel() is False
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert env_otel() is True
    monkeypatch.setenv("ORIS_OTEL_ENABLED", "false")
    assert env_otel() is False
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.setenv("ORIS_OTEL_ENABLED", "true")
    assert env_otel() is True
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert env_otel() is False


def test_spans_are_exported_in_batches_of_2048_unless_the_variables_say(
    monkeypatch,
) -> None:
    monkeypatch.delenv("OTEL_BSP_MAX_QUEUE_SIZE", raising=False)
    monkeypatch.delenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", raising=False)
    assert telemetry._batching() == (8192, 2048)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1000")  # no batch above it
    assert telemetry._batching() == (None, 1000)
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100")  # the SDK reads both
    assert telemetry._batching() == (None, None)
    monkeypatch.delenv("OTEL_BSP_MAX_QUEUE_SIZE")
    assert telemetry._batching() == (8192, None)


# -- across processes: a real worker exporting over OTLP ---------------------------


class Collector:
    """A local OTLP/HTTP trace receiver: decodes what exporters send."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.spans: list[Any] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        collector.spans.extend(scope.spans)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_continues_the_trace_over_otlp(spans, calc, operator) -> None:
    data = run(operator, thread_id="calc-2", graph="calc", input=QUESTION)
    collector = Collector()
    env = {
        "ORIS_GRAPHS": ",".join(f"{k}={v}" for k, v in GRAPHS.items()),
        "OPENAI_BASE_URL": calc.url + "/v1",
        "OPENAI_API_KEY": "sk-test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
    }
    try:
        ran = in_worker(
            "from runtime.worker.drain import worker_drain; "
            "print(worker_drain(worker_id='w-proc'))",
            env=env,
        )
    finally:
        collector.close()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().endswith("1")
    assert Job.objects.get(thread_id="calc-2").status == Job.Status.COMPLETED

    (request,) = named(spans.get_finished_spans(), "POST /v1/jobs/run")
    worker = {s.span_id.hex(): s for s in collector.spans}
    assert {s.trace_id.hex() for s in worker.values()} == {TRACE_ID}
    (attempt,) = [s for s in worker.values() if s.name == "attempt calc"]
    assert attempt.parent_span_id.hex() == span_id(request) == data["trace"]["span_id"]

    def path(span: Any) -> list[str]:
        names = [span.name]
        while span.parent_span_id.hex() in worker:
            span = worker[span.parent_span_id.hex()]
            names.append(span.name)
        return names

    chats = [s for s in worker.values() if s.name == "chat gpt-test"]
    assert len(chats) == 2

    def node_of(span: Any) -> str:
        (node,) = (
            a.value.string_value for a in span.attributes if a.key == "oris.node"
        )
        return node

    for chat in chats:
        assert path(chat)[1].startswith("superstep ")  # node model's superstep
        assert node_of(worker[chat.parent_span_id.hex()]) == "model"
        assert path(chat)[2:] == ["attempt calc"]
    (tool,) = [s for s in worker.values() if s.name == "execute_tool add"]
    assert node_of(worker[tool.parent_span_id.hex()]) == "tools"
    assert path(tool)[2:] == ["attempt calc"]
    usage = {
        a.key: a.value.int_value
        for a in chats[0].attributes
        if a.key.startswith("gen_ai.usage")
    }
    assert sorted(usage.values()) in ([7, 11], [1, 20])


@pytest.mark.django_db(transaction=True)
def test_a_q2_cluster_continues_the_trace(spans, operator, tmp_path) -> None:
    from tests.runtime.faults.conftest import wait_for
    from tests.runtime.test_crash_recovery import start_qcluster, worker_env

    collector = Collector()
    env = worker_env() | {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    cluster = start_qcluster(env, tmp_path / "qcluster.log")
    try:
        data = run(operator, thread_id="q2-1", graph="chain")
        wait_for(
            "the run",
            lambda: Job.objects.filter(
                thread_id="q2-1", status=Job.Status.COMPLETED
            ).exists(),
        )
    finally:
        cluster.send_signal(signal.SIGTERM)  # its workers leave and export
        cluster.wait(timeout=60)
        collector.close()

    (request,) = named(spans.get_finished_spans(), "POST /v1/jobs/run")
    worker = {s.span_id.hex(): s for s in collector.spans}
    (attempt,) = [s for s in worker.values() if s.name == "attempt chain"]
    assert attempt.trace_id.hex() == TRACE_ID
    assert attempt.parent_span_id.hex() == span_id(request) == data["trace"]["span_id"]
    nodes = sorted(
        a.value.string_value
        for s in worker.values()
        if s.parent_span_id == attempt.span_id
        for a in s.attributes
        if a.key == "oris.node"
    )
    assert nodes == ["a", "b", "c"]


@pytest.mark.django_db
def test_a_job_created_inside_a_span_continues_under_it(spans) -> None:
    from tests.factories import make_job

    tracer = telemetry.tracer()
    assert tracer is not None
    with tracer.start_as_current_span("caller") as caller:
        job = make_job("chain")
    worker_drain(worker_id="w-test")
    assert job.trace["span_id"] == hexid(caller.get_span_context().span_id)
    (attempt,) = named(spans.get_finished_spans(), "attempt chain")
    assert parent_of(attempt) == job.trace["span_id"]
    assert make_job("chain").trace is None  # outside any span: no trace


class CountingDrop:
    """A sampler that drops every span it is asked about, and counts them."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def should_sample(self, parent_context, trace_id, name, *args, **kwargs):
        from opentelemetry.sdk.trace.sampling import Decision, SamplingResult

        self.asked.append(name)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "CountingDrop"


@pytest.mark.django_db
def test_a_sampled_out_run_costs_no_span_below_its_attempt() -> None:
    from opentelemetry.sdk.trace.sampling import ParentBased

    from tests.factories import make_job
    from tests.runtime.conftest import in_memory_tracing

    sampler = CountingDrop()
    # asked for the roots and for the children of a sampled-out local parent
    provider, exporter = in_memory_tracing(
        sampler=ParentBased(sampler, local_parent_not_sampled=sampler)
    )
    telemetry.configure(provider)
    try:
        job = make_job("chain")
        worker_drain(worker_id="w-test")
    finally:
        telemetry.configure(None)
        provider.shutdown()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    assert exporter.get_finished_spans() == ()
    # asked for the attempt only: its supersteps and nodes were not even started
    assert sampler.asked == ["attempt chain"]


class Trail(TypedDict):
    trail: Annotated[list[str], add]


def test_a_superstep_of_one_node_is_one_span_of_several_has_node_spans(
    spans,
) -> None:
    from graphs import END, START, RetryPolicy, StateGraph

    calls: list[int] = []

    def visit(name: str) -> Any:
        def node(state: Trail) -> dict[str, Any]:
            if name == "flaky" and not calls:
                calls.append(1)
                raise ValueError("first try fails")
            if name == "broken":
                raise KeyError("always")
            return {"trail": [name]}

        return node

    graph = StateGraph(Trail)
    for name in ("a", "b", "c", "broken"):
        graph.add_node(name, visit(name))
    retry = RetryPolicy(initial_interval=0, jitter=False, retry_on=ValueError)
    graph.add_node("flaky", visit("flaky"), retry_policy=retry)
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("a", "c")
    graph.add_edge(["b", "c"], "flaky")
    graph.add_edge("flaky", "broken")
    graph.add_edge("broken", END)
    with pytest.raises(KeyError):
        graph.compile(name="fan").invoke({"trail": []})

    finished = spans.get_finished_spans()
    steps = named(finished, "superstep")
    assert [s.attributes.get("oris.node") for s in steps] == [
        None,  # the input superstep runs no node
        "a",
        None,  # b and c: a span each below it
        "flaky",
        "broken",
    ]
    assert children(finished, steps[1]) == []
    assert children(finished, steps[2]) == ["node b", "node c"]
    for node in named(finished, "node "):
        assert node.attributes["oris.node"] == node.name.removeprefix("node ")
        assert node.attributes["oris.task_id"]
    # a retried node alone in its superstep: its failed try is an event, and
    # the superstep that passed is not an error
    flaky = steps[3]
    assert flaky.attributes["oris.node.attempt"] == 2
    assert [e.name for e in flaky.events] == ["exception"]
    assert flaky.events[0].attributes["exception.type"] == "ValueError"
    assert flaky.status.status_code is StatusCode.UNSET
    broken = steps[4]
    assert broken.status.status_code is StatusCode.ERROR
    assert broken.attributes["error.type"] == "KeyError"
    assert [e.name for e in broken.events] == ["exception"]
