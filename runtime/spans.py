"""Spans of Oris' own making: what the OpenTelemetry SDK's span records, made with
a fraction of its work.

The SDK's span guards every write with a lock, validates each attribute into a
bounded mapping, keeps bounded lists of events and links and copies itself into
a ``ReadableSpan`` when it ends: about 120 Python calls for a span that is
created, ended and handed to the batch processor. Each superstep makes one, so on
a trivial superstep that was most of the cost of tracing.
:class:`Span` keeps the same record in a plain object written by one thread
(the one that runs the superstep or node), a ``ReadableSpan`` itself, and when
it ends hands itself to the tracer's span processor; the sampler, id
generator, resource and processors are the provider's own, read from the SDK's
``Tracer`` (its public attributes), so what is exported and how is unchanged.

Processors are told when a span ends, not when it starts (``on_start`` is not
called): the SDK's batch and simple processors do nothing there.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

SCOPE = "oris"
_SCOPE = InstrumentationScope(SCOPE, "", "")  # equal to get_tracer(SCOPE)'s
UNSET = Status(StatusCode.UNSET)  # a span's status until one is set
_SAMPLED = int(TraceFlags.SAMPLED)
_RANDOM = 0x02  # W3C trace context level 2: the trace id is random
_PLAIN = frozenset((str, bool, int, float))
_FLAGS = tuple(TraceFlags(f) for f in range(4))
_NO_EVENTS: tuple[Event, ...] = ()
_NO_LINKS: tuple[trace.Link, ...] = ()


def _always_on(sampler: Any, delegate: str) -> bool:
    """Whether the SDK's ``ParentBased`` ``sampler`` hands the span to
    ``ALWAYS_ON`` (its ``delegate``, ``_root`` or ``_local_parent_sampled``),
    whose answer is known: record and sample, the attributes as they are, the
    parent's trace state. So it is for a sampled local parent's children under
    ``parentbased_always_on`` (the default) and ``parentbased_traceidratio``,
    and for roots under the first. Another sampler, or a subclass, is asked.
    The answers for the last sampler seen are kept (a process has one
    provider, so one sampler)."""
    last = _last[0]
    if last[0] is not sampler:
        last = (sampler, {d: _delegates(sampler, d) for d in _DELEGATES})
        _last[0] = last  # one assignment: another thread sees both or neither
    return last[1][delegate]


_DELEGATES = ("_root", "_local_parent_sampled")
_last: list[tuple[Any, dict[str, bool]]] = [(None, {})]


def _delegates(sampler: Any, delegate: str) -> bool:
    return (
        isinstance(sampler, ParentBased)
        and type(sampler).should_sample is ParentBased.should_sample
        and getattr(sampler, delegate, None) is ALWAYS_ON
    )


class CachedResource(Resource):
    """A ``Resource`` whose hash is computed once: the OTLP encoder groups each
    batch's spans by resource, and ``Resource.__hash__`` serialises every
    attribute to JSON for each span it is asked about."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)


def start_span(
    tracer: Any,
    name: str,
    context: Context | None,
    attributes: dict[str, Any],
    kind: SpanKind = SpanKind.INTERNAL,
    current: trace.Span | None = None,
) -> trace.Span:
    """A span under the span current in ``context`` (a root span without one),
    as the provider's sampler decides: a :class:`Span` when it records, a
    ``NonRecordingSpan`` carrying the ids otherwise. ``attributes`` becomes the
    span's own (the caller hands over a fresh dict); ``current`` is the span
    current in ``context``, where the caller has looked it up already."""
    if not isinstance(tracer, SdkTracer):  # another SDK's tracer: its own spans
        return tracer.start_span(name, context, kind, attributes)
    if current is None:
        current = trace.get_current_span(context)
    parent: SpanContext | None = current.get_span_context()
    if parent is not None and parent.is_valid:
        trace_id, flags = parent.trace_id, int(parent.trace_flags) & _RANDOM
        known = (
            parent.trace_flags & _SAMPLED
            and not parent.is_remote
            and _always_on(tracer.sampler, "_local_parent_sampled")
        )
        trace_state = parent.trace_state
    else:
        generator = tracer.id_generator
        parent, trace_id = None, generator.generate_trace_id()
        random = getattr(generator, "is_trace_id_random", None)  # newer SDKs
        flags = _RANDOM if random is not None and random() else 0
        known = _always_on(tracer.sampler, "_root")
        trace_state = None
    if known:  # what the sampler would answer, without asking it
        ids = SpanContext(
            trace_id,
            tracer.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=_FLAGS[flags | _SAMPLED],
            trace_state=trace_state,
        )
        return Span(tracer, name, ids, parent, attributes, kind)
    result = tracer.sampler.should_sample(context, trace_id, name, kind, attributes)
    if result.decision.is_sampled():
        flags |= _SAMPLED
    ids = SpanContext(
        trace_id,
        tracer.id_generator.generate_span_id(),
        is_remote=False,
        trace_flags=_FLAGS[flags],
        trace_state=result.trace_state,
    )
    if not result.decision.is_recording():
        return NonRecordingSpan(ids)
    if result.attributes != attributes:  # the sampler's are the span's, as in the SDK
        attributes = dict(result.attributes)
    return Span(tracer, name, ids, parent, attributes, kind)


class Span(trace.Span, ReadableSpan):
    """A recording span of one thread (see the module's docstring); ended, it
    is its own ``ReadableSpan`` (as the SDK's span is), its fields stored as
    ``ReadableSpan`` stores them, and it changes no more."""

    __slots__ = (  # ReadableSpan's fields, and the tracer
        "_attributes",
        "_context",
        "_end_time",
        "_events",
        "_instrumentation_info",
        "_instrumentation_scope",
        "_kind",
        "_links",
        "_name",
        "_parent",
        "_resource",
        "_start_time",
        "_status",
        "_tracer",
    )

    def __init__(
        self,
        tracer: SdkTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
        kind: SpanKind,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._context: SpanContext = context
        self._parent = parent
        self._attributes: dict[str, Any] | BoundedAttributes = attributes
        self._kind = kind
        self._events: Sequence[Event] = _NO_EVENTS
        self._links = _NO_LINKS
        self._status = UNSET
        self._resource = tracer.resource
        self._instrumentation_scope = _SCOPE
        self._instrumentation_info = None
        self._start_time = time.time_ns()
        self._end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end_time is not None:
            return
        plain = self._attributes
        if not isinstance(plain, BoundedAttributes):
            if _PLAIN.issuperset(map(type, attributes.values())):
                plain.update(attributes)  # what the SDK would keep as it is
                return
            # a value to check (a sequence, or anything from outside Oris): from
            # now on validated as the SDK validates, invalid values dropped
            self._attributes = BoundedAttributes(attributes=plain, immutable=False)
        for key, value in attributes.items():
            self._attributes[key] = value

    def add_event(
        self, name: str, attributes: Any = None, timestamp: int | None = None
    ) -> None:
        if self._end_time is None:
            attrs = BoundedAttributes(attributes=attributes, immutable=True)
            self._events = (*self._events, Event(name, attrs, timestamp))

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        return None  # our spans have no links

    def update_name(self, name: str) -> None:
        self._name = name

    def set_status(
        self, status: Status | StatusCode, description: str | None = None
    ) -> None:
        # as the SDK: OK is final, UNSET changes nothing
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module, qualname = kind.__module__, kind.__qualname__
        found = {
            "exception.type": f"{module}.{qualname}"
            if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            found.update(attributes)
        self.add_event("exception", found, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time.time_ns()
        self._tracer.span_processor.on_end(self)
