"""Refused control actions, as one request's audit needs them.

The middleware (``runtime.api.middleware``) audits every refusal of a POST once the
response is known: the one the response shows (a 4xx on /v1 or the console) and the
ones noted here on the way, which the response does not show (the console answers a
conflict, or a bulk action the user may not run, with a message and a page).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Refusal:
    """A control action that was refused: what was asked, on what, and why."""

    action: str
    resource_type: str
    resource_id: str | None
    status_code: int
    error: str | None


def note_refusal(request: HttpRequest, refusal: Refusal) -> None:
    """Notes a refusal for the audit written after the response."""
    request.__dict__.setdefault("oris_refusals", []).append(refusal)


def noted_refusals(request: HttpRequest) -> list[Refusal]:
    return list(request.__dict__.get("oris_refusals", ()))
