"""Layers without a window: dense, flatten, reshape, activation, batchnorm, dropout, identity."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from archc.errors import LayerError
from archc.layers.base import Activated, Activation, Layer, PositiveInt, Shape, fmt_shape, prod
from archc.layers.footprint import Footprint, Tensor, weighted
from archc.receptive import Field as ReceptiveField


class Dense(Layer, Activated):
    """Fully connected layer on a flat input: ``params = units * (in + 1)``."""

    type: Literal["dense"]
    units: PositiveInt
    bias: bool = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) != 1:
            raise LayerError(
                f"dense needs a flat input [F]. Received: input {fmt_shape(shape)}",
                code="E305",
                help=f"add `{{type: flatten}}` before this layer (giving [{prod(shape)}])",
            )
        return (self.units,)

    def param_count(self, inputs: list[Shape], output: Shape) -> int:
        return self.units * inputs[0][0] + (self.units if self.bias else 0)

    def mac_count(self, inputs: list[Shape], output: Shape) -> int:
        return self.units * inputs[0][0]

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        return {"bias": self.units} if self.bias else {}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return weighted(self.bias)


class Flatten(Layer):
    """Flattens [C, *spatial] into [C * prod(spatial)]."""

    type: Literal["flatten"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return (prod(inputs[0]),)

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint(view=True)


class Reshape(Layer):
    """Reshapes to `shape` (without the batch); one entry may be -1 to infer it."""

    type: Literal["reshape"]
    shape: Annotated[list[int], Field(min_length=1, max_length=4)]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        total = prod(inputs[0])
        known = prod(tuple(v for v in self.shape if v != -1))
        free = self.shape.count(-1)
        if free > 1 or any(v < 1 and v != -1 for v in self.shape):
            raise LayerError(
                f"`shape` takes positive sizes and at most one -1. Received: shape={self.shape}",
                code="E303",
                field="shape",
            )
        if (free and total % known) or (not free and known != total):
            raise LayerError(
                f"cannot reshape {fmt_shape(inputs[0])} ({total} values) into {self.shape}",
                code="E306",
                field="shape",
            )
        return tuple(total // known if v == -1 else v for v in self.shape)

    def receptive_field(
        self, fields: list[ReceptiveField], inputs: list[Shape], output: Shape
    ) -> ReceptiveField | None:
        """Kept only when nothing moves: a reshape reorders values across the spatial axes."""
        return fields[0] if output == inputs[0] and len(output) > 1 else None

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint(view=True)


class ActivationLayer(Layer):
    """A stand-alone activation function (``fn: relu``); softmax runs over channels."""

    type: Literal["activation"]
    fn: Activation

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        return {"activation": prod(output)} if self.fn != "none" else {}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        # What the function keeps is the activation table's (ACTIVATION_SAVES), read for an
        # activation layer as for a layer's own `activation`.
        return Footprint()


class BatchNorm(Layer, Activated):
    """Batch normalisation over channels: 2 trainable parameters per channel."""

    type: Literal["batchnorm"]
    eps: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1e-5
    momentum: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.1

    def output_shape(self, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) > 4:
            raise LayerError(f"batchnorm takes up to 3 spatial dims. Received: {fmt_shape(shape)}")
        return shape

    def param_count(self, inputs: list[Shape], output: Shape) -> int:
        return 2 * inputs[0][0]

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        # Inference form: one multiply and one add per value (scale and shift per channel).
        return {"norm": 2 * prod(output)}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        # Training mode keeps the input and the batch's mean and inverse standard deviation;
        # the running mean and variance and the count of batches seen are buffers.
        channels = inputs[0][0]
        stats = Tensor(channels, per_sample=False)
        count = Tensor(1, per_sample=False, dtype="int64")
        return Footprint(
            saves_inputs=(0,), saves_new=(stats, stats), buffers=(stats, stats, count),
            param_tensors=2,
        )  # fmt: skip


class Dropout(Layer):
    """Dropout with probability `rate` during training; the identity at inference."""

    type: Literal["dropout"]
    rate: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.5

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        # On the CPU the mask is a tensor of the model's dtype (scaled by 1 / (1 - rate)).
        return Footprint(saves_new=(Tensor(prod(output)),))


class Identity(Layer):
    """Passes its input through unchanged (a named tap for graphs)."""

    type: Literal["identity"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        return Footprint(view=True)
