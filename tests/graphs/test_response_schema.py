"""``interrupt(response_schema=...)``: the plain checks used without pydantic, and
the schema kept through a checkpoint."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest

from graphs import Interrupt
from graphs._response import json_schema, validate
from graphs.serde import dumps, loads


@dataclass
class Decision:
    approve: bool
    note: str = ""


class Region(TypedDict):
    region: str


@pytest.fixture
def no_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pydantic" or name.startswith("pydantic."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.usefixtures("no_pydantic")
def test_plain_checks_without_pydantic() -> None:
    assert validate(Decision, {"approve": True}) == Decision(True)
    assert validate(Decision, Decision(False, "n")) == Decision(False, "n")
    with pytest.raises(ValueError, match="Decision"):
        validate(Decision, {"nope": 1})
    with pytest.raises(ValueError, match="Decision"):
        validate(Decision, "yes")
    assert validate(Region, {"region": "eu"}) == {"region": "eu"}
    with pytest.raises(ValueError, match="Region"):
        validate(Region, {})
    assert validate(int, 3) == 3
    with pytest.raises(ValueError, match="int"):
        validate(int, "3")


def test_json_schema_of_a_dict_is_kept_and_of_a_type_written() -> None:
    given = {"type": "string"}
    assert json_schema(given) is given
    assert json_schema(Region) == {
        "properties": {"region": {"title": "Region", "type": "string"}},
        "required": ["region"],
        "title": "Region",
        "type": "object",
    }


def test_the_schema_survives_serde_and_is_absent_without_one() -> None:
    schema = {"type": "object", "title": "Region"}
    back = loads(dumps(Interrupt("q", "i-1", response_schema=schema)))
    assert back == Interrupt("q", "i-1", response_schema=schema)
    assert "response_schema" not in dumps(Interrupt("q", "i-1")).decode()
