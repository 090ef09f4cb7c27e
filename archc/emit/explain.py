"""Emit the arithmetic behind every layer: `archc explain`.

For each layer, the derivation of its output size per axis, its parameters and MACs, what
weight sharing saves (convolutions) and its receptive field, with the spec's numbers
substituted. Every derivation is a `Step`: the text a person reads, the same arithmetic as a
Python expression, and its value, which is the analysed graph's own number (the tests evaluate
every expression and compare). A table maps each layer kind to the function that derives its
output size; a kind without one is an error, never a silent gap.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from archc import formulas, receptive
from archc.analyse import Graph, Node
from archc.emit.summary import shape_text
from archc.errors import UsageError
from archc.layers.base import per_dim, prod

CHANNELS_FIRST = (
    "Shapes are channels first, as PyTorch stores them: 6x28x28 is 6 channels of 28x28 "
    "(written 28x28x6 channels last). The batch is left out; fields are in input pixels."
)


@dataclass(frozen=True)
class Step:
    """One derivation: ``label axes: text = value``; `expression` is `text` as Python.

    `axes` names the spatial axes it holds for (``H, W`` where they agree), or is empty.
    """

    label: str
    text: str
    expression: str
    value: int
    axes: str = ""

    def line(self) -> str:
        head = " ".join(part for part in (self.label, self.axes) if part)
        return f"{head}: {self.text} = {self.value:,}"


def _merge_axes(steps: list[Step]) -> list[Step]:
    """One step for the axes whose derivations read the same (``H, W: ... = 28``)."""
    out: list[Step] = []
    for step in steps:
        same = next(
            (k for k, o in enumerate(out) if o.axes and step.axes
             and (o.label, o.text, o.value) == (step.label, step.text, step.value)),
            None,
        )  # fmt: skip
        if same is None:
            out.append(step)
        else:
            out[same] = replace(out[same], axes=f"{out[same].axes}, {step.axes}")
    return out


@dataclass(frozen=True)
class Explained:
    node: Node
    steps: tuple[Step, ...]
    notes: tuple[str, ...]

    def header(self) -> str:
        shapes = ", ".join(shape_text(s) for s in self.node.input_shapes)
        return f"{self.node.name} ({self.node.kind}): {shapes} -> {shape_text(self.node.shape)}"


def _axis_names(shape: tuple[int, ...]) -> str:
    return {1: "L", 2: "HW", 3: "DHW"}.get(len(shape) - 1, "")


def _size(label: str, text: str, expression: str, value: int, axes: str = "") -> Step:
    return Step(label, text, expression, value, axes)  # tests/test_explain.py evaluates it


# -- output size, per kind -------------------------------------------------------------------


def _conv(node: Node) -> list[Step]:
    layer, shape = node.layer, node.input_shapes[0]
    k, s, p, d = layer.resolved(shape)
    steps = []
    for axis, n, kk, ss, pp, dd, out in zip(_axis_names(shape), shape[1:], k, s, p, d,
                                            node.shape[1:]):  # fmt: skip
        if layer.padding == "same":
            left, right = formulas.same_padding(kk, dd)
            expr = f"{n} + {left} + {right} - {dd}*({kk}-1)"
            text = f"{expr} (same padding: {left} before, {right} after)"
            steps.append(_size("", text, expr, out, axis))
            continue
        span = f"{kk}" if dd == 1 else f"{dd}*({kk}-1) - 1"
        inner = f"{n} + 2*{pp} - {span}"
        steps.append(_size("", f"floor(({inner}) / {ss}) + 1", f"({inner}) // {ss} + 1", out, axis))
    return steps


def _conv_transpose(node: Node) -> list[Step]:
    layer, shape = node.layer, node.input_shapes[0]
    rank = len(shape) - 1
    fields = ("kernel", "stride", "padding", "output_padding", "dilation")
    k, s, p, op, d = (per_dim(getattr(layer, f), rank, f) for f in fields)
    steps = []
    for axis, n, kk, ss, pp, oo, dd, out in zip(_axis_names(shape), shape[1:], k, s, p, op, d,
                                                node.shape[1:]):  # fmt: skip
        expr = f"({n}-1)*{ss} - 2*{pp} + {dd}*({kk}-1) + {oo} + 1"
        steps.append(_size("", expr, expr, out, axis))
    return steps


def _pool(node: Node) -> list[Step]:
    layer, shape = node.layer, node.input_shapes[0]
    rank = len(shape) - 1
    steps: list[Step] = []
    if layer.adaptive:
        how = "global pooling" if layer.kernel == "global" else "adaptive pooling, fixed at"
        for axis, out in zip(_axis_names(shape), node.shape[1:]):
            steps.append(_size("", f"{how} {out}" if "fixed" in how else how, str(out), out, axis))
        return steps
    k = per_dim(layer.kernel, rank, "kernel")
    s = per_dim(layer.stride if layer.stride is not None else layer.kernel, rank, "stride")
    p = per_dim(layer.padding, rank, "padding")
    for axis, n, kk, ss, pp, out in zip(_axis_names(shape), shape[1:], k, s, p, node.shape[1:]):
        inner = f"{n} + 2*{pp} - {kk}"
        if not layer.ceil:
            text, expr = f"floor(({inner}) / {ss}) + 1", f"({inner}) // {ss} + 1"
            steps.append(_size("", text, expr, out, axis))
            continue
        text, expr = f"ceil(({inner}) / {ss}) + 1", f"-(-({inner}) // {ss}) + 1"
        if (-(-(n + 2 * pp - kk) // ss)) * ss >= n + pp:  # PyTorch drops that last window
            text, expr = f"{text} - 1 (the last window would start in the padding)", f"{expr} - 1"
        steps.append(_size("", f"{text} (ceil mode)", expr, out, axis))
    return steps


def _upsample(node: Node) -> list[Step]:
    layer, shape = node.layer, node.input_shapes[0]
    steps = []
    for axis, n, out in zip(_axis_names(shape), shape[1:], node.shape[1:]):
        if layer.scale is None:
            steps.append(_size("", f"size {out}", str(out), out, axis))
        else:
            text, expr = f"floor({n} * {layer.scale:g})", f"math.floor({n} * {layer.scale!r})"
            steps.append(_size("", text, expr, out, axis))
    return steps


def _flatten(node: Node) -> list[Step]:
    expr = "*".join(map(str, node.input_shapes[0]))
    return [_size("features", expr, expr, node.shape[0])]


def _dense(node: Node) -> list[Step]:
    units = node.layer.units
    return [_size("features", _count(units, "unit"), str(units), units)]


def _reshape(node: Node) -> list[Step]:
    expr = "*".join(map(str, node.input_shapes[0]))
    return [_size("values", f"{expr}, rearranged as {shape_text(node.shape)}", expr,
                  prod(node.shape))]  # fmt: skip


def _concat(node: Node) -> list[Step]:
    axis = node.layer.axis
    expr = " + ".join(str(s[axis]) for s in node.input_shapes)
    if axis == 0:
        return [_size("channels", expr, expr, node.shape[0])]
    return [_size("", expr, expr, node.shape[axis], _axis_names(node.shape)[axis - 1])]


def _same(node: Node) -> list[Step]:
    return []  # element-wise: the output has its input's shape


OUTPUT_RULES: dict[str, Callable[[Node], list[Step]]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "pool": _pool,
    "upsample": _upsample,
    "flatten": _flatten,
    "dense": _dense,
    "reshape": _reshape,
    "concat": _concat,
    "add": _same,
    "multiply": _same,
    "activation": _same,
    "batchnorm": _same,
    "dropout": _same,
    "identity": _same,
}


# -- parameters, MACs, weight sharing ----------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _kernel(node: Node) -> list[int]:
    return list(per_dim(node.layer.kernel, len(node.input_shapes[0]) - 1, "kernel"))


def _costs(node: Node) -> list[Step]:
    """Parameters and MACs, where the layer has any, from the kind's own fields."""
    layer, kind, shape = node.layer, node.kind, node.input_shapes[0]
    if kind == "conv":
        per_filter = "*".join(map(str, [*_kernel(node), shape[0] // layer.groups]))
        bias = " + 1" if layer.bias else ""
        outputs = "*".join(map(str, node.shape))
        return [
            _size("params", f"{_count(layer.filters, 'filter')} x ({per_filter}{bias})",
                  f"{layer.filters}*({per_filter}{bias})", node.params),
            _size("MACs", f"{outputs} outputs x {per_filter}", f"{outputs}*{per_filter}",
                  node.macs),
        ]  # fmt: skip
    if kind == "conv_transpose":
        weights = "*".join(map(str, [shape[0], layer.filters // layer.groups, *_kernel(node)]))
        bias = f" + {layer.filters}" if layer.bias else ""
        inputs = "*".join(map(str, shape))
        per_input = "*".join(map(str, [layer.filters // layer.groups, *_kernel(node)]))
        return [
            _size("params", f"{weights} weights{bias}", f"{weights}{bias}", node.params),
            _size("MACs", f"{inputs} inputs x {per_input}", f"{inputs}*{per_input}", node.macs),
        ]  # fmt: skip
    if kind == "dense":
        bias = " + 1" if layer.bias else ""
        return [
            _size("params", f"{_count(layer.units, 'unit')} x ({shape[0]}{bias})",
                  f"{layer.units}*({shape[0]}{bias})", node.params),
            _size("MACs", f"{layer.units} x {shape[0]}", f"{layer.units}*{shape[0]}", node.macs),
        ]  # fmt: skip
    if kind == "batchnorm":
        text = f"2 x {shape[0]} channels (a scale and a shift each)"
        return [_size("params", text, f"2*{shape[0]}", node.params)]
    return []


def _sharing(node: Node) -> list[Step]:
    """What a dense layer mapping the same input to the same output would need."""
    if node.kind != "conv":
        return []
    inputs, outputs = "*".join(map(str, node.input_shapes[0])), "*".join(map(str, node.shape))
    bias = int(node.layer.bias)
    expr = f"({inputs} + 1)*{outputs}" if bias else f"{inputs}*{outputs}"
    value = (prod(node.input_shapes[0]) + bias) * prod(node.shape)
    return [_size("without weight sharing, a dense layer would need", expr, expr, value)]


# -- receptive field -----------------------------------------------------------------------------


def _field(node: Node, fields: receptive.Fields) -> tuple[list[Step], list[str]]:
    field = fields[node.name]
    if field is None:
        reason = fields.reasons.get(node.name)
        if reason:
            return [], [f"no receptive field: {reason}"]
        if len(node.shape) < 2:
            return [], ["no receptive field: the output has no spatial axes"]
        return [], ["no receptive field: an input has none"]
    before = fields[node.inputs[0]]
    windows = node.layer.windows(list(node.input_shapes), node.shape)
    if windows is None or before is None:
        if len(node.inputs) == 1:
            return [], ["receptive field: its input's"]
        steps = [
            _size(what, f"the {how} of the inputs'", str(int(v)), int(v), axis)
            for what, how, values in (("field", "union", field.size), ("jump", "jump", field.jump),
                                      ("start", "earliest start", field.start))
            for axis, v in zip(_axis_names(node.shape), values)
        ]  # fmt: skip
        return steps, [field.note] if field.note else []
    steps = []
    for axis, r, j, s, w, r_out, j_out, s_out in zip(
        _axis_names(node.shape), before.size, before.jump, before.start, windows,
        field.size, field.jump, field.start,
    ):  # fmt: skip
        r, j, s, k, st, p = (int(v) for v in (r, j, s, w.kernel, w.stride, w.padding))
        steps += [
            _size("field", f"{r} + ({k}-1)*{j}", f"{r} + ({k}-1)*{j}", int(r_out), axis),
            _size("jump", f"{j}*{st}", f"{j}*{st}", int(j_out), axis),
            _size("start", f"{s} - {p}*{j}", f"{s} - {p}*{j}", int(s_out), axis),
        ]
    return steps, []


# -- the whole graph -------------------------------------------------------------------------


def explain(graph: Graph, layer: str | None = None) -> list[Explained]:
    """The derivations of every layer, or of `layer` (a layer, or a block: every layer inside)."""
    fields = receptive.receptive_fields(graph)
    nodes = list(graph.nodes) if layer is None else select(graph, layer)
    out = []
    for node in nodes:
        rule = OUTPUT_RULES.get(node.kind)
        if rule is None:
            raise NotImplementedError(f"explain has no derivation for layer kind `{node.kind}`")
        field_steps, notes = _field(node, fields)
        steps = [*rule(node), *_costs(node), *_sharing(node), *field_steps]
        out.append(Explained(node, tuple(_merge_axes(steps)), tuple(notes)))
    return out


def select(graph: Graph, name: str) -> list[Node]:
    """The layer `name`, or every layer of the block `name`; a UsageError with the closest
    name otherwise."""
    nodes = [n for n in graph.nodes if n.name == name or n.name.startswith(name + ".")]
    if nodes:
        return nodes
    names = [n.name for n in graph.nodes]
    scopes = {".".join(n.split(".")[:k]) for n in names for k in range(1, n.count(".") + 1)}
    close = difflib.get_close_matches(name, [*names, *sorted(scopes)], n=1, cutoff=0.5)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    raise UsageError(f"the spec has no layer or block `{name}`{hint}", code="E402")


def to_text(graph: Graph, explained: list[Explained]) -> str:
    lines = [f"{graph.name}: how archc computes each layer", CHANNELS_FIRST, ""]
    for item in explained:
        lines.append(item.header())
        lines += [f"  {step.line()}" for step in item.steps]
        lines += [f"  {note}" for note in item.notes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_markdown(graph: Graph, explained: list[Explained]) -> str:
    lines = [f"# {graph.name}: how archc computes each layer", "", CHANNELS_FIRST, ""]
    for item in explained:
        lines += [f"## `{item.node.name}`", "", f"{item.header()}", ""]
        lines += [f"- `{step.line()}`" for step in item.steps]
        lines += [f"- {note}" for note in item.notes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_json(graph: Graph, explained: list[Explained]) -> dict:
    return {
        "name": graph.name,
        "note": CHANNELS_FIRST,
        "layers": [
            {
                "name": item.node.name,
                "type": item.node.kind,
                "input": [list(s) for s in item.node.input_shapes],
                "output": list(item.node.shape),
                "steps": [asdict(step) for step in item.steps],
                "notes": list(item.notes),
            }
            for item in explained
        ],
    }
