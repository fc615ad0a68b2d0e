"""``http_fetch``: GET a URL whose host and port are on an allowlist.

A fetch is bounded three ways: only allowlisted hosts and ports are reached (every
redirect hop re-checked), the body is streamed and cut at ``max_bytes`` (never read
whole first), and the whole fetch (connect, every hop, every byte) runs under one
wall-clock deadline, so a server that drips its body cannot hold the tool past it.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from agents.errors import ToolError
from agents.tools.base import BaseTool, ToolRuntime, _run_coroutine

__all__ = ["DEFAULT_PORTS", "HttpFetchTool", "parse_entry", "url_allowed"]

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_entry(entry: str) -> tuple[str, int | None]:
    """Splits an allowlist entry into its host and its port (``None`` when absent).

    Entries are ``host``, ``*.suffix``, ``[v6 address]``, each optionally with
    ``:port``.

    Raises:
        ValueError: For a port that is not a number from 1 to 65535.
    """
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    if not port:
        return host.rstrip("."), None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Bad port in allowlist entry {entry!r}")
    return host.rstrip("."), int(port)


def url_allowed(url: str, allowed: Sequence[str]) -> bool:
    """Whether ``url``'s host and port match an entry of ``allowed``.

    An entry without a port admits only the default port of the URL's scheme (80
    for http, 443 for https); ``host:port`` admits that port only.
    """
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    default = DEFAULT_PORTS[parts.scheme]
    try:
        port = default if parts.port is None else parts.port
    except ValueError:  # a port that is not a number, or out of range
        return False
    host = parts.hostname.rstrip(".")
    for pattern, entry_port in map(parse_entry, allowed):
        if port != (default if entry_port is None else entry_port):
            continue
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


class HttpFetchTool(BaseTool):
    """Fetches text over HTTP(S) from allowed hosts and ports only.

    Redirects are followed by hand so every hop is checked against the allowlist.

    Args:
        allowed_hosts: Hostnames (``api.example.com``) or wildcards (``*.gov``),
            optionally with a port (``127.0.0.1:8080``); an entry without a port
            admits only 80 for http and 443 for https.
        timeout: Seconds for the whole fetch, redirects and body included.
        max_bytes: Body bytes read and kept; the fetch stops reading there.
        max_redirects: Redirect hops followed.

    Raises:
        ValueError: For an allowlist entry with a malformed port.
    """

    name = "http_fetch"
    description = "Fetch a web page or API response (HTTP GET) from an allowed host."
    parameters = {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "http(s) URL to GET."}},
        "required": ["url"],
    }

    def __init__(
        self,
        allowed_hosts: list[str],
        *,
        timeout: float = 10.0,
        max_bytes: int = 100_000,
        max_redirects: int = 3,
    ) -> None:
        self.allowed_hosts = list(allowed_hosts)
        for entry in self.allowed_hosts:
            parse_entry(entry)  # a malformed port is a configuration error: fail now
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        hosts = ", ".join(self.allowed_hosts) or "none"
        self.description = f"{self.description} Allowed hosts: {hosts}."

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ToolError(f"Only http(s) URLs can be fetched: {url}")
        if not url_allowed(url, self.allowed_hosts):
            raise ToolError(
                f"Host {parts.netloc!r} is not on the allowlist "
                "(an entry without a port admits only 80 for http, 443 for https)"
            )

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        result: str = _run_coroutine(self._fetch(args["url"]))
        return result

    async def _arun(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        return await self._fetch(args["url"])

    async def _fetch(self, url: str) -> str:
        first = url
        try:
            # One deadline for everything: httpx's timeout is per operation, so a
            # server sending a byte a second would never trip it.
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(
                    timeout=self.timeout,
                    follow_redirects=False,
                    # Compressed bodies would make max_bytes a bound on the wire,
                    # not on memory; identity is always acceptable (RFC 9110).
                    headers={"accept-encoding": "identity"},
                ) as client,
            ):
                for _ in range(self.max_redirects + 1):
                    self._check(url)
                    async with client.stream("GET", url) as resp:
                        if resp.is_redirect and "location" in resp.headers:
                            url = urljoin(url, resp.headers["location"])
                            continue
                        return await self._read(resp)
        except TimeoutError as exc:
            raise ToolError(
                f"Fetching {url} took longer than {self.timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ToolError(f"Fetching {url} failed: {type(exc).__name__}") from exc
        raise ToolError(f"Too many redirects fetching {first}")

    async def _read(self, resp: httpx.Response) -> str:
        """The status line and at most ``max_bytes`` of the body, as text."""
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ToolError(f"Refused a {encoding}-compressed response")
        body = bytearray()
        async for chunk in resp.aiter_raw():
            body += chunk
            if len(body) > self.max_bytes:
                break  # leaving the stream closes the connection unread
        cut = len(body) > self.max_bytes
        try:
            decoder = codecs.getincrementaldecoder(resp.charset_encoding or "utf-8")
        except LookupError:
            decoder = codecs.getincrementaldecoder("utf-8")
        # final=False on a cut body drops a character split by the cut.
        text = decoder(errors="replace").decode(bytes(body[: self.max_bytes]), not cut)
        return f"HTTP {resp.status_code}{' (truncated)' if cut else ''}\n{text}"
