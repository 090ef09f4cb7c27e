"""What each layer kind becomes in PyTorch: its module constructor and its forward step.

Each layer kind has one entry in `MODULES` (its ``nn`` constructor) or, where its forward step
is not a module call, one in `CALLS`; activations have one entry in `ACTIVATIONS`. All values
are rendered through `codegen.lit`, never pasted from the spec.
"""

from __future__ import annotations

from collections.abc import Callable

from archc.analyse import Node
from archc.emit.codegen import CodegenError, call, lit, optional_size, size_lit
from archc.layers.base import per_dim

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


# Module forms, for layers inside an `nn.Sequential`.
ACTIVATION_MODULES: dict[str, str] = {
    "relu": "nn.ReLU()",
    "relu6": "nn.ReLU6()",
    "leaky_relu": "nn.LeakyReLU()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "gelu": "nn.GELU()",
    "silu": "nn.SiLU()",
    "hardswish": "nn.Hardswish()",
    "softmax": "nn.Softmax(dim=1)",
}
SEQUENTIAL_MODULES: dict[str, Callable[[Node], str]] = {
    "flatten": lambda node: "nn.Flatten()",
    "identity": lambda node: "nn.Identity()",
    "activation": lambda node: ACTIVATION_MODULES.get(node.layer.fn, "nn.Identity()"),
}


def activation_of(node: Node) -> str:
    return getattr(node.layer, "activation", "none")


def sequential_modules(node: Node) -> list[str] | None:
    """The modules one layer contributes to an `nn.Sequential`, or None if it cannot."""
    if node.kind in MODULES:
        modules = [MODULES[node.kind](node)]
    elif node.kind in SEQUENTIAL_MODULES:
        modules = [SEQUENTIAL_MODULES[node.kind](node)]
    else:
        return None
    if activation_of(node) != "none":
        modules.append(ACTIVATION_MODULES[activation_of(node)])
    return modules


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
    return activate(activation_of(node), expr)
