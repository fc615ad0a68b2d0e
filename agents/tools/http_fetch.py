"""``http_fetch``: GET a URL whose host is on an allowlist."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from agents.errors import ToolError
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["HttpFetchTool", "host_allowed"]


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether ``host`` matches an entry (``example.com`` or ``*.example.com``)."""
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


class HttpFetchTool(BaseTool):
    """Fetches text over HTTP(S) from allowed hosts only.

    Redirects are followed by hand so every hop is checked against the allowlist.

    Args:
        allowed_hosts: Hostnames (``api.example.com``) or wildcards (``*.gov``);
            an entry may carry a port (``127.0.0.1:8080``).
        timeout: Seconds for the whole request.
        max_bytes: Response bytes kept (the rest is cut).
        max_redirects: Redirect hops followed.
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
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        hosts = ", ".join(self.allowed_hosts) or "none"
        self.description = f"{self.description} Allowed hosts: {hosts}."

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ToolError(f"Only http(s) URLs can be fetched: {url}")
        with_port = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        if not (
            host_allowed(parts.hostname, self.allowed_hosts)
            or host_allowed(with_port, self.allowed_hosts)
        ):
            raise ToolError(f"Host {parts.hostname!r} is not on the allowlist")

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        url = args["url"]
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            for _ in range(self.max_redirects + 1):
                self._check(url)
                try:
                    resp = client.get(url)
                except httpx.HTTPError as exc:
                    raise ToolError(
                        f"Fetching {url} failed: {type(exc).__name__}"
                    ) from exc
                if resp.is_redirect and "location" in resp.headers:
                    url = urljoin(url, resp.headers["location"])
                    continue
                body = resp.text[: self.max_bytes]
                cut = " (truncated)" if len(resp.text) > self.max_bytes else ""
                return f"HTTP {resp.status_code}{cut}\n{body}"
        raise ToolError(f"Too many redirects fetching {args['url']}")
