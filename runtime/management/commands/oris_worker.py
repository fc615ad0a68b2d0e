"""Runs supervised django-q2 clusters in the foreground: the way to run workers."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from runtime.worker.supervisor import Supervisor, stop_requested


class Command(BaseCommand):
    help = (
        "Run django-q2 clusters under an Oris supervisor, which reaps expired "
        "leases every second and restarts a cluster that exits or wedges. "
        "SIGTERM or Ctrl-C stops them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--clusters", type=int, default=1, help="clusters to run (default 1)"
        )

    def handle(self, *args: object, clusters: int, **options: object) -> None:
        stopping = stop_requested()
        self.stdout.write(f"Supervising {clusters} django-q2 cluster(s)")
        Supervisor(clusters=max(1, clusters)).run(stopping)
