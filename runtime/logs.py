"""Log lines that say which request, thread, attempt, worker and trace they belong to.

The API middleware and the worker bind their ids for the time they work
(:func:`bound`); :class:`ContextFilter` copies them onto every record, with the
current span's trace and span ids while tracing. ``ORIS_LOG_FORMAT=json`` logs one
JSON object per line (:class:`JsonFormatter`); the default text format appends the
bound ids as ``key=value``. Stdlib only: ``LOGGING`` loads it before the apps.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

FIELDS = ("request_id", "thread_id", "attempt_id", "worker_id", "trace_id", "span_id")
_bound: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "oris_log_context", default=MappingProxyType({})
)
T = TypeVar("T")


@contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Binds ``fields`` to the log lines written inside the block."""
    token = _bound.set({**_bound.get(), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def binding(call: Callable[[], T], fields: Mapping[str, str]) -> Callable[[], T]:
    """``call`` with ``fields`` bound while it runs."""

    def bound_call() -> T:
        with bound(**fields):
            return call()

    return bound_call


def context() -> dict[str, str]:
    """The ids bound here, with the current span's while tracing."""
    found = dict(_bound.get())
    ids = _span_ids()
    if ids is not None:
        found["trace_id"], found["span_id"] = ids
    return found


def _span_ids() -> tuple[str, str] | None:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - a dependency, but logs need not fail
        return None
    span = trace.get_current_span().get_span_context()
    if not span.is_valid:
        return None
    return format(span.trace_id, "032x"), format(span.span_id, "016x")


class ContextFilter(logging.Filter):
    """Puts the bound ids on each record (``record.oris``), for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.oris = context()
        return True


class LineFormatter(logging.Formatter):
    """The text format, with the bound ids appended as ``key=value``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)  # the traceback comes after the ids
        ids = getattr(record, "oris", None) or {}
        extra = " ".join(f"{k}={ids[k]}" for k in FIELDS if ids.get(k))
        return f"{line} [{extra}]" if extra else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids
    (``null`` when unbound), and the exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        ids = getattr(record, "oris", None)
        if ids is None:
            ids = context()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: ids.get(k) for k in FIELDS})
        entry["process"] = record.process
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
