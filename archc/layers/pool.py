"""Pooling: max or average over a window, global, or adaptive to a fixed output size."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from archc import formulas
from archc.errors import LayerError
from archc.layers.base import (
    Layer,
    Padding,
    Shape,
    Size,
    fmt_shape,
    per_dim,
    prod,
    rule_error,
    sizes,
    spatial_rank,
)
from archc.layers.conv import shrink_error
from archc.layers.footprint import Footprint, Tensor
from archc.receptive import Irregular, Window

PoolKernel = sizes(1, ("global",))


class Pool(Layer):
    """Max or average pooling.

    Window pooling: ``out = floor((in + 2p - k) / s) + 1`` (``ceil`` on request, dropping a last
    window that would start in the right padding). ``kernel: global`` or ``output: [h, w]`` give
    adaptive pooling, whose output size is exactly ``output`` (``1`` per dim for global).
    """

    type: Literal["pool"]
    mode: Literal["max", "avg"] = "max"
    kernel: PoolKernel | None = None
    stride: Size | None = None
    padding: Padding = 0
    ceil: bool = False
    output: Size | None = None

    @model_validator(mode="after")
    def _kernel_or_output(self) -> Pool:
        if self.kernel is None and self.output is None:
            raise rule_error(
                "a pool needs `kernel` (a window, or `global`) or `output` (adaptive pooling)",
                "E202",
            )
        if self.kernel is not None and self.output is not None:
            raise rule_error("a pool takes `kernel` or `output`, not both", "E303", "output")
        if self.adaptive:
            defaults = {"stride": None, "padding": 0, "ceil": False}  # written out by `expand`
            given = [f for f, default in defaults.items() if getattr(self, f) != default]
            if given:
                raise rule_error(
                    f"global and adaptive pooling take no `{given[0]}`: the output size is "
                    "fixed. Received: " + ", ".join(f"{f}={getattr(self, f)}" for f in given),
                    "E303",
                    given[0],
                )
        return self

    @property
    def adaptive(self) -> bool:
        return self.output is not None or self.kernel == "global"

    def adaptive_size(self, rank: int) -> tuple[int, ...]:
        return (1,) * rank if self.kernel == "global" else per_dim(self.output, rank, "output")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        rank = spatial_rank("pool", shape)
        if self.adaptive:
            return (shape[0], *self.adaptive_size(rank))
        k = per_dim(self.kernel, rank, "kernel")
        s = per_dim(self.stride if self.stride is not None else self.kernel, rank, "stride")
        p = per_dim(self.padding, rank, "padding")
        out = []
        for dim, (n, kk, ss, pp) in enumerate(zip(shape[1:], k, s, p)):
            if self.mode == "avg" and rank == 3 and n < kk:  # PyTorch's avg_pool3d refuses it
                raise LayerError(
                    f"3-D average pooling needs each input dimension at least the kernel size, "
                    f"padding aside. Received: input {fmt_shape(shape)}, kernel={self.kernel}",
                    code="E302",
                    field="kernel",
                )
            if 2 * pp > kk:
                raise LayerError(
                    f"pool padding must be at most half the kernel. "
                    f"Received: padding={self.padding}, kernel={self.kernel}",
                    code="E303",
                    field="padding",
                )
            size = formulas.pool_out(n, kk, ss, pp, ceil=self.ceil)
            if size < 1:
                rounding = "ceil" if self.ceil else "floor"
                arithmetic = f"{rounding}(({n} + 2*{pp} - {kk}) / {ss}) + 1"
                raise shrink_error(self, shape, dim, k, arithmetic, size)
            out.append(size)
        return (shape[0], *out)

    def window_sizes(self, inputs: list[Shape], output: Shape) -> list[int]:
        """Per output position (of one channel), how many input values its window holds:
        the kernel's volume, or for adaptive pooling PyTorch's windows
        ``[floor(i*n/o), ceil((i+1)*n/o))`` per axis, which may differ in size."""
        rank = len(inputs[0]) - 1
        if not self.adaptive:
            return [prod(per_dim(self.kernel, rank, "kernel"))] * prod(output[1:])
        sizes = [1]
        for n, o in zip(inputs[0][1:], output[1:]):
            axis = [-(-(i + 1) * n // o) - i * n // o for i in range(o)]
            sizes = [a * b for a in sizes for b in axis]
        return sizes

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        # Max: k - 1 comparisons per window of k values; average: k - 1 adds and a divide.
        per_window = -1 if self.mode == "max" else 0
        ops = sum(k + per_window for k in self.window_sizes(inputs, output))
        return {"pool": output[0] * ops}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        # Max pooling keeps its input and the int64 index of each maximum; average pooling
        # its input, except to a single value, which PyTorch computes as a mean (sizes only).
        if self.mode == "max":
            return Footprint(saves_inputs=(0,), saves_new=(Tensor(prod(output), dtype="int64"),))
        if self.adaptive and all(n == 1 for n in output[1:]):
            return Footprint()
        return Footprint(saves_inputs=(0,))

    def windows(self, inputs: list[Shape], output: Shape) -> tuple[Window, ...]:
        """A window, or for adaptive pooling the ``n/o`` windows that tile the input exactly."""
        (shape,) = inputs
        rank = len(shape) - 1
        if not self.adaptive:
            k = per_dim(self.kernel, rank, "kernel")
            s = per_dim(self.stride if self.stride is not None else self.kernel, rank, "stride")
            return tuple(map(Window.conv, k, s, per_dim(self.padding, rank, "padding")))
        for n, o in zip(shape[1:], output[1:]):
            if n % o:
                raise Irregular(
                    f"adaptive pooling from {n} to {o} uses windows of different sizes, so its "
                    "elements see fields of different sizes"
                )
        return tuple(Window.conv(n // o, n // o) for n, o in zip(shape[1:], output[1:]))
