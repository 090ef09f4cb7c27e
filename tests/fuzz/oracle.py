"""The generator's shape oracle: PyTorch's shape rules, written independently of archc.

`layer_shape(kind, fields, input_shapes)` gives the output shape PyTorch would compute, or
raises `Invalid`. Each layer kind has one small rule in `RULES`. The oracle only guides the
generator toward valid specs and feeds its statistics; the tests judge archc against PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .values import UNKNOWN
from .vocab import ACTIVATED, FNS, MERGES

Shape = tuple[int, ...]


class Invalid(Exception):
    """The oracle's verdict: PyTorch (or archc's documented rules) would refuse this."""


def is_int(v: Any) -> bool:
    return type(v) is int


def per_dim(value: Any, rank: int, minimum: int) -> tuple[int, ...]:
    """A size written as an int, a one-element list or a full list, as one value per dim."""
    if is_int(value):
        vals = (value,) * rank
    elif isinstance(value, list) and len(value) == 1:
        vals = tuple(value) * rank
    elif isinstance(value, list) and len(value) == rank and rank <= 3:
        vals = tuple(value)
    else:
        raise Invalid(f"bad size {value!r} for rank {rank}")
    if not all(is_int(v) and v >= minimum for v in vals):
        raise Invalid(f"bad size {value!r}")
    return vals


def _pos_int(v: Any) -> int:
    if not is_int(v) or v < 1:
        raise Invalid(f"not a positive int: {v!r}")
    return v


def _spatial(shape: Shape) -> int:
    rank = len(shape) - 1
    if rank not in (1, 2, 3):
        raise Invalid("needs [C, *spatial]")
    return rank


def _positive(out: list[int]) -> list[int]:
    if min(out) < 1:
        raise Invalid("shrinks")
    return out


def layer_shape(kind: str, f: dict, shapes: list[Shape]) -> Shape:
    """The output shape PyTorch would give, or Invalid. `f` holds resolved field values."""
    try:
        return _layer_shape(kind, f, shapes)
    except (KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise Invalid(f"malformed: {exc!r}") from None


def _layer_shape(kind: str, f: dict, shapes: list[Shape]) -> Shape:
    if any(v is UNKNOWN for v in f.values()):
        raise Invalid("unknown value")
    if kind in MERGES:
        if len(shapes) < 2:
            raise Invalid("merge needs 2 inputs")
    elif len(shapes) != 1:
        raise Invalid("takes one input")
    if kind in ACTIVATED and f.get("activation", "none") not in FNS:
        raise Invalid("bad activation")
    rule = RULES.get(kind)
    if rule is None:
        raise Invalid(f"unknown kind {kind}")
    return rule(f, shapes)


# -- convolutions ----------------------------------------------------------------------------


def _conv_common(f: dict, s: Shape) -> tuple[int, int, tuple, tuple, tuple]:
    """Checks shared by conv and conv_transpose: (rank, filters, kernel, stride, dilation)."""
    rank = _spatial(s)
    filters, groups = _pos_int(f["filters"]), _pos_int(f.get("groups", 1))
    if "bias" in f and not isinstance(f["bias"], bool):
        raise Invalid("bias")
    if s[0] % groups or filters % groups:
        raise Invalid("groups")
    k = per_dim(f["kernel"], rank, 1)
    st_ = per_dim(f.get("stride", 1), rank, 1)
    d = per_dim(f.get("dilation", 1), rank, 1)
    return rank, filters, k, st_, d


def _conv(f: dict, shapes: list[Shape]) -> Shape:
    """out = (n + 2p - d(k - 1) - 1) // s + 1; `same` keeps n (stride 1 only)."""
    s = shapes[0]
    rank, filters, k, st_, d = _conv_common(f, s)
    pad = f.get("padding", 0)
    if pad == "same":
        if any(v != 1 for v in st_):
            raise Invalid("same needs stride 1")
        return (filters, *s[1:])
    p = (0,) * rank if pad == "valid" else per_dim(pad, rank, 0)
    out = [
        (n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, ss, pp, dd in zip(s[1:], k, st_, p, d)
    ]
    return (filters, *_positive(out))


def _conv_transpose(f: dict, shapes: list[Shape]) -> Shape:
    """out = (n - 1)s - 2p + d(k - 1) + output_padding + 1."""
    s = shapes[0]
    rank, filters, k, st_, d = _conv_common(f, s)
    p = per_dim(f.get("padding", 0), rank, 0)
    op = per_dim(f.get("output_padding", 0), rank, 0)
    if any(o >= ss and o >= dd for o, ss, dd in zip(op, st_, d)):
        raise Invalid("output_padding")
    out = [
        (n - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1
        for n, kk, ss, pp, oo, dd in zip(s[1:], k, st_, p, op, d)
    ]
    return (filters, *_positive(out))


# -- pooling ---------------------------------------------------------------------------------


def _pool(f: dict, shapes: list[Shape]) -> Shape:
    s = shapes[0]
    rank = _spatial(s)
    if f.get("mode", "max") not in ("max", "avg"):
        raise Invalid("mode")
    kernel, output = f.get("kernel"), f.get("output")
    if (kernel is None) == (output is None):
        raise Invalid("kernel xor output")
    if output is not None:
        if f.get("stride") is not None or f.get("padding", 0) != 0 or f.get("ceil", False):
            raise Invalid("adaptive takes no window options")
        return (s[0], *per_dim(output, rank, 1))
    if kernel == "global":  # (stride, padding and ceil mean nothing here)
        return (s[0],) + (1,) * rank
    return (s[0], *_pool_window(f, s, rank))


def _pool_window(f: dict, s: Shape, rank: int) -> list[int]:
    """out = floor_or_ceil((n + 2p - k) / s) + 1, a ceil window starting in the padding dropped."""
    k = per_dim(f["kernel"], rank, 1)
    st_ = per_dim(f["stride"], rank, 1) if f.get("stride") is not None else k
    p = per_dim(f.get("padding", 0), rank, 0)
    ceil = f.get("ceil", False)
    if not isinstance(ceil, bool):
        raise Invalid("ceil")
    out = []
    for n, kk, ss, pp in zip(s[1:], k, st_, p):
        if pp > kk // 2:
            raise Invalid("pad at most half the kernel")
        span = n + 2 * pp - kk
        o = (-(-span // ss) if ceil else span // ss) + 1
        if ceil and (o - 1) * ss >= n + pp:
            o -= 1
        if o < 1:
            raise Invalid("shrinks")
        out.append(o)
    return out


# -- the others ------------------------------------------------------------------------------


def _dense(f: dict, shapes: list[Shape]) -> Shape:
    if len(shapes[0]) != 1:
        raise Invalid("dense needs [F]")
    return (_pos_int(f["units"]),)


def _flatten(f: dict, shapes: list[Shape]) -> Shape:
    return (math.prod(shapes[0]),)


def _reshape(f: dict, shapes: list[Shape]) -> Shape:
    """At most one -1, inferred from the total; otherwise the totals must agree."""
    shape = f["shape"]
    if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
        raise Invalid("shape")
    if not all(is_int(v) for v in shape) or shape.count(-1) > 1:
        raise Invalid("shape")
    if any(v < 1 and v != -1 for v in shape):
        raise Invalid("shape")
    total, known = math.prod(shapes[0]), math.prod(v for v in shape if v != -1)
    if -1 in shape:
        if total % known:
            raise Invalid("reshape")
        return tuple(total // known if v == -1 else v for v in shape)
    if known != total:
        raise Invalid("reshape")
    return tuple(shape)


def _same_shape(f: dict, shapes: list[Shape]) -> Shape:
    return shapes[0]


def _activation(f: dict, shapes: list[Shape]) -> Shape:
    if f.get("fn") not in FNS:
        raise Invalid("fn")
    return shapes[0]


def _upsample(f: dict, shapes: list[Shape]) -> Shape:
    """out = floor(n * scale), or the given size."""
    s = shapes[0]
    rank = _spatial(s)
    mode = f.get("mode", "nearest")
    if mode not in ("nearest", "bilinear") or (mode == "bilinear" and rank != 2):
        raise Invalid("mode")
    scale, size = f.get("scale"), f.get("size")
    if (scale is None) == (size is None):
        raise Invalid("scale xor size")
    if size is not None:
        return (s[0], *per_dim(size, rank, 1))
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise Invalid("scale")
    if not (scale > 0 and math.isfinite(scale)):
        raise Invalid("scale")
    return (s[0], *_positive([math.floor(n * scale) for n in s[1:]]))


def _elementwise(f: dict, shapes: list[Shape]) -> Shape:
    if any(x != shapes[0] for x in shapes):
        raise Invalid("shapes differ")
    return shapes[0]


def _concat(f: dict, shapes: list[Shape]) -> Shape:
    s = shapes[0]
    axis = f.get("axis", 0)
    if not is_int(axis) or not 0 <= axis < len(s):
        raise Invalid("axis")
    for x in shapes:
        if len(x) != len(s) or any(a != b for i, (a, b) in enumerate(zip(x, s)) if i != axis):
            raise Invalid("concat")
    return (*s[:axis], sum(x[axis] for x in shapes), *s[axis + 1 :])


RULES: dict[str, Callable[[dict, list[Shape]], Shape]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "pool": _pool,
    "dense": _dense,
    "flatten": _flatten,
    "reshape": _reshape,
    "batchnorm": _same_shape,
    "dropout": _same_shape,
    "identity": _same_shape,
    "activation": _activation,
    "upsample": _upsample,
    "add": _elementwise,
    "multiply": _elementwise,
    "concat": _concat,
}
