"""What each layer kind becomes in PyTorch: its module constructor and its forward step.

Each layer kind has one entry in `MODULES` (its ``nn`` constructor) or, where its forward step
is not a module call, one in `CALLS`; activations have one entry in `ACTIVATIONS`. All values
are rendered through `codegen.lit`, never pasted from the spec.
"""

from __future__ import annotations

from collections.abc import Callable

from archc.analyse import Node
from archc.emit.codegen import Code, CodegenError, call, lit

# -- per-kind modules ------------------------------------------------------------------------


class Args:
    """What a module constructor needs to know about one layer, as code.

    `code(field)` is the rendered value of a field the spec writes, or None for a field left
    at its default (so the generated call leaves it out, as a person would). Structural
    choices (pool mode, global or adaptive pooling) are read from the concrete `layer`.
    """

    def __init__(self, node: Node) -> None:
        self.layer = node.layer
        self.rank = len(node.input_shapes[0]) - 1
        self.in_channels = Code(lit(node.input_shapes[0][0]))

    def code(self, field: str) -> Code | None:
        value = getattr(self.layer, field)
        if field not in self.layer.model_fields_set or value is None:
            return None
        return value_code(value)

    def need(self, field: str) -> Code:
        return self.code(field) or value_code(getattr(self.layer, field))


def value_code(value: object) -> Code:
    """A field value as code; a one-element size list means the same size in every dim."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return Code(lit(value))


def _conv(a: Args) -> str:
    return call(
        f"nn.Conv{a.rank}d", a.in_channels, a.need("filters"),
        kernel_size=a.need("kernel"), stride=a.code("stride"), padding=a.code("padding"),
        dilation=a.code("dilation"), groups=a.code("groups"), bias=a.code("bias"),
    )  # fmt: skip


def _conv_transpose(a: Args) -> str:
    return call(
        f"nn.ConvTranspose{a.rank}d", a.in_channels, a.need("filters"),
        kernel_size=a.need("kernel"), stride=a.code("stride"), padding=a.code("padding"),
        output_padding=a.code("output_padding"), groups=a.code("groups"), bias=a.code("bias"),
        dilation=a.code("dilation"),
    )  # fmt: skip


def _pool(a: Args) -> str:
    mode = "Max" if a.layer.mode == "max" else "Avg"
    if a.layer.kernel == "global":
        return call(f"nn.Adaptive{mode}Pool{a.rank}d", "1")
    if a.layer.output is not None:
        return call(f"nn.Adaptive{mode}Pool{a.rank}d", a.need("output"))
    return call(
        f"nn.{mode}Pool{a.rank}d", a.need("kernel"),
        stride=a.code("stride"), padding=a.code("padding"), ceil_mode=a.code("ceil"),
    )  # fmt: skip


def _dense(a: Args) -> str:
    return call("nn.Linear", a.in_channels, a.need("units"), bias=a.code("bias"))


def _batchnorm(a: Args) -> str:
    return call(
        f"nn.BatchNorm{max(a.rank, 1)}d", a.in_channels, eps=a.code("eps"),
        momentum=a.code("momentum"),
    )  # fmt: skip


def _upsample(a: Args) -> str:
    return call(
        "nn.Upsample", size=a.code("size"), scale_factor=a.code("scale"), mode=a.code("mode")
    )


MODULES: dict[str, Callable[[Args], str]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "pool": _pool,
    "dense": _dense,
    "batchnorm": _batchnorm,
    "dropout": lambda a: call("nn.Dropout", p=a.code("rate")),
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


# Activations that can overwrite their input, as torchvision applies them after a convolution,
# a batchnorm or a linear layer: those layers' backward needs their input, not their output,
# so overwriting the output saves a tensor and a pass over memory at no cost to autograd.
INPLACE_ACTIVATIONS: dict[str, str] = {
    "relu": "F.relu({}, inplace=True)",
    "relu6": "F.relu6({}, inplace=True)",
    "leaky_relu": "F.leaky_relu({}, inplace=True)",
}
INPLACE_ACTIVATION_MODULES: dict[str, str] = {
    "relu": "nn.ReLU(inplace=True)",
    "relu6": "nn.ReLU6(inplace=True)",
    "leaky_relu": "nn.LeakyReLU(inplace=True)",
}
# Kinds whose forward returns a new tensor that their own backward does not read.
_FRESH_KINDS = frozenset({"conv", "conv_transpose", "batchnorm", "dense", "add"})


def activate(fn: str, expr: str, inplace: bool = False) -> str:
    table = INPLACE_ACTIVATIONS if inplace and fn in INPLACE_ACTIVATIONS else ACTIVATIONS
    return table[fn].format(expr)


def fresh_output(node: Node) -> bool:
    """Whether the layer's output is a new tensor that no backward reads, so a later
    operation may overwrite it (the residual ``out += identity``)."""
    return node.kind in _FRESH_KINDS and activation_of(node) == "none"


def overwrites(node: Node) -> bool:
    """Whether the layer is an activation that can work in place on a fresh input."""
    return node.kind == "activation" and node.layer.fn in INPLACE_ACTIVATIONS


def sums(node: Node) -> bool:
    """Whether the layer adds inputs of its own shape, so that one of them can hold the sum."""
    return node.kind == "add" and all(shape == node.shape for shape in node.input_shapes)


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


def sequential_modules(node: Node, after_fresh: bool = False) -> list[str] | None:
    """The modules one layer contributes to an `nn.Sequential`, or None if it cannot.

    `after_fresh`: the layer reads a fresh value private to the Sequential (the output of the
    child before it, see `fresh_output`), so an activation layer may overwrite it.
    """
    if node.kind in MODULES:
        modules = [module_expr(node)]
    elif node.kind == "activation" and after_fresh and node.layer.fn in INPLACE_ACTIVATIONS:
        modules = [INPLACE_ACTIVATION_MODULES[node.layer.fn]]
    elif node.kind in SEQUENTIAL_MODULES:
        modules = [SEQUENTIAL_MODULES[node.kind](node)]
    else:
        return None
    activation = activation_module(node)
    return modules if activation is None else [*modules, activation]


def activation_module(node: Node) -> str | None:
    """The module form of the layer's own activation, in place where its output allows."""
    fn = activation_of(node)
    if fn == "none":
        return None
    inplace = node.kind in _FRESH_KINDS and fn in INPLACE_ACTIVATION_MODULES
    return (INPLACE_ACTIVATION_MODULES if inplace else ACTIVATION_MODULES)[fn]


def has_module(node: Node) -> bool:
    return node.kind in MODULES


def module_expr(node: Node, args: Args | None = None) -> str:
    """The module constructor of `node` (values from `args`, concrete by default)."""
    try:
        return MODULES[node.kind](args or Args(node))
    except KeyError:
        raise CodegenError(
            f"the source emitter has no module for layer kind `{node.kind}`"
        ) from None


def step_expr(node: Node, args: list[str], module: str, overwrite: bool = False) -> str:
    """The forward expression of one node, its activation applied.

    `overwrite`: the node's input is a fresh value read by nothing else, so an activation
    layer may work in place on it.
    """
    if node.kind == "activation" and overwrite and node.layer.fn in INPLACE_ACTIVATIONS:
        return activate(node.layer.fn, args[0], inplace=True)
    if node.kind in MODULES:
        expr = f"{module}({', '.join(args)})"
    elif node.kind in CALLS:
        expr = CALLS[node.kind](node, args)
    else:
        raise CodegenError(f"the source emitter has no forward step for `{node.kind}`")
    return activate(activation_of(node), expr, inplace=node.kind in _FRESH_KINDS)
