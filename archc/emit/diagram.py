"""Emit a Graphviz diagram: one node per layer with its hyper-parameters, shapes on the edges.

Layers inside block instances (dotted names such as ``layer2.0.conv1``) are drawn in nested
clusters; with `collapse`, each top-level block instance becomes a single node.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import graphviz

from archc.analyse import Graph, Node
from archc.emit import folding
from archc.emit.summary import shape_text
from archc.layers.base import per_dim


def _dims(value: object, node: Node, field: str) -> str:
    rank = max(len(node.input_shapes[0]) - 1, 1)
    return "x".join(map(str, per_dim(value, rank, field)))


def _conv(node: Node) -> list[str]:
    layer = node.layer
    lines = [f"{layer.filters} filters {_dims(layer.kernel, node, 'kernel')}"]
    extras = []
    if layer.stride != 1:
        extras.append(f"stride {_dims(layer.stride, node, 'stride')}")
    if layer.padding != 0:
        pad = (
            layer.padding
            if isinstance(layer.padding, str)
            else _dims(layer.padding, node, "padding")
        )
        extras.append(f"pad {pad}")
    if layer.dilation != 1:
        extras.append(f"dilation {_dims(layer.dilation, node, 'dilation')}")
    if layer.groups != 1:
        extras.append(f"groups {layer.groups}")
    return lines + ([", ".join(extras)] if extras else [])


def _pool(node: Node) -> list[str]:
    layer = node.layer
    if layer.kernel == "global":
        return [f"global {layer.mode}"]
    if layer.output is not None:
        return [f"adaptive {layer.mode} to {_dims(layer.output, node, 'output')}"]
    stride = layer.stride if layer.stride is not None else layer.kernel
    text = f"{layer.mode} {_dims(layer.kernel, node, 'kernel')} stride {_dims(stride, node, 's')}"
    extras = ["pad " + _dims(layer.padding, node, "padding")] if layer.padding != 0 else []
    return [text, *extras, *(["ceil"] if layer.ceil else [])]


def _upsample(node: Node) -> list[str]:
    layer = node.layer
    how = (
        f"x{layer.scale:g}" if layer.scale is not None else "to " + _dims(layer.size, node, "size")
    )
    return [f"{layer.mode} {how}"]


# What each kind shows under its name; kinds missing here show only their type.
DETAILS: dict[str, Callable[[Node], list[str]]] = {
    "conv": _conv,
    "conv_transpose": _conv,
    "pool": _pool,
    "dense": lambda node: [f"{node.layer.units} units"],
    "dropout": lambda node: [f"rate {node.layer.rate:g}"],
    "activation": lambda node: [node.layer.fn],
    "concat": lambda node: [] if node.layer.axis == 0 else [f"axis {node.layer.axis}"],
    "upsample": _upsample,
    "reshape": lambda node: ["to " + "x".join(map(str, node.layer.shape))],
}

COLORS: dict[str, str] = {
    "conv": "#cfe2f3",
    "conv_transpose": "#cfe2f3",
    "pool": "#d9ead3",
    "dense": "#fce5cd",
    "batchnorm": "#eeeeee",
    "add": "#fff2cc",
    "concat": "#fff2cc",
    "multiply": "#fff2cc",
    "upsample": "#d9ead3",
}


def label(node: Node, extra: list[Node] = ()) -> str:
    """An HTML-like label: name in bold, then type, hyper-parameters, activation and params.

    A numbered layer (a child of an `nn.Sequential`) is titled by its number and kind. The
    layers drawn in its box (`extra`, see folding.absorbed) follow as ``+ batchnorm``, ``+ relu``.
    """
    short = node.name.rsplit(".", 1)[-1]
    if short.isdigit():
        lines = [f"<b>{short}: {html.escape(node.kind)}</b>"]
    else:
        lines = [f"<b>{html.escape(short)}</b>"] + ([html.escape(node.kind)] * (short != node.kind))
    lines += [html.escape(text) for text in DETAILS.get(node.kind, lambda n: [])(node)]
    for layer in [node, *extra]:
        if layer is not node:
            what = layer.layer.fn if layer.kind == "activation" else layer.kind
            rate = f" {layer.layer.rate:g}" if layer.kind == "dropout" else ""
            lines.append(f"+ {html.escape(what + rate)}")
        activation = getattr(layer.layer, "activation", "none")
        if activation != "none":
            lines.append(f"+ {html.escape(activation)}")
    params = node.params + sum(layer.params for layer in extra)
    if params:
        lines.append(f'<font point-size="9">{params:,} params</font>')
    return "<" + "<br/>".join(lines) + ">"


def to_graphviz(
    graph: Graph, rankdir: str = "TB", collapse: bool = False, depth: int | None = None
) -> graphviz.Digraph:
    """The diagram of `graph`: layers as boxes, tensor shapes on the edges.

    Block instances are drawn as dashed clusters, or folded into one box each: those below
    `depth` (every one with `collapse`), or by default as many as keep the drawing within
    4,000 px at 96 dpi (folding.fit).
    """
    dot = graphviz.Digraph(
        graph.name,
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "ranksep": "0.3"},
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fontname": "Helvetica",
            "fontsize": "11",
        },
        edge_attr={"fontname": "Helvetica", "fontsize": "9"},
    )
    dot.node(
        graph.input_name,
        f"<<b>{html.escape(graph.input_name)}</b><br/>{shape_text(graph.input_shape)}>",
        shape="oval",
        fillcolor="#ffffff",
    )
    host = folding.absorbed(graph)
    guests: dict[str, list[Node]] = {}
    for node in graph.nodes:
        if node.name in host:
            guests.setdefault(host[node.name], []).append(node)
    labels = {n.name: label(n, guests.get(n.name, [])) for n in graph.nodes if n.name not in host}
    if collapse or depth is not None:
        fold = folding.by_depth(graph, 1 if collapse else depth)
    else:
        lines = {name: text.count("<br/>") + 1 for name, text in labels.items()}
        fold = folding.fit(graph, lines)
    _boxes(dot, graph, fold, labels)
    _edges(dot, graph, fold, host)
    return dot


def _boxes(dot: graphviz.Digraph, graph: Graph, fold: folding.Fold, labels: dict[str, str]) -> None:
    """Every box in the cluster of its block: layers (those not drawn in another's box), and
    folded block instances."""
    blocks: dict[str, list[Node]] = {}
    for node in graph.nodes:
        blocks.setdefault(fold.drawn(node.name), []).append(node)
    clusters: dict[tuple[str, ...], graphviz.Digraph] = {}
    for box, members in blocks.items():
        target = _cluster(dot, clusters, tuple(box.split(".")[:-1]))
        if box != members[0].name:
            target.node(box, _block_label(graph, box, members), fillcolor="#e6e0f0")
        elif box in labels:
            node = members[0]
            target.node(box, labels[box], fillcolor=COLORS.get(node.kind, "#f3f3f3"))
    for prefix in sorted(clusters, key=len, reverse=True):  # innermost first, then nest them
        parent = _cluster(dot, clusters, prefix[:-1])
        parent.subgraph(clusters[prefix])


def _block_label(graph: Graph, name: str, members: list[Node]) -> str:
    """A folded block instance: its name (the full path for a numbered one), its block, its
    output shape and its parameters."""
    expansion = graph.spec.source.expansion if graph.spec.source else None
    instances = {i.path: i for i in expansion.instances} if expansion else {}
    inst = instances.get(name)
    shape = graph.shape_of(inst.output) if inst else members[-1].shape
    short = name.rsplit(".", 1)[-1]
    title = html.escape(name if short.isdigit() else short)
    return (
        f"<<b>{title}</b>: {html.escape(_block_kind(name, instances))}<br/>{shape_text(shape)}"
        f'<br/><font point-size="9">{sum(n.params for n in members):,} params</font>>'
    )


def _edges(dot: graphviz.Digraph, graph: Graph, fold: folding.Fold, host: dict[str, str]) -> None:
    """One edge per value read, labelled with its shape; then the outputs."""

    def drawn(name: str) -> str:
        """The box that stands for layer `name`."""
        return name if name == graph.input_name else fold.drawn(host.get(name, name))

    edges: set[tuple[str, str]] = set()
    for node in graph.nodes:
        for src, shape in zip(node.inputs, node.input_shapes):
            edge = (drawn(src), drawn(node.name))
            if edge[0] != edge[1] and edge not in edges:
                edges.add(edge)
                dot.edge(*edge, label=shape_text(shape))
    for name in graph.outputs:
        out = f"{name}__out"
        dot.node(out, "output", shape="oval", fillcolor="#ffffff")
        dot.edge(drawn(name), out, label=shape_text(graph.shape_of(name)))


def _block_kind(name: str, instances: dict) -> str:
    """``basic x2`` for a repeated stack, ``basic`` for one instance, else ``block``."""
    inst = instances.get(name)
    if inst is None:
        return "block"
    if not inst.repeated:
        return inst.block
    copies = sum(1 for path in instances if path != name and path.rsplit(".", 1)[0] == name)
    return f"{inst.block} x{copies}"


def _cluster(dot: graphviz.Digraph, clusters: dict, prefix: tuple[str, ...]) -> graphviz.Digraph:
    if not prefix:
        return dot
    if prefix not in clusters:
        _cluster(dot, clusters, prefix[:-1])
        name = ".".join(prefix)
        clusters[prefix] = graphviz.Digraph(
            f"cluster_{name}",
            graph_attr={"label": name, "style": "rounded,dashed", "color": "#999999"},
        )
    return clusters[prefix]
