"""Runs the web server (uvicorn, ASGI) and a supervised django-q2 cluster together,
in the foreground.

Ctrl-C (SIGINT) or SIGTERM stops both. The cluster is restarted when it exits or
wedges (``runtime.worker.supervisor``); if the web server exits on its own, the
cluster is stopped too and the command exits with the server's status.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from runtime.worker.supervisor import (
    GRACE_SECONDS,
    Supervisor,
    stop_requested,
)


class Command(BaseCommand):
    help = "Serve HTTP on ORIS_SERVER_ADDR and run a supervised django-q2 cluster."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default=settings.ORIS_SERVER_ADDR)
        parser.add_argument(
            "--bootstrap",
            action="store_true",
            help="run oris_bootstrap first; show what it says once the server is up",
        )

    def handle(
        self, *args: object, addr: str, bootstrap: bool, **options: object
    ) -> None:
        welcome = io.StringIO()
        if bootstrap:
            call_command("oris_bootstrap", stdout=welcome)
        host, _, port = addr.rpartition(":")
        # ASGI: the Agent Server API streams Server-Sent Events.
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "oris_site.asgi:application",
                "--host",
                host or "127.0.0.1",
                "--port",
                port,
                "--no-access-log",
            ],
            cwd=settings.BASE_DIR,
        )
        note = f"Oris is serving on http://{addr}/ (Ctrl-C stops it)"
        # Last on the first screen, after the server's and the cluster's own lines.
        threading.Thread(
            target=self._welcome,
            args=(addr, welcome.getvalue().rstrip() + "\n" + note),
            daemon=True,
        ).start()
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

    def _welcome(self, addr: str, text: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{addr}/healthz", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(0.5)  # the cluster's start-up lines come first
        self.stdout.write(text)
