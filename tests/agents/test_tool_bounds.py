"""The built-in tools stay bounded whatever the model (or a server) sends them.

The calculator bounds every number it makes and the time it takes; ``http_fetch``
reaches only allowlisted ports, streams at most ``max_bytes`` of a body and holds one
deadline for the whole fetch. The HTTP cases run against real local servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.errors import ToolError
from agents.tools import CalculatorTool, HttpFetchTool, calculate
from agents.tools.calculator import MAX_FACTORIAL, MAX_INT_BITS
from agents.tools.http_fetch import url_allowed

# -- calculator ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "refusal"),
    [
        ("9 ** 999999", "Power too large"),
        ("(9**9999)**9999", "Power too large"),
        (f"2 ** {MAX_INT_BITS}", "Number too large"),
        ("7**4000 * 7**4000", "Number too large"),  # each factor fits, the product not
        ("(7**4000 * 7**4000) // 7", "Number too large"),
        ("1 << 100000", "Unsupported"),  # shifts are not arithmetic the tool offers
        (f"factorial({MAX_FACTORIAL + 1})", "Factorial argument too large"),
        ("factorial(10**100)", "Factorial argument too large"),
        ("round(2, -10**9)", "round"),
        ("round(2.5, 10**9)", "round"),
        ("(-8) ** 0.5", "not a real number"),
        ("1e308 * 10", "not a finite number"),
        ("exp(1000)", "Cannot compute"),
        ("2.0 ** 10**9", "Cannot compute"),
        ("(2**12000) / 3 ** -1", "Cannot compute"),
    ],
)
def test_calculator_bounds_every_operation(expression, refusal):
    with pytest.raises(ToolError, match=refusal):
        CalculatorTool().invoke({"expression": expression})


@pytest.mark.parametrize(
    ("expression", "digits"),
    [
        (f"2 ** {MAX_INT_BITS - 1}", 3914),
        (f"factorial({MAX_FACTORIAL})", 2568),
        ("7**4000 * 7**600", 3888),
    ],
)
def test_calculator_computes_up_to_the_bounds(expression, digits):
    # Printing is the step that used to raise: Python refuses int -> str past
    # 4,300 digits, and every allowed result stays below that.
    assert len(CalculatorTool().invoke({"expression": expression})) == digits


def test_calculator_small_results_are_unchanged():
    assert calculate("round(2, -1)") == 0
    assert calculate("round(1234.5678, -2)") == 1200.0
    assert calculate("2 ** -2") == 0.25
    assert calculate("0.5 ** 99999") == 0.0


def test_calculator_runs_under_a_time_budget():
    assert calculate("1 + 1", budget=5.0) == 2
    with pytest.raises(ToolError, match="too long"):
        calculate("1 + 1", budget=0.0)
    with pytest.raises(ToolError, match="too long"):
        calculate("1 + 1", budget=-1.0)


def test_calculator_deep_nesting_is_a_tool_error():
    with pytest.raises(ToolError):
        calculate("-" * 499 + "1")


# -- http_fetch ---------------------------------------------------------------

BIG = 200 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)


class Served:
    """What a test server's handler saw: bytes it got onto the wire, and when done."""

    def __init__(self) -> None:
        self.sent = 0
        self.done = threading.Event()


@contextlib.contextmanager
def serving(
    body: Callable[[BaseHTTPRequestHandler, Served], None],
) -> Iterator[tuple[str, Served]]:
    """A threaded local HTTP server whose every GET is answered by ``body``."""
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            try:
                body(self, served)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up: what a bounded fetch does
            finally:
                served.done.set()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def huge_body(handler: BaseHTTPRequestHandler, served: Served) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/plain")
    handler.send_header("content-length", str(BIG))
    handler.end_headers()
    while served.sent < BIG:
        handler.wfile.write(CHUNK)
        served.sent += len(CHUNK)


def dripping_body(handler: BaseHTTPRequestHandler, served: Served) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/plain")
    handler.send_header("content-length", "600")
    handler.end_headers()
    for _ in range(600):  # a byte each 50 ms: 30 s unless the client gives up
        handler.wfile.write(b".")
        handler.wfile.flush()
        served.sent += 1
        time.sleep(0.05)


def test_http_fetch_streams_a_huge_body_only_up_to_max_bytes():
    with serving(huge_body) as (host, served):
        tool = HttpFetchTool([host], max_bytes=64 * 1024, timeout=30)
        tracemalloc.start()
        try:
            result = tool.invoke({"url": f"http://{host}/big"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert served.done.wait(30)
    status, body = result.split("\n", 1)
    assert status == "HTTP 200 (truncated)"
    assert body == "x" * (64 * 1024)
    # Reading the whole body first took ~640 MiB; streaming keeps one chunk or so.
    assert peak < 16 * 1024 * 1024, peak
    # The client hung up after max_bytes: the server got at most what the socket
    # buffers hold onto the wire, nowhere near the 200 MiB it meant to send.
    assert served.sent < 64 * 1024 * 1024, served.sent


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_http_fetch_deadline_covers_a_dripping_body(mode):
    with serving(dripping_body) as (host, served):
        # Every read gets a byte well within the 0.5 s timeout, so only a deadline on
        # the whole fetch stops it (a per-read timeout would wait the full 30 s).
        tool = HttpFetchTool([host], timeout=0.5)
        args = {"url": f"http://{host}/drip"}
        fetch: Callable[[], object] = (
            (lambda: tool.invoke(args))
            if mode == "sync"
            else (lambda: asyncio.run(tool.ainvoke(args)))
        )
        with pytest.raises(ToolError, match="took longer than 0.5 s"):
            fetch()
        assert served.done.wait(30)
    assert served.sent < 600


def hello(handler: BaseHTTPRequestHandler, served: Served) -> None:
    payload = b"hello"
    handler.send_response(200)
    handler.send_header("content-type", "text/plain; charset=utf-8")
    handler.send_header("content-length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def test_http_fetch_port_less_entries_admit_only_default_ports():
    with serving(hello) as (host, _served):
        port = int(host.rsplit(":", 1)[1])
        url = f"http://{host}/"
        assert HttpFetchTool([host]).invoke({"url": url}) == "HTTP 200\nhello"
        for entries in (["127.0.0.1"], [f"127.0.0.1:{port + 1}"], ["*.0.0.1"]):
            with pytest.raises(ToolError, match="allowlist"):
                HttpFetchTool(entries).invoke({"url": url})


@pytest.mark.parametrize(
    ("url", "entries", "allowed"),
    [
        ("http://example.com/", ["example.com"], True),
        ("http://example.com:80/", ["example.com"], True),
        ("https://example.com/", ["example.com"], True),
        ("https://example.com:443/", ["example.com"], True),
        ("http://example.com:8080/", ["example.com"], False),
        ("http://example.com:443/", ["example.com"], False),  # not http's default
        ("https://example.com:80/", ["example.com"], False),
        ("http://example.com:8080/", ["example.com:8080"], True),
        ("http://example.com/", ["example.com:8080"], False),
        ("https://api.example.com:8443/x", ["*.example.com:8443"], True),
        ("https://api.example.com/x", ["*.example.com:8443"], False),
        ("http://[::1]:8080/", ["[::1]:8080"], True),
        ("http://[::1]/", ["[::1]:8080"], False),
        ("http://example.com:99999/", ["example.com"], False),
        ("http://example.com/", ["example.com:"], True),  # an empty port is none
        ("http://example.com:x/", ["example.com"], False),
        ("ftp://example.com/", ["example.com"], False),
        ("http://EXAMPLE.com./", ["example.com"], True),
    ],
)
def test_url_allowed_port_rules(url, entries, allowed):
    assert url_allowed(url, entries) is allowed


@pytest.mark.parametrize("entry", ["example.com:x", "h:0", "h:65536", "[::1]:-1"])
def test_http_fetch_refuses_malformed_allowlist_ports(entry):
    with pytest.raises(ValueError, match="Bad port"):
        HttpFetchTool([entry])
