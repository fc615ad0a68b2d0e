"""A real local HTTP server that speaks whatever wire format a test scripts.

Provider adapters are tested against it end to end (httpx, sockets, SSE/NDJSON
framing, status codes, retry-after, slow responses) instead of mocking our classes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    """One scripted HTTP response."""

    status: int = 200
    json: Any = None
    text: str | None = None
    lines: list[str] | None = None  # streamed one by one, newline-terminated
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # streamed lines: after ``hold[0]`` of them, wait (at most 5 s) for the event
    hold: tuple[int, threading.Event] | None = None
    held_until_released: bool | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class WireServer:
    """Serves scripted replies in order and records every request."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                server.requests.append(
                    Recorded(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                reply = (
                    server.replies.popleft()
                    if server.replies
                    else Reply(
                        status=500, json={"error": {"message": "no reply scripted"}}
                    )
                )
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server.send(self, reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def reply(self, *replies: Reply) -> WireServer:
        self.replies.extend(replies)
        return self

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        handler.send_response(reply.status)
        handler.send_header("content-type", reply.content_type)
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        if reply.lines is not None:
            # HTTP/1.0 without content-length: the body ends when we close, the
            # way a streaming server behaves to the client.
            handler.end_headers()
            for index, line in enumerate(reply.lines):
                if reply.hold is not None and index == reply.hold[0]:
                    reply.held_until_released = reply.hold[1].wait(5)
                handler.wfile.write((line + "\n").encode())
                handler.wfile.flush()
            return
        payload = (
            reply.text if reply.text is not None else json.dumps(reply.json)
        ).encode()
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def wire():
    server = WireServer()
    yield server
    server.close()


def sse(data: Any, event: str | None = None) -> list[str]:
    """Lines of one Server-Sent Event."""
    lines = [f"event: {event}"] if event else []
    lines.append("data: " + (data if isinstance(data, str) else json.dumps(data)))
    return [*lines, ""]


def sse_reply(*events: list[str]) -> Reply:
    return Reply(
        lines=[line for event in events for line in event],
        content_type="text/event-stream",
    )


def ndjson_reply(*objects: Any) -> Reply:
    return Reply(
        lines=[json.dumps(o) for o in objects], content_type="application/x-ndjson"
    )
