"""Per-credential rate limiting on /v1 (``ORIS_API_RATE_LIMIT``, e.g. ``600/minute``).

Fixed windows counted in Django's default cache: one ``incr`` per request,
whatever the rate (and an ``add`` for a window's first request). With the
default local-memory cache each web process counts on its own; point ``CACHES``
at a shared cache to count across processes.
"""

from __future__ import annotations

import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from runtime.api.principal import Principal

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
OFF = ("", "off", "none", "0")


@lru_cache(maxsize=16)  # read for every request; settings rarely change
def parse_rate(value: str) -> tuple[int, int] | None:
    """``"600/minute"`` -> ``(600, 60)``; ``off`` -> ``None``; raises
    ``ImproperlyConfigured`` for anything else."""
    text = value.strip().lower()
    if text in OFF:
        return None
    count, _, period = text.partition("/")
    if not count.isdigit() or int(count) < 1 or period[:1] not in PERIODS:
        raise ImproperlyConfigured(
            f"ORIS_API_RATE_LIMIT={value!r} is not <count>/<second|minute|hour|day> "
            "or off"
        )
    return int(count), PERIODS[period[:1]]


class CredentialRateThrottle(BaseThrottle):
    """At most N requests per window and credential; 429 with ``Retry-After``."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: object) -> bool:
        rate = parse_rate(settings.ORIS_API_RATE_LIMIT)
        if rate is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        count = _counted(f"oris:rate:{self._ident(request)}:{window}", period + 1)
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float | None:
        return self._wait

    def _ident(self, request: Request) -> str:
        principal = request.user
        if isinstance(principal, Principal) and principal.actor_type != "anonymous":
            return f"{principal.actor_type}:{principal.actor_id or ''}"
        return f"ip:{self.get_ident(request)}"


def _counted(key: str, timeout: int) -> int:
    """The count of ``key`` with this request: one ``incr``, as a window's first
    request finds no count yet, an ``add`` for it."""
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request (or its count evicted)
        pass
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)  # another request added it meanwhile
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1
