"""A run's input is checked against its graph's input schema when it is
submitted: a mismatch is a 400 naming the field, and nothing is written."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal, Required, TypedDict

import pytest
from django.core.management import CommandError, call_command

from graphs import END, START, StateGraph
from runtime.errors import InvalidArgument
from runtime.inputs import DEFAULT_INPUT, input_check, input_default
from runtime.models import Attempt, AuditLog, Job
from runtime.services.jobs import job_create
from tests.factories import ALICE
from tests.runtime.api.conftest import keyed_client


class Loose(TypedDict):
    topic: str
    mode: Literal["short", "long"]
    count: int | None
    tags: Annotated[list[str], lambda a, b: a + b]


class Strict(TypedDict, total=False):
    topic: Required[str]
    notes: str


@dataclasses.dataclass
class Ticket:
    title: str
    priority: int = 0


def compiled(schema: type, **kwargs) -> object:
    graph = StateGraph(schema, **kwargs)
    graph.add_node("n", lambda state: {})
    graph.add_edge(START, "n")
    graph.add_edge("n", END)
    return graph.compile()


def fields(schema: type, value: object, **kwargs) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as refused:
        input_check(compiled(schema, **kwargs), value, name="g")
    return refused.value.details["fields"]


def test_it_names_unknown_keys_and_wrong_types() -> None:
    assert fields(Loose, {"topik": "x"}) == {
        "input.topik": "is not in the graph's input schema"
    }
    assert fields(Loose, {"topic": 3, "count": "2", "mode": "medium"}) == {
        "input.topic": "must be a string",
        "input.count": "must be an integer or null",
        "input.mode": "must be one of 'short', 'long'",
    }
    assert fields(Loose, {"count": True}) == {
        "input.count": "must be an integer or null"
    }
    assert fields(Loose, "just text") == {"input": "must be a JSON object"}


def test_it_takes_partial_state_and_reducer_updates() -> None:
    graph = compiled(Loose)
    input_check(graph, {}, name="g")
    input_check(graph, {"topic": "x", "count": None, "tags": "one"}, name="g")
    input_check(compiled(dict), {"anything": 1}, name="g")


def test_required_keys_are_the_ones_a_schema_declares() -> None:
    assert fields(Strict, {"notes": "n"}) == {"input.topic": "is required"}
    input_check(compiled(Strict), {"topic": "t"}, name="g")
    assert fields(Ticket, {"priority": 2}) == {"input.title": "is required"}
    assert fields(Loose, {"tags": []}, input_schema=Strict) == {
        "input.topic": "is required",
        "input.tags": "is not in the graph's input schema",
    }


def test_pydantic_schemas_are_validated_whole() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Order(pydantic.BaseModel):
        item: str
        quantity: int = 1

    assert set(fields(Order, {"quantity": "many"})) == {"input.item", "input.quantity"}
    input_check(compiled(Order), {"item": "tea"}, name="g")


@pytest.mark.django_db
def test_a_run_without_input_gets_the_graphs_default() -> None:
    assert input_default(compiled(Loose)) == {}
    assert input_default(compiled(dict)) == DEFAULT_INPUT
    job = job_create(graph="echo", input=None, actor=ALICE)
    assert job.input == {"messages": [{"role": "user", "content": DEFAULT_INPUT}]}


@pytest.mark.django_db
def test_the_api_refuses_a_mismatch_and_writes_nothing() -> None:
    client = keyed_client("operator", "olga")
    response = client.post(
        "/v1/jobs/run", {"graph": "approval", "input": {"topik": "x"}}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert error["details"]["fields"] == {
        "input.topik": "is not in the graph's input schema"
    }
    assert (Job.objects.count(), Attempt.objects.count()) == (0, 0)
    assert not AuditLog.objects.filter(action="job.run", result="ok").exists()


@pytest.mark.django_db
def test_the_cli_reports_the_field() -> None:
    with pytest.raises(CommandError, match="topik is not in the graph's input schema"):
        call_command("oris", "run", "approval", "--input", '{"topik": 1}')
    assert not Job.objects.exists()
