from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import connection
from django.db.models import CASCADE, Field, ForeignKey, Model
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery

from runtime.models import Attempt, AuditLog, Job
from runtime.services.statements import (
    PLAIN,
    SHORT,
    NamedParams,
    columns_of,
    insert_sql,
    model_from_row,
)
from tests.factories import make_job


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


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [0, 2])
def test_insert_sql_per_row_of_a_cte_writes_the_row_once_for_each(rows: int) -> None:
    row = AuditLog(action="job.run", resource_type="thread", details={})
    row.created_at = datetime(2026, 12, 2, tzinfo=UTC)
    sql, params = insert_sql(row, per_row_of="source")
    source = (
        "WITH RECURSIVE source(n) AS (SELECT 1 WHERE %s > 0"
        " UNION ALL SELECT n + 1 FROM source WHERE n < %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{source} {sql}", [rows, rows, *params])
    assert AuditLog.objects.filter(action="job.run").count() == rows


def _compiled(obj: Model) -> tuple[str, list[Any]]:
    """What Django's insert compiler makes of ``obj``, every time."""
    opts = obj._meta
    fields = [f for f in opts.local_concrete_fields if not f.generated]
    if opts.auto_field is not None and getattr(obj, opts.auto_field.attname) is None:
        fields.remove(opts.auto_field)
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    [(sql, params)] = query.get_compiler(using="default").as_sql()
    return sql, list(params)


def _plain(params: list[Any]) -> list[Any]:
    return [getattr(p, "obj", p) for p in params]  # a JSON adapter's value


@pytest.mark.django_db
def test_insert_sql_compiled_once_gives_what_the_compiler_gives_each_time() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    job = Job(thread_id="t", graph="echo", graph_hash="h", created_at=at)
    job.updated_at = at
    rows: list[Model] = [
        AuditLog(action="a", resource_type="r", details={"k": 1}, created_at=at),
        AuditLog(action="b", resource_type="s", details=None, created_at=at),
        job,
        Attempt(job_id=RawSQL("SELECT 7", ()), created_at=at, resume={"x": [1]}),
        Attempt(job_id=RawSQL("SELECT %s", (8,)), created_at=at, queue="q"),
        Job(
            thread_id="u",
            graph="echo",
            status=Job.Status.RUNNING,  # a str subclass: prepared by Django
            priority=3,
            timeout_ms=None,
            cancel_requested=True,
            result={"a": None},
            created_at=at,
            updated_at=at,
        ),
    ]
    for _ in range(2):  # the second round from the stored texts
        for row in rows:
            sql, params = insert_sql(row)
            expected_sql, expected = _compiled(row)
            assert sql == expected_sql
            assert _plain(params) == _plain(expected)


SAMPLES: dict[type, Any] = {type(None): None, str: "text", bool: True}


@pytest.mark.django_db
@pytest.mark.parametrize("field_class", list(PLAIN))
def test_plain_values_are_the_ones_django_prepares_unchanged(
    field_class: type[Field],
) -> None:
    field = (
        field_class(to=Job, on_delete=CASCADE)
        if field_class is ForeignKey
        else field_class()
    )
    for kind in PLAIN[field_class]:
        value = SAMPLES[kind]
        assert field.get_db_prep_save(value, connection=connection) is value


SHORT_SAMPLES: dict[type, list[Any]] = {
    int: [0, 7, -3, 2**40],
    datetime: [
        datetime(2026, 12, 3, 18, 1, 2, 345678, tzinfo=UTC),
        datetime(2026, 12, 3, 9, tzinfo=timezone(timedelta(hours=-5))),
    ],
    dict: [{}, {"a": [1, None, "x"]}],
    list: [[], [{"b": 2.5}]],
}


@pytest.mark.django_db
@pytest.mark.parametrize("field_class", list(SHORT))
def test_short_preparations_answer_what_django_prepares(
    field_class: type[Field],
) -> None:
    field = field_class()
    field.set_attributes_from_name("f")
    for kind, short in SHORT[field_class].items():
        for value in SHORT_SAMPLES[kind]:
            mine = short(connection.ops, field, value)
            theirs = field.get_db_prep_save(value, connection=connection)
            assert type(mine) is type(theirs)
            assert _plain([mine]) == _plain([theirs])


@pytest.mark.django_db
def test_a_raw_row_of_some_columns_reads_as_only_reads_it() -> None:
    job = make_job(timeout_policy={"timeout_ms": 1000, "on_timeout_status": "failed"})
    names = ("timeout_status", "id", "started_at", "job_id", "timeout_ms")
    table = Attempt._meta.db_table
    with connection.cursor() as cursor:  # the columns come in field order
        cursor.execute(f"SELECT {columns_of(Attempt, names)} FROM {table}")
        [row] = cursor.fetchall()
    mine = model_from_row(Attempt, row, names)
    theirs = Attempt.objects.only(*names).get()
    assert mine.get_deferred_fields() == theirs.get_deferred_fields()
    assert [getattr(mine, n) for n in names] == [getattr(theirs, n) for n in names]
    assert (mine.job_id, mine.timeout_ms) == (job.pk, 1000)
    with pytest.raises(ValueError, match="no columns"):
        columns_of(Attempt, ("id", "nope"))


def test_only_automatic_dates_count_as_computed_when_saved() -> None:
    from django.db import models

    from runtime.services.statements import _computes_when_saved

    assert not _computes_when_saved(models.DateTimeField())
    assert not _computes_when_saved(models.DateField(null=True))
    assert _computes_when_saved(models.DateTimeField(auto_now=True))
    assert _computes_when_saved(models.DateField(auto_now_add=True))
    assert not _computes_when_saved(models.CharField())
