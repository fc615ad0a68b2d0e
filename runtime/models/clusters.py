"""Liveness of the django-q2 clusters that Oris supervises."""

from __future__ import annotations

from django.db import models


class WorkerCluster(models.Model):
    """One supervised django-q2 cluster: written by its supervisor (seen, state)
    and by its workers (progress), read by ``/readyz`` and the other supervisors.
    """

    class State(models.TextChoices):
        STARTING = "starting"  # (re)started; no worker has progressed since
        LIVE = "live"  # its workers progress, or no work is due
        # work was due and no worker progressed within ORIS_CLUSTER_STALL_SECONDS:
        # its supervisor is restarting it
        WEDGED = "wedged"

    id = models.CharField(max_length=128, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField(null=True, blank=True)  # its qcluster process
    state = models.CharField(max_length=16, choices=State, default=State.STARTING)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()  # its supervisor last saw it running
    # a worker of it last picked up a delivery or beat a lease
    progressed_at = models.DateTimeField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=255, blank=True, default="")  # last restart

    def __str__(self) -> str:
        return f"{self.id}: {self.state}"
