from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from runtime.services import clusters

pytestmark = pytest.mark.django_db


def test_the_clusters_are_listed_read_only(admin_client: Client) -> None:
    clusters.cluster_started(cluster_id="h:1:0", pid=7, note="exited with status -9")
    page = admin_client.get(reverse("admin:runtime_workercluster_changelist"))
    assert page.status_code == 200
    assert "exited with status -9" in page.content.decode()
    change = reverse("admin:runtime_workercluster_change", args=["h:1:0"])
    assert 'name="_save"' not in admin_client.get(change).content.decode()
