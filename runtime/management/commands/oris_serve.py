"""Runs the web server and a django-q2 cluster together, in the foreground.

Ctrl-C (SIGINT) or SIGTERM stops both; if either exits on its own, the other is
stopped too and the command exits with the failed one's status.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Serve HTTP on ORIS_SERVER_ADDR and run a django-q2 cluster until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default=settings.ORIS_SERVER_ADDR)

    def handle(self, *args: object, addr: str, **options: object) -> None:
        commands = {
            "web": [sys.executable, MANAGE, "runserver", "--noreload", addr],
            "cluster": [sys.executable, MANAGE, "qcluster"],
        }
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(f"Oris is serving on http://{addr}/ (Ctrl-C stops it)")
        stopping = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        status = 0
        while not stopping:
            exited = {
                n: p.returncode for n, p in children.items() if p.poll() is not None
            }
            if exited:
                name, status = next(iter(exited.items()))
                self.stderr.write(f"{name} exited with status {status}; stopping.")
                break
            time.sleep(0.2)
        self._stop(children.values())
        if status:
            sys.exit(status)

    def _stop(self, processes) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
