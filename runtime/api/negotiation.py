"""DRF's content negotiation, each answer found once per kind of request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# Distinct Accept headers are few in practice; a client sending new ones each
# time finds the memo full and pays DRF's parse, as without it. Long headers
# are not kept.
MEMO_SIZE, MEMO_HEADER = 256, 256
# (renderer classes..., format, Accept) -> (the renderer's index, media type)
_CHOSEN: dict[tuple[Any, ...], tuple[int, str]] = {}


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's choice of renderer and media type, a function of the renderers'
    classes, the format asked for and the ``Accept`` header: remembered by them
    (the answer to a refusal, a 406 or 404, is found again each time)."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        asked = format_suffix or request.query_params.get(
            self.settings.URL_FORMAT_OVERRIDE
        )
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        renderers = list(renderers)  # DRF's: a list
        key = (*map(type, renderers), asked, accept)
        found = _CHOSEN.get(key)
        if found is None:
            renderer, media_type = super().select_renderer(
                request, renderers, format_suffix
            )
            found = renderers.index(renderer), media_type
            if len(_CHOSEN) < MEMO_SIZE and len(accept) <= MEMO_HEADER:
                _CHOSEN[key] = found
        return renderers[found[0]], found[1]
