"""DjangoStore passes the store conformance suite, keeps TTLs and sweeps expired
items; the API's writes are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from graphs.store import BaseStore
from runtime import tasks
from runtime.errors import InvalidArgument
from runtime.models import AuditLog, StoreItem
from runtime.services import store as store_service
from runtime.services.audit import Actor
from runtime.services.store import DjangoStore
from tests.graphs.store_conformance import StoreConformance

pytestmark = pytest.mark.django_db


class TestDjangoStore(StoreConformance):
    # Committed transactions: the async variants run the ORM in another thread.
    @pytest.fixture
    def store(self, transactional_db: None) -> BaseStore:
        return DjangoStore()


def expires_at(namespace: str, key: str) -> object:
    return StoreItem.objects.get(namespace=namespace, key=key).expires_at


def test_search_is_newest_first_and_a_replace_keeps_created_at() -> None:
    store = DjangoStore()
    for key in ("a", "b", "c"):
        store.put(("ns",), key, {"k": key})
    first = store.get(("ns",), "a")
    store.put(("ns",), "a", {"k": "a2"})
    assert [i.key for i in store.search(("ns",))] == ["a", "c", "b"]
    again = store.get(("ns",), "a")
    assert first is not None
    assert again is not None
    assert again.created_at == first.created_at < again.updated_at


def test_a_ttl_expires_an_item_and_reads_refresh_it() -> None:
    store = DjangoStore()
    before = timezone.now()
    store.put(("t",), "k", {"v": 1}, ttl=10)
    when = expires_at("t", "k")
    assert (
        before + timedelta(minutes=10) <= when <= timezone.now() + timedelta(minutes=10)
    )
    store.put(("t",), "forever", {"v": 2})
    assert expires_at("t", "forever") is None
    # reads push the expiry back, unless told not to
    StoreItem.objects.filter(key="k").update(expires_at=before + timedelta(minutes=1))
    store.get(("t",), "k", refresh_ttl=False)
    store.search(("t",), refresh_ttl=False)
    assert expires_at("t", "k") == before + timedelta(minutes=1)
    store.get(("t",), "k")
    assert expires_at("t", "k") > before + timedelta(minutes=9)
    StoreItem.objects.filter(key="k").update(expires_at=before + timedelta(minutes=1))
    store.search(("t",), filter={"v": 1})
    assert expires_at("t", "k") > before + timedelta(minutes=9)
    # once expired, an item is gone for every read, before any sweep
    StoreItem.objects.filter(key="k").update(expires_at=timezone.now())
    assert store.get(("t",), "k") is None
    assert [i.key for i in store.search(("t",))] == ["forever"]
    store.delete(("t",), "forever")
    assert store.list_namespaces() == []
    # and a put over it starts a new item
    store.put(("t",), "k", {"v": 3})
    item = store.get(("t",), "k")
    assert item is not None
    assert item.value == {"v": 3}
    assert item.created_at == item.updated_at
    assert expires_at("t", "k") is None


def test_the_scheduled_sweep_deletes_expired_items_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="oris-store-ttl-sweep")
    assert (schedule.func, schedule.minutes) == ("runtime.tasks.sweep_store", 1)
    store = DjangoStore()
    store.batch([store._put_op(("s",), str(i), {"i": i}, None, 5) for i in range(7)])
    store.put(("s",), "kept", {"v": 1}, ttl=5)
    store.put(("s",), "forever", {"v": 1})
    StoreItem.objects.exclude(key__in=["kept", "forever"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    monkeypatch.setattr(store_service, "SWEEP_BATCH", 3)
    assert tasks.sweep_store() == 7
    assert sorted(StoreItem.objects.values_list("key", flat=True)) == [
        "forever",
        "kept",
    ]
    assert tasks.sweep_store() == 0


def test_api_writes_are_audited_with_their_actor() -> None:
    actor = Actor(type="api_key", id="op-key", role="operator", request_id="r1")
    store_service.store_item_put(
        namespace=("a", "b"), key="k", value={"v": 1}, ttl=None, actor=actor
    )
    store_service.store_item_delete(namespace=("a", "b"), key="k", actor=actor)
    rows = list(
        AuditLog.objects.order_by("id").values_list(
            "action", "actor_id", "resource_id", "request_id"
        )
    )
    assert rows == [
        ("store.put", "op-key", "a.b/k", "r1"),
        ("store.delete", "op-key", "a.b/k", "r1"),
    ]


def test_api_writes_refuse_bad_namespaces_without_writing() -> None:
    actor = Actor(type="api_key", id="op-key", role="operator")
    for namespace in [(), ("a.b",), ("langgraph",), ("x" * 1100,)]:
        with pytest.raises(InvalidArgument):
            store_service.store_item_put(
                namespace=namespace, key="k", value={}, ttl=None, actor=actor
            )
    assert not StoreItem.objects.exists()
    assert not AuditLog.objects.exists()
