"""OpenTelemetry traces of every run: request, attempt, superstep, node, LLM and
tool call spans.

Off unless ``ORIS_OTEL_ENABLED`` or the standard ``OTEL_*`` variables turn it on
(``oris_site.settings.env_otel``); off, only the metrics' listeners are installed
and no span is made. On, :func:`setup` builds the tracer provider from the
standard variables (``OTEL_TRACES_EXPORTER``: ``otlp`` over HTTP, the ``oris[otlp]``
extra, ``console`` or ``none``; ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_*``,
``OTEL_BSP_*``) and wires the engine's and the agents' listeners to it.

A run request's span is the parent of every attempt of its job (retries, resumes
and replays included): the attempt's stored ``traceparent`` names it, so a worker
in another process continues the same trace.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.propagation.tracecontext import (
    TraceContextTextMapPropagator,
)

import agents.instrumentation
import graphs.instrumentation
from graphs.errors import GraphInterrupt
from graphs.messages import AIMessage
from runtime import logs, spans
from runtime.spans import SCOPE, start_span

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from runtime.models import Lease

logger = logging.getLogger(__name__)

_PROPAGATOR = TraceContextTextMapPropagator()
# GenAI semantic conventions' provider names, where ours differ
_PROVIDERS = {"azure_openai": "azure.ai.openai"}
_FINISH_KEYS = ("finish_reason", "stop_reason", "done_reason")
_FAILED_OUTCOMES = ("failed", "retry_scheduled")  # attempts.Outcome's failures


class _State:
    tracer: Tracer | None = None  # None: tracing is off


_state = _State()


def tracer() -> Tracer | None:
    """The tracer spans are made with; ``None`` while tracing is off."""
    return _state.tracer


def configure(provider: TracerProvider | None) -> None:
    """Traces to ``provider`` (``None``: tracing off) and wires the engine's and
    the agents' listeners to it, beside the metrics' ones (installed either
    way). Tests call it with an in-memory exporter."""
    # supersteps, nodes and calls are counted, traced or not
    from runtime.metrics import CALLS, STEPS

    if provider is None:
        _state.tracer = None
        graphs.instrumentation.set_listener(STEPS)
        agents.instrumentation.set_listener(CALLS)
        return
    _state.tracer = provider.get_tracer(SCOPE)
    graphs.instrumentation.set_listener(
        graphs.instrumentation.Listeners(STEPS, GraphSpans())
    )
    agents.instrumentation.set_listener(
        agents.instrumentation.Listeners(CALLS, AgentSpans())
    )


def setup() -> None:
    """Tracing from the standard ``OTEL_*`` variables, for this process (the
    app's ``ready``); spans still queued are exported when the process exits,
    a django-q2 worker process included."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME wins; hashed once, not for every span exported
    resource = spans.CachedResource(Resource.create({"service.name": "oris"}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in _exporters(os.environ.get("OTEL_TRACES_EXPORTER", "otlp")):
        queue, batch = _batching()
        processor = BatchSpanProcessor(
            exporter, max_queue_size=queue, max_export_batch_size=batch
        )
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    once = _Once(provider.shutdown)
    atexit.register(once)
    # q2 runs attempts in multiprocessing children, which leave by os._exit:
    # atexit never runs there, multiprocessing's finalizers do (registered anew
    # in each child: those of the parent are cleared at its start)
    multiprocessing.util.register_after_fork(once, _finalize_in_child)
    configure(provider)


# Spans a post and spans queued, where the OTEL_BSP_* variables do not say: a
# post to the collector costs about as much CPU as encoding 500 spans, so the
# SDK's 512 a post doubled what exporting costs; the queue holds several posts'
# worth, so a burst is not dropped while one is sent.
EXPORT_BATCH = 2048
QUEUE_SIZE = 8192


def _batching() -> tuple[int | None, int | None]:
    """The batch processor's queue and batch sizes: ``None`` where
    ``OTEL_BSP_MAX_QUEUE_SIZE`` or ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` is set
    (the SDK reads it), ours otherwise (a batch no larger than the queue)."""
    queue = None if "OTEL_BSP_MAX_QUEUE_SIZE" in os.environ else QUEUE_SIZE
    batch = None
    if "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" not in os.environ:
        batch = min(EXPORT_BATCH, queue or _env_int("OTEL_BSP_MAX_QUEUE_SIZE"))
    return queue, batch


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return EXPORT_BATCH  # the SDK's default queue (2048), as the SDK reads it


def _finalize_in_child(shutdown: Callable[[], object]) -> None:
    multiprocessing.util.Finalize(None, shutdown, exitpriority=10)


class _Once:
    """Calls ``call`` the first time it is called."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.call: Callable[[], object] | None = call

    def __call__(self) -> None:
        call, self.call = self.call, None
        if call is not None:
            call()


def _exporters(names: str) -> Iterator[Any]:
    for name in (n.strip() for n in names.split(",")):
        if name == "otlp":
            try:
                from runtime.otlp import OTLPSpanExporter
            except ImportError:  # the system check says so (oris.E021)
                logger.error("OTEL_TRACES_EXPORTER=otlp: pip install 'oris[otlp]'")
                continue
            yield OTLPSpanExporter()
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            yield ConsoleSpanExporter()
        elif name not in ("none", ""):
            logger.error(
                "OTEL_TRACES_EXPORTER=%s is not supported: spans of it "
                "are dropped (use otlp, console or none)",
                name,
            )


# -- trace context ---------------------------------------------------------------


def extract(traceparent: str | None) -> otel_context.Context | None:
    """The context a W3C ``traceparent`` names (``None`` when it names none)."""
    if not traceparent:
        return None
    ctx = _PROPAGATOR.extract({"traceparent": traceparent})
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return None
    return ctx


def current_ids() -> tuple[str, str, str] | None:
    """Trace id, span id and flags of the current span, as hex; ``None`` when
    there is none (tracing off, or outside any span)."""
    span = trace.get_current_span().get_span_context()
    if not span.is_valid:
        return None
    return (
        format(span.trace_id, "032x"),
        format(span.span_id, "016x"),
        format(span.trace_flags, "02x"),
    )


def _failed(span: trace.Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(Status(StatusCode.ERROR, str(error)[:200]))


def _ended(span: trace.Span, error: BaseException | None, interrupted: bool) -> None:
    if interrupted or isinstance(error, GraphInterrupt):
        span.set_attribute("oris.interrupted", True)
    elif error is not None:
        _failed(span, error)
    span.end()


# -- the attempt -----------------------------------------------------------------


class _Current:
    """The span of ``context`` current inside ``with`` (what ``trace.use_span``
    does with nothing recorded on exit, without its generator: what escapes is
    recorded once, by :func:`_ended`)."""

    __slots__ = ("context", "token")

    def __init__(self, context: otel_context.Context) -> None:
        self.context = context

    def __enter__(self) -> None:
        self.token = otel_context.attach(self.context)

    def __exit__(self, *exc: object) -> None:
        otel_context.detach(self.token)


Finish = Callable[[], Any]


@contextmanager
def attempt_span(lease: Lease) -> Iterator[Callable[[Finish], Finish]]:
    """Around running a claimed attempt: its log context and, while tracing, its
    span (a child of the run request's span). Yields what wraps the attempt's
    outcome so it is recorded inside both, and ends the span."""
    attempt = lease.attempt
    fields = {
        "thread_id": attempt.job.thread_id,
        "attempt_id": str(attempt.pk),
        "worker_id": lease.worker_id,
    }
    stored = attempt.trace or {}
    if stored.get("trace_id"):
        fields["trace_id"] = stored["trace_id"]
    tracer = _state.tracer
    if tracer is None:
        with logs.bound(**fields):
            yield lambda finish: logs.binding(finish, fields)
        return
    span = start_span(
        tracer,
        f"attempt {attempt.job.graph}",
        extract(stored.get("traceparent")),
        kind=SpanKind.CONSUMER,
        attributes={
            "oris.graph": attempt.job.graph,
            "oris.thread_id": attempt.job.thread_id,
            "oris.attempt_id": str(attempt.pk),
            "oris.attempt.kind": attempt.kind,
            "oris.attempt.number": attempt.attempt_no,
            "oris.attempt.dispatches": attempt.dispatches,
            "oris.worker_id": lease.worker_id,
        },
    )

    context = trace.set_span_in_context(span)

    def outcome(finish: Finish) -> Finish:
        def record() -> str:
            try:
                with _Current(context), logs.bound(**fields):
                    result = finish()
            except BaseException as exc:
                _ended(span, exc, False)
                raise
            span.set_attribute("oris.outcome", str(result))
            if str(result) in _FAILED_OUTCOMES:
                span.set_status(Status(StatusCode.ERROR, str(result)))
            span.end()
            return result

        return record

    try:
        with _Current(context), logs.bound(**fields):
            yield outcome
    except BaseException as exc:
        _ended(span, exc, False)
        raise


# -- the engine's and the agents' listeners --------------------------------------


class _Step:
    """A traced superstep: its span, the context its nodes start in and, for a
    superstep of one node, that node's last recorded failure (``alone``: the
    superstep's span is its node's too) and the token of its context's attach
    while the node runs."""

    __slots__ = ("alone", "context", "failure", "span", "token")

    def __init__(
        self, span: trace.Span, alone: bool, current: otel_context.Context
    ) -> None:
        self.span = span
        # trace.set_span_in_context(span, current), in one copy
        self.context = otel_context.Context(current, **{_SPAN_KEY: span})
        self.alone = alone
        self.failure: BaseException | None = None
        self.token: Any = None


# The SDK's own runtime context keeps the current context in one ContextVar: a
# superstep reads it, and its node sets and resets it, through that variable's
# methods (what otel_context.get_current, attach and detach call, three calls
# fewer each); another runtime context is used through the API.
_VAR = getattr(otel_context._RUNTIME_CONTEXT, "_current_context", None)
if type(
    otel_context._RUNTIME_CONTEXT
) is not ContextVarsRuntimeContext or not isinstance(_VAR, ContextVar):
    _VAR = None
_get_context = otel_context.get_current if _VAR is None else _VAR.get
_attach = otel_context.attach if _VAR is None else _VAR.set
_STEP_NAMES = tuple(f"superstep {n}" for n in range(256))  # one str per number


def _detach(token: Any) -> None:
    if _VAR is None:
        otel_context.detach(token)
        return
    try:
        _VAR.reset(token)
    except Exception:  # as otel_context.detach: logged, not raised
        logger.exception("Failed to detach context")


class GraphSpans:
    """Superstep and node spans (``graphs.instrumentation.Listener``).

    Where the run's span is sampled out, its supersteps are not observed at all
    (no span, no node call). A superstep of one node is one span, the node's as
    well as the superstep's (``oris.node``, ``oris.task_id``; current while the
    node runs, so its model and tool calls are its children): most supersteps
    run one node, and a second span each would double the cost of tracing them.
    A superstep of several nodes has a child span for each node execution."""

    __slots__ = ()

    def superstep_start(self, start: graphs.instrumentation.SuperstepStart) -> Any:
        tracer = _state.tracer
        assert tracer is not None
        context = _get_context()
        # trace.get_current_span's look-up; outside any span: a root span
        current = context.get(_SPAN_KEY)
        if current is None or (
            type(current) is not spans.Span and not isinstance(current, trace.Span)
        ):
            current = trace.INVALID_SPAN
        elif (
            current is not trace.INVALID_SPAN
            and not current.is_recording()
            and current.get_span_context().is_valid
        ):
            return None  # a sampled-out trace: nothing of it is recorded
        # few attributes: each costs on every superstep (the attempt span has
        # the thread; the node's, or the node spans below, say which nodes ran)
        step = start.step
        attributes: dict[str, Any] = {"oris.step": step}
        if start.namespace:  # a subgraph's
            attributes["oris.graph"] = start.graph
            attributes["oris.checkpoint_ns"] = start.namespace
        nodes = start.nodes
        alone = len(nodes) == 1
        if alone:
            attributes["oris.node"] = nodes[0]
        name = _STEP_NAMES[step] if 0 <= step < 256 else f"superstep {step}"
        span = start_span(tracer, name, None, attributes, current=current)
        if type(span) is not spans.Span and not span.is_recording():
            return None  # sampled out by the provider's sampler
        return _Step(span, alone, context)

    def superstep_end(
        self, handle: Any, *, error: BaseException | None, interrupted: bool
    ) -> None:
        step: _Step = handle
        if error is None and not interrupted:  # committed
            step.span.end()
            return
        if error is not None and error is step.failure:  # recorded by node_end
            step.span.set_attribute("error.type", type(error).__qualname__)
            step.span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
            step.span.end()
            return
        _ended(step.span, error, interrupted)

    def node_start(self, start: graphs.instrumentation.NodeStart) -> Any:
        step: _Step = start.parent
        if step.alone:  # the superstep's span is the node's
            span = step.span
            if type(span) is spans.Span and type(span._attributes) is dict:
                span._attributes["oris.task_id"] = start.task_id  # a str, kept as is
            else:
                span.set_attribute("oris.task_id", start.task_id)
            if start.attempt > 1:
                step.span.set_attribute("oris.node.attempt", start.attempt)
            step.token = _attach(step.context)
            return step
        assert _state.tracer is not None
        attributes: dict[str, Any] = {
            "oris.node": start.node,
            "oris.task_id": start.task_id,
        }
        if start.attempt > 1:  # a RetryPolicy's retry
            attributes["oris.node.attempt"] = start.attempt
        span = start_span(_state.tracer, f"node {start.node}", step.context, attributes)
        # current while the node runs: its model and tool calls are its children
        return span, _attach(trace.set_span_in_context(span))

    def node_end(
        self, handle: Any, *, error: BaseException | None, interrupted: bool
    ) -> None:
        if type(handle) is not _Step:
            owner, token = handle
            _detach(token)
            _ended(owner, error, interrupted)
            return
        _detach(handle.token)
        if error is not None and not isinstance(error, GraphInterrupt):
            # a failed execution of a superstep's only node: an exception event
            # (a RetryPolicy may run it again); the superstep's end sets the
            # status if the failure stands
            handle.span.record_exception(error)
            handle.failure = error


class AgentSpans:
    """LLM and tool call spans with the GenAI semantic conventions
    (``agents.instrumentation.Listener``)."""

    def model_start(self, start: agents.instrumentation.ModelStart) -> Any:
        assert _state.tracer is not None
        provider = _PROVIDERS.get(start.provider, start.provider)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.system": provider,
            "gen_ai.request.model": start.model,
            "oris.stream": start.stream,
        }
        if start.server:
            url = urlsplit(start.server)
            attributes["server.address"] = url.hostname or ""
            port = url.port or (443 if url.scheme == "https" else 80)
            attributes["server.port"] = port
        return start_span(
            _state.tracer, f"chat {start.model}", None, attributes, SpanKind.CLIENT
        )

    def model_end(
        self, handle: Any, *, reply: AIMessage | None, error: BaseException | None
    ) -> None:
        if reply is not None:
            handle.set_attributes(_reply_attributes(reply))
        _ended(handle, error, False)

    def tool_start(self, start: agents.instrumentation.ToolStart) -> Any:
        assert _state.tracer is not None
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": start.name,
            "gen_ai.tool.call.id": start.call_id,
            "gen_ai.tool.type": "function",
        }
        span = start_span(_state.tracer, f"execute_tool {start.name}", None, attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        return span, token

    def tool_end(self, handle: Any, *, error: BaseException | None) -> None:
        span, token = handle
        otel_context.detach(token)
        _ended(span, error, False)


def _reply_attributes(reply: AIMessage) -> dict[str, Any]:
    meta = reply.response_metadata
    found: dict[str, Any] = {}
    if reply.usage_metadata is not None:
        found["gen_ai.usage.input_tokens"] = reply.usage_metadata["input_tokens"]
        found["gen_ai.usage.output_tokens"] = reply.usage_metadata["output_tokens"]
    reasons = [str(meta[k]) for k in _FINISH_KEYS if meta.get(k)]
    if reasons:
        found["gen_ai.response.finish_reasons"] = reasons
    model = meta.get("model") or meta.get("model_name")
    if model:
        found["gen_ai.response.model"] = str(model)
    response_id = meta.get("id") or reply.id
    if response_id:
        found["gen_ai.response.id"] = str(response_id)
    if "cost_usd" in meta:
        found["oris.cost_usd"] = float(meta["cost_usd"])
    return found
