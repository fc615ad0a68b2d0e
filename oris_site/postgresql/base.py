"""Django's PostgreSQL backend with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection with a
``SELECT 1`` before its first use in each request and each django-q2 task: a
round trip in front of every API call and every run's start. A connection the
server has closed (a restart, ``pg_terminate_backend``, an idle timeout) has
said so on its socket: the server's last message and the end of the stream
make an idle connection's socket readable, which a zero-timeout ``select`` sees
without sending anything. Only then, or when the connection is not idle, is the
``SELECT 1`` sent (and the connection replaced if it fails), as before.

Its cursors prepare the hot statements that ask for it (``prepared.py``), unless
``OPTIONS["prepare"]`` is false.

A forked process (a django-q2 cluster's workers, pusher and monitor) does not
use the connection pools it inherits (``ORIS_DB_POOL``): their connections are
the parent's sessions, on sockets the two processes would share.
"""

from __future__ import annotations

import os
import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

from oris_site.postgresql.prepared import PreparingCursor


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if params.pop("prepare", True):
            params["cursor_factory"] = PreparingCursor
        return params

    def close_if_health_check_failed(self) -> None:
        state: Any = self  # (django-stubs lacks the pool and health check flags)
        if state.health_check_done:
            return  # checked in this request or task already (every cursor asks)
        if (
            not state.pool
            and self.connection is not None
            and getattr(state, "health_check_enabled", False)
            and not state.health_check_done
            and _quiet(self.connection)
        ):
            state.health_check_done = True
            return
        super().close_if_health_check_failed()


def _quiet(connection: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection's socket has nothing to read (the server sends
    nothing unasked to a connection that does not LISTEN, but its goodbye)."""
    try:
        if connection.closed or connection.broken:
            return False
        # libpq's status as it is (``info`` would build an enum member first)
        if connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


# The pools a forked process inherited, kept: never used, and never closed or
# collected either (that would end the parent's sessions on the shared sockets).
_INHERITED: list[Any] = []


def _forget_inherited_pools() -> None:
    """In a forked child: the parent's pools set aside, so that the first use
    of a connection makes a pool of the child's own (Django keeps one per alias
    in a class attribute)."""
    pools: dict[str, Any] = base.DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    _INHERITED.extend(pools.values())
    pools.clear()


os.register_at_fork(after_in_child=_forget_inherited_pools)
