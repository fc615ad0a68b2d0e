"""Runs the web server and a supervised django-q2 cluster together, in the
foreground.

Ctrl-C (SIGINT) or SIGTERM stops both. The cluster is restarted when it exits or
wedges (``runtime.worker.supervisor``); if the web server exits on its own, the
cluster is stopped too and the command exits with the server's status.
"""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from runtime.worker.supervisor import (
    GRACE_SECONDS,
    MANAGE,
    Supervisor,
    stop_requested,
)


class Command(BaseCommand):
    help = "Serve HTTP on ORIS_SERVER_ADDR and run a supervised django-q2 cluster."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default=settings.ORIS_SERVER_ADDR)

    def handle(self, *args: object, addr: str, **options: object) -> None:
        web = subprocess.Popen(
            [sys.executable, MANAGE, "runserver", "--noreload", addr]
        )
        self.stdout.write(f"Oris is serving on http://{addr}/ (Ctrl-C stops it)")
        stopping = stop_requested()
        Supervisor().run(lambda: stopping() or web.poll() is not None)
        status = web.poll()
        if status is not None and not stopping():
            self.stderr.write(f"web exited with status {status}; stopped.")
        elif status is None:
            web.terminate()
            try:
                status = web.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                web.kill()
                web.wait()
            status = 0
        if status:
            sys.exit(status)
