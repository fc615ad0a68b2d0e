"""``get_input_jsonschema`` / ``get_output_jsonschema`` / ``get_context_jsonschema``
(issue 12, item 7), against real LangGraph.

LangGraph asks pydantic, which on Python 3.11 refuses ``typing.TypedDict``: the
schemas here are ``typing_extensions.TypedDict`` (``graphs`` takes either).
"""

from __future__ import annotations

import dataclasses
import enum
import operator
from typing import Annotated, Any, Literal, NotRequired, Optional

import pydantic
from typing_extensions import TypedDict

from ._libs import LANGGRAPH, Lib, same


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(TypedDict):
    """A nested part."""

    q: int


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.5


class State(TypedDict):
    """The state."""

    log: Annotated[list[str], operator.add]
    n: int
    ratio: float
    name: Optional[str]  # noqa: UP045 - both spellings of an optional
    other: int | None
    mode: Literal["a", "b"]
    only: Literal["x"]
    mixed: Literal[1, "a"]
    color: Color
    inner: Inner
    point: Point
    anything: Any
    scores: dict[str, int]
    loose: dict
    pair: tuple[int, str]
    many: tuple[int, ...]
    tags: set[str]
    blob: bytes
    my_key: NotRequired[bool]


class Partial(TypedDict, total=False):
    a: int
    b: list


class Model(pydantic.BaseModel):
    """A pydantic state."""

    log: Annotated[list[str], operator.add] = []
    n: int = 3
    name: Optional[str] = None  # noqa: UP045


@dataclasses.dataclass
class Data:
    log: Annotated[list[str], operator.add] = dataclasses.field(default_factory=list)
    n: int = 0
    label: str = "x"
    need: int | None = None


@dataclasses.dataclass
class Required:
    n: int
    tags: list[str]


class In(TypedDict):
    n: int


class Out(TypedDict):
    log: list[str]


class Context(TypedDict):
    user: str
    limit: NotRequired[int]


def schemas(lib: Lib, state: Any, **kw: Any) -> Any:
    g = lib.StateGraph(state, **kw)
    g.add_node("node", lambda s: {})
    g.add_edge(lib.START, "node")
    graph = g.compile()
    return (
        graph.get_input_jsonschema(),
        graph.get_output_jsonschema(),
        graph.get_context_jsonschema(),
    )


def test_a_typed_dict_state() -> None:
    got = same(lambda lib: schemas(lib, State))
    assert got[0]["required"][:2] == ["log", "n"]
    assert "my_key" not in got[0]["required"]


def test_a_total_false_typed_dict_and_a_context() -> None:
    got = same(lambda lib: schemas(lib, Partial, context_schema=Context))
    assert "required" not in got[0]
    assert got[2]["required"] == ["user"]


def test_a_pydantic_state() -> None:
    same(lambda lib: schemas(lib, Model, context_schema=Model))


def test_a_dataclass_state_is_named_after_the_graph() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Data, context_schema=Point)
        g.add_node("a", lambda s: {})
        g.add_edge(lib.START, "a")
        graph = g.compile(name="Shop")
        required = lib.StateGraph(Required)
        required.add_node("a", lambda s: {})
        required.add_edge(lib.START, "a")
        return (
            schemas(lib, Data),
            graph.get_input_jsonschema()["title"],
            graph.get_context_jsonschema(),
            required.compile().get_input_jsonschema(),
        )

    _, title, _, _ = same(scenario)
    assert title == "ShopInput"


def test_input_and_output_schemas() -> None:
    same(lambda lib: schemas(lib, State, input_schema=In, output_schema=Out))


def test_a_typing_typed_dict_gives_the_same_schema() -> None:
    # LangGraph's pydantic refuses typing.TypedDict on Python 3.11; graphs does not
    import typing

    import graphs

    Plain = typing.TypedDict("Plain", {"n": int, "tags": list[str]})  # noqa: UP013
    Ext = TypedDict("Plain", {"n": int, "tags": list[str]})  # noqa: UP013

    def of(schema: Any) -> Any:
        g = graphs.StateGraph(schema)
        g.add_node("node", lambda s: {})
        g.add_edge(graphs.START, "node")
        return g.compile().get_input_jsonschema()

    assert of(Plain) == of(Ext) == schemas(LANGGRAPH, Ext)[0]


class Nested(TypedDict):
    user: str
    inner: Inner


def config_schemas(lib: Lib) -> Any:
    import warnings

    found = []
    for name, context in (
        (None, None),
        (None, Context),
        ("agent", Nested),
        ("Shop", Model),
        ("shop", Point),
    ):
        g = lib.StateGraph(State, context_schema=context)
        g.add_node("node", lambda s: {})
        g.add_edge(lib.START, "node")
        graph = g.compile(name=name) if name else g.compile()
        with warnings.catch_warnings():  # deprecated in LangGraph 1.0
            warnings.simplefilter("ignore")
            found.append(graph.get_config_jsonschema())
    return found


def test_config_schemas_hold_the_context_under_configurable() -> None:
    got = same(config_schemas)
    assert got[0] == {"properties": {}, "title": "LangGraphConfig", "type": "object"}
    assert got[2]["title"] == "agent_config"
    assert set(got[2]["$defs"]) == {"Nested", "Inner"}
