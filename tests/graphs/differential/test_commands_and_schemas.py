"""Command and schema details (issue 12, item 6), against real LangGraph."""

from __future__ import annotations

import enum
import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest
from langgraph.types import Command as LgCommand
from pydantic import BaseModel

from graphs import Command, StateGraph

from ._libs import Lib, Log, add, outcome, plain, same


def our_router(state: Log) -> Command[Literal["b", "c"]]:
    return Command(goto="b", update={"log": ["r"]})


def their_router(state: Log) -> LgCommand[Literal["b", "c"]]:
    return LgCommand(goto="b", update={"log": ["r"]})


def test_command_literal_annotations_route_and_draw_edges() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("router", our_router if lib.name == "graphs" else their_router)
        g.add_node("b", add("b"))
        g.add_node("c", add("c"))
        g.add_edge(lib.START, "router")
        graph = g.compile()
        edges = {(e.source, e.target, e.conditional) for e in graph.get_graph().edges}
        return plain(graph.invoke({"log": []})), sorted(edges)

    _, edges = same(scenario)
    assert ("router", "c", True) in edges


def test_a_node_may_return_commands_and_updates_in_a_list() -> None:
    def scenario(lib: Lib) -> Any:
        def node(state: Log) -> list[Any]:
            return [
                lib.Command(update={"log": ["1"]}),
                {"log": ["2"]},
                lib.Command(goto="b", update={"log": ["3"]}),
            ]

        g = lib.StateGraph(Log)
        g.add_node("n", node)
        g.add_node("b", add("b"))
        g.add_edge(lib.START, "n")
        return outcome(lambda: g.compile().invoke({"log": []}))

    assert same(scenario) == ("ok", {"log": ["1", "2", "3", "b"]})


def test_a_whole_state_that_is_one_reduced_value() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Annotated[list, operator.add])
        g.add_node("a", lambda s: ["a", len(s)])
        g.add_node("b", lambda s: ["b", len(s)])
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        config = {"configurable": {"thread_id": "root"}}
        return graph.invoke(["x"], config), graph.get_state(config).values

    assert same(scenario)[0] == ["x", "a", 1, "b", 3]


class Step(str, enum.Enum):  # noqa: UP042 - the str mixin LangGraph users write
    FIRST = "first"
    SECOND = "second"


def test_str_enum_node_names() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node(Step.FIRST, add("first"))
        g.add_node(Step.SECOND, add("second"))
        g.add_edge(lib.START, Step.FIRST)
        g.add_conditional_edges(Step.FIRST, lambda s: Step.SECOND)
        return outcome(lambda: g.compile().invoke({"log": []}))

    assert same(scenario) == ("ok", {"log": ["first", "second"]})


def test_a_join_may_end_the_graph() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("b", add("b"))
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "b")
        g.add_edge(["a", "b"], lib.END)
        return outcome(lambda: g.compile().invoke({"log": []}))

    same(scenario)


def test_compile_time_errors() -> None:
    def scenario(lib: Lib) -> Any:
        errors = []
        for bad in (
            lambda g: g.add_edge("a", "missing"),
            lambda g: g.add_edge(lib.END, "a"),
            lambda g: g.add_edge("a", lib.START),
        ):
            g = lib.StateGraph(Log)
            g.add_node("a", add("a"))
            g.add_edge(lib.START, "a")
            try:
                bad(g)
                g.compile()
                errors.append(None)
            except ValueError:  # LangGraph's type; ours is InvalidGraphError
                errors.append("ValueError")
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_edge(lib.START, "a")
        errors.append(outcome(lambda: g.compile(checkpointer="not a saver")))
        return errors

    assert same(scenario)[-1] == ("error", "TypeError")


def test_input_output_and_private_schemas_with_conditional_edges() -> None:
    class In(TypedDict):
        q: str

    class Out(TypedDict):
        a: str

    class Private(TypedDict):
        secret: str

    class Everything(TypedDict):
        q: str
        a: str
        secret: str

    def scenario(lib: Lib) -> Any:
        def first(state: In) -> Private:
            return {"secret": state["q"] + "!"}

        def second(state: Private) -> dict[str, Any]:
            return {"a": state["secret"] * 2}

        g = lib.StateGraph(Everything, input_schema=In, output_schema=Out)
        g.add_node("first", first)
        g.add_node("second", second)
        g.add_node("other", lambda s: {"a": "other"})
        g.add_edge(lib.START, "first")
        g.add_conditional_edges("first", lambda s: "second" if s["secret"] else "other")
        return outcome(lambda: g.compile().invoke({"q": "hi"}))

    assert same(scenario) == ("ok", {"a": "hi!hi!"})


def test_unknown_compile_options_fail() -> None:
    g = StateGraph(Log)
    g.add_node("a", add("a"))
    g.add_edge("__start__", "a")
    with pytest.raises(TypeError):
        g.compile(not_an_option=True)  # type: ignore[call-arg]


class Inner(BaseModel):
    x: int = 1


class Model(BaseModel):
    inner: Inner = Inner()
    name: str = "default"
    count: int = 0


def test_pydantic_states_keep_nested_models_and_defaults() -> None:
    def scenario(lib: Lib) -> Any:
        seen: list[Any] = []

        def first(state: Model) -> dict[str, Any]:
            seen.append((type(state.inner).__name__, state.name, state.inner.x))
            return {"count": state.count + 1, "inner": Inner(x=5)}

        def second(state: Model) -> dict[str, Any]:
            seen.append((type(state.inner).__name__, state.inner.x))
            return {"name": "second"}

        g = lib.StateGraph(Model)
        g.add_node("first", first)
        g.add_node("second", second)
        g.add_edge(lib.START, "first")
        g.add_edge("first", "second")
        out = g.compile().invoke({"count": 0})
        return {k: (type(v).__name__, v) for k, v in out.items()}, seen

    same(scenario)


def test_invoke_options_graphs_lacks_warn() -> None:
    g = StateGraph(Log)
    g.add_node("a", add("a"))
    g.add_edge("__start__", "a")
    with pytest.warns(UserWarning, match="output_keys"):
        g.compile().invoke({"log": []}, output_keys=["log"])


class TopicInput(TypedDict):
    topic: str


def test_a_builder_names_its_input_schema_as_langgraph_does() -> None:
    """The runtime checks a run's input against ``builder.input_schema``: the
    explicit input schema, else the state schema."""

    def scenario(lib: Lib) -> Any:
        plain_builder = lib.StateGraph(Log)
        with_input = lib.StateGraph(Log, input_schema=TopicInput)
        return plain_builder.input_schema is Log, with_input.input_schema is TopicInput

    assert same(scenario) == (True, True)
