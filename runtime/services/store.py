"""The store on the ledger: ``DjangoStore`` (graphs' store interface on SQLite and
PostgreSQL, injected into the nodes of durable runs), the audited writes of the
Agent Server's store API and the TTL sweep.

Expired items are invisible to reads as soon as they expire; the sweep (a
django-q2 schedule) deletes them in batches. Reads with ``refresh_ttl`` push an
item's expiry back by its TTL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from graphs.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    list_namespaces_result,
    matches_filter,
    validate_filter,
    validate_namespace,
    validate_namespace_labels,
)
from runtime.errors import InvalidArgument
from runtime.models import StoreItem
from runtime.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)

SWEEP_BATCH = 1000
SWEEP_MAX_BATCHES = 20  # one sweep stays short; the next minute takes the rest
_FILTER_CHUNK = 500
_MAX_LENGTH = 1024  # StoreItem.namespace and .key


def dotted(namespace: Iterable[str]) -> str:
    """A namespace as stored: its labels joined by ``"."``."""
    return ".".join(namespace)


def _under(prefix: tuple[str, ...]) -> Q:
    if not prefix:
        return Q()
    path = dotted(prefix)
    return Q(namespace=path) | Q(namespace__startswith=f"{path}.")


def _live(now: datetime) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def _expiry(ttl: float | None, now: datetime) -> datetime | None:
    return None if ttl is None else now + timedelta(minutes=ttl)


def _item(row: StoreItem) -> Item:
    return Item(
        value=row.value,
        key=row.key,
        namespace=row.labels,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _search_item(row: StoreItem) -> SearchItem:
    return SearchItem(row.labels, row.key, row.value, row.created_at, row.updated_at)


class DjangoStore(BaseStore):
    """graphs' store on the Django database, with TTLs (in minutes).

    Search returns the most recently updated items first. Semantic search is
    not supported: a ``query`` is ignored. ``abatch`` runs the batch in a
    worker thread (the ORM is synchronous).
    """

    supports_ttl = True

    __slots__ = ("_owner", "ttl_config")

    def __init__(self, *, ttl_config: TTLConfig | None = None) -> None:
        self.ttl_config = ttl_config or {"refresh_on_read": True}
        self._owner = threading.get_ident()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """One transaction; reads see the store as it was before the batch's
        writes (the last write per item wins), as in ``InMemoryStore``."""
        ops = list(ops)
        now = timezone.now()
        try:
            with transaction.atomic():
                results = [_read(op, now) for op in ops]
                puts = {
                    (op.namespace, op.key): op for op in ops if isinstance(op, PutOp)
                }
                for op in puts.values():
                    _write(op, now)
            return results
        finally:
            # a node's thread is not a request's: its connection is closed
            # here, not by Django's request cycle
            if threading.get_ident() != self._owner and not connection.in_atomic_block:
                connection.close()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await sync_to_async(self.batch)(list(ops))


def _read(op: Op, now: datetime) -> Result:
    if isinstance(op, GetOp):
        return _get(op, now)
    if isinstance(op, SearchOp):
        return _search(op, now)
    if isinstance(op, ListNamespacesOp):
        return _list_namespaces(op, now)
    if isinstance(op, PutOp):
        return None
    raise ValueError(f"Unknown operation type: {type(op)}")


def _get(op: GetOp, now: datetime) -> Item | None:
    row = (
        StoreItem.objects.filter(_live(now), namespace=dotted(op.namespace), key=op.key)
        .only("namespace", "key", "value", "created_at", "updated_at", "ttl_minutes")
        .first()
    )
    if row is None:
        return None
    if op.refresh_ttl:
        _refresh([row], now)
    return _item(row)


def _search(op: SearchOp, now: datetime) -> list[SearchItem]:
    rows = StoreItem.objects.filter(_live(now), _under(op.namespace_prefix)).order_by(
        "-updated_at", "namespace", "key"
    )
    if op.filter:
        validate_filter(op.filter)
        found = _page(_matching(rows, op.filter), op.offset, op.limit)
    else:
        found = list(rows[op.offset : op.offset + op.limit]) if op.limit > 0 else []
    if op.refresh_ttl:
        _refresh(found, now)
    return [_search_item(row) for row in found]


def _matching(
    rows: QuerySet[StoreItem], filter: Mapping[str, Any]
) -> Iterator[StoreItem]:
    # filters are matched in Python, with the same rules as InMemoryStore's
    # (operators on JSON differ between SQLite and PostgreSQL)
    return (
        r
        for r in rows.iterator(chunk_size=_FILTER_CHUNK)
        if matches_filter(r.value, filter)
    )


def _page(rows: Iterator[StoreItem], offset: int, limit: int) -> list[StoreItem]:
    found: list[StoreItem] = []
    if limit <= 0:
        return found
    for i, row in enumerate(rows):
        if i >= offset:
            found.append(row)
            if len(found) == limit:
                break
    return found


def _refresh(rows: list[StoreItem], now: datetime) -> None:
    by_ttl: dict[float, list[int]] = {}
    for row in rows:
        if row.ttl_minutes is not None:
            by_ttl.setdefault(row.ttl_minutes, []).append(row.pk)
    for ttl, pks in by_ttl.items():
        StoreItem.objects.filter(pk__in=pks, ttl_minutes=ttl).update(
            expires_at=_expiry(ttl, now)
        )


def _list_namespaces(op: ListNamespacesOp, now: datetime) -> list[tuple[str, ...]]:
    rows = StoreItem.objects.filter(_live(now))
    for condition in op.match_conditions or ():
        if condition.match_type == "prefix":
            # the labels before the first wildcard narrow the scan
            fixed = []
            for label in condition.path:
                if label == "*":
                    break
                fixed.append(label)
            rows = rows.filter(_under(tuple(fixed)))
    spaces = rows.order_by().values_list("namespace", flat=True).distinct()
    return list_namespaces_result((tuple(ns.split(".")) for ns in spaces), op)


def _write(op: PutOp, now: datetime) -> None:
    namespace = dotted(op.namespace)
    if len(namespace) > _MAX_LENGTH or len(op.key) > _MAX_LENGTH:
        raise ValueError(
            f"namespace and key must be at most {_MAX_LENGTH} characters each"
        )
    if op.value is None:
        StoreItem.objects.filter(namespace=namespace, key=op.key).delete()
        return
    fields = {
        "value": dict(op.value),
        "updated_at": now,
        "ttl_minutes": op.ttl,
        "expires_at": _expiry(op.ttl, now),
    }
    rows = StoreItem.objects.filter(namespace=namespace, key=op.key)
    # an expired item not yet swept is replaced as if it were gone
    if rows.filter(_live(now)).update(**fields):
        return
    if rows.update(created_at=now, **fields):
        return
    try:
        with transaction.atomic():
            StoreItem.objects.create(
                namespace=namespace, key=op.key, created_at=now, **fields
            )
    except IntegrityError:
        # created by a concurrent put since our update found nothing
        rows.update(**fields)


# -- the Agent Server's store API -------------------------------------------------


def _checked(call: Any) -> Any:
    try:
        return call()
    except (InvalidNamespaceError, ValueError) as exc:
        raise InvalidArgument(str(exc)) from exc


def store_item_put(
    *,
    namespace: tuple[str, ...],
    key: str,
    value: dict[str, Any],
    ttl: float | None,
    actor: Actor,
) -> None:
    """Writes an item for an API caller, audited (``store.put``)."""
    _checked(lambda: validate_namespace(namespace))
    now = timezone.now()
    with transaction.atomic():
        _checked(lambda: _write(PutOp(namespace, key, value, ttl=ttl), now))
        audit_record(
            actor=actor,
            action="store.put",
            resource_type="store_item",
            resource_id=f"{dotted(namespace)}/{key}"[:256],
            details={"namespace": list(namespace), "key": key, "ttl": ttl},
            at=now,
        )


def store_item_delete(*, namespace: tuple[str, ...], key: str, actor: Actor) -> None:
    """Deletes an item (if present) for an API caller, audited (``store.delete``)."""
    _checked(lambda: validate_namespace_labels(namespace))
    now = timezone.now()
    with transaction.atomic():
        _write(PutOp(namespace, key, None), now)
        audit_record(
            actor=actor,
            action="store.delete",
            resource_type="store_item",
            resource_id=f"{dotted(namespace)}/{key}"[:256],
            details={"namespace": list(namespace), "key": key},
            at=now,
        )


def store_get(
    *, namespace: tuple[str, ...], key: str, refresh_ttl: bool | None = None
) -> Item | None:
    """An item, or ``None``."""
    return _checked(lambda: DjangoStore().get(namespace, key, refresh_ttl=refresh_ttl))


def store_search(
    *,
    namespace_prefix: tuple[str, ...],
    filter: dict[str, Any] | None,
    limit: int,
    offset: int,
    query: str | None = None,
    refresh_ttl: bool | None = None,
) -> list[SearchItem]:
    """Items under a namespace prefix matching ``filter``, newest first."""
    return _checked(
        lambda: DjangoStore().search(
            namespace_prefix,
            query=query,
            filter=filter,
            limit=limit,
            offset=offset,
            refresh_ttl=refresh_ttl,
        )
    )


def store_namespaces(
    *,
    prefix: tuple[str, ...] | None,
    suffix: tuple[str, ...] | None,
    max_depth: int | None,
    limit: int,
    offset: int,
) -> list[tuple[str, ...]]:
    """The namespaces holding live items, sorted."""
    return _checked(
        lambda: DjangoStore().list_namespaces(
            prefix=prefix,
            suffix=suffix,
            max_depth=max_depth,
            limit=limit,
            offset=offset,
        )
    )


def store_sweep_expired(*, at: datetime | None = None) -> int:
    """The TTL sweep (django-q2 schedule): deletes expired items in batches of
    ``SWEEP_BATCH``; returns how many it deleted."""
    now = at or timezone.now()
    deleted = 0
    for _ in range(SWEEP_MAX_BATCHES):
        pks = list(
            StoreItem.objects.filter(expires_at__lte=now)
            .order_by("expires_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        if not pks:
            break
        # guarded: a read that refreshed the TTL meanwhile keeps its item
        count, _ = StoreItem.objects.filter(pk__in=pks, expires_at__lte=now).delete()
        deleted += count
    if deleted:
        logger.info("store sweep deleted %d expired items", deleted)
    return deleted
