"""W3C trace context (``traceparent``), as the reference propagates it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from runtime import telemetry
from runtime.errors import InvalidArgument

_HEX = re.compile(r"^[0-9a-f]+$")
FORMAT = (
    "traceparent must use format 00-<32 hex trace_id>-<16 hex span_id>-<2 hex flags>"
)


def _span_id() -> str:
    return uuid.uuid4().hex[:16]


def _context(trace_id: str, span_id: str, parent: str | None, flags: str) -> dict:
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent,
        "flags": flags,
        "traceparent": f"00-{trace_id}-{span_id}-{flags}",
    }


def trace_start(header: str | None) -> dict[str, Any]:
    """A new span under the caller's ``traceparent``, or a new trace without one.

    While tracing, the new span is the request's own (the current span), so the
    attempts of the run continue under it."""
    parent = None if header is None else _parse(header)
    current = telemetry.current_ids()
    if current is not None and (parent is None or current[0] == parent[0]):
        trace_id, span_id, flags = current
    elif parent is not None:
        trace_id, span_id, flags = parent[0], _span_id(), parent[2]
    else:
        trace_id, span_id, flags = uuid.uuid4().hex, _span_id(), "01"
    return _context(trace_id, span_id, parent[1] if parent else None, flags)


def trace_current() -> dict[str, Any] | None:
    """While tracing, the current span as a trace context (a job created inside
    a request's span continues under it); ``None`` otherwise."""
    current = telemetry.current_ids()
    if current is None:
        return None
    return _context(current[0], current[1], None, current[2])


def trace_id_of(header: str | None) -> str | None:
    """The trace id of a valid ``traceparent``; ``None`` for none or a bad one."""
    try:
        return _parse(header)[0] if header else None
    except InvalidArgument:
        return None


def _parse(header: str) -> tuple[str, str, str]:
    """Trace id, span id and flags of a ``traceparent``; raises ``InvalidArgument``."""
    if not header.isascii():
        raise InvalidArgument("traceparent header must be valid ASCII")
    parts = header.strip().lower().split("-")
    if len(parts) != 4 or parts[0] != "00":
        raise InvalidArgument(FORMAT)
    _, trace_id, span_id, flags = parts
    valid = (
        len(trace_id) == 32
        and len(span_id) == 16
        and len(flags) == 2
        and all(_HEX.match(p) for p in (trace_id, span_id, flags))
        and trace_id.strip("0")
        and span_id.strip("0")
    )
    if not valid:
        raise InvalidArgument(FORMAT)
    return trace_id, span_id, flags


def trace_advance(trace: dict[str, Any] | None) -> dict[str, Any] | None:
    """The next span of an attempt's trace: the old span becomes the parent."""
    if not trace:
        return None
    return _context(trace["trace_id"], _span_id(), trace["span_id"], trace["flags"])


def trace_response(trace: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reference's ``TraceContextResponse``."""
    if not trace:
        return None
    keys = ("trace_id", "span_id", "parent_span_id", "traceparent")
    return {key: trace[key] for key in keys}
