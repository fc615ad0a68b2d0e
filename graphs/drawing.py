"""A drawable view of a graph, in LangGraph's shape: its JSON (``to_json``) and
Mermaid text (``draw_mermaid``), edge order and subgraph expansion (``xray``)
included. The output is deterministic."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from graphs.types import END, START

if TYPE_CHECKING:
    from graphs.compiled import CompiledGraph

__all__ = ["DrawableGraph", "Edge", "Node", "build_drawable"]

_FRONT_MATTER = "---\nconfig:\n  flowchart:\n    curve: linear\n---\n"
_STYLES = (
    "\tclassDef default fill:#f2f0ff,line-height:1.2\n"
    "\tclassDef first fill-opacity:0\n"
    "\tclassDef last fill:#bfb6fc\n"
)
_MARKDOWN = tuple("*_`")
_LABEL_ESCAPES = {
    "[": "#91;",
    "]": "#93;",
    "(": "#40;",
    ")": "#41;",
    "{": "#123;",
    "}": "#125;",
    '"': "#quot;",
    "<": "#60;",
    ">": "#62;",
    "|": "#124;",
}
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the drawing: ``kind`` names what runs it (``None`` for END)."""

    id: str
    name: str
    metadata: dict[str, Any] | None = None
    kind: tuple[str, ...] | None = None


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
        """LangGraph's JSON: ``{"nodes": [{"id", "type", "data", "metadata"?}],
        "edges": [{"source", "target", "data"?, "conditional"?}]}``."""
        nodes = []
        for n in self.nodes.values():
            item: dict[str, Any] = {"id": n.id}
            if n.kind is not None:
                item["type"] = "runnable"
                item["data"] = {"id": list(n.kind), "name": n.name}
            if n.metadata is not None:
                item["metadata"] = n.metadata
            nodes.append(item)
        edges = []
        for e in self.edges:
            edge: dict[str, Any] = {"source": e.source, "target": e.target}
            if e.data is not None:
                edge["data"] = e.data
            if e.conditional:
                edge["conditional"] = True
            edges.append(edge)
        return {"nodes": nodes, "edges": edges}

    def first_node(self) -> Node | None:
        """The one node no edge leads to (``None``: none, or several)."""
        return _only(self, exclude=(), sources=False)

    def last_node(self) -> Node | None:
        """The one node no edge leaves (``None``: none, or several)."""
        return _only(self, exclude=(), sources=True)

    def draw_mermaid(self, *, with_styles: bool = True) -> str:
        """Mermaid flowchart text, as LangGraph draws it.

        Args:
            with_styles: With the front matter, node shapes and classes;
                ``False`` gives the bare edges.
        """
        first, last = self.first_node(), self.last_node()
        shapes = {"": "{0}({1})"}
        if first is not None:
            shapes[first.id] = "{0}([{1}]):::first"
        if last is not None:
            shapes[last.id] = "{0}([{1}]):::last"
        nested: dict[str, dict[str, Node]] = {}
        top: list[Node] = []
        for key, node in self.nodes.items():
            if ":" in key:
                nested.setdefault(key.rsplit(":", 1)[0], {})[key] = node
            else:
                top.append(node)
        out = [_FRONT_MATTER + "graph TD;\n" if with_styles else "graph TD;\n"]
        if with_styles:
            out += [_node_line(n, shapes) for n in top]
        groups: dict[str, list[Edge]] = {}
        for e in self.edges:
            pairs = zip(e.source.split(":"), e.target.split(":"), strict=False)
            groups.setdefault(":".join(s for s, t in pairs if s == t), []).append(e)
        ctx = _Mermaid(groups, nested, shapes, with_styles, out)
        ctx.block(groups.get("", []), "")
        for prefix, edges in groups.items():
            if prefix and ":" not in prefix:
                ctx.block(edges, prefix)
                ctx.seen.add(prefix)
        if with_styles:
            for prefix, members in nested.items():
                if ":" not in prefix and prefix not in ctx.seen:
                    out.append(f"\tsubgraph {prefix}\n")
                    out += [_node_line(n, shapes) for n in members.values()]
                    out.append("\tend\n")
            out.append(_STYLES)
        return "".join(out)


@dataclass(slots=True)
class _Mermaid:
    """LangChain's nesting of subgraph blocks (nodes prefixed ``sub:``)."""

    groups: dict[str, list[Edge]]
    nested: dict[str, dict[str, Node]]
    shapes: dict[str, str]
    with_styles: bool
    out: list[str]
    seen: set[str] = field(default_factory=set)

    def block(self, edges: list[Edge], prefix: str) -> None:
        loop = len(edges) == 1 and edges[0].source == edges[0].target
        opened = bool(prefix) and not loop
        if opened:
            name = prefix.rsplit(":", 1)[-1]
            if name in self.seen:
                raise ValueError(f"Found duplicate subgraph '{name}'")
            self.seen.add(name)
            self.out.append(f"\tsubgraph {name}\n")
            if self.with_styles:
                members = self.nested.get(prefix, {}).values()
                self.out += [_node_line(n, self.shapes) for n in members]
        self.out += [_edge_line(e) for e in edges]
        for inner, inner_edges in self.groups.items():
            if not inner.startswith(prefix + ":") or inner == prefix:
                continue
            if ":" in inner[len(prefix) + 1 :]:
                continue
            self.block(inner_edges, inner)
        if opened:
            self.out.append("\tend\n")


def _safe_id(label: str) -> str:
    return "".join(c if c in _SAFE else "\\" + format(ord(c), "x") for c in label)


def _node_line(node: Node, shapes: dict[str, str]) -> str:
    name = node.name.split(":")[-1]
    label = (
        f"<p>{name}</p>"
        if name.startswith(_MARKDOWN) and name.endswith(_MARKDOWN)
        else name
    )
    lines = _metadata_lines(node.metadata or {})
    if lines:
        label = f"{label}<hr/><small><em>" + "\n".join(lines) + "</em></small>"
    shape = shapes.get(node.id, shapes[""])
    return "\t" + shape.format(_safe_id(node.id), label) + "\n"


def _metadata_lines(metadata: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in metadata.items():
        shown = _shown(value)
        if shown is not None:
            text = f"{key} = {shown}".replace("#", "#35;")
            for char, entity in _LABEL_ESCAPES.items():
                text = text.replace(char, entity)
            lines.append(text)
    return lines


def _shown(value: Any) -> str | None:
    scalars = (str, int, float, bool)
    if isinstance(value, scalars):
        return str(value)
    if isinstance(value, (list, tuple, set)) and all(
        isinstance(v, scalars) for v in value
    ):
        items = [str(v) for v in value]
        return ", ".join(sorted(items) if isinstance(value, set) else items)
    return None


def _edge_line(edge: Edge) -> str:
    if edge.data is not None:
        words = str(edge.data).split()
        data = (
            "&nbsp<br>&nbsp".join(
                " ".join(words[i : i + 9]) for i in range(0, len(words), 9)
            )
            if len(words) > 9
            else edge.data
        )
        arrow = (
            f" -. &nbsp;{data}&nbsp; .-> "
            if edge.conditional
            else f" -- &nbsp;{data}&nbsp; --> "
        )
    else:
        arrow = " -.-> " if edge.conditional else " --> "
    return f"\t{_safe_id(edge.source)}{arrow}{_safe_id(edge.target)};\n"


def _only(graph: DrawableGraph, exclude: Sequence[str], sources: bool) -> Node | None:
    """LangChain's first (``sources=False``) or last node of a drawing."""
    if sources:
        ends = {e.source for e in graph.edges if e.target not in exclude}
    else:
        ends = {e.target for e in graph.edges if e.source not in exclude}
    found = [
        n for n in graph.nodes.values() if n.id not in exclude and n.id not in ends
    ]
    return found[0] if len(found) == 1 else None


# -- building ------------------------------------------------------------------


def _kind(action: Any) -> tuple[str, ...]:
    """What runs a node: a function's path, else its class's (LangGraph gives
    the path of its runnable class)."""
    target: Any = action
    if not (inspect.isfunction(action) or inspect.ismethod(action)):
        target = type(action)
    return (*str(target.__module__).split("."), str(target.__qualname__))


def build_drawable(graph: CompiledGraph, xray: int | bool = False) -> DrawableGraph:
    """Build the drawing of a compiled graph (``xray``: expand subgraph nodes,
    ``True`` at every depth, a number for that many levels)."""
    builder = graph.builder
    nodes = {START: Node(START, START, None, ("graphs", "types", "START"))}
    for name, spec in builder.nodes.items():
        nodes[name] = Node(name, name, _metadata(graph, name), _kind(spec.action))
    found: set[tuple[str, str, bool, str | None]] = set()
    for src, dst in builder.edges:
        found.add((src, dst, False, None))
    for branch in builder.branches:
        if branch.path_map:
            for key, dst in branch.path_map.items():
                found.add((branch.source, dst, True, str(key)))
        else:  # a branch that names no targets is not drawn, as in LangGraph
            found.update((branch.source, d, True, None) for d in branch.targets or ())
    for name, spec in builder.nodes.items():
        found.update((name, dst, True, None) for dst in spec.destinations)
    found = _reachable(found, builder.joins)
    edges: list[Edge] = []
    pairs: set[tuple[str, str]] = set()

    def add(src: str, dst: str, label: str | None = None, cond: bool = False) -> None:
        if (src, dst) not in pairs:  # the first edge between two nodes wins
            pairs.add((src, dst))
            edges.append(Edge(src, dst, label if label != dst else None, cond))

    # as LangGraph: every edge sorted, then END edges for the nodes that
    # edges lead to but that lead nowhere
    for src, dst, cond, label in sorted(found, key=lambda e: (*e[:3], e[3] or "")):
        add(src, dst, label, cond)
    leads = {e[0] for e in found}
    for name in sorted({e[1] for e in found if e[1] != END} - leads):
        add(name, END)
    if any(e.target == END for e in edges):
        nodes[END] = Node(END, END)
    drawing = DrawableGraph(graph.name, nodes, edges)
    if xray:
        deeper = xray if isinstance(xray, bool) or xray <= 0 else xray - 1
        for name, spec in builder.nodes.items():
            if hasattr(spec.action, "call_as_subgraph"):
                inner = build_drawable(spec.action, deeper)
                drawing = _expand(drawing, name, inner)
    return drawing


def _reachable(
    found: set[tuple[str, str, bool, str | None]],
    joins: list[tuple[tuple[str, ...], str]],
) -> set[tuple[str, str, bool, str | None]]:
    """The edges a run from START can take (LangGraph draws what its walk of
    the graph reaches; a join's edges once all its sources are reached)."""
    reached = {START}
    kept: set[tuple[str, str, bool, str | None]] = set()
    grew = True
    while grew:
        grew = False
        for edge in found:
            if edge[0] in reached and edge not in kept:
                kept.add(edge)
                reached.add(edge[1])
                grew = True
        for srcs, dst in joins:
            edges = {(src, dst, False, None) for src in srcs}
            if reached.issuperset(srcs) and not edges <= kept:
                kept |= edges
                reached.add(dst)
                grew = True
    return kept


def _metadata(graph: CompiledGraph, name: str) -> dict[str, Any] | None:
    spec = graph.builder.nodes[name]
    meta = dict(spec.metadata or {})
    if spec.defer:
        meta["defer"] = True
    before, after = name in graph.interrupt_before, name in graph.interrupt_after
    if before or after:
        meta["__interrupt"] = ",".join(
            w for w, on in (("before", before), ("after", after)) if on
        )
    return meta or None


def _expand(outer: DrawableGraph, name: str, inner: DrawableGraph) -> DrawableGraph:
    """``outer`` with the node ``name`` replaced by the drawing ``inner``."""
    if len(inner.nodes) <= 1 or not (inner.first_node() and inner.last_node()):
        return outer
    inner = _trim(_trim(inner, sources=False), sources=True)
    first, last = inner.first_node(), inner.last_node()
    if first is None or last is None or name not in outer.nodes:
        return outer
    nodes = {k: v for k, v in outer.nodes.items() if k != name}
    for key, node in inner.nodes.items():
        nodes[f"{name}:{key}"] = replace(node, id=f"{name}:{key}", name=f"{name}:{key}")
    edges = []
    for e in outer.edges:
        if e.source == name:
            e = replace(e, source=f"{name}:{last.id}")
        if e.target == name:
            e = replace(e, target=f"{name}:{first.id}")
        edges.append(e)
    edges += [
        replace(e, source=f"{name}:{e.source}", target=f"{name}:{e.target}")
        for e in inner.edges
    ]
    return DrawableGraph(outer.name, nodes, edges)


def _trim(graph: DrawableGraph, sources: bool) -> DrawableGraph:
    """Without its first (last) node, if that leaves a first (last) node and it
    had one edge (LangChain's ``trim_first_node`` / ``trim_last_node``)."""
    end = graph.last_node() if sources else graph.first_node()
    if end is None or _only(graph, (end.id,), sources) is None:
        return graph
    touching = [e for e in graph.edges if (e.target if sources else e.source) == end.id]
    if len(touching) != 1:
        return graph
    nodes = {k: v for k, v in graph.nodes.items() if k != end.id}
    edges = [e for e in graph.edges if end.id not in (e.source, e.target)]
    return DrawableGraph(graph.name, nodes, edges)
