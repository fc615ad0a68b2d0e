"""``current_time``: the current date and time in a time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents.errors import ToolError
from agents.tools.base import BaseTool, ToolRuntime

__all__ = ["CurrentTimeTool"]


class CurrentTimeTool(BaseTool):
    """Returns the current time as ISO 8601.

    The result is recorded in the checkpoint like any tool result, so a resumed run
    sees the same time it saw before the crash.

    Args:
        clock: Returns the current UTC time (injectable for tests).
    """

    name = "current_time"
    description = "Get the current date and time (ISO 8601) in an IANA time zone."
    parameters = {
        "type": "object",
        "properties": {
            "timezone": {
                "type": "string",
                "description": "IANA zone such as 'Europe/Paris'.",
                "default": "UTC",
            }
        },
        "required": [],
    }

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        name = args.get("timezone") or "UTC"
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ToolError(f"Unknown time zone: {name}") from exc
        return self.clock().astimezone(zone).isoformat(timespec="seconds")
