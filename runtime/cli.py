"""The ``oris`` console script, and what ``manage.py oris`` prints with.

``oris ARGS`` is ``manage.py oris ARGS`` from any directory: the same commands,
settings (the project's ``.env`` included) and exit codes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

# Exit codes (documented in the README and `oris --help`).
EXIT_OK = 0  # done; a waited run completed or paused at an interrupt
EXIT_USAGE = 2  # bad input: unknown graph, bad JSON, wrong state, not found
EXIT_FAILED = 3  # a waited run failed
EXIT_CANCELLED = 4  # a waited run was cancelled
EXIT_TIMEOUT = 5  # the wait ended before the run settled

EXIT_CODES_HELP = (
    "exit codes: 0 done (a waited run completed or waits at an interrupt), "
    "1 unexpected error, 2 bad input or wrong state, 3 the waited run failed, "
    "4 it was cancelled, 5 the wait timed out"
)

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``oris`` console script."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
    import django
    from django.conf import settings

    django.setup()
    # As ``python manage.py`` has its folder on the path: the modules ORIS_GRAPHS
    # names import from the project root, or from where the command runs.
    for folder in (os.getcwd(), str(settings.BASE_DIR)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    from runtime.management.commands.oris import Command

    args = list(sys.argv[1:] if argv is None else argv)
    Command().run_from_argv(["", "oris", *args])  # no program name: prog is "oris"


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Rows as aligned columns under upper-case headers (no trailing spaces)."""
    cells = [[str(h).upper() for h in headers]]
    cells += [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    if not rows:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines)


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """``label  value`` lines, the labels aligned; ``None`` values are skipped."""
    shown = [(k, v) for k, v in pairs if v is not None and v != ""]
    width = max((len(k) for k, _ in shown), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in shown)


def short(value: Any, limit: int = 60) -> str:
    """A JSON value on one line, cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Progress:
    """A waited run's progress on stderr: a spinner line redrawn in place on a
    terminal; elsewhere (a pipe, a log) one line each time the run moves."""

    def __init__(self, write: Callable[[str], Any], *, tty: bool) -> None:
        self.write = write
        self.tty = tty
        self.started = time.monotonic()
        self.last: tuple[Any, ...] | None = None
        self.ticks = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, status: str, nodes: Sequence[str], step: int | None) -> None:
        node = ",".join(nodes) or "-"
        line = (
            f"{status}  node {node}  step {'-' if step is None else step}  "
            f"{self.elapsed():.1f}s"
        )
        if self.tty:
            self.ticks += 1
            spin = SPINNER[self.ticks % len(SPINNER)]
            self.write(f"\r\033[K{spin} {line}")
        elif (status, node, step) != self.last:
            self.write(line + "\n")
        self.last = (status, node, step)

    def done(self) -> None:
        if self.tty:
            self.write("\r\033[K")
