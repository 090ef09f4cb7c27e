"""What a layer costs in memory besides its parameters: the tensors its backward keeps.

Each layer kind answers `Layer.footprint(inputs, output)` with a `Footprint`: which of its inputs
(and whether its own output) autograd saves for the backward pass, the new tensors it saves
(max pooling's int64 indices, batchnorm's per-channel statistics, dropout's mask), the buffers
it holds (batchnorm's running statistics) and how many parameter tensors it has (Adam keeps a
step count for each). The rules are PyTorch's on the CPU, read from what
`torch.autograd.graph.saved_tensors_hooks` sees. A layer none of whose inputs needs a gradient
and that has no parameters (a pooling of the network input) keeps nothing: autograd does not
record it. tests/test_memory_bill.py measures every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What each activation function's backward keeps, out of place and in place: its input, its
# result, a copy of its input made for the backward, or nothing. In place
# (``F.relu(x, inplace=True)``) the input no longer exists once overwritten: ReLU and leaky ReLU
# keep their result, while ReLU6 (hardtanh) keeps a copy of its input that autograd makes
# first. Functions without an in-place form in the generated code have no second entry.
Keeps = Literal["input", "output", "copy", "nothing"]
ACTIVATION_SAVES: dict[str, tuple[Keeps, Keeps]] = {
    "none": ("nothing", "nothing"),
    "relu": ("output", "output"),
    "relu6": ("input", "copy"),
    "leaky_relu": ("input", "output"),
    "sigmoid": ("output", "output"),
    "tanh": ("output", "output"),
    "gelu": ("input", "input"),
    "silu": ("input", "input"),
    "hardswish": ("input", "input"),
    "softmax": ("output", "output"),
}


@dataclass(frozen=True)
class Tensor:
    """A tensor a layer creates besides its output: `values` elements, per sample or not."""

    values: int
    per_sample: bool = True
    dtype: Literal["model", "int64"] = "model"  # "model": the dtype the model runs in


@dataclass(frozen=True)
class Footprint:
    """A layer's memory besides its parameters (see the module docstring)."""

    saves_inputs: tuple[int, ...] = ()  # positions of the inputs its backward keeps
    saves_output: bool = False  # its own output, before any fused activation
    saves_new: tuple[Tensor, ...] = ()  # tensors it creates only for its backward
    buffers: tuple[Tensor, ...] = ()
    param_tensors: int = 0
    view: bool = False  # its output shares its (first) input's storage
    # Its output is the product ``(a * b) * c ...``: each product keeps each operand for the
    # other's gradient, so only where the other needs one (the network input does not).
    products: bool = False


def weighted(bias: bool) -> Footprint:
    """A convolution or dense layer: its backward keeps its input (and its weight)."""
    return Footprint(saves_inputs=(0,), param_tensors=2 if bias else 1)
