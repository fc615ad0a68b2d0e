"""A server span for each request while tracing, and the request's ids on its logs;
django-prometheus' request series, each labelled child found once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django_prometheus import middleware as prometheus
from django_prometheus.utils import Time
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from runtime import logs, telemetry
from runtime.api.envelope import request_id
from runtime.tracing import trace_id_of

# scrapes and static files are not work worth a trace
_UNTRACED = ("/metrics", "/static/")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


class TracingMiddleware:
    """Binds the request id (and trace id) to the request's log lines; while
    tracing, runs the request in a ``SERVER`` span continuing the caller's
    ``traceparent``, named by its route (``POST /v1/jobs/run``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = {"request_id": request_id(request)}
        header = request.META.get("HTTP_TRACEPARENT")
        tracer = telemetry.tracer()
        if tracer is None or request.path.startswith(_UNTRACED):
            trace_id = trace_id_of(header)
            if trace_id:
                fields["trace_id"] = trace_id
            with logs.bound(**fields):
                return self.get_response(request)
        method = request.method or "GET"
        with (
            tracer.start_as_current_span(
                method,
                context=telemetry.extract(header),
                kind=SpanKind.SERVER,
                attributes={
                    "http.request.method": method,
                    "url.path": request.path,
                    "oris.request_id": fields["request_id"],
                },
            ) as span,
            logs.bound(**fields),
        ):
            response = self.get_response(request)
            _describe(span, request, response)
            return response


def _describe(span: trace.Span, request: HttpRequest, response: HttpResponse) -> None:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        route = "/" + _CONVERTER.sub(r"{\1}", match.route).lstrip("^").rstrip("$")
        span.update_name(f"{request.method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", response.status_code)
    if response.status_code >= 500:
        span.set_status(Status(StatusCode.ERROR))


class PrometheusAfterMiddleware(prometheus.PrometheusAfterMiddleware):
    """django-prometheus' request series, the same ones: a labelled child is
    found once per label values and kept (``labels()`` checks the names and
    builds its key on each of the six calls a request makes). Nothing removes
    a child of these series, which keep every child anyway."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children: dict[tuple[Any, ...], Any] = {}

    def process_request(self, request: HttpRequest) -> None:
        """The package's, with its two headers read from ``META``: the first use
        of ``request.headers`` builds it, a call for each header of the request."""
        metrics, meta = self.metrics, request.META
        self.label_metric(
            metrics.requests_by_method, request, method=self._method(request)
        ).inc()
        self.label_metric(
            metrics.requests_by_transport, request, transport=self._transport(request)
        ).inc()
        if meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest":
            self.label_metric(metrics.requests_ajax, request).inc()
        content_length = int(meta.get("CONTENT_LENGTH") or 0)
        self.label_metric(metrics.requests_body_bytes, request).observe(content_length)
        request.prometheus_after_middleware_event = Time()  # type: ignore[attr-defined]

    def label_metric(
        self,
        metric: Any,
        request: HttpRequest,
        response: HttpResponse | None = None,
        **labels: Any,
    ) -> Any:
        if not labels:
            return metric
        key = (metric, *labels.items())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(**labels)
        return child
