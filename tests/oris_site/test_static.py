"""Static files under ASGI come whole, with WhiteNoise's headers; under WSGI they
stream as WhiteNoise sends them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from django.core.signals import request_finished
from django.test import AsyncClient, Client

import runtime

CSS = "/static/runtime/console.css"
FILE = Path(runtime.__file__).parent / "static" / "runtime" / "console.css"


def asgi(method: str, headers: dict[str, str] | None = None) -> Any:
    client = AsyncClient()
    return asyncio.run(getattr(client, method)(CSS, headers=headers))


@pytest.mark.no_test_database
def test_an_asgi_request_gets_the_whole_file_with_whitenoises_headers() -> None:
    response = asgi("get")
    assert response.status_code == 200
    assert not response.streaming  # Django's ASGI handler need not buffer it
    assert response.content == FILE.read_bytes()
    assert response["Content-Type"].startswith("text/css")
    assert response["Content-Length"] == str(FILE.stat().st_size)
    etag = response["ETag"]

    again = asgi("get", {"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")

    part = asgi("get", {"Range": "bytes=0-9"})
    assert (part.status_code, part.content) == (206, FILE.read_bytes()[:10])

    head = asgi("head")
    assert (head.status_code, head.content) == (200, b"")
    assert head["Content-Length"] == str(FILE.stat().st_size)


@pytest.mark.no_test_database
def test_the_request_finishes_once_when_its_answer_is_closed() -> None:
    finished: list[object] = []

    def note(sender: object, **kwargs: object) -> None:
        finished.append(sender)

    request_finished.connect(note)
    try:
        assert asgi("get").status_code == 200
    finally:
        request_finished.disconnect(note)
    assert len(finished) == 1  # not also while the file was read


@pytest.mark.no_test_database
def test_a_wsgi_request_streams_the_file() -> None:
    response = Client().get(CSS)
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == FILE.read_bytes()
