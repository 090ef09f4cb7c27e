"""What a diagram draws as one box: folded block instances and absorbed layers.

Two rules keep a diagram small without hiding its structure:

- A batchnorm, activation or dropout layer that reads the value of a layer of its own block that
  nothing else reads is drawn inside that layer's box (``+ batchnorm``, ``+ relu``), as a layer's
  own `activation` is: it keeps the shape, so no edge label is lost.
- A block instance (a scope of dotted names, ``layer2.0``) is drawn open, as a cluster of its
  layers, or folded, as one box. `by_depth` folds every scope below a depth of the names (as
  ``summary --depth`` does); `fit` opens scopes, the outermost first and the first instance of
  each block structure before its repeats, for as long as the estimated drawing stays within a
  size, so that branches and merges stay visible where the room allows.
"""

from __future__ import annotations

from dataclasses import dataclass

from archc.analyse import Graph

ABSORBED_KINDS = frozenset({"batchnorm", "activation", "dropout"})

# Graphviz's default layout, in points: a label line, a box's padding, the space between ranks
# (with an edge label) and a cluster's frame. Estimates only; tests/test_diagram.py renders.
LINE_PT, BOX_PT, RANK_PT, CLUSTER_PT = 12.5, 8.0, 24.0, 16.0
# 4,000 px at 96 dpi, less 7%: the estimate falls short of Graphviz's layout by up to 5% (zoo).
LIMIT_PT = 0.93 * 4000 * 72 / 96
FOLDED_LINES = 3  # a folded scope's box: name and block, output shape, parameters


def absorbed(graph: Graph) -> dict[str, str]:
    """Layer -> the layer whose box it is drawn in (see the module docstring)."""
    readers: dict[str, int] = dict.fromkeys(graph.outputs, 1)
    for node in graph.nodes:
        for name in node.inputs:
            readers[name] = readers.get(name, 0) + 1
    host: dict[str, str] = {}
    for node in graph.nodes:
        (source, *more) = node.inputs
        if (
            node.kind in ABSORBED_KINDS
            and not more
            and source != graph.input_name
            and readers.get(source) == 1
            and _scope(source) == _scope(node.name)
        ):
            host[node.name] = host.get(source, source)
    return host


@dataclass(frozen=True)
class Fold:
    """The open scopes: every other scope is drawn as one box."""

    open: frozenset[str]

    def drawn(self, name: str) -> str:
        """The box that stands for layer `name`: its outermost folded scope, or itself."""
        parts = name.split(".")
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if prefix not in self.open:
                return prefix
        return name


def scopes(graph: Graph) -> list[str]:
    """Every scope of the graph's layer names, in order of first appearance."""
    found: dict[str, None] = {}
    for node in graph.nodes:
        parts = node.name.split(".")
        for k in range(1, len(parts)):
            found.setdefault(".".join(parts[:k]))
    return list(found)


def by_depth(graph: Graph, depth: int | None) -> Fold:
    """Scopes of fewer than `depth` names open (all of them for None)."""
    return Fold(frozenset(s for s in scopes(graph) if depth is None or s.count(".") + 1 < depth))


def fit(graph: Graph, lines: dict[str, int], limit: float = LIMIT_PT) -> Fold:
    """The most open scopes whose drawing is estimated within `limit` points (see the module
    docstring); `lines` gives the label lines of each layer's box."""
    fold = by_depth(graph, None)
    if estimate(graph, fold, lines) <= limit:
        return fold
    fold = Fold(frozenset())
    for scope in _candidates(graph):
        parent = scope.rsplit(".", 1)[0] if "." in scope else None
        if scope in fold.open or (parent is not None and parent not in fold.open):
            continue
        trial = Fold(fold.open | _unit(graph, scope))
        if estimate(graph, trial, lines) <= limit:
            fold = trial
    return fold


def _unit(graph: Graph, scope: str) -> set[str]:
    """`scope`, and while it holds a single scope and nothing else, that one too: a cluster
    around a single box says nothing."""
    opened = {scope}
    while True:
        children = {n.name[len(scope) + 1 :].split(".")[0] for n in graph.nodes
                    if n.name.startswith(scope + ".")}  # fmt: skip
        only = f"{scope}.{next(iter(children))}" if len(children) == 1 else None
        if only is None or not any(n.name.startswith(only + ".") for n in graph.nodes):
            return opened
        scope = only
        opened.add(scope)


def _candidates(graph: Graph) -> list[str]:
    """Scopes, outermost first: the first instance of each structure, then the repeats."""
    firsts, repeats = [], []
    seen: set[tuple] = set()
    for scope in sorted(scopes(graph), key=lambda s: s.count(".")):
        signature = _signature(graph, scope)
        (repeats if signature in seen else firsts).append(scope)
        seen.add(signature)
    return firsts + repeats


def _signature(graph: Graph, scope: str) -> tuple:
    """A scope's structure: its layers' relative names, kinds and relative inputs."""
    prefix = scope + "."

    def rel(name: str) -> str:
        return name[len(prefix) :] if name.startswith(prefix) else "<outside>"

    return tuple(
        (rel(n.name), n.kind, tuple(map(rel, n.inputs)))
        for n in graph.nodes
        if n.name.startswith(prefix)
    )


def estimate(graph: Graph, fold: Fold, lines: dict[str, int]) -> float:
    """The drawing's height in points, top to bottom: the longest path of boxes, each as tall
    as its label (`lines` per layer box, FOLDED_LINES for a folded scope), plus the frames of
    the clusters the path enters."""
    host = absorbed(graph)
    names = {node.name for node in graph.nodes}
    height: dict[str, float] = {graph.input_name: BOX_PT + 2 * LINE_PT + RANK_PT}
    sources: dict[str, set[str]] = {}
    for node in graph.nodes:  # in execution order: every source's box comes first
        box = fold.drawn(host.get(node.name, node.name))
        if box not in height:
            frames = CLUSTER_PT * box.count(".")
            box_lines = lines[box] if box in names else FOLDED_LINES
            height[box] = BOX_PT + LINE_PT * box_lines + RANK_PT + frames
        for source in node.inputs:
            src = source if source == graph.input_name else fold.drawn(host.get(source, source))
            if src != box:
                sources.setdefault(box, set()).add(src)
    depth: dict[str, float] = {}
    for box, own in height.items():
        depth[box] = own + max((depth[s] for s in sources.get(box, ())), default=0)
    return max(depth.values()) + BOX_PT + LINE_PT + RANK_PT  # and the output's oval


def _scope(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""
