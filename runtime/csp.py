"""The Content-Security-Policy of Oris's HTML pages: the console and ``/docs``."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Sets ``ORIS_CSP`` on every HTML response that has no policy of its own
    (JSON answers have nothing a policy would govern)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if html and settings.ORIS_CSP:
            response.headers.setdefault("Content-Security-Policy", settings.ORIS_CSP)
        return response
