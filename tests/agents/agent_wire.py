"""A local server speaking OpenAI's chat completions protocol, as a scripted agent
model: it calls the ``charge`` tool until the conversation holds ``steps=N`` tool
results (``N`` from the first user message, default 1), then answers with text
naming the model. It counts every request and can SIGKILL a process when the
n-th request arrives (a worker dying with a model call in flight).

Used by the effect tests (a worker subprocess reaches it at ``ORIS_TEST_LLM_URL``)
and by ``bench/bench_effects.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["AgentWire"]


class AgentWire:
    """The server; ``requests`` holds the bodies received, in order."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.kill_at: int | None = None  # request number (1-based)
        self.kill_pid: int | None = None
        self.kill_ready = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append(body)
                    number = len(server.requests)
                if number == server.kill_at:
                    server.kill_ready.wait(60)
                    assert server.kill_pid is not None
                    os.kill(server.kill_pid, signal.SIGKILL)
                    return  # the caller is dead: no answer
                payload = json.dumps(reply(body)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def kill(self, pid: int, *, at: int) -> None:
        """SIGKILL ``pid`` when request number ``at`` arrives (not answered)."""
        self.kill_at, self.kill_pid = at, pid
        self.kill_ready.set()

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
        self.kill_at, self.kill_pid = None, None
        self.kill_ready.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(body: dict[str, Any]) -> dict[str, Any]:
    """The scripted completion for one request."""
    messages = body.get("messages") or []
    first = next((m for m in messages if m.get("role") == "user"), {})
    found = re.search(r"steps=(\d+)", str(first.get("content") or ""))
    steps = int(found.group(1)) if found else 1
    rounds = sum(1 for m in messages if m.get("role") == "tool")
    message: dict[str, Any]
    if rounds < steps:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{rounds}",
                    "type": "function",
                    "function": {
                        "name": "charge",
                        "arguments": json.dumps({"amount": rounds + 1}),
                    },
                }
            ],
        }
        finish = "tool_calls"
    else:
        message = {
            "role": "assistant",
            "content": f"{body.get('model')}: done after {rounds} charges",
        }
        finish = "stop"
    prompt = sum(len(json.dumps(m)) for m in messages) // 4
    return {
        "id": f"chatcmpl-{len(messages)}",
        "object": "chat.completion",
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": 9,
            "total_tokens": prompt + 9,
        },
    }
