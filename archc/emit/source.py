"""Emit a standalone, readable PyTorch module (Python source) from an analysed graph.

The source is built as a list of lines and joined once. Spec text never reaches the output
verbatim: names pass `ident` (Python's identifier rules and keyword list, plus a namespace that
refuses duplicates), values pass `lit` (ints, floats, bools and tuples of them, or a fixed set
of option words), and the description becomes comment text stripped of control characters.
The same graph always gives byte-identical source.

Each layer kind has one entry in `MODULES` (its ``nn`` constructor, or none) and, where its
forward step is not a plain module call, one in `CALLS`.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from archc.analyse import Graph, Node
from archc.layers.base import Shape, per_dim

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORDS = frozenset({"same", "nearest", "bilinear"})


class CodegenError(Exception):
    """A value reached the code generator that it must not render (an archc bug)."""


def ident(name: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name) or keyword.iskeyword(name):
        raise CodegenError(f"not a safe identifier: {name!r}")
    return name


class Code(str):
    """Source text already rendered by this module (by `lit` or `size_lit`)."""


def lit(value: object) -> str:
    """Render a Python literal; only ints, floats, bools, option words and tuples of them."""
    if isinstance(value, Code):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodegenError(f"not a finite float: {value!r}")
        return repr(value)
    if isinstance(value, str) and value in _WORDS:
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        items = [lit(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise CodegenError(f"cannot render {value!r} as a literal")


def size_lit(values: tuple[int, ...]) -> Code:
    """A per-dimension size: one int when all dims agree, else a tuple."""
    return Code(lit(values[0]) if len(set(values)) == 1 else lit(values))


def optional_size(values: tuple[int, ...], default: int) -> Code | None:
    """`size_lit(values)`, or None (the keyword is left out) when every dim has the default."""
    return None if all(v == default for v in values) else size_lit(values)


def call(fn: str, *args: str, **kwargs: object) -> str:
    """``fn(a, b, k=v)`` with keyword values rendered by `lit`; None-valued keywords are omitted."""
    parts = [*args, *(f"{k}={lit(v)}" for k, v in kwargs.items() if v is not None)]
    return f"{fn}({', '.join(parts)})"


def shape_text(shape: Shape) -> str:
    return "x".join(map(str, shape))


# -- per-kind modules ------------------------------------------------------------------------


def _rank(node: Node) -> int:
    return len(node.input_shapes[0]) - 1


def _conv(node: Node) -> str:
    layer, rank = node.layer, _rank(node)
    k, s, p, d = layer.resolved(node.input_shapes[0])
    return call(
        f"nn.Conv{rank}d",
        lit(node.input_shapes[0][0]),
        lit(layer.filters),
        kernel_size=size_lit(k),
        stride=optional_size(s, 1),
        padding="same" if layer.padding == "same" else optional_size(p, 0),
        dilation=optional_size(d, 1),
        groups=layer.groups if layer.groups != 1 else None,
        bias=False if not layer.bias else None,
    )


def _conv_transpose(node: Node) -> str:
    layer, rank = node.layer, _rank(node)
    k, s, p, op, d = (
        per_dim(getattr(layer, f), rank, f)
        for f in ("kernel", "stride", "padding", "output_padding", "dilation")
    )
    return call(
        f"nn.ConvTranspose{rank}d",
        lit(node.input_shapes[0][0]),
        lit(layer.filters),
        kernel_size=size_lit(k),
        stride=optional_size(s, 1),
        padding=optional_size(p, 0),
        output_padding=optional_size(op, 0),
        groups=layer.groups if layer.groups != 1 else None,
        bias=False if not layer.bias else None,
        dilation=optional_size(d, 1),
    )


def _pool(node: Node) -> str:
    layer, rank = node.layer, _rank(node)
    mode = "Max" if layer.mode == "max" else "Avg"
    if layer.adaptive:
        return call(f"nn.Adaptive{mode}Pool{rank}d", size_lit(layer.adaptive_size(rank)))
    k = per_dim(layer.kernel, rank, "kernel")
    s = per_dim(layer.stride if layer.stride is not None else layer.kernel, rank, "stride")
    p = per_dim(layer.padding, rank, "padding")
    return call(
        f"nn.{mode}Pool{rank}d",
        size_lit(k),
        stride=None if s == k else size_lit(s),
        padding=optional_size(p, 0),
        ceil_mode=True if layer.ceil else None,
    )


def _dense(node: Node) -> str:
    bias = False if not node.layer.bias else None
    return call("nn.Linear", lit(node.input_shapes[0][0]), lit(node.layer.units), bias=bias)


def _batchnorm(node: Node) -> str:
    layer = node.layer
    return call(
        f"nn.BatchNorm{max(_rank(node), 1)}d",
        lit(node.input_shapes[0][0]),
        eps=layer.eps if layer.eps != 1e-5 else None,
        momentum=layer.momentum if layer.momentum != 0.1 else None,
    )


def _upsample(node: Node) -> str:
    layer = node.layer
    size = per_dim(layer.size, _rank(node), "size") if layer.size is not None else None
    return call(
        "nn.Upsample",
        size=size_lit(size) if size else None,
        scale_factor=layer.scale,
        mode=layer.mode,
    )


MODULES: dict[str, Callable[[Node], str]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "pool": _pool,
    "dense": _dense,
    "batchnorm": _batchnorm,
    "dropout": lambda node: call("nn.Dropout", p=float(node.layer.rate)),
    "upsample": _upsample,
}

# Forward expressions for kinds that are not a plain module call; `args` are variable names.
CALLS: dict[str, Callable[[Node, list[str]], str]] = {
    "flatten": lambda node, args: f"torch.flatten({args[0]}, 1)",
    "identity": lambda node, args: args[0],
    "activation": lambda node, args: activate(node.layer.fn, args[0]),
    "reshape": lambda node, args: call(
        f"{args[0]}.reshape", f"{args[0]}.size(0)", *map(lit, node.layer.shape)
    ),
    "add": lambda node, args: " + ".join(args),
    "multiply": lambda node, args: " * ".join(args),
    "concat": lambda node, args: f"torch.cat([{', '.join(args)}], dim={lit(node.layer.axis + 1)})",
}

ACTIVATIONS: dict[str, str] = {
    "relu": "F.relu({})",
    "relu6": "F.relu6({})",
    "leaky_relu": "F.leaky_relu({})",
    "sigmoid": "torch.sigmoid({})",
    "tanh": "torch.tanh({})",
    "gelu": "F.gelu({})",
    "silu": "F.silu({})",
    "hardswish": "F.hardswish({})",
    "softmax": "F.softmax({}, dim=1)",
    "none": "{}",
}


def activate(fn: str, expr: str) -> str:
    return ACTIVATIONS[fn].format(expr)


def has_module(node: Node) -> bool:
    return node.kind in MODULES


def module_expr(node: Node) -> str:
    try:
        return MODULES[node.kind](node)
    except KeyError:
        raise CodegenError(
            f"the source emitter has no module for layer kind `{node.kind}`"
        ) from None


def step_expr(node: Node, args: list[str], module: str) -> str:
    """The forward expression of one node, its activation applied."""
    if node.kind in MODULES:
        expr = f"{module}({', '.join(args)})"
    elif node.kind in CALLS:
        expr = CALLS[node.kind](node, args)
    else:
        raise CodegenError(f"the source emitter has no forward step for `{node.kind}`")
    return activate(getattr(node.layer, "activation", "none"), expr)


# -- the module ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One forward statement: ``target = expr  # shape``."""

    node: Node
    target: str
    expr: str


class Namespace:
    """Hands out local variable names: refuses keywords, reserved words and duplicates."""

    RESERVED = frozenset({"self", "torch", "nn", "F", "x"}) | frozenset(dir(builtins))

    def __init__(self) -> None:
        self.used: set[str] = set()

    def name(self, wanted: str) -> str:
        base = ident(wanted)
        name, n = base, 1
        while name in self.used or name in self.RESERVED or keyword.iskeyword(name):
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name


def plan_forward(graph: Graph) -> tuple[list[Step], list[str]]:
    """Forward statements and returned variables.

    A value lives in `x` when its only use is the very next step (a chain); a value used
    elsewhere, or later, gets a variable named after its layer.
    """
    order = [graph.input_name, *(n.name for n in graph.nodes)]
    position = {name: i for i, name in enumerate(order)}
    uses: dict[str, list[int]] = {name: [] for name in order}
    for node in graph.nodes:
        for name in node.inputs:
            uses[name].append(position[node.name])
    for name in graph.outputs:
        uses[name].append(len(order))

    ns = Namespace()
    var: dict[str, str] = {}
    for name in order:
        chained = len(uses[name]) == 1 and uses[name][0] == position[name] + 1
        var[name] = "x" if chained else ns.name(name)

    steps = []
    if var[graph.input_name] != "x":
        steps.append(Step(None, var[graph.input_name], "x"))
    for node in graph.nodes:
        expr = step_expr(node, [var[n] for n in node.inputs], f"self.{ident(node.name)}")
        steps.append(Step(node, var[node.name], expr))
    return steps, [var[name] for name in graph.outputs]


def comment_text(text: str) -> str:
    """Spec text made safe for a comment: printable characters on one line."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def to_source(graph: Graph) -> str:
    """The complete, standalone Python module for `graph`."""
    cls = ident(graph.name)
    steps, returns = plan_forward(graph)
    out_type = (
        "torch.Tensor"
        if len(returns) == 1
        else ("tuple[" + ", ".join(["torch.Tensor"] * len(returns)) + "]")
    )
    in_shape = shape_text(graph.input_shape)

    lines = [f"# {cls}: generated by archc; needs only PyTorch."]
    if graph.spec.description:
        lines.append(f"# {comment_text(graph.spec.description)}")
    lines += [
        f"# Input: N x {in_shape}. Parameters: {graph.params:,}. MACs per sample: {graph.macs:,}.",
        "",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        "",
        f"class {cls}(nn.Module):",
        "    def __init__(self) -> None:",
        "        super().__init__()",
    ]
    for node in graph.nodes:
        if has_module(node):
            lines.append(f"        self.{ident(node.name)} = {module_expr(node)}")
    lines += ["", f"    def forward(self, x: torch.Tensor) -> {out_type}:"]
    lines.append(f"        # x: N x {in_shape}")
    for step in steps:
        statement = f"        {step.target} = {step.expr}"
        if step.target == step.expr:
            continue
        comment = f"  # {shape_text(step.node.shape)}" if step.node else ""
        lines.append(statement + comment)
    lines.append(f"        return {', '.join(returns)}")
    return "\n".join(lines) + "\n"
