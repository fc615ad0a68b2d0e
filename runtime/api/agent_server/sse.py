"""Server-Sent Events as the Agent Server frames them.

Each event is ``event: <name>``, ``data: <one line of JSON>`` and, for a resumable
stream, ``id: <sequence>`` after the data, then a blank line; ``: heartbeat``
comments keep idle connections open through proxies. Responses are never buffered
or cached on the way (``X-Accel-Buffering: no``, ``Cache-Control: no-store``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.http import StreamingHttpResponse

CONTENT_TYPE = "text/event-stream; charset=utf-8"
HEARTBEAT = b": heartbeat\r\n\r\n"
HEARTBEAT_SECONDS = 5.0


def frame(event: str, data: str, event_id: int | str | None = None) -> bytes:
    """One event; ``data`` is JSON text already (stored events are sent as stored)."""
    tail = f"id: {event_id}\r\n" if event_id is not None else ""
    return f"event: {event}\r\ndata: {data}\r\n{tail}\r\n".encode()


def response(
    events: AsyncIterator[bytes] | Iterator[bytes], headers: dict[str, str]
) -> StreamingHttpResponse:
    """A streaming answer with the Agent Server's headers (``Location``,
    ``Content-Location`` given by the caller)."""
    answer = StreamingHttpResponse(events, content_type=CONTENT_TYPE)
    answer["Cache-Control"] = "no-store"
    answer["X-Accel-Buffering"] = "no"
    for name, value in headers.items():
        answer[name] = value
    return answer
