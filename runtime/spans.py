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

import random
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SynchronousMultiSpanProcessor,
)
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    DEFAULT_TRACE_STATE,
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
# SpanContext is a tuple whose __new__ checks its ids: for ids known valid (a
# nonzero draw of 64 or 128 bits, under a valid parent) its fields are set as
# that __new__ sets them, without its call
_new_tuple = tuple.__new__


class _Facts:
    """What is known of a tracer's sampler and id generator without asking
    them, for each span: whether the SDK's ``ParentBased`` sampler hands a root
    (``root``) or a child of a sampled local parent (``child``) to
    ``ALWAYS_ON``, whose answer is known (record and sample, the attributes as
    they are, the parent's trace state) — so it is for children under
    ``parentbased_always_on`` (the default) and ``parentbased_traceidratio``,
    and for roots under the first; another sampler, or a subclass, is asked —
    and the trace-id flag of W3C trace context level 2 for a root (``random``:
    the generator says its trace ids are random)."""

    __slots__ = ("child", "generator", "random", "random_ids", "root", "sampler")

    def __init__(self, sampler: Any, generator: Any) -> None:
        self.sampler, self.generator = sampler, generator
        # the SDK's default generator: its ids drawn here, as it draws them
        self.random_ids = type(generator) is RandomIdGenerator
        self.root = _delegates(sampler, "_root")
        self.child = _delegates(sampler, "_local_parent_sampled")
        is_random = getattr(generator, "is_trace_id_random", None)  # newer SDKs
        self.random = _RANDOM if is_random is not None and is_random() else 0


def _facts(tracer: SdkTracer) -> _Facts:
    """The :class:`_Facts` of ``tracer``, kept for the next span (``_last``:
    the last sampler and id generator seen; a process has one provider, so
    one of each)."""
    facts = _Facts(tracer.sampler, tracer.id_generator)
    _last[0] = facts  # one assignment: another thread sees all of it or none
    return facts


def _delegates(sampler: Any, delegate: str) -> bool:
    return (
        isinstance(sampler, ParentBased)
        and type(sampler).should_sample is ParentBased.should_sample
        and getattr(sampler, delegate, None) is ALWAYS_ON
    )


_last: list[_Facts] = [_Facts(None, None)]


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
    if type(tracer) is not SdkTracer and not isinstance(tracer, SdkTracer):
        return tracer.start_span(name, context, kind, attributes)  # its own spans
    if current is None:
        current = trace.get_current_span(context)
    facts = _last[0]
    if (
        facts.sampler is not tracer.sampler
        or facts.generator is not tracer.id_generator
    ):
        facts = _facts(tracer)
    parent: SpanContext | None = None
    if current is not trace.INVALID_SPAN:  # outside any span: a root span
        parent = current.get_span_context()
    if parent is not None and parent.is_valid:
        trace_id, flags = parent.trace_id, int(parent.trace_flags) & _RANDOM
        known = parent.trace_flags & _SAMPLED and not parent.is_remote and facts.child
        trace_state = parent.trace_state
    else:
        # RandomIdGenerator.generate_trace_id without its call (0 is invalid:
        # drawn again, by the generator)
        trace_id = random.getrandbits(128) if facts.random_ids else 0
        if not trace_id:
            trace_id = tracer.id_generator.generate_trace_id()
        parent, flags, known, trace_state = None, facts.random, facts.root, None
    if known:  # what the sampler would answer, without asking it
        span_id = random.getrandbits(64) if facts.random_ids else 0
        if span_id and trace_id:  # both valid: SpanContext's fields as it sets them
            ids = _new_tuple(
                SpanContext,
                (
                    trace_id,
                    span_id,
                    False,
                    _FLAGS[flags | _SAMPLED],
                    DEFAULT_TRACE_STATE if trace_state is None else trace_state,
                    True,
                ),
            )
        else:
            if not span_id:
                span_id = tracer.id_generator.generate_span_id()
            ids = SpanContext(
                trace_id, span_id, False, _FLAGS[flags | _SAMPLED], trace_state
            )
        return Span(tracer, name, ids, parent, attributes, kind, True)
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
    sampled = result.decision.is_sampled()
    return Span(tracer, name, ids, parent, attributes, kind, sampled)


class Span(trace.Span, ReadableSpan):
    """A recording span of one thread (see the module's docstring); ended, it
    is its own ``ReadableSpan`` (as the SDK's span is), its fields stored as
    ``ReadableSpan`` stores them, and it changes no more."""

    __slots__ = (  # ReadableSpan's fields each span sets, and the tracer
        "_attributes",
        "_context",
        "_end_time",
        "_kind",
        "_name",
        "_parent",
        "_resource",
        "_sampled",
        "_start_time",
        "_tracer",
    )
    # ReadableSpan's fields as most spans keep them: read from the class, set on
    # the span only where it changes them (an event, a status)
    _events: Sequence[Event] = _NO_EVENTS
    _links: Sequence[trace.Link] = _NO_LINKS
    _status: Status = UNSET
    _instrumentation_scope = _SCOPE
    _instrumentation_info = None

    def __init__(
        self,
        tracer: SdkTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
        kind: SpanKind,
        sampled: bool,
    ) -> None:
        self._tracer = tracer
        self._sampled = sampled  # what the context's flags say
        self._name = name
        self._context: SpanContext = context
        self._parent = parent
        self._attributes: dict[str, Any] | BoundedAttributes = attributes
        self._kind = kind
        self._resource = tracer.resource
        self._start_time = time.time_ns()
        self._end_time: int | None = None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: Any) -> None:
        plain = self._end_time is None and type(self._attributes) is dict
        if plain and type(value) in _PLAIN:  # what the SDK would keep as it is
            self._attributes[key] = value
            return
        self.set_attributes({key: value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end_time is not None:
            return
        plain = self._attributes
        if type(plain) is dict:
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
        processor = self._tracer.span_processor
        if type(processor) is not SynchronousMultiSpanProcessor:
            processor.on_end(self)
            return
        # the provider's processors, each told as the SDK tells it, but for
        # the SDK's batch processor: what its on_end does (queue the span if it
        # is sampled) without the three property reads of asking the span
        # (an SDK without its inner BatchProcessor is asked as the others are)
        for each in processor._span_processors:
            if type(each) is not BatchSpanProcessor:
                each.on_end(self)
            elif self._sampled:
                queue = getattr(each, "_batch_processor", None)
                if queue is None:
                    each.on_end(self)
                else:
                    queue.emit(self)
