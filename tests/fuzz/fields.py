"""Drawing one layer: its kind, and fields that fit its input shape (or, by mistake, not).

`layer_fields` looks the kind up in `FIELDS`, a table from layer kind to one small function
`(gen, input_shape, fields) -> None` that adds the kind's fields in the order they are written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .base import GenBase
from .oracle import Shape
from .state import divisors
from .vocab import ACTIVATED, ACTIVATIONS, FNS, KINDS

_WINDOWED = ("conv", "conv_transpose", "pool", "upsample")


class FieldsMixin(GenBase):
    def choose_kind(self, s: Shape | None) -> str:
        if s is None or self.mistake(0.3):
            return self.d.pick(KINDS)
        if len(s) == 1:
            weights = {
                "dense": 5, "batchnorm": 1, "dropout": 1, "activation": 1.5, "identity": 0.5,
                "reshape": 1, "flatten": 0.3, "add": 1, "multiply": 0.5, "concat": 1,
            }  # fmt: skip
        else:
            big = max(s[1:]) > 14 or math.prod(s) > 3000
            weights = {
                "conv": 5, "conv_transpose": 0.4 if big else 2, "pool": 4 if big else 2.5,
                "batchnorm": 2, "dropout": 0.7, "activation": 1.5, "identity": 0.5,
                "reshape": 0.7, "flatten": 1, "upsample": 0.2 if big else 1.5, "add": 1.5,
                "multiply": 0.7, "concat": 1.5,
            }  # fmt: skip
        return self.d.weighted(weights)

    def layer_fields(self, kind: str, s: Shape | None) -> dict:
        """Fields (without type/name/inputs) for a `kind` layer on input shape `s`."""
        d = self.d
        f: dict[str, Any] = {}
        if s is None or len(s) < 2 and kind in _WINDOWED:
            s = (d.int(1, 4), *([d.int(1, 8)] * d.int(1, 2)))  # blind
        draw = FIELDS.get(kind)
        if draw is None:
            raise ValueError(f"no field drawing for layer kind {kind!r}")
        draw(self, s, f)
        if kind in ACTIVATED and d.coin(0.35):
            f["activation"] = d.pick([*ACTIVATIONS, "none"])
        return f

    def mutate_fields(self, kind: str, f: dict) -> tuple[str, dict]:
        """One deliberate mistake in a layer's fields."""
        d = self.d
        what = d.weighted(
            {"value": 5, "unknown_key": 1, "missing": 1, "kind": 1, "extra": 1, "huge": 0.5}
        )
        self.ok = False
        if what == "huge":
            return self.huge_fields(kind, f)
        if what == "value" and f:
            key = d.pick(sorted(f))
            f[key] = self.bad_value(f[key])
        elif what == "value":
            f[d.pick(["kernel", "units", "rate", "fn", "scale", "axis"])] = self.bad_value(None)
        elif what == "unknown_key":
            f[d.pick(["kernal", "filter", "stides", "activaton", "unit", "foo"])] = 1
            self.features.add("unknown-key")
        elif what == "missing" and f:
            f.pop(d.pick(sorted(f)))
            self.features.add("missing-key")
        elif what == "kind":
            kind = d.pick(["convv", "Conv", "dense2", "lstm", "pool2d", "", "block"])
            self.features.add("bad-kind")
        else:  # a key that belongs to another kind
            f[d.pick(["filters", "units", "kernel", "output", "scale", "size", "axis", "ceil"])] = 2
            self.features.add("foreign-key")
        return kind, f

    def huge_fields(self, kind: str, f: dict) -> tuple[str, dict]:
        """Over the parameter or activation budget (such specs are never built)."""
        d = self.d
        self.features.add("huge")
        if kind == "dense":
            f["units"] = d.pick([10**7, 3 * 10**9])
        elif kind in ("conv", "conv_transpose"):
            f["filters"] = d.pick([10**6, 10**9])
        elif kind == "upsample":
            f.pop("size", None)
            f["scale"] = d.pick([10**5, 1e6, 1e154, 1e300])
        else:
            kind, f = "dense", {"units": 10**10}
        return kind, f


# -- convolutions ----------------------------------------------------------------------------


def _conv(g: GenBase, s: Shape, f: dict) -> None:
    d, rank = g.d, len(s) - 1
    f["filters"] = s[0] if d.coin(0.4) else d.int(1, 8)
    if d.coin(0.25):
        _conv_groups(g, s[0], f)
    dil = (1,) * rank
    if d.coin(0.2):
        dil = g.per_dim_draw(rank, lambda j: 1, lambda j: 2)
        f["dilation"] = g.size_value(dil)
    how = d.weighted({"none": 3, "int": 4, "same": 2, "valid": 1})
    pad = (0,) * rank
    if how == "int":
        pad = g.per_dim_draw(rank, lambda j: 0, lambda j: 2)
        f["padding"] = g.size_value(pad)
    elif how in ("same", "valid"):
        f["padding"] = how
    f["kernel"] = g.size_value(_conv_stride_kernel(g, s, f, how == "same", pad, dil))
    if d.coin(0.2):
        f["bias"] = d.coin(0.3)


def _conv_groups(g: GenBase, c: int, f: dict) -> None:
    """Grouped, or depthwise (groups = channels) when the channels are few."""
    d = g.d
    common = [n for n in divisors(c) if f["filters"] % n == 0]
    if d.coin(0.5) and c <= 8:  # depthwise
        f["filters"] = c * d.int(1, 2)
        f["groups"] = c
    else:
        f["groups"] = d.pick(common)


def _conv_stride_kernel(
    g: GenBase, s: Shape, f: dict, same: bool, pad: tuple, dil: tuple
) -> tuple[int, ...]:
    """Maybe a stride (only 1 with `same` padding); the kernel, small enough to fit."""
    d, rank = g.d, len(s) - 1
    if same:
        if d.coin(0.2):
            f["stride"] = g.size_value((1,) * rank)
        return g.per_dim_draw(rank, lambda j: 1, lambda j: 5)
    if d.coin(0.4):
        f["stride"] = g.size_value(g.per_dim_draw(rank, lambda j: 1, lambda j: 3))
    return g.per_dim_draw(
        rank,
        lambda j: 1,
        lambda j: min(5, (s[1 + j] + 2 * pad[j] - 1) // dil[j] + 1),
    )


def _conv_transpose(g: GenBase, s: Shape, f: dict) -> None:
    d, rank = g.d, len(s) - 1
    f["filters"] = d.int(1, 6)
    if d.coin(0.2):
        f["groups"] = d.pick([n for n in divisors(s[0]) if f["filters"] % n == 0])
    st_ = (1,) * rank
    if d.coin(0.7):
        st_ = g.per_dim_draw(rank, lambda j: 1, lambda j: 3)
        f["stride"] = g.size_value(st_)
    dil = (1,) * rank
    if d.coin(0.2):
        dil = g.per_dim_draw(rank, lambda j: 1, lambda j: 2)
        f["dilation"] = g.size_value(dil)
    k = g.per_dim_draw(rank, lambda j: 1, lambda j: 4)
    f["kernel"] = g.size_value(k)
    op = (0,) * rank
    if d.coin(0.3):
        op = g.per_dim_draw(rank, lambda j: 0, lambda j: max(st_[j], dil[j]) - 1)
        f["output_padding"] = g.size_value(op)
    if d.coin(0.4):
        pad = g.per_dim_draw(
            rank,
            lambda j: 0,
            lambda j: min(2, ((s[1 + j] - 1) * st_[j] + dil[j] * (k[j] - 1) + op[j]) // 2),
        )
        f["padding"] = g.size_value(pad)
    if d.coin(0.2):
        f["bias"] = d.coin(0.3)


# -- pooling and resampling ------------------------------------------------------------------


def _pool(g: GenBase, s: Shape, f: dict) -> None:
    d, rank = g.d, len(s) - 1
    if d.coin(0.5):
        f["mode"] = d.pick(["max", "avg"])
    how = d.weighted({"window": 7, "global": 1.5, "output": 1.5})
    if how == "global":
        f["kernel"] = "global"
    elif how == "output":
        f["output"] = g.size_value(g.per_dim_draw(rank, lambda j: 1, lambda j: max(3, s[1 + j])))
    else:
        _pool_window(g, s, f)


def _pool_window(g: GenBase, s: Shape, f: dict) -> None:
    """A window that fits: padding at most half the kernel, kernel at most the padded input."""
    d, rank = g.d, len(s) - 1
    pad = (0,) * rank
    if d.coin(0.4):
        pad = g.per_dim_draw(rank, lambda j: 0, lambda j: 1)
        f["padding"] = g.size_value(pad)
    k = g.per_dim_draw(
        rank,
        lambda j: max(1, 2 * pad[j]),
        lambda j: min(4, s[1 + j] + 2 * pad[j]),
    )
    f["kernel"] = g.size_value(k)
    if d.coin(0.5):
        f["stride"] = g.size_value(g.per_dim_draw(rank, lambda j: 1, lambda j: 3))
    if d.coin(0.3):
        f["ceil"] = d.coin(0.7)


def _upsample(g: GenBase, s: Shape, f: dict) -> None:
    d, rank = g.d, len(s) - 1
    if d.coin(0.5):
        scales = [2, 3, 0.5, 1.5, 2.5, 1, 0.75, 1.25, 0.4, 2.0, 1.7]
        good = [x for x in scales if all(math.floor(n * x) >= 1 for n in s[1:])]
        f["scale"] = d.pick(good or [2])
    else:
        f["size"] = g.size_value(g.per_dim_draw(rank, lambda j: 1, lambda j: 12))
    if rank == 2 and d.coin(0.5):
        f["mode"] = d.pick(["bilinear", "nearest"])
    elif d.coin(0.2):
        f["mode"] = "nearest"


# -- the others ------------------------------------------------------------------------------


def _dense(g: GenBase, s: Shape, f: dict) -> None:
    f["units"] = g.d.int(1, 12)
    if g.d.coin(0.2):
        f["bias"] = g.d.coin(0.3)


def _batchnorm(g: GenBase, s: Shape, f: dict) -> None:
    if g.d.coin(0.15):
        f["eps"] = g.d.pick([1e-3, 0.1, 1, 1e-5])
    if g.d.coin(0.15):
        f["momentum"] = g.d.pick([0.01, 0.5, 1, 1.0])


def _dropout(g: GenBase, s: Shape, f: dict) -> None:
    if g.d.coin(0.5):
        f["rate"] = g.d.pick([0, 0.0, 0.1, 0.25, 0.5, 0.9, 0.999])


def _activation(g: GenBase, s: Shape, f: dict) -> None:
    f["fn"] = g.d.pick(FNS)


def _reshape(g: GenBase, s: Shape, f: dict) -> None:
    """A target shape from the divisors of the element count, maybe with one -1."""
    d = g.d
    total = math.prod(s)
    how = d.weighted({"flat": 1, "two": 3, "three": 2, "four": 1})
    if how == "flat":
        f["shape"] = d.pick([[total], [-1]])
        return
    parts, rest = [], total
    for _ in range({"two": 1, "three": 2, "four": 3}[how]):
        c = d.pick(divisors(rest))
        parts.append(c)
        rest //= c
    parts.append(rest)
    if d.coin(0.5):
        parts[d.int(0, len(parts) - 1)] = -1
    f["shape"] = parts


def _no_fields(g: GenBase, s: Shape, f: dict) -> None:
    """flatten, identity and the merges (a concat's axis is chosen with its partners)."""


FIELDS: dict[str, Callable[[GenBase, Shape, dict], None]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "pool": _pool,
    "dense": _dense,
    "flatten": _no_fields,
    "batchnorm": _batchnorm,
    "dropout": _dropout,
    "activation": _activation,
    "identity": _no_fields,
    "reshape": _reshape,
    "upsample": _upsample,
    "add": _no_fields,
    "multiply": _no_fields,
    "concat": _no_fields,
}
