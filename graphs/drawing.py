"""A drawable view of a graph and its Mermaid rendering (deterministic output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphs.types import END, START

if TYPE_CHECKING:
    from graphs.state import StateGraph

__all__ = ["DrawableGraph", "Edge", "Node", "build_drawable"]


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the drawing."""

    id: str
    name: str
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """An edge of the drawing; ``conditional`` edges are dotted."""

    source: str
    target: str
    data: str | None = None
    conditional: bool = False


@dataclass(frozen=True, slots=True)
class DrawableGraph:
    """Nodes and edges of a compiled graph."""

    name: str
    nodes: dict[str, Node]
    edges: list[Edge]

    def to_json(self) -> dict[str, Any]:
        """JSON description: ``{"nodes": [...], "edges": [...]}``."""
        return {
            "nodes": [{"id": n.id, "name": n.name} for n in self.nodes.values()],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "conditional": e.conditional,
                    **({"data": e.data} if e.data is not None else {}),
                }
                for e in self.edges
            ],
        }

    def draw_mermaid(self, *, with_styles: bool = True) -> str:
        """Mermaid flowchart text; identical for identical graphs.

        Args:
            with_styles: With LangGraph's front matter, node shapes and classes;
                ``False`` gives the bare edges, as LangGraph does.
        """
        if not with_styles:
            return "".join(
                ["graph TD;\n"]
                + [
                    f"\t{_mid(e.source)} {_arrow(e)} {_mid(e.target)};\n"
                    for e in self.edges
                ]
            )
        lines = [
            "---",
            "config:",
            "  flowchart:",
            "    curve: linear",
            "---",
            "graph TD;",
        ]
        for node in self.nodes.values():
            if node.id == START:
                lines.append(f"\t{_mid(node.id)}([<p>{node.id}</p>]):::first")
            elif node.id == END:
                lines.append(f"\t{_mid(node.id)}([<p>{node.id}</p>]):::last")
            else:
                lines.append(f"\t{_mid(node.id)}({node.name})")
        for edge in self.edges:
            lines.append(f"\t{_mid(edge.source)} {_arrow(edge)} {_mid(edge.target)};")
        lines += [
            "\tclassDef default fill:#f2f0ff,line-height:1.2",
            "\tclassDef first fill-opacity:0",
            "\tclassDef last fill:#bfb6fc",
        ]
        return "\n".join(lines) + "\n"


def _arrow(edge: Edge) -> str:
    label = f"&nbsp;{edge.data}&nbsp;" if edge.data else None
    if label:
        return f"-. {label} .->" if edge.conditional else f"-- {label} -->"
    return "-.->" if edge.conditional else "-->"


def _mid(node_id: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in node_id)


def build_drawable(builder: StateGraph, name: str) -> DrawableGraph:
    """Build the drawing of a builder's nodes and edges."""
    nodes = {START: Node(START, START)}
    for node_name, spec in builder.nodes.items():
        nodes[node_name] = Node(node_name, node_name, spec.metadata or None)
    edges: set[tuple[str, str, str | None, bool]] = set()
    for src, dst in builder.edges:
        edges.add((src, dst, None, False))
    for srcs, dst in builder.joins:
        for src in srcs:
            edges.add((src, dst, None, False))
    everything = [*builder.nodes, END]
    for branch in builder.branches:
        if branch.path_map:
            for key, dst in branch.path_map.items():
                label = None if str(key) == dst else str(key)
                edges.add((branch.source, dst, label, True))
        else:
            for dst in branch.targets or everything:
                edges.add((branch.source, dst, None, True))
    for node_name, spec in builder.nodes.items():
        for dst in spec.destinations:
            edges.add((node_name, dst, None, True))
    # like LangGraph, a node that leads nowhere is drawn leading to END
    leads = {src for src, _, _, _ in edges}
    for node_name in builder.nodes:
        if node_name not in leads:
            edges.add((node_name, END, None, False))
    if any(dst == END for _, dst, _, _ in edges):
        nodes[END] = Node(END, END)
    order = {n: i for i, n in enumerate([START, *builder.nodes, END])}
    ordered = sorted(
        edges, key=lambda e: (order.get(e[0], 0), order.get(e[1], 0), e[2] or "", e[3])
    )
    return DrawableGraph(name, nodes, [Edge(s, t, d, c) for s, t, d, c in ordered])
