"""Shared helpers for the graphs tests (no database needed)."""

from __future__ import annotations

import itertools
import operator
from typing import Annotated, Any, TypedDict

import pytest

from graphs.checkpoint import InMemorySaver

_ids = itertools.count()


class Counter(TypedDict):
    n: int
    log: Annotated[list[Any], operator.add]


def appender(label: str) -> Any:
    """A node that appends ``label`` to ``log``."""

    def node(state: dict[str, Any]) -> dict[str, Any]:
        return {"log": [label]}

    node.__name__ = label
    return node


@pytest.fixture
def memory() -> InMemorySaver:
    return InMemorySaver()


@pytest.fixture
def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"thread-{next(_ids)}"}}
