"""Run webhooks: a POST of the finished run to the URL its request named, sent by
a q2 task after the run's outcome commits (never blocking the run), retried with
backoff on connection errors and 5xx answers."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

logger = logging.getLogger(__name__)

TRIES = 4
TIMEOUT_SECONDS = 10.0


def webhook_deliver(url: str, body: dict[str, Any], *, tries: int = TRIES) -> bool:
    """POSTs ``body`` as JSON to ``url``; returns whether it was accepted."""
    data = json.dumps(body, default=str).encode()
    for attempt in range(tries):
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                if answer.status < 300:
                    return True
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                logger.warning("webhook %s refused the run: %s", url, exc.code)
                return False
        except OSError as exc:
            logger.warning("webhook %s unreachable: %s", url, exc)
        time.sleep(min(0.5 * 2**attempt, 8.0))
    logger.error("webhook %s failed after %d tries", url, tries)
    return False
