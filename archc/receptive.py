"""Receptive fields: which input pixels each output element of a layer can see.

The arithmetic of Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural
Networks" (Distill, 2019), run forward through the analysed graph, one spatial axis at a time.
A layer's field along an axis has three numbers, in input pixels:

- ``size``: the extent of one output element's field;
- ``jump``: how far the field moves from one output element to the next (the effective stride);
- ``start``: where the field of element 0 begins (negative: it reaches into the padding).

Element ``i`` sees the input pixels ``x`` with ``start + i*jump <= x <= start + i*jump + size - 1``
(clipped to the input). A layer reads, per axis, a `Window` of its input elements, and

    size_out  = size_in + (kernel - 1) * jump_in
    jump_out  = jump_in * stride
    start_out = start_in - padding * jump_in

Merges take the union of their inputs' fields (with a note where the branches' fields are not
centred alike). A layer whose elements see fields of different sizes has no single field and
reports why: upsampling and strided transposed convolutions (neighbouring outputs read one or
two inputs in turn, so their fields form a staircase), adaptive pooling to a size that does not
divide its input, a concat along a spatial axis; so do the layers after it. Layers without
spatial axes (flatten, dense) have none either: each of their values may depend on every pixel
the last spatial layer's fields cover. Clipping to the input is exact except where a strided
layer's last window stops short of its input's end: the pixels after it are read by no layer.

The layer kinds hold their own rules (`Layer.windows`, `Layer.receptive_field` in
archc/layers/); this module holds the shared arithmetic and the walk through a graph. Values are
`Fraction`s so that nothing is ever rounded (a field's centre can fall between two pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archc.analyse import Graph


class Irregular(Exception):
    """A layer whose window differs from element to element: it has no receptive field."""


@dataclass(frozen=True)
class Window:
    """What one output element reads of its input along an axis, in input elements.

    `kernel` is the extent (a dilated kernel's ``d*(k-1) + 1``), `stride` the step between
    consecutive output elements, `padding` how far before input element 0 window 0 begins.
    """

    kernel: Fraction
    stride: Fraction
    padding: Fraction

    @classmethod
    def conv(cls, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Window:
        return cls(Fraction(dilation * (kernel - 1) + 1), Fraction(stride), Fraction(padding))

    @classmethod
    def transposed(cls, kernel: int, padding: int = 0, dilation: int = 1) -> Window:
        """A transposed convolution of stride 1: a convolution with ``d*(k-1) - p`` padding."""
        span = dilation * (kernel - 1)
        return cls(Fraction(span + 1), Fraction(1), Fraction(span - padding))


@dataclass(frozen=True)
class Field:
    """A layer's receptive field, one value per spatial axis (see the module docstring)."""

    size: tuple[Fraction, ...]
    jump: tuple[Fraction, ...]
    start: tuple[Fraction, ...]
    note: str = ""  # where branches that meet do not align

    @property
    def centre(self) -> tuple[Fraction, ...]:
        """The centre of element 0's field: ``start + (size - 1)/2``."""
        return tuple(s + (r - 1) / 2 for s, r in zip(self.start, self.size))

    @classmethod
    def pixel(cls, rank: int) -> Field:
        """The network input: each element sees itself."""
        one, zero = (Fraction(1),) * rank, (Fraction(0),) * rank
        return cls(one, one, zero)

    def through(self, windows: tuple[Window, ...]) -> Field:
        """The field of a layer that reads `windows` of an input whose field is `self`."""
        return Field(
            tuple(r + (w.kernel - 1) * j for r, j, w in zip(self.size, self.jump, windows)),
            tuple(j * w.stride for j, w in zip(self.jump, windows)),
            tuple(s - w.padding * j for s, j, w in zip(self.start, self.jump, windows)),
        )

    def bounds(self, index: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """The first and last input pixel that output element `index` sees, per axis, unclipped."""
        out = []
        for i, r, j, s in zip(index, self.size, self.jump, self.start):
            lo = s + i * j
            out.append((_ceil(lo), _floor(lo + r - 1)))
        return tuple(out)


def union(fields: list[Field]) -> Field:
    """The field of a merge: every input's field, joined. Raises Irregular where the inputs'
    jumps differ (the union then changes from element to element)."""
    first = fields[0]
    for other in fields[1:]:
        if other.jump != first.jump:
            raise Irregular(
                f"the merged branches move by different jumps ({text(first.jump)} and "
                f"{text(other.jump)} pixels per element)"
            )
    start = tuple(min(axis) for axis in zip(*(f.start for f in fields)))
    end = tuple(max(axis) for axis in zip(*(tuple(s + r for s, r in zip(f.start, f.size))
                                            for f in fields)))  # fmt: skip
    notes = [f.note for f in fields if f.note]
    if len({f.centre for f in fields}) > 1:
        notes.append(
            "the merged branches' fields are not centred alike: centres at "
            + " and ".join(text(f.centre) for f in fields)
        )
    return Field(
        tuple(e - s for s, e in zip(start, end)),
        first.jump,
        start,
        notes[-1] if notes else "",
    )


@dataclass(frozen=True)
class Fields:
    """Every layer's field in a graph (None: the layer has none), and why where it has none."""

    by_name: dict[str, Field | None]
    reasons: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Field | None:
        return self.by_name[name]


def receptive_fields(graph: Graph) -> Fields:
    """The receptive field of the network input and of every layer of `graph`."""
    input_shape = graph.input_shape
    rank = len(input_shape) - 1
    by_name: dict[str, Field | None] = {graph.input_name: Field.pixel(rank) if rank else None}
    reasons: dict[str, str] = {}
    for node in graph.nodes:
        inputs = [by_name[name] for name in node.inputs]
        if any(f is None for f in inputs):
            by_name[node.name] = None
            continue
        try:
            by_name[node.name] = node.layer.receptive_field(
                inputs, list(node.input_shapes), node.shape
            )
        except Irregular as exc:
            by_name[node.name] = None
            reasons[node.name] = str(exc)
    return Fields(by_name, reasons)


# -- text ------------------------------------------------------------------------------------


def number(value: Fraction) -> int | str:
    """A whole number as an int, else the exact fraction as text (``"5/2"``)."""
    return int(value) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def text(values: tuple[Fraction, ...]) -> str:
    """``16`` when every axis agrees, else ``16x20``."""
    shown = [str(number(v)) for v in values]
    return shown[0] if len(set(shown)) == 1 else "x".join(shown)


def to_json(f: Field | None) -> dict | None:
    """``{"size": [...], "jump": [...], "start": [...]}``: ints, or fractions as ``"5/2"``."""
    if f is None:
        return None
    doc: dict = {
        "size": [number(v) for v in f.size],
        "jump": [number(v) for v in f.jump],
        "start": [number(v) for v in f.start],
    }
    if f.note:
        doc["note"] = f.note
    return doc


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)
