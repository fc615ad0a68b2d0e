"""A server span for each request while tracing, and the request's ids on its logs."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
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
        header = request.headers.get("traceparent")
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
