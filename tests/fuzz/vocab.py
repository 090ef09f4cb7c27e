"""The words the generator draws from: layer kinds, activation names, tricky and bad names."""

from __future__ import annotations

ACTIVATIONS = [
    "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "softmax",
]  # fmt: skip
FNS = [*ACTIVATIONS, "none"]
KINDS = [
    "conv", "conv_transpose", "pool", "dense", "flatten", "batchnorm", "dropout", "activation",
    "identity", "reshape", "upsample", "add", "multiply", "concat",
]  # fmt: skip
MERGES = ("add", "multiply", "concat")
ACTIVATED = ("conv", "conv_transpose", "dense", "batchnorm", "add", "multiply")
# Names that are legal for archc but may trip a code generator (locals, builtins it calls).
TRICKY_NAMES = [
    "x", "y", "out", "m", "a0", "getattr", "int", "len", "print", "sum", "max", "tuple_",
    "Tensor", "input_", "layer", "block", "conv", "relu", "cat", "reshape", "size", "shape",
    "add_", "x_1", "out_1", "y_1", "Sequential", "ModuleList", "torch_", "x0",
]  # fmt: skip
# Names for block parameters, per role: the plain one, or one that may shadow a name the
# generated class uses (a builtin of the expression language, a local, a module alias).
ROLE_NAMES = {
    "f": [
        "filters",
        "width",
        "max",
        "in_channels",
        "out",
        "x",
        "nn",
        "channels",
        "input_channels",
        "skip_channels",
    ],
    "s": ["stride", "min", "self", "torch", "super"],
    "k": ["kernel", "abs", "int", "F", "kernel_size"],
    "p": ["pad", "padding", "getattr", "len", "y"],
    "flag": ["project", "use", "bool", "enabled"],
    "act": ["fn", "activation", "str", "act_fn"],
}
# Names that archc must refuse.
BAD_NAMES = [
    "1a", "a-b", "class", "forward", "training", "self", "torch", "F", "nn", "__init__",
    "match", "None", "a b", "", "conv.", "x.y", "\u04411", "_x",
]  # fmt: skip
