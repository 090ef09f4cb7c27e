"""Convolutions: `conv` (1-D, 2-D, 3-D, grouped and depthwise) and `conv_transpose`."""

from __future__ import annotations

from typing import Literal

from archc import formulas
from archc.errors import LayerError
from archc.layers.base import (
    Activated,
    Layer,
    Padding,
    PositiveInt,
    Shape,
    Size,
    fmt_shape,
    per_dim,
    prod,
    sizes,
    spatial_rank,
)
from archc.layers.footprint import Footprint, weighted
from archc.receptive import Irregular, Window

ConvPadding = sizes(0, ("same", "valid"))


def check_groups(channels: int, filters: int, groups: int) -> None:
    for what, n in (("input channels", channels), ("filters", filters)):
        if n % groups:
            raise LayerError(
                f"{what} must be divisible by `groups`. Received: groups={groups}, "
                f"{what.replace('input ', 'in_')}={n}",
                code="E304",
                field="groups",
                help=f"choose groups among the common divisors of {channels} and {filters}",
            )


def shrink_error(
    layer: Layer, shape: Shape, dim: int, kernel: tuple[int, ...], arithmetic: str, out: int
) -> LayerError:
    """The error for a window that does not fit its input, with the failing arithmetic."""
    axis = "HW"[dim] if len(shape) == 3 else "DHW"[dim] if len(shape) == 4 else "L"
    window = "x".join(map(str, kernel))
    size = "x".join(map(str, shape[1:]))
    fields = ("kernel", "stride", "padding", "output_padding", "dilation")
    received = ", ".join(
        f"{f}={getattr(layer, f)}" if getattr(layer, f) is not None else f"{f}={layer.kernel}"
        for f in fields
        if hasattr(layer, f)  # a pool's stride is its kernel unless given
    )
    field, help = "kernel", "add padding, or use a smaller kernel, stride or dilation"
    if layer.type == "conv_transpose":  # padding crops its output: less of it helps
        field, help = "padding", "use less padding, or a larger kernel, stride or output_padding"
    return LayerError(
        f"the {window} {layer.type} window does not fit the {size} input: the output would have "
        f"size {out} along {axis}. Received: input {fmt_shape(shape)}, {received}",
        code="E302",
        field=field,
        notes=(f"{axis}: {arithmetic} = {out}",),
        help=help,
    )


class Conv(Layer, Activated):
    """Convolution: ``out = floor((in + 2p - d*(k-1) - 1) / s) + 1`` per spatial dim."""

    type: Literal["conv"]
    filters: PositiveInt
    kernel: Size
    stride: Size = 1
    padding: ConvPadding = 0
    dilation: Size = 1
    groups: PositiveInt = 1
    bias: bool = True

    def resolved(self, shape: Shape) -> tuple[tuple[int, ...], ...]:
        """Kernel, stride, dilation and (left) padding, one value per spatial dim."""
        rank = spatial_rank("conv", shape)
        k = per_dim(self.kernel, rank, "kernel")
        s = per_dim(self.stride, rank, "stride")
        d = per_dim(self.dilation, rank, "dilation")
        if self.padding == "valid":
            p = (0,) * rank
        elif self.padding == "same":
            if any(v != 1 for v in s):
                raise LayerError(
                    "`padding: same` needs stride 1, as in PyTorch. "
                    f"Received: stride={self.stride}",
                    code="E303",
                    field="padding",
                    help="use an explicit padding such as (kernel - 1) // 2 with this stride",
                )
            p = tuple(formulas.same_padding(kk, dd)[0] for kk, dd in zip(k, d))
        else:
            p = per_dim(self.padding, rank, "padding")
        return k, s, p, d

    def output_shape(self, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        k, s, p, d = self.resolved(shape)
        check_groups(shape[0], self.filters, self.groups)
        if self.padding == "same":
            return (self.filters, *shape[1:])
        out = []
        for dim, (n, kk, ss, pp, dd) in enumerate(zip(shape[1:], k, s, p, d)):
            size = formulas.conv_out(n, kk, ss, pp, dd)
            if size < 1:
                arithmetic = f"floor(({n} + 2*{pp} - {dd}*({kk}-1) - 1) / {ss}) + 1"
                raise shrink_error(self, shape, dim, k, arithmetic, size)
            out.append(size)
        return (self.filters, *out)

    def windows(self, inputs: list[Shape], output: Shape) -> tuple[Window, ...]:
        return tuple(Window.conv(*w) for w in zip(*self.resolved(inputs[0])))

    def param_count(self, inputs: list[Shape], output: Shape) -> int:
        k = per_dim(self.kernel, len(inputs[0]) - 1, "kernel")
        weights = self.filters * (inputs[0][0] // self.groups) * prod(k)
        return weights + (self.filters if self.bias else 0)

    def mac_count(self, inputs: list[Shape], output: Shape) -> int:
        k = per_dim(self.kernel, len(inputs[0]) - 1, "kernel")
        return prod(output) * (inputs[0][0] // self.groups) * prod(k)

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        return {"bias": prod(output)} if self.bias else {}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return weighted(self.bias)


class ConvTranspose(Layer, Activated):
    """Transposed convolution: ``out = (in-1)*s - 2p + d*(k-1) + output_padding + 1``."""

    type: Literal["conv_transpose"]
    filters: PositiveInt
    kernel: Size
    stride: Size = 1
    padding: Padding = 0
    output_padding: Padding = 0
    dilation: Size = 1
    groups: PositiveInt = 1
    bias: bool = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        rank = spatial_rank("conv_transpose", shape)
        k, s, p, op, d = (
            per_dim(getattr(self, f), rank, f)
            for f in ("kernel", "stride", "padding", "output_padding", "dilation")
        )
        check_groups(shape[0], self.filters, self.groups)
        out = []
        for dim, (n, kk, ss, pp, oo, dd) in enumerate(zip(shape[1:], k, s, p, op, d)):
            if oo >= max(ss, dd):
                raise LayerError(
                    f"`output_padding` must be smaller than stride or dilation. "
                    f"Received: output_padding={self.output_padding}, stride={self.stride}",
                    code="E303",
                    field="output_padding",
                )
            size = formulas.conv_transpose_out(n, kk, ss, pp, oo, dd)
            if size < 1:
                arithmetic = f"({n}-1)*{ss} - 2*{pp} + {dd}*({kk}-1) + {oo} + 1"
                raise shrink_error(self, shape, dim, k, arithmetic, size)
            out.append(size)
        return (self.filters, *out)

    def windows(self, inputs: list[Shape], output: Shape) -> tuple[Window, ...]:
        rank = len(inputs[0]) - 1
        k, s, p, d = (
            per_dim(getattr(self, f), rank, f) for f in ("kernel", "stride", "padding", "dilation")
        )
        if any(v > 1 for v in s):  # outputs read 1 or 2 inputs in turn (see Upsample.windows)
            raise Irregular(
                f"a transposed convolution with stride {self.stride} spreads each input over "
                "several outputs unevenly, so their fields differ from element to element"
            )
        return tuple(Window.transposed(*w) for w in zip(k, p, d))

    def param_count(self, inputs: list[Shape], output: Shape) -> int:
        k = per_dim(self.kernel, len(inputs[0]) - 1, "kernel")
        weights = inputs[0][0] * (self.filters // self.groups) * prod(k)
        return weights + (self.filters if self.bias else 0)

    def mac_count(self, inputs: list[Shape], output: Shape) -> int:
        # Every input element meets every weight of its group once.
        k = per_dim(self.kernel, len(inputs[0]) - 1, "kernel")
        return prod(inputs[0]) * (self.filters // self.groups) * prod(k)

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        return {"bias": prod(output)} if self.bias else {}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return weighted(self.bias)
