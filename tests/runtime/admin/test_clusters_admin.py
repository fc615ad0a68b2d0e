from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from runtime.models import Attempt
from runtime.services import claims, clusters
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_the_clusters_are_listed_read_only(admin_client: Client) -> None:
    clusters.cluster_started(cluster_id="h:1:0", pid=7, note="exited with status -9")
    page = admin_client.get(reverse("admin:runtime_workercluster_changelist"))
    assert page.status_code == 200
    assert "exited with status -9" in page.content.decode()
    change = reverse("admin:runtime_workercluster_change", args=["h:1:0"])
    assert 'name="_save"' not in admin_client.get(change).content.decode()


def test_the_workers_page_lists_clusters_and_http_workers_with_their_leases(
    admin_client: Client,
) -> None:
    clusters.cluster_started(cluster_id="h:1:0", pid=7)
    clusters.cluster_started(cluster_id="h:1:1", pid=8)
    for _ in range(2):
        make_job()
        claims.attempt_claim(worker_id="q2:h:1:0:4242")
    make_job()
    beat = claims.attempt_claim(worker_id="edge-7", status=Attempt.Status.LEASED)
    page = admin_client.get(reverse("admin:runtime_workercluster_changelist"))
    html = page.content.decode()
    held = re.findall(r'>(h:1:\d)</a></th>.*?field-leases_held">(\d+)<', html)
    assert held == [("h:1:0", "2"), ("h:1:1", "0")]  # by its worker processes
    workers = re.search(r'<table id="workers".*?</table>', html, re.S).group(0)
    lines = re.findall(
        r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>"
        r"<td>(.*?)</td></tr>",
        workers,
    )
    assert [line[:4] for line in lines] == [
        ("q2:h:1:0:4242", "q2", "h:1:0", "2"),
        ("edge-7", "http", "—", "1"),
    ]
    assert lines[1][4] == f"{timezone.localtime(beat.heartbeat_at):%Y-%m-%d %H:%M:%S}"
