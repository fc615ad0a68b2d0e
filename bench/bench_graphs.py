"""Benchmark the graphs engine against LangGraph, interleaved in one process.

Run: ``.venv/bin/python bench/bench_graphs.py [--quick] [--runs N]``.

Workloads (each without a checkpointer and with the in-memory saver):
a 10-node chain (µs per superstep), a 1-node graph (µs per invoke), a fan-out of 8
with ``Send`` (µs per invoke), an interrupt + resume round trip (µs, saver only) and
a node that invokes a compiled graph (a child of the run, µs per invoke) and a
one-node graph over a state of 10 or 100 LangChain messages that adds one (µs per
invoke); plus checkpoint bytes per step for a thread whose message list grows each
step.
Each figure is the median of ``--runs`` interleaved runs.
"""

from __future__ import annotations

import argparse
import gc
import operator
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph
import langgraph.graph.message as lg_message
import langgraph.types as lg_types
from langchain_core.messages import AIMessage as LgAIMessage
from langchain_core.messages import AnyMessage as LcAnyMessage
from langchain_core.messages import HumanMessage as LcHumanMessage

import graphs
from graphs import checkpoint as our_checkpoint
from graphs.messages import AIMessage as OurAIMessage


class Chain(TypedDict):
    n: int


class Fan(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]


class Msgs(TypedDict):
    messages: Annotated[list[Any], graphs.add_messages]
    steps: int


class LgMsgs(TypedDict):
    messages: Annotated[list[Any], lg_message.add_messages]
    steps: int


class LcMsgs(TypedDict):
    messages: Annotated[list[LcAnyMessage], graphs.add_messages]


class LgLcMsgs(TypedDict):
    messages: Annotated[list[LcAnyMessage], lg_message.add_messages]


class Lib:
    """The pieces of one library used by the workloads."""

    def __init__(self, name: str) -> None:
        self.name = name
        ours = name == "graphs"
        self.StateGraph = graphs.StateGraph if ours else lg_graph.StateGraph
        self.START = graphs.START if ours else lg_graph.START
        self.END = graphs.END if ours else lg_graph.END
        self.Send = graphs.Send if ours else lg_types.Send
        self.Command = graphs.Command if ours else lg_types.Command
        self.interrupt = graphs.interrupt if ours else lg_types.interrupt
        self.Saver = our_checkpoint.InMemorySaver if ours else lg_memory.InMemorySaver
        self.AIMessage = OurAIMessage if ours else LgAIMessage
        self.Msgs = Msgs if ours else LgMsgs
        self.LcMsgs = LcMsgs if ours else LgLcMsgs


def inc(state: Chain) -> dict[str, int]:
    return {"n": state["n"] + 1}


def build_chain(lib: Lib, size: int, saver: bool) -> Any:
    g = lib.StateGraph(Chain)
    names = [f"n{i}" for i in range(size)]
    for name in names:
        g.add_node(name, inc)
    g.add_edge(lib.START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        g.add_edge(a, b)
    g.add_edge(names[-1], lib.END)
    return g.compile(checkpointer=lib.Saver() if saver else None)


def build_fanout(lib: Lib, saver: bool) -> Any:
    g = lib.StateGraph(Fan)

    def work(arg: dict[str, int]) -> dict[str, list[int]]:
        return {"results": [arg["x"] * 2]}

    g.add_node("work", work)
    g.add_conditional_edges(
        lib.START, lambda s: [lib.Send("work", {"x": x}) for x in s["items"]]
    )
    g.add_edge("work", lib.END)
    return g.compile(checkpointer=lib.Saver() if saver else None)


def build_nested(lib: Lib, saver: bool) -> Any:
    """A node that invokes a compiled one-node graph (a child of the run)."""
    child = build_chain(lib, 1, False)

    def call(state: Chain) -> dict[str, int]:
        return {"n": child.invoke({"n": state["n"]})["n"]}

    g = lib.StateGraph(Chain)
    g.add_node("call", call)
    g.add_edge(lib.START, "call")
    return g.compile(checkpointer=lib.Saver() if saver else None)


def build_interrupt(lib: Lib) -> Any:
    g = lib.StateGraph(Chain)

    def ask(state: Chain) -> dict[str, int]:
        return {"n": lib.interrupt("how many?")}

    g.add_node("ask", ask)
    g.add_edge(lib.START, "ask")
    return g.compile(checkpointer=lib.Saver())


def build_lc_messages(lib: Lib, saver: bool) -> Any:
    """One node adding a LangChain reply to a LangChain-message state."""
    g = lib.StateGraph(lib.LcMsgs)
    g.add_node("reply", lambda s: {"messages": [LgAIMessage(content="ok")]})
    g.add_edge(lib.START, "reply")
    return g.compile(checkpointer=lib.Saver() if saver else None)


def lc_history(size: int) -> dict[str, Any]:
    texts = ("lorem ipsum dolor sit amet " * 4 for _ in range(size))
    return {"messages": [LcHumanMessage(t, id=f"m{i}") for i, t in enumerate(texts)]}


class Counter:
    """Fresh thread ids so threads do not grow across iterations."""

    def __init__(self) -> None:
        self.i = 0

    def config(self) -> dict[str, Any]:
        self.i += 1
        return {"configurable": {"thread_id": f"t{self.i}"}}


def workloads(lib: Lib) -> dict[str, tuple[Callable[[], Any], int]]:
    """name -> (one operation, divisor to turn op time into the reported unit)."""
    ids = Counter()
    chain = build_chain(lib, 10, False)
    chain_s = build_chain(lib, 10, True)
    one = build_chain(lib, 1, False)
    one_s = build_chain(lib, 1, True)
    fan = build_fanout(lib, False)
    fan_s = build_fanout(lib, True)
    intr = build_interrupt(lib)
    nested = build_nested(lib, False)
    nested_s = build_nested(lib, True)
    resume = lib.Command(resume=5)
    items = {"items": list(range(8))}
    lc = build_lc_messages(lib, False)
    lc_s = build_lc_messages(lib, True)
    lc10, lc100 = lc_history(10), lc_history(100)

    def round_trip() -> None:
        cfg = ids.config()
        intr.invoke({"n": 0}, cfg)
        intr.invoke(resume, cfg)

    return {
        "chain10 µs/superstep": (lambda: chain.invoke({"n": 0}), 10),
        "chain10+saver µs/superstep": (
            lambda: chain_s.invoke({"n": 0}, ids.config()),
            10,
        ),
        "1-node µs/invoke": (lambda: one.invoke({"n": 0}), 1),
        "1-node+saver µs/invoke": (lambda: one_s.invoke({"n": 0}, ids.config()), 1),
        "fanout8 µs/invoke": (lambda: fan.invoke(items), 1),
        "fanout8+saver µs/invoke": (lambda: fan_s.invoke(items, ids.config()), 1),
        "interrupt+resume+saver µs": (round_trip, 1),
        "lc-msgs10 µs/invoke": (lambda: lc.invoke(lc10), 1),
        "lc-msgs10+saver µs/invoke": (lambda: lc_s.invoke(lc10, ids.config()), 1),
        "lc-msgs100 µs/invoke": (lambda: lc.invoke(lc100), 1),
        "lc-msgs100+saver µs/invoke": (lambda: lc_s.invoke(lc100, ids.config()), 1),
        "subgraph-in-node µs/invoke": (lambda: nested.invoke({"n": 0}), 1),
        "subgraph-in-node+saver µs/invoke": (
            lambda: nested_s.invoke({"n": 0}, ids.config()),
            1,
        ),
    }


def check_same_results(libs: list[Lib]) -> None:
    """Both libraries must compute the same thing before we time them."""
    outputs = []
    for lib in libs:
        chain = build_chain(lib, 10, False).invoke({"n": 0})
        fan = build_fanout(lib, False).invoke({"items": list(range(8))})
        intr = build_interrupt(lib)
        cfg = {"configurable": {"thread_id": "check"}}
        intr.invoke({"n": 0}, cfg)
        resumed = intr.invoke(lib.Command(resume=5), cfg)
        lc = build_lc_messages(lib, True).invoke(lc_history(3), cfg)["messages"]
        lc_shape = [(type(m).__name__, m.content) for m in lc]
        nested = build_nested(lib, True).invoke({"n": 0}, cfg)
        outputs.append((chain, fan, resumed, lc_shape, nested))
    assert outputs[0] == outputs[1], outputs


def time_op(op: Callable[[], Any], iterations: int, divisor: int) -> float:
    """Mean µs per unit over ``iterations`` calls (after a short warm-up)."""
    for _ in range(min(20, iterations)):
        op()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(iterations):
            op()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed / iterations / divisor * 1e6


def message_growth(lib: Lib, steps: int) -> float:
    """Checkpoint bytes per step for a thread that gains one message per step."""
    g = lib.StateGraph(lib.Msgs)

    def speak(state: dict[str, Any]) -> dict[str, Any]:
        text = f"step {state['steps']}: " + "lorem ipsum dolor sit amet " * 4
        return {"messages": [lib.AIMessage(content=text)], "steps": state["steps"] + 1}

    g.add_node("speak", speak)
    g.add_edge(lib.START, "speak")
    g.add_conditional_edges(
        "speak", lambda s: "speak" if s["steps"] < steps else lib.END
    )
    saver = lib.Saver()
    cfg = {"configurable": {"thread_id": "grow"}, "recursion_limit": steps + 10}
    g.compile(checkpointer=saver).invoke({"messages": [], "steps": 0}, cfg)
    return stored_bytes(lib, saver) / steps


def stored_bytes(lib: Lib, saver: Any) -> int:
    if lib.name == "graphs":
        return int(saver.stored_bytes())
    total = 0
    for per_ns in saver.storage.values():
        for rows in per_ns.values():
            for checkpoint, metadata, _parent in rows.values():
                total += len(checkpoint[1]) + len(metadata[1])
    total += sum(len(data) for _, data in saver.blobs.values())
    total += sum(len(w[2][1]) for w in saver.writes.values() for w in w.values())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs (>=5)")
    args = parser.parse_args()
    iterations = 200 if args.quick else 1000
    libs = [Lib("graphs"), Lib("langgraph")]
    check_same_results(libs)
    ops = {lib.name: workloads(lib) for lib in libs}
    results: dict[str, dict[str, list[float]]] = {
        name: {lib.name: [] for lib in libs} for name in ops["graphs"]
    }
    for run in range(max(5, args.runs)):
        order = libs if run % 2 == 0 else libs[::-1]
        for name in results:
            for lib in order:
                op, divisor = ops[lib.name][name]
                slow = "saver" in name or "fanout" in name or "msgs100" in name
                n = iterations // (4 if slow else 1)
                results[name][lib.name].append(time_op(op, n, divisor))
    import importlib.metadata
    import platform

    print(
        f"Python {platform.python_version()}, langgraph "
        f"{importlib.metadata.version('langgraph')}, median of {max(5, args.runs)} "
        f"interleaved runs, {iterations} iterations (1/4 for saver, fan-out, 100 msgs)"
    )
    print(f"{'workload':32} {'graphs':>10} {'langgraph':>10} {'ratio':>7}")
    for name, per_lib in results.items():
        ours = statistics.median(per_lib["graphs"])
        theirs = statistics.median(per_lib["langgraph"])
        print(f"{name:32} {ours:10.1f} {theirs:10.1f} {ours / theirs:7.2f}")
    for steps in (25, 50, 100):
        ours = message_growth(libs[0], steps)
        theirs = message_growth(libs[1], steps)
        label = f"bytes/step, {steps} msgs"
        print(f"{label:32} {ours:10.0f} {theirs:10.0f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
