from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from runtime.models import AuditLog
from runtime.services.statements import NamedParams, insert_sql


def test_named_params_name_each_distinct_value_once() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    named = NamedParams()
    first = named.part("VALUES (%s, %s, %s, %s)", [now, "", False, {"a": 1}])
    second = named.part("VALUES (%s, %s, %s, %s)", [now, "", 0, {"a": 1}])
    assert first == "VALUES (%(p0)s, %(p1)s, %(p2)s, %(p3)s)"
    # the time and "" again; 0 is not False, a JSON value is never shared
    assert second == "VALUES (%(p0)s, %(p1)s, %(p4)s, %(p5)s)"
    assert named.values == {
        "p0": now,
        "p1": "",
        "p2": False,
        "p3": {"a": 1},
        "p4": 0,
        "p5": {"a": 1},
    }


@pytest.mark.django_db
def test_insert_sql_writes_the_row_the_orm_would() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    row = AuditLog(action="job.run", resource_type="thread", details={"k": [1]})
    row.created_at = at
    sql, params = insert_sql(row)
    assert sql.startswith(f'INSERT INTO "{AuditLog._meta.db_table}"')
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    stored = AuditLog.objects.get()
    assert (stored.action, stored.details, stored.created_at) == (
        "job.run",
        {"k": [1]},
        at,
    )
