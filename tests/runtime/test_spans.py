"""runtime/spans.py: Oris' own spans record and export what the SDK's spans do.

The SDK is the oracle: each test makes the same span both ways, through one
provider, and compares what the in-memory exporter received."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import SpanKind, Status, StatusCode, TraceState

from runtime.spans import SCOPE, CachedResource, start_span
from tests.runtime.conftest import in_memory_tracing

Made = Callable[[str, Any, dict[str, Any], SpanKind], trace.Span]


class Tagging(Sampler):
    """Samples everything, adding an attribute and a trace state entry."""

    def should_sample(self, parent_context, trace_id, name, *args, **kwargs):
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE,
            {"sampler.tag": "yes"},
            TraceState([("oris", "1")]),
        )

    def get_description(self) -> str:
        return "Tagging"


@pytest.fixture
def pipeline() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    provider, exporter = in_memory_tracing(resource=CachedResource(Resource.create({})))
    yield provider.get_tracer(SCOPE), exporter
    provider.shutdown()


def ours(tracer: Any) -> Made:
    return lambda name, ctx, attrs, kind: start_span(tracer, name, ctx, attrs, kind)


def sdk(tracer: Any) -> Made:
    return lambda name, ctx, attrs, kind: tracer.start_span(
        name, ctx, kind, attributes=attrs
    )


def record(span: ReadableSpan) -> dict[str, Any]:
    """What an exporter reads of a span, less its ids and times."""
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes),
        "status": (span.status.status_code, span.status.description),
        "events": [(e.name, dict(e.attributes)) for e in span.events],
        "resource": span.resource,
        "scope": span.instrumentation_scope,
        "flags": span.context.trace_flags,
        "trace_state": span.context.trace_state,
        "remote parent": span.parent.is_remote if span.parent else None,
        "dropped": span.dropped_attributes,
    }


def both(pipeline, scenario: Callable[[Made], None]) -> list[dict[str, Any]]:
    tracer, exporter = pipeline
    records = []
    for make in (ours(tracer), sdk(tracer)):
        exporter.clear()
        scenario(make)
        records.append([record(s) for s in exporter.get_finished_spans()])
    assert records[0], "the scenario exported nothing"
    assert records[0] == records[1]
    return records[0]


def test_a_parent_and_child_are_recorded_as_the_sdk_records_them(pipeline) -> None:
    tracer, exporter = pipeline

    def scenario(make: Made) -> None:
        parent = make("superstep 1", None, {"oris.step": 1}, SpanKind.INTERNAL)
        ctx = trace.set_span_in_context(parent)
        child = make("node a", ctx, {"oris.node": "a"}, SpanKind.CLIENT)
        child.set_attribute("later", 2)
        child.set_attributes({"flag": True, "ratio": 0.5})
        child.end()
        parent.end()

    both(pipeline, scenario)
    child, parent = exporter.get_finished_spans()
    assert child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id
    assert parent.parent is None


def test_an_exception_and_status_are_recorded_as_the_sdk_records_them(
    pipeline,
) -> None:
    def scenario(make: Made) -> None:
        span = make("node boom", None, {}, SpanKind.INTERNAL)
        try:
            raise ValueError("boom")
        except ValueError as exc:
            span.record_exception(exc, {"extra": "x"})
        span.set_status(Status(StatusCode.ERROR, "boom"))
        span.set_status(StatusCode.UNSET)  # changes nothing
        span.end()
        span.end()  # once only
        span.set_attribute("after", 1)  # ignored: ended

    (recorded,) = both(pipeline, scenario)
    ((name, attributes),) = recorded["events"]
    assert name == "exception"
    assert attributes["exception.type"] == "ValueError"
    assert "raise ValueError" in attributes["exception.stacktrace"]
    assert recorded["status"] == (StatusCode.ERROR, "boom")


def test_attribute_values_are_checked_as_the_sdk_checks_them(
    pipeline,
) -> None:
    def scenario(make: Made) -> None:
        span = make("node a", None, {"oris.node": "a"}, SpanKind.INTERNAL)
        span.set_attribute("object", object())  # not an attribute value
        span.set_attribute("names", ["a", "b"])
        span.set_attributes({"n": 1})
        span.end()

    (recorded,) = both(pipeline, scenario)
    assert recorded["attributes"]["names"] == ("a", "b")  # a tuple, as the SDK's
    assert recorded["attributes"].get("object") is None  # not the object


def test_a_remote_parent_is_continued(pipeline) -> None:
    from runtime.telemetry import extract

    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    def scenario(make: Made) -> None:
        make("attempt g", extract(header), {}, SpanKind.CONSUMER).end()

    (recorded,) = both(pipeline, scenario)
    assert recorded["remote parent"] is True
    tracer, exporter = pipeline
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == header[3:35]
    assert format(span.parent.span_id, "016x") == header[36:52]


def test_the_sampler_decides_and_may_add_attributes_and_trace_state() -> None:
    provider, exporter = in_memory_tracing(sampler=Tagging())
    tracer = provider.get_tracer(SCOPE)
    records = []
    for make in (ours(tracer), sdk(tracer)):
        exporter.clear()
        make("superstep 0", None, {"oris.step": 0}, SpanKind.INTERNAL).end()
        records.append([record(s) for s in exporter.get_finished_spans()])
    assert records[0] == records[1]
    assert records[0][0]["attributes"] == {"sampler.tag": "yes"}  # the sampler's
    assert records[0][0]["trace_state"] == TraceState([("oris", "1")])


def test_a_sampled_out_span_is_not_recorded_but_carries_its_ids() -> None:
    provider, exporter = in_memory_tracing(sampler=ParentBased(ALWAYS_OFF))
    tracer = provider.get_tracer(SCOPE)
    span = start_span(tracer, "superstep 0", None, {})
    assert not span.is_recording()
    assert span.get_span_context().is_valid
    assert not span.get_span_context().trace_flags.sampled
    child = start_span(tracer, "node a", trace.set_span_in_context(span), {})
    assert not child.is_recording()
    assert child.get_span_context().trace_id == span.get_span_context().trace_id
    span.end()
    assert exporter.get_finished_spans() == ()


def test_ours_and_the_sdks_spans_are_encoded_under_one_resource_and_scope(
    pipeline,
) -> None:
    tracer, exporter = pipeline
    start_span(tracer, "ours", None, {}).end()
    tracer.start_span("theirs").end()
    (resource_spans,) = encode_spans(exporter.get_finished_spans()).resource_spans
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == SCOPE
    assert [s.name for s in scope_spans.spans] == ["ours", "theirs"]


def test_a_cached_resource_hashes_and_compares_as_its_resource() -> None:
    resource = Resource.create({"service.name": "oris"})
    cached = CachedResource(resource)
    assert hash(cached) == hash(resource)
    assert cached == resource
    assert dict(cached.attributes) == dict(resource.attributes)
    assert cached != CachedResource(Resource.create({"service.name": "other"}))


def test_a_tracer_of_another_sdk_makes_its_own_spans() -> None:
    made = []

    class Other:
        def start_span(self, *args: Any) -> trace.Span:
            made.append(args)
            return trace.INVALID_SPAN

    span = start_span(Other(), "node a", None, {"k": 1})
    assert span is trace.INVALID_SPAN
    assert made == [("node a", None, SpanKind.INTERNAL, {"k": 1})]


class Counting(Tagging):
    """:class:`Tagging`, counting the spans it is asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def should_sample(self, parent_context, trace_id, name, *args, **kwargs):
        self.asked.append(name)
        return super().should_sample(parent_context, trace_id, name)


@pytest.mark.parametrize("own_child_sampler", [False, True])
def test_a_child_of_a_sampled_parent_is_sampled_as_the_sdk_samples_it(
    own_child_sampler: bool,
) -> None:
    # ParentBased keeps a sampled local parent's children without asking
    # ALWAYS_ON (its answer is known); a sampler of their own is asked
    root, child_sampler = Counting(), Counting()
    sampler = (
        ParentBased(root, local_parent_sampled=child_sampler)
        if own_child_sampler
        else ParentBased(root)
    )
    provider, exporter = in_memory_tracing(sampler=sampler)
    tracer = provider.get_tracer(SCOPE)
    records = []
    for make in (ours(tracer), sdk(tracer)):
        exporter.clear()
        parent = make("superstep 1", None, {"oris.step": 1}, SpanKind.INTERNAL)
        ctx = trace.set_span_in_context(parent)
        make("node a", ctx, {"oris.node": "a"}, SpanKind.INTERNAL).end()
        parent.end()
        records.append([record(s) for s in exporter.get_finished_spans()])
    assert records[0] == records[1]
    child = records[0][0]
    assert child["trace_state"] == TraceState([("oris", "1")])  # the parent's
    assert ("sampler.tag" in child["attributes"]) is own_child_sampler
    assert root.asked == ["superstep 1"] * 2
    assert child_sampler.asked == (["node a"] * 2 if own_child_sampler else [])


def test_an_ended_span_is_handed_over_as_itself_and_changes_no_more(pipeline) -> None:
    tracer, exporter = pipeline
    span = start_span(tracer, "superstep 1", None, {"oris.step": 1})
    span.end()
    [ended] = exporter.get_finished_spans()
    assert ended is span
    assert isinstance(ended, ReadableSpan)
    span.set_attributes({"late": 1})
    span.set_status(StatusCode.ERROR)
    span.add_event("late")
    span.end()
    assert dict(ended.attributes) == {"oris.step": 1}
    assert ended.status.status_code is StatusCode.UNSET
    assert not ended.events
    assert ended.end_time is not None
    assert len(exporter.get_finished_spans()) == 1


class RecordOnly(Sampler):
    """Records a span named ``recorded only`` without sampling it; samples the
    others."""

    def should_sample(self, parent_context, trace_id, name, *args, **kwargs):
        if name == "recorded only":
            return SamplingResult(Decision.RECORD_ONLY)
        return SamplingResult(Decision.RECORD_AND_SAMPLE)

    def get_description(self) -> str:
        return "RecordOnly"


def test_the_batch_processor_queues_our_spans_as_it_queues_the_sdks() -> None:
    # ours hand a span to the SDK's batch processor without its on_end; a
    # recorded span that is not sampled is not exported either way
    provider, simple = in_memory_tracing(sampler=RecordOnly())
    batched = InMemorySpanExporter()
    provider.add_span_processor(BatchSpanProcessor(batched))
    tracer = provider.get_tracer(SCOPE)
    exported = []
    for make in (ours(tracer), sdk(tracer)):
        simple.clear()
        batched.clear()
        for name in ("superstep 1", "recorded only", "superstep 2"):
            make(name, None, {"oris.step": 1}, SpanKind.INTERNAL).end()
        provider.force_flush()
        names = [[s.name for s in e.get_finished_spans()] for e in (simple, batched)]
        exported.append(names)
    provider.shutdown()
    assert exported[0] == exported[1] == [["superstep 1", "superstep 2"]] * 2


def test_ids_are_drawn_as_the_sdks_default_generator_draws_them(pipeline) -> None:
    tracer, exporter = pipeline
    ids = []
    for make in (ours(tracer), sdk(tracer)):
        random.seed(14)
        root = make("superstep 1", None, {}, SpanKind.INTERNAL)
        child = make("node a", trace.set_span_in_context(root), {}, SpanKind.INTERNAL)
        ids.append(
            [
                (s.get_span_context().trace_id, s.get_span_context().span_id)
                for s in (root, child)
            ]
        )
    assert ids[0] == ids[1]
    assert ids[0][0][0] == ids[0][1][0]  # one trace
