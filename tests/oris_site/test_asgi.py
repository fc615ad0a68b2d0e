"""The ASGI handler (``oris_site/asgi.py``): Django's ``request_started``
receivers run on the request's thread, first in its call, not on asgiref's
shared thread."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import signals
from django.db import close_old_connections, reset_queries

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def application(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The module turns the pool on in the environment, which the later tests'
    # subprocesses (a q2 cluster, whose forks must not share connections)
    # would inherit: it is put back afterwards.
    monkeypatch.setenv("ORIS_DB_POOL", os.environ.get("ORIS_DB_POOL", "false"))
    from oris_site.asgi import OneHopHandler

    handler = OneHopHandler()
    try:
        yield handler
    finally:  # as Django connects them, for the tests after this one
        signals.request_started.connect(reset_queries)
        signals.request_started.connect(close_old_connections)


async def _get(application: Any, path: str) -> list[dict[str, Any]]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    received = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not received.is_set():
            received.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # no disconnect
        raise AssertionError

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, receive, send)
    return sent


def test_request_started_receivers_run_on_the_request_s_thread(
    application: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oris_site import asgi

    live = signals.request_started._live_receivers(None)
    assert reset_queries not in live[0]  # so no hop to asgiref's thread for them
    assert close_old_connections not in live[0]
    threads: list[tuple[str, str]] = []

    def on_thread(receiver: Any) -> Any:
        def run() -> None:
            threads.append((receiver.__name__, threading.current_thread().name))
            receiver()

        return run

    monkeypatch.setattr(
        asgi, "_ON_REQUEST_THREAD", tuple(map(on_thread, asgi._ON_REQUEST_THREAD))
    )
    sent = asyncio.run(_get(application, "/ok"))
    assert sent[0]["status"] == 200
    assert [name for name, _ in threads] == ["reset_queries", "close_old_connections"]
    assert all(thread.startswith("oris-request") for _, thread in threads), threads
