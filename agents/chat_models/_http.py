"""The one HTTP helper every provider adapter uses.

One transport (httpx, sync and async), one retry policy, one error mapping into
:class:`~agents.errors.ProviderError`, and one parser per streaming wire format
(Server-Sent Events for OpenAI and Anthropic, newline-delimited JSON for Ollama).

Retries cover 408/409/425/429, 5xx, timeouts and connection failures, honour a
``retry-after`` (or ``retry-after-ms``) header, and back off exponentially with jitter
otherwise. 400/401/403/404/422 are permanent and never retried. A stream is retried
only until its first byte has been handed to the caller: after that a failure surfaces
as a retryable :class:`ProviderError` so the caller (or the runtime) decides.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from agents.errors import ProviderError

__all__ = ["HttpTransport", "RetryPolicy", "SSEDecoder", "error_from_response"]

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How provider calls are retried.

    Args:
        max_retries: Retries after the first attempt (0 disables retrying).
        backoff_base: First backoff in seconds; doubles per retry.
        backoff_max: Upper bound of one backoff.
        max_retry_after: Upper bound on a provider-requested ``retry-after``.
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: ProviderError) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_retry_after)
        raw = min(self.backoff_max, self.backoff_base * (2.0**attempt))
        return raw * (0.5 + random.random() / 2)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Read ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return float(raw_ms) / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        when = email.utils.parsedate_to_datetime(raw) if raw else None
        if when is None:
            return None
        return max(0.0, when.timestamp() - time.time())


def _error_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:500]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)[:500]
        return str(err)[:500]
    return body.strip()[:500]


def error_from_response(
    status: int, body: str, headers: Mapping[str, str], *, provider: str
) -> ProviderError:
    """Map a non-2xx response to a :class:`ProviderError`.

    Args:
        status: HTTP status code.
        body: Response body text (vendor JSON error or plain text).
        headers: Response headers (for ``retry-after``).
        provider: Provider id for the message.

    Returns:
        The error; retryable for 408/409/425/429 and 5xx.
    """
    retryable = status in RETRYABLE_STATUS or status >= 500
    message = _error_message(body) or httpx.codes.get_reason_phrase(status)
    return ProviderError(
        f"{provider} returned HTTP {status}: {message}",
        retryable=retryable,
        status_code=status,
        retry_after=parse_retry_after(headers),
        provider=provider,
    )


def error_from_exception(exc: Exception, *, provider: str) -> ProviderError:
    """Map an httpx transport exception (timeout, connection...) to ProviderError."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(
            f"{provider} request timed out ({type(exc).__name__})",
            retryable=True,
            provider=provider,
        )
    return ProviderError(
        f"{provider} transport error: {type(exc).__name__}: {exc}",
        retryable=isinstance(exc, httpx.TransportError),
        provider=provider,
    )


@dataclass(kw_only=True)
class HttpTransport:
    """JSON-over-HTTP client with retries, shared by every adapter.

    Args:
        base_url: Endpoint root (``https://api.openai.com/v1``).
        headers: Headers sent with every request (auth, versions).
        timeout: Seconds for connect/read/write of one attempt.
        retry: Retry policy.
        provider: Provider id used in error messages.
        params: Query parameters sent with every request (Azure ``api-version``).
    """

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    provider: str = "http"
    params: dict[str, str] = field(default_factory=dict)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, headers=self.headers)
        return self._client

    def _async_client(self) -> httpx.AsyncClient:
        # Async clients are bound to an event loop; a fresh one per call is safe
        # under any loop the graph engine happens to run us in.
        return httpx.AsyncClient(timeout=self.timeout, headers=self.headers)

    def close(self) -> None:
        """Close the pooled sync client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _retrying(self, attempt: int, error: ProviderError) -> float | None:
        if not error.retryable or attempt >= self.retry.max_retries:
            return None
        delay = self.retry.delay(attempt, error)
        logger.warning(
            "%s call failed (%s); retry %d/%d in %.2fs",
            self.provider,
            error.message,
            attempt + 1,
            self.retry.max_retries,
            delay,
        )
        return delay

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON and return the decoded JSON response, retrying as configured.

        Raises:
            ProviderError: On a non-2xx status, transport failure or bad JSON.
        """
        attempt = 0
        while True:
            try:
                return self._post_once(path, body)
            except ProviderError as error:
                delay = self._retrying(attempt, error)
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1

    def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self._sync_client().post(
                self._url(path), json=body, params=self.params
            )
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, provider=self.provider) from exc
        return self._decode(resp.status_code, resp.text, resp.headers)

    async def apost(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Async :meth:`post`."""
        attempt = 0
        while True:
            try:
                async with self._async_client() as client:
                    try:
                        resp = await client.post(
                            self._url(path), json=body, params=self.params
                        )
                    except httpx.HTTPError as exc:
                        raise error_from_exception(exc, provider=self.provider) from exc
                return self._decode(resp.status_code, resp.text, resp.headers)
            except ProviderError as error:
                delay = self._retrying(attempt, error)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1

    def _decode(
        self, status: int, text: str, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        if status >= 400:
            raise error_from_response(status, text, headers, provider=self.provider)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProviderError(
                f"{self.provider} returned invalid JSON: {text[:200]!r}",
                retryable=False,
                status_code=status,
                provider=self.provider,
            ) from exc
        if not isinstance(data, dict):
            raise ProviderError(
                f"{self.provider} returned a non-object JSON body",
                retryable=False,
                status_code=status,
                provider=self.provider,
            )
        return data

    def stream_lines(self, path: str, body: dict[str, Any]) -> Iterator[str]:
        """POST JSON and yield response lines as they arrive.

        Raises:
            ProviderError: On a non-2xx status (retried before any line is
                yielded) or a transport failure mid-stream (not retried).
        """
        attempt = 0
        while True:
            try:
                yield from self._stream_once(path, body)
                return
            except _BeforeFirstByte as wrapped:
                delay = self._retrying(attempt, wrapped.error)
                if delay is None:
                    raise wrapped.error from wrapped.__cause__
            time.sleep(delay)
            attempt += 1

    def _stream_once(self, path: str, body: dict[str, Any]) -> Iterator[str]:
        client = self._sync_client()
        try:
            with client.stream(
                "POST", self._url(path), json=body, params=self.params
            ) as resp:
                if resp.status_code >= 400:
                    text = resp.read().decode("utf-8", "replace")
                    raise _BeforeFirstByte(
                        error_from_response(
                            resp.status_code, text, resp.headers, provider=self.provider
                        )
                    )
                yield from _guard_mid_stream(resp.iter_lines(), self.provider)
        except httpx.HTTPError as exc:
            raise _BeforeFirstByte(
                error_from_exception(exc, provider=self.provider)
            ) from exc

    async def astream_lines(
        self, path: str, body: dict[str, Any]
    ) -> AsyncIterator[str]:
        """Async :meth:`stream_lines`."""
        attempt = 0
        while True:
            try:
                async for line in self._astream_once(path, body):
                    yield line
                return
            except _BeforeFirstByte as wrapped:
                delay = self._retrying(attempt, wrapped.error)
                if delay is None:
                    raise wrapped.error from wrapped.__cause__
            await asyncio.sleep(delay)
            attempt += 1

    async def _astream_once(
        self, path: str, body: dict[str, Any]
    ) -> AsyncIterator[str]:
        async with self._async_client() as client:
            try:
                async with client.stream(
                    "POST", self._url(path), json=body, params=self.params
                ) as resp:
                    if resp.status_code >= 400:
                        text = (await resp.aread()).decode("utf-8", "replace")
                        raise _BeforeFirstByte(
                            error_from_response(
                                resp.status_code,
                                text,
                                resp.headers,
                                provider=self.provider,
                            )
                        )
                    lines = resp.aiter_lines()
                    while True:
                        try:
                            line = await lines.__anext__()
                        except StopAsyncIteration:
                            return
                        except httpx.HTTPError as exc:
                            raise error_from_exception(
                                exc, provider=self.provider
                            ) from exc
                        yield line
            except httpx.HTTPError as exc:
                raise _BeforeFirstByte(
                    error_from_exception(exc, provider=self.provider)
                ) from exc


class _BeforeFirstByte(Exception):
    """A failure that happened before any stream data reached the caller."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(error.message)
        self.error = error


def _guard_mid_stream(lines: Iterator[str], provider: str) -> Iterator[str]:
    # Once data has been yielded the request must not be replayed silently (the
    # caller already emitted tokens), so mid-stream failures are raised as-is.
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, provider=provider) from exc
        yield line


class SSEDecoder:
    """Incremental Server-Sent Events parser: feed lines, get ``(event, data)`` pairs.

    Multi-line ``data`` fields are joined with ``\\n``; comments are skipped. Being
    line-driven, one decoder serves sync and async streams alike.
    """

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> list[tuple[str | None, str]]:
        """Consume one line (without its newline); return completed events."""
        if not line:
            return self.flush()
        if line.startswith(":"):
            return []
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            self._event = value
        elif key == "data":
            self._data.append(value)
        return []

    def flush(self) -> list[tuple[str | None, str]]:
        """Return the pending event, if any (call at end of stream too)."""
        out = [(self._event, "\n".join(self._data))] if self._data else []
        self._event, self._data = None, []
        return out
