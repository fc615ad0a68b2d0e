"""graphs.serde: tagged JSON round trips and typed errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import uuid

import pytest

from graphs import serde
from graphs.errors import CheckpointDecodeError, SerializationError
from graphs.messages import AIMessage, HumanMessage
from graphs.types import Command, Interrupt, Send


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        1,
        1.5,
        "text",
        [1, "a", None],
        {"a": {"b": [1, 2]}},
        (1, 2, (3,)),
        {1, 2, 3},
        frozenset({"x"}),
        b"\x00\xffbytes",
        dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        dt.date(2024, 5, 1),
        dt.time(8, 15),
        dt.timedelta(days=1, seconds=5, microseconds=7),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        decimal.Decimal("1.10"),
        {1: "int key", (1, 2): "tuple key"},
        {"__t": "looks like a tag"},
        Send("node", {"x": 1}),
        Interrupt(value={"q": 1}, id="abc"),
        Command(update={"a": 1}, goto=["x"], resume=None),
    ],
)
def test_it_round_trips_supported_values(value: object) -> None:
    assert serde.loads(serde.dumps(value)) == value


def test_it_round_trips_non_finite_floats() -> None:
    decoded = serde.loads(serde.dumps([math.inf, -math.inf, math.nan]))
    assert decoded[:2] == [math.inf, -math.inf]
    assert math.isnan(decoded[2])


def test_it_round_trips_registered_messages() -> None:
    messages = [HumanMessage(content="hi", id="1"), AIMessage(content="yo", id="2")]
    assert serde.loads(serde.dumps(messages)) == messages


def test_it_keeps_tuples_distinct_from_lists() -> None:
    assert type(serde.loads(serde.dumps((1, 2)))) is tuple
    assert type(serde.loads(serde.dumps([1, 2]))) is list


def test_it_rejects_unencodable_values_naming_the_type() -> None:
    class Opaque:
        pass

    with pytest.raises(SerializationError, match="Opaque"):
        serde.dumps({"x": Opaque()})


def test_it_raises_a_typed_error_for_an_unknown_tag() -> None:
    with pytest.raises(CheckpointDecodeError, match="unknown serde tag"):
        serde.loads(b'{"__t": "no.such.tag", "v": 1}')


@pytest.mark.parametrize(
    "data",
    [b"{not json", b'{"__t": "datetime", "v": "yesterday"}', b'{"__t": "x"}', b"\xff"],
)
def test_it_raises_a_typed_error_for_malformed_payloads(data: bytes) -> None:
    with pytest.raises(CheckpointDecodeError):
        serde.loads(data)


def test_it_registers_dataclasses_without_to_json() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    serde.register(Point, "test.point")
    assert serde.loads(serde.dumps({"p": Point(1, 2)})) == {"p": Point(1, 2)}


def test_it_refuses_to_reuse_a_tag_for_another_class() -> None:
    @dataclasses.dataclass
    class A:
        x: int

    @dataclasses.dataclass
    class B:
        x: int

    serde.register(A, "test.reused")
    with pytest.raises(ValueError, match="already registered"):
        serde.register(B, "test.reused")


def test_typed_helpers_follow_langgraph_shape() -> None:
    kind, data = serde.dumps_typed({"a": 1})
    assert kind == "json"
    assert serde.loads_typed((kind, data)) == {"a": 1}
    with pytest.raises(CheckpointDecodeError):
        serde.loads_typed(("pickle", b"..."))
