"""Merges of several inputs: element-wise `add` and `multiply`, and `concat` along an axis."""

from __future__ import annotations

from typing import Literal

from archc.errors import LayerError
from archc.layers.base import Activated, Layer, NonNegativeInt, Shape, fmt_shape, prod
from archc.layers.footprint import Footprint
from archc.receptive import Field, Irregular, union


def _axis_name(shape: Shape, axis: int) -> str:
    if axis == 0:
        return "channels" if len(shape) > 1 else "features"
    names = {2: "L", 3: "HW", 4: "DHW"}.get(len(shape), "")
    return names[axis - 1] if axis - 1 < len(names) else f"dim {axis}"


class ElementWise(Layer, Activated):
    """Element-wise merge: every input must have the same shape."""

    min_inputs = 2
    max_inputs = None

    def output_shape(self, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for i, shape in enumerate(inputs[1:], start=1):
            if shape == first:
                continue
            if len(shape) != len(first):
                detail = f"they have {len(first)} and {len(shape)} dimensions"
            else:
                axis = next(a for a, (x, y) in enumerate(zip(first, shape)) if x != y)
                detail = f"{_axis_name(first, axis)} differ: {first[axis]} vs {shape[axis]}"
            raise LayerError(
                f"{self.type} needs inputs of the same shape; {detail}. Received: inputs "
                f"{fmt_shape(first)} and {fmt_shape(shape)}",
                code="E310",
                field="inputs",
                notes=(f"input 0 is {fmt_shape(first)}, input {i} is {fmt_shape(shape)}",),
                help="project the shortcut with a 1x1 conv (and stride) to match",
            )
        return first

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        return {"merge": (len(inputs) - 1) * prod(output)}

    def receptive_field(
        self, fields: list[Field], inputs: list[Shape], output: Shape
    ) -> Field | None:
        return union(fields) if len(output) > 1 else None


class Add(ElementWise):
    """Element-wise sum (a residual connection)."""

    type: Literal["add"]

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint()  # the gradient of a sum is the incoming gradient


class Multiply(ElementWise):
    """Element-wise product (gating, attention)."""

    type: Literal["multiply"]

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint(products=True)  # ``(a * b) * c``: see Footprint.products


class Concat(Layer):
    """Concatenation along `axis` (0 = channels); every other dimension must match."""

    min_inputs = 2
    max_inputs = None

    type: Literal["concat"]
    axis: NonNegativeInt = 0

    def output_shape(self, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        if self.axis >= len(first):
            raise LayerError(
                f"`axis` {self.axis} is out of range for input {fmt_shape(first)}",
                code="E303",
                field="axis",
            )
        for i, shape in enumerate(inputs[1:], start=1):
            others = [a for a in range(max(len(first), len(shape))) if a != self.axis]
            if len(shape) != len(first) or any(first[a] != shape[a] for a in others):
                raise LayerError(
                    f"concat along {_axis_name(first, self.axis)} needs all other dimensions to "
                    f"match. Received: inputs {fmt_shape(first)} and {fmt_shape(shape)}",
                    code="E311",
                    field="inputs",
                    notes=(f"input 0 is {fmt_shape(first)}, input {i} is {fmt_shape(shape)}",),
                    help="resize one branch (pool, upsample or crop) so the spatial sizes match",
                )
        total = sum(shape[self.axis] for shape in inputs)
        return (*first[: self.axis], total, *first[self.axis + 1 :])

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint()  # the gradient is sliced from the incoming one

    def receptive_field(
        self, fields: list[Field], inputs: list[Shape], output: Shape
    ) -> Field | None:
        if len(output) < 2:
            return None
        if self.axis:
            raise Irregular(
                "a concat along a spatial axis puts different inputs side by side: its "
                "elements see fields of different inputs"
            )
        return union(fields)
