"""The PostgreSQL backend's prepared statements (``oris_site/postgresql/prepared.py``):
a ``Prepared`` statement is prepared once per connection and gives what the
statement gives; wrappers see its own text; other statements are not prepared."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from psycopg.types.numeric import Int4

from oris_site.postgresql.prepared import PreparingCursor
from runtime.models import Job
from runtime.services.statements import Prepared

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the PostgreSQL backend"
    ),
]


def _prepared() -> list[str]:
    """The statements prepared on this connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _run(sql: str, params: Any) -> tuple[list[tuple[Any, ...]], int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall(), cursor.rowcount


def test_the_backend_cursor_prepares() -> None:
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, PreparingCursor)


def test_a_prepared_statement_runs_once_prepared_with_the_same_results() -> None:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    sql = "SELECT %(n)s + 1, %(at)s::timestamptz, %(s)s || 'b', %(s)s, %(n)s %% 2 = 1"
    params = {"n": 41, "at": at, "s": "a"}
    expected = [(42, at, "ab", "a", True)]
    assert _run(sql, params) == (expected, 1)  # plain: not prepared
    assert not any("%" in s or "$1" in s for s in _prepared())
    for _ in range(3):
        assert _run(Prepared(sql), params) == (expected, 1)
    [statement] = [s for s in _prepared() if "'b'" in s]
    assert "$1 + 1" in statement
    assert "$3 || 'b', $4, $1 % 2" in statement  # a text inferred at each use
    assert _run(Prepared(sql), {"n": 2, "at": at, "s": None}) == (
        [(3, at, None, None, False)],
        1,
    )


def test_wrappers_see_the_statement_and_its_parameters() -> None:
    seen: list[tuple[str, Any]] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, *rest: Any) -> Any:
        seen.append((sql, params))
        return execute(sql, params, *rest)

    sql = Prepared("SELECT %s::int * 2")
    with connection.execute_wrapper(wrapper):
        assert _run(sql, [21]) == ([(42,)], 1)
        assert _run(sql, [4]) == ([(8,)], 1)
    assert seen == [(sql, [21]), (sql, [4])]


def test_a_write_prepared_counts_its_rows() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE t (n int, at timestamptz)")
    insert = Prepared("INSERT INTO t SELECT g, %s FROM generate_series(1, %s) g")
    with connection.cursor() as cursor:
        cursor.execute(insert, [datetime.now(UTC), 3])
        assert cursor.rowcount == 3
        cursor.execute(insert, [None, 2])  # another parameter type: prepared anew
        assert cursor.rowcount == 2
        cursor.execute(Prepared("DELETE FROM t WHERE n > %s"), [1])
        assert cursor.rowcount == 3


def test_a_parameter_of_an_undeclared_type_runs_unprepared() -> None:
    before = len(_prepared())
    assert _run(Prepared("SELECT %s::int[]"), [[1, 2]]) == ([([1, 2],)], 1)
    assert len(_prepared()) == before


def test_a_statement_that_failed_its_first_run_runs_again() -> None:
    sql = Prepared("SELECT 1 / %s::int")
    with pytest.raises(DatabaseError), transaction.atomic():
        _run(sql, [0])  # prepared, then failed: its name is not used again
    assert _run(sql, [0 + 1]) == ([(1,)], 1)
    assert _run(sql, [2]) == ([(0,)], 1)


@pytest.mark.parametrize("prepare", [True, False])
def test_prepare_off_leaves_django_s_cursor(prepare: bool) -> None:
    """``ORIS_DB_PREPARE=false`` (behind a transaction-pooling PgBouncer)."""
    from oris_site.postgresql.base import DatabaseWrapper

    options = {**connection.settings_dict["OPTIONS"], "prepare": prepare}
    wrapper = DatabaseWrapper({**connection.settings_dict, "OPTIONS": options})
    params = wrapper.get_connection_params()
    assert "prepare" not in params
    assert (params["cursor_factory"] is PreparingCursor) is prepare


def test_past_the_limit_statements_run_unprepared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oris_site.postgresql import prepared

    _run(Prepared("SELECT %s::int + 100"), [1])  # this connection's session
    with connection.cursor() as cursor:
        made = getattr(cursor.connection, prepared.SESSION).made
    monkeypatch.setattr(prepared, "MAX_STATEMENTS", made)
    before = len(_prepared())
    assert _run(Prepared("SELECT %s::int + 200"), [1]) == ([(201,)], 1)
    assert len(_prepared()) == before


def test_choices_django_s_integers_and_a_null_used_twice_run_prepared() -> None:
    """A ``TextChoices`` member and Django's adapted integer (``Int4``) have a
    declared type; a ``NULL`` given to columns of two types is inferred at each
    of its uses (``NamedParams`` names equal values once)."""
    sql = Prepared(
        "SELECT %(c)s || 'x', %(i)s + 1, %(z)s::bigint, %(z)s::jsonb, %(i)s * 2"
    )
    params = {"c": Job.Status.QUEUED, "i": Int4(20), "z": None}
    for _ in range(2):
        assert _run(sql, params) == ([("queuedx", 21, None, None, 40)], 1)
    [statement] = [s for s in _prepared() if "'x'" in s]
    assert "(unknown, integer, unknown, unknown)" in statement
    assert "$1 || 'x', $2 + 1, $3::bigint, $4::jsonb, $2 * 2" in statement
