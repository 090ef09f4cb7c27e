"""Upsampling by a scale factor or to a fixed size, nearest or bilinear."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from archc import formulas
from archc.errors import LayerError
from archc.layers.base import (
    Layer,
    Shape,
    Size,
    fmt_shape,
    per_dim,
    prod,
    rule_error,
    spatial_rank,
)
from archc.layers.footprint import Footprint
from archc.receptive import Irregular, Window


def _scale(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise PydanticCustomError("archc_scale", "expected a positive number such as 2")
    if not math.isfinite(value) or value > MAX_SCALE:
        raise PydanticCustomError("archc_scale", "must be at most {limit}", {"limit": MAX_SCALE})
    return value


MAX_SCALE = 1024


Scale = Annotated[
    float, PlainValidator(_scale), WithJsonSchema({"type": "number", "exclusiveMinimum": 0})
]


class Upsample(Layer):
    """Upsampling: ``out = floor(in * scale)``, or exactly `size`."""

    type: Literal["upsample"]
    scale: Scale | None = None
    size: Size | None = None
    mode: Literal["nearest", "bilinear"] = "nearest"

    @model_validator(mode="after")
    def _scale_or_size(self) -> Upsample:
        if self.scale is None and self.size is None:
            raise rule_error(
                "upsample needs `scale` (a factor) or `size` (the output size)", "E202"
            )
        if self.scale is not None and self.size is not None:
            raise rule_error("upsample takes `scale` or `size`, not both", "E303", "size")
        return self

    def output_shape(self, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        rank = spatial_rank("upsample", shape)
        if self.mode == "bilinear" and rank != 2:
            raise LayerError(
                f"bilinear upsampling needs a [C, H, W] input. Received: input {fmt_shape(shape)}",
                code="E305",
                field="mode",
            )
        if self.size is not None:
            return (shape[0], *per_dim(self.size, rank, "size"))
        out = tuple(formulas.upsample_out(n, self.scale) for n in shape[1:])
        if min(out) < 1:
            raise LayerError(
                f"scale {self.scale} shrinks the input to nothing. Received: input "
                f"{fmt_shape(shape)}",
                code="E302",
                field="scale",
            )
        return (shape[0], *out)

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        # Bilinear: PyTorch's kernel form h0*(w0*a + w1*b) + h1*(w0*c + w1*d), 6 multiplies and
        # 3 adds per value; nearest copies.
        return {"resample": 9 * prod(output)} if self.mode == "bilinear" else {}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint()  # the backward needs only the sizes

    def windows(self, inputs: list[Shape], output: Shape) -> tuple[Window, ...]:
        """Only a size kept as is has one field: after upsampling, neighbouring outputs read
        the same input pixel (nearest: ``floor(o/2)``), so their fields differ element by
        element, a staircase that no single size, jump and start describes."""
        if output[1:] != inputs[0][1:]:
            raise Irregular(
                "after upsampling, neighbouring elements share input pixels unevenly, so their "
                "fields differ from element to element"
            )
        return tuple(Window.conv(1) for _ in output[1:])
