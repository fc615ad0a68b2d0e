"""runtime/otlp.py: the request it encodes, decoded with the real protobuf
classes, equals the SDK's encoding of the same spans; its exporter sends it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as sdk_encode_spans,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from runtime import otlp
from runtime.spans import SCOPE, CachedResource, start_span
from tests.runtime.conftest import in_memory_tracing


def decoded(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    data = otlp.encode_spans(spans).SerializePartialToString()
    return ExportTraceServiceRequest.FromString(data)


def the_sdks(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    return sdk_encode_spans(spans)


@pytest.fixture
def made() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    resource = CachedResource(Resource.create({"service.name": "oris-test"}))
    provider, exporter = in_memory_tracing(resource=resource)
    yield provider, exporter
    provider.shutdown()


def test_a_run_of_spans_encodes_as_the_sdk_encodes_it(made) -> None:
    provider, exporter = made
    tracer = provider.get_tracer(SCOPE)
    remote = SpanContext(
        0x1234,
        0x99,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "a=b"), ("other", "1")]),
    )
    attempt = start_span(
        tracer,
        "attempt g",
        trace.set_span_in_context(NonRecordingSpan(remote)),
        {"oris.attempt.number": 1, "oris.worker_id": "w-1"},
        SpanKind.CONSUMER,
    )
    context = trace.set_span_in_context(attempt)
    step = start_span(tracer, "superstep 1", context, {"oris.step": 1, "oris.node": ""})
    step.set_attributes(
        {
            "oris.task_id": "t-é-1",
            "negative": -5,
            "big": 2**62,
            "ratio": 0.25,
            "flag": False,
            "raw": b"\x00\x01",
            "long": "x" * 300,
        }
    )
    step.set_status(Status(StatusCode.ERROR, "it failed"))
    step.end()
    ok = start_span(tracer, "", context, {})  # no name, no attribute
    ok.set_status(StatusCode.OK)
    ok.end()
    attempt.set_attribute("oris.outcome", "completed")
    attempt.end()
    spans = list(exporter.get_finished_spans())
    assert len(spans) == 3
    assert all(otlp._plain_span(span) for span in spans)  # none left to the SDK
    assert decoded(spans) == the_sdks(spans)
    assert decoded(spans).resource_spans[0].scope_spans[0].spans[0].trace_state


def test_a_span_handed_over_as_it_is_encodes_as_the_sdk_encodes_it() -> None:
    """What no span of ours holds, but another ``ReadableSpan`` may: an empty
    key, an unset status with a description, a span without times."""
    context = SpanContext(7, 8, is_remote=False, trace_flags=TraceFlags(1))
    spans = [
        ReadableSpan(
            "odd",
            context,
            attributes={"": "an empty key", "n": 0, "s": ""},
            status=Status(StatusCode.UNSET),
            start_time=5,
            end_time=9,
        ),
        ReadableSpan(
            "lengths about one byte's",
            context,
            attributes={f"k{n}": "v" * n for n in range(110, 135)}
            | {f"i{n}": n for n in (127, 128, 16383, 16384)},
            start_time=5,
            end_time=9,
        ),
        ReadableSpan("unended", context, start_time=5),
        ReadableSpan("timeless", context, status=None),  # type: ignore[arg-type]
    ]
    assert otlp._plain_span(spans[0]) is not None
    assert otlp._plain_span(spans[1]) is not None
    assert decoded(spans) == the_sdks(spans)


def test_spans_it_does_not_write_itself_are_the_sdks_own(made) -> None:
    """Events, links, sequences, an out-of-range int: the SDK's bytes, embedded."""
    provider, exporter = made
    sdk_tracer = provider.get_tracer("other", "1.0", schema_url="https://s/1")
    ours = start_span(provider.get_tracer(SCOPE), "node a", None, {"n": 1})
    ours.set_attributes({"sequence": ["a", "b"]})
    ours.record_exception(ValueError("boom"))
    ours.end()
    linked = sdk_tracer.start_span(
        "linked", links=[trace.Link(ours.get_span_context(), {"why": "x"})]
    )
    linked.set_attribute("huge", 2**70)  # dropped by the SDK's encoder, as here
    linked.end()
    spans = list(exporter.get_finished_spans())
    assert decoded(spans) == the_sdks(spans)
    assert len(decoded(spans).resource_spans[0].scope_spans) == 2


def test_spans_are_grouped_by_resource_then_scope_in_the_order_first_seen() -> None:
    context = SpanContext(7, 8, is_remote=False, trace_flags=TraceFlags(1))
    first = Resource.create({"service.name": "a"})
    equal = Resource.create({"service.name": "a"})
    second = Resource({"service.name": "b"}, "https://schema/1")
    scopes = [InstrumentationScope("x"), InstrumentationScope("y", "2"), None]
    spans = [
        ReadableSpan(
            f"span {i}",
            context,
            resource=resource,
            instrumentation_scope=scope,
            start_time=1 + i,
            end_time=100 + i,
        )
        for i, (resource, scope) in enumerate(
            [
                (first, scopes[0]),
                (second, scopes[1]),
                (equal, scopes[0]),
                (first, scopes[2]),
                (second, scopes[1]),
            ]
        )
    ]
    assert decoded(spans) == the_sdks(spans)
    groups = decoded(spans).resource_spans
    assert [len(g.scope_spans) for g in groups] == [2, 1]
    assert [s.name for s in groups[0].scope_spans[0].spans] == ["span 0", "span 2"]


def test_an_empty_batch_is_an_empty_request() -> None:
    assert otlp.encode_spans([]).SerializePartialToString() == b""
    assert the_sdks([]).SerializePartialToString() == b""


class Sink(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Sink.received.append(body)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_exporter_posts_the_encoded_request(made) -> None:
    provider, exporter = made
    tracer = provider.get_tracer(SCOPE)
    for step in range(3):
        start_span(tracer, f"superstep {step}", None, {"oris.step": step}).end()
    spans = list(exporter.get_finished_spans())
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Sink.received = []
    try:
        port = server.server_address[1]
        sender = otlp.OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        assert sender.export(spans) is SpanExportResult.SUCCESS
        sender.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    [body] = Sink.received
    assert ExportTraceServiceRequest.FromString(body) == the_sdks(spans)
    assert body == otlp.encode_spans(spans).SerializePartialToString()
