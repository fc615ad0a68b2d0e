"""Random small graphs give LangGraph's result (hypothesis).

A graph is drawn as data (node names, edges, joins, routers, Sends, Commands,
interrupts), built on both engines, run to completion (resuming every interrupt),
and everything observable is compared: each invoke's output, the history (steps,
sources, values) and the error, if any.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from ._libs import Lib, history, outcome, same, thread

NAMES = ["kilo", "alpha", "zulu", "echo", "mike", "bravo"]


class Log(TypedDict):
    log: Annotated[list[Any], operator.add]


@dataclass(frozen=True)
class Spec:
    """One random graph: nodes in builder order and how they connect."""

    nodes: tuple[str, ...]
    starts: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    joins: tuple[tuple[tuple[str, str], str], ...] = ()
    # node -> targets it routes to, chosen by the length of the log
    routers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # node -> nodes it sends to (with an argument)
    sends: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # node -> targets of the Command it returns
    commands: tuple[tuple[str, tuple[str, ...]], ...] = ()
    asks: frozenset[str] = field(default_factory=frozenset)


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    count = draw(st.integers(2, 5))
    nodes = tuple(draw(st.permutations(NAMES))[:count])
    later = {n: nodes[i + 1 :] for i, n in enumerate(nodes)}  # acyclic: forward only
    starts = tuple(
        draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=3, unique=True))
    )
    edges: list[tuple[str, str]] = []
    routers: list[tuple[str, tuple[str, ...]]] = []
    sends: list[tuple[str, tuple[str, ...]]] = []
    commands: list[tuple[str, tuple[str, ...]]] = []
    for node in nodes:
        targets = later[node]
        if not targets:
            continue
        kind = draw(st.sampled_from(["edges", "edges", "router", "send", "command"]))
        chosen = tuple(
            draw(st.lists(st.sampled_from(targets), max_size=2, unique=True))
        )
        if kind == "edges":
            edges += [(node, t) for t in chosen]
        elif kind == "router":
            routers.append((node, chosen))
        elif kind == "send":
            sends.append((node, chosen))
        else:
            commands.append((node, chosen))
    joins: list[tuple[tuple[str, str], str]] = []
    if len(nodes) >= 3 and draw(st.booleans()):
        a, b, c = sorted(
            draw(
                st.lists(st.integers(0, count - 1), min_size=3, max_size=3, unique=True)
            )
        )
        joins.append(((nodes[a], nodes[b]), nodes[c]))
    asks = frozenset(draw(st.lists(st.sampled_from(nodes), max_size=2, unique=True)))
    return Spec(
        nodes,
        starts,
        tuple(edges),
        tuple(joins),
        tuple(routers),
        tuple(sends),
        tuple(commands),
        asks,
    )


def build(lib: Lib, spec: Spec) -> Any:
    routers, sends, commands = dict(spec.routers), dict(spec.sends), dict(spec.commands)

    def node_fn(name: str) -> Any:
        def node(state: dict[str, Any]) -> Any:
            out: list[Any] = [name]
            if name in spec.asks:
                out.append(lib.interrupt(f"ask-{name}"))
            if name in commands:
                return lib.Command(update={"log": out}, goto=list(commands[name]))
            return {"log": out}

        return node

    g = lib.StateGraph(Log)
    for name in spec.nodes:
        g.add_node(name, node_fn(name))
    for name in spec.starts:
        g.add_edge(lib.START, name)
    for a, b in spec.edges:
        g.add_edge(a, b)
    for (a, b), c in spec.joins:
        g.add_edge([a, b], c)
    for name, targets in routers.items():
        g.add_conditional_edges(
            name,
            lambda s, t=targets: list(t[: len(s["log"]) % (len(t) + 1)]) or lib.END,
        )
    for name, targets in sends.items():
        g.add_conditional_edges(
            name,
            lambda s, t=targets: (
                [lib.Send(x, {"log": [len(s["log"])]}) for x in t] or lib.END
            ),
        )
    return g.compile(checkpointer=lib.InMemorySaver())


def run(lib: Lib, spec: Spec) -> Any:
    graph = build(lib, spec)
    config = {**thread(), "recursion_limit": 30}
    outputs = [outcome(lambda: graph.invoke({"log": ["in"]}, config))]
    for _ in range(6):  # resume every pending interrupt, by id
        pending = graph.get_state(config).interrupts
        if not pending:
            break
        answer = {i.id: f"r-{i.value}" for i in pending}
        outputs.append(
            outcome(lambda a=answer: graph.invoke(lib.Command(resume=a), config))
        )
    # `next` is left out: in rare join-and-router graphs LangGraph's snapshot
    # lists a task that the next step does not run, depending on thread timing
    return outputs, [
        (step, source, values) for step, source, _, values in history(graph, config)
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(specs())
def test_random_graphs_behave_like_langgraph(spec: Spec) -> None:
    note(repr(spec))
    same(lambda lib: run(lib, spec))
