"""Content negotiation, remembered: each answer is DRF's, the first time and after."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from runtime.api.negotiation import ContentNegotiation
from tests.runtime.api.conftest import assert_error

ACCEPTS = [
    "application/json",
    "*/*",
    "application/json; indent=4",
    "application/*;q=0.5, text/html",
    "text/html",
    "image/png",
]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_it_chooses_as_drf_does_each_time(accept: str) -> None:
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    request = Request(APIRequestFactory().get("/v1/jobs", HTTP_ACCEPT=accept))
    try:
        expected = DefaultContentNegotiation().select_renderer(request, renderers)
    except NotAcceptable:
        expected = None
    for _ in range(2):  # the second from the memo
        try:
            found = ContentNegotiation().select_renderer(request, renderers)
        except NotAcceptable:
            found = None
        assert found == expected


def test_a_request_no_renderer_accepts_is_a_406_each_time(alice_admin) -> None:
    for _ in range(2):
        assert_error(
            alice_admin.get("/v1/jobs", HTTP_ACCEPT="image/png"),
            406,
            "invalid_argument",
        )
    indented = alice_admin.get("/v1/jobs", HTTP_ACCEPT="application/json; indent=2")
    assert indented.status_code == 200
    assert indented.content.startswith(b'{\n  "meta"')  # as DRF renders indent=2
