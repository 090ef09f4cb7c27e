"""Hypothesis strategies that draw archc spec TEXT, valid and invalid (tests/test_fuzz_shapes.py).

`specs()` draws a `Drawn`: the YAML text of a spec plus what the generator believed about it.
The generator covers every layer kind and option (conv, conv_transpose, pool, dense, flatten,
batchnorm, dropout, activation, identity, reshape, upsample, add, multiply, concat), 1-D, 2-D
and (rarely) 3-D and flat inputs, DAGs with `inputs:` references and several `outputs:`, vars
and `${...}` expressions, and blocks with params, `repeat`, `first` and `when`.

To keep a good share of specs valid, the generator tracks shapes with its own small oracle
(`layer_shape`, written from PyTorch's documented formulas, independently of archc) and draws
sizes that fit. With a per-spec probability ("wild") it also makes mistakes on purpose: values
of the wrong type or range, unknown keys and kinds, bad names and references, windows that do
not fit, broken YAML. The oracle's verdict (`Drawn.expect_valid`) is only guidance and
statistics; the tests judge archc against PyTorch, never against this oracle.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

Shape = tuple[int, ...]

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


class Invalid(Exception):
    """The oracle's verdict: PyTorch (or archc's documented rules) would refuse this."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


# -- values: literals and expression references ----------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A `$name` or `${expression}` value, with its meaning as a Python function of the scope."""

    text: str
    fn: Callable[[dict], Any] = field(compare=False)


def resolve(value: Any, env: dict) -> Any:
    if isinstance(value, Ref):
        try:
            return value.fn(env)
        except Exception:
            return UNKNOWN
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    return value


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def flow(value: Any, plain: bool = False) -> str:
    """`value` as a YAML flow node: JSON, plus .inf/.nan, raw text for `Raw`, and with `plain`
    identifiers unquoted (``type: conv``) as people write them."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Ref):
        return flow(value.text, plain)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {flow(v, plain)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v, plain) for v in value) + "]"
    if (
        plain
        and isinstance(value, str)
        and (_PLAIN.match(value) or re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", value))
        and value.lower() not in _YAML_WORDS
    ):
        return value
    return json.dumps(value)


def _key(k: str) -> str:
    return k if k.isidentifier() else json.dumps(k)


@dataclass(frozen=True)
class Raw:
    """Text pasted verbatim into the YAML (tags, aliases, odd scalars)."""

    text: str


# -- the oracle: PyTorch's shape rules, written independently of archc ------------------------


def _is_int(v: Any) -> bool:
    return type(v) is int


def per_dim(value: Any, rank: int, minimum: int) -> tuple[int, ...]:
    if _is_int(value):
        vals = (value,) * rank
    elif isinstance(value, list) and len(value) == 1:
        vals = tuple(value) * rank
    elif isinstance(value, list) and len(value) == rank and rank <= 3:
        vals = tuple(value)
    else:
        raise Invalid(f"bad size {value!r} for rank {rank}")
    if not all(_is_int(v) and v >= minimum for v in vals):
        raise Invalid(f"bad size {value!r}")
    return vals


def _pos_int(v: Any) -> int:
    if not _is_int(v) or v < 1:
        raise Invalid(f"not a positive int: {v!r}")
    return v


def _spatial(shape: Shape) -> int:
    rank = len(shape) - 1
    if rank not in (1, 2, 3):
        raise Invalid("needs [C, *spatial]")
    return rank


def _activation_ok(f: dict) -> None:
    if f.get("activation", "none") not in FNS:
        raise Invalid("bad activation")


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
    s = shapes[0]
    if kind in ACTIVATED:
        _activation_ok(f)
    if kind in ("conv", "conv_transpose"):
        rank = _spatial(s)
        filters, groups = _pos_int(f["filters"]), _pos_int(f.get("groups", 1))
        if "bias" in f and not isinstance(f["bias"], bool):
            raise Invalid("bias")
        if s[0] % groups or filters % groups:
            raise Invalid("groups")
        k = per_dim(f["kernel"], rank, 1)
        st_ = per_dim(f.get("stride", 1), rank, 1)
        d = per_dim(f.get("dilation", 1), rank, 1)
        if kind == "conv":
            pad = f.get("padding", 0)
            if pad == "same":
                if any(v != 1 for v in st_):
                    raise Invalid("same needs stride 1")
                return (filters, *s[1:])
            p = (0,) * rank if pad == "valid" else per_dim(pad, rank, 0)
            out = [
                (n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                for n, kk, ss, pp, dd in zip(s[1:], k, st_, p, d)
            ]
        else:
            p = per_dim(f.get("padding", 0), rank, 0)
            op = per_dim(f.get("output_padding", 0), rank, 0)
            if any(o >= ss and o >= dd for o, ss, dd in zip(op, st_, d)):
                raise Invalid("output_padding")
            out = [
                (n - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1
                for n, kk, ss, pp, oo, dd in zip(s[1:], k, st_, p, op, d)
            ]
        if min(out) < 1:
            raise Invalid("shrinks")
        return (filters, *out)
    if kind == "pool":
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
        k = per_dim(kernel, rank, 1)
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
        return (s[0], *out)
    if kind == "dense":
        if len(s) != 1:
            raise Invalid("dense needs [F]")
        return (_pos_int(f["units"]),)
    if kind == "flatten":
        return (math.prod(s),)
    if kind == "reshape":
        shape = f["shape"]
        if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
            raise Invalid("shape")
        if not all(_is_int(v) for v in shape) or shape.count(-1) > 1:
            raise Invalid("shape")
        if any(v < 1 and v != -1 for v in shape):
            raise Invalid("shape")
        total, known = math.prod(s), math.prod(v for v in shape if v != -1)
        if -1 in shape:
            if total % known:
                raise Invalid("reshape")
            return tuple(total // known if v == -1 else v for v in shape)
        if known != total:
            raise Invalid("reshape")
        return tuple(shape)
    if kind == "batchnorm":
        return s
    if kind in ("dropout", "identity"):
        return s
    if kind == "activation":
        if f.get("fn") not in FNS:
            raise Invalid("fn")
        return s
    if kind == "upsample":
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
        out = [math.floor(n * scale) for n in s[1:]]
        if min(out) < 1:
            raise Invalid("shrinks")
        return (s[0], *out)
    if kind in ("add", "multiply"):
        if any(x != s for x in shapes):
            raise Invalid("shapes differ")
        return s
    if kind == "concat":
        axis = f.get("axis", 0)
        if not _is_int(axis) or not 0 <= axis < len(s):
            raise Invalid("axis")
        for x in shapes:
            if len(x) != len(s) or any(a != b for i, (a, b) in enumerate(zip(x, s)) if i != axis):
                raise Invalid("concat")
        return (*s[:axis], sum(x[axis] for x in shapes), *s[axis + 1 :])
    raise Invalid(f"unknown kind {kind}")


# -- drawing helpers ------------------------------------------------------------------------


class Drawer:
    """Small drawing vocabulary whose shrinking goes toward the simplest choice."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw

    def coin(self, p: float) -> bool:
        """True with probability `p`; shrinks to False."""
        if p <= 0:
            return False
        return self.draw(st.integers(0, 999)) >= 1000 - round(p * 1000)

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, max(lo, hi)))

    def pick(self, options: list) -> Any:
        return self.draw(st.sampled_from(options))

    def weighted(self, weights: dict[str, float]) -> str:
        items = [(k, w) for k, w in weights.items() if w > 0]
        scale = 100
        total = sum(round(w * scale) for _, w in items)
        r = self.draw(st.integers(0, total - 1))
        for k, w in items:
            r -= round(w * scale)
            if r < 0:
                return k
        return items[-1][0]


def _divisors(n: int) -> list[int]:
    """Divisors of n in increasing order (in O(sqrt n): sizes may be huge on purpose)."""
    if n > 10**12:
        return [1, n]
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


# -- the generator ---------------------------------------------------------------------------


@dataclass
class Value:
    """A value in a scope: a produced layer output or an input, with its believed shape."""

    vid: str  # unique id (the full name)
    shape: Shape | None  # None: unknown (an earlier mistake)


@dataclass
class BlockDef:
    name: str
    params: dict[str, tuple[str, Any, bool]]  # name -> (type, default, required)
    decl: dict[str, Any]  # how params are written
    inputs: list[str]
    layers: list[dict]  # layer dicts with Ref values; "_local", "_inputs", "_when" meta keys
    output: str | None
    first_env: dict
    role_of: dict[str, str] = field(default_factory=dict)  # param name -> role (f, s, ...)


@dataclass
class Drawn:
    text: str
    expect_valid: bool  # the generator's belief (guidance only)
    features: frozenset[str]

    def __repr__(self) -> str:  # hypothesis prints the falsifying example with this
        return "Drawn(text=\n" + self.text + ")"


class _Gen:
    def __init__(self, draw: Callable, *, wild: float, blocks: bool, rank: int | None) -> None:
        self.d = Drawer(draw)
        self.wild = wild
        self.use_blocks = blocks
        self.force_rank = rank
        self.ok = True  # oracle: still valid?
        self.features: set[str] = set()
        self.vars: dict[str, Any] = {}
        self.var_text: dict[str, Any] = {}
        self.blocks: dict[str, BlockDef] = {}
        self.roles: dict[str, str] = {}
        self.inner_names: list[str] = []
        self.vars_shadow_params = True

    # -- mistakes ----------------------------------------------------------------------------

    def mistake(self, scale: float = 1.0) -> bool:
        if self.d.coin(self.wild * scale):
            self.ok = False
            return True
        return False

    def bad_value(self, good: Any) -> Any:
        """A wrong value of some kind, for a field whose right value is `good`."""
        self.features.add("bad-value")
        options = [
            0, -1, 2.5, 3.0, True, "3", "x", None, [], [1, 2, 3, 4], [[1]], {"a": 1}, 10**40,
            float("inf"), float("nan"), -0.5, Raw("0x10"), Raw("1_0"), Raw("!!str 3"), 1e308,
            "same", "global", "${1/0}", "$nope", "${2**200}", Raw("no"), [0, 1],
        ]  # fmt: skip
        return self.d.pick(options)

    # -- sizes -------------------------------------------------------------------------------

    def size_value(self, vals: tuple[int, ...]) -> Any:
        """How a per-dim size is written: an int, a one-element list or a full list."""
        if len(set(vals)) == 1:
            how = self.d.weighted({"int": 6, "one": 1, "list": 3})
            if how == "int":
                return vals[0]
            if how == "one":
                return [vals[0]]
        return list(vals)

    def per_dim_draw(self, rank: int, lo: Callable[[int], int], hi: Callable[[int], int]) -> tuple:
        if self.d.coin(0.7):
            lo_all = max(lo(j) for j in range(rank))
            hi_all = min(hi(j) for j in range(rank))
            if lo_all <= hi_all:
                v = self.d.int(lo_all, hi_all)
                return (v,) * rank
        return tuple(self.d.int(lo(j), max(lo(j), hi(j))) for j in range(rank))

    # -- one layer ---------------------------------------------------------------------------

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
        if s is None or len(s) < 2 and kind in ("conv", "conv_transpose", "pool", "upsample"):
            s = (d.int(1, 4), *([d.int(1, 8)] * d.int(1, 2)))  # blind
        rank = len(s) - 1
        if kind == "conv":
            c = s[0]
            f["filters"] = c if d.coin(0.4) else d.int(1, 8)
            if d.coin(0.25):
                common = [g for g in _divisors(c) if f["filters"] % g == 0]
                if d.coin(0.5) and c <= 8:  # depthwise
                    f["filters"] = c * d.int(1, 2)
                    f["groups"] = c
                else:
                    f["groups"] = d.pick(common)
            dil = (1,) * rank
            if d.coin(0.2):
                dil = self.per_dim_draw(rank, lambda j: 1, lambda j: 2)
                f["dilation"] = self.size_value(dil)
            how = d.weighted({"none": 3, "int": 4, "same": 2, "valid": 1})
            pad = (0,) * rank
            if how == "int":
                pad = self.per_dim_draw(rank, lambda j: 0, lambda j: 2)
                f["padding"] = self.size_value(pad)
            elif how in ("same", "valid"):
                f["padding"] = how
            if how == "same":
                if d.coin(0.2):
                    f["stride"] = self.size_value((1,) * rank)
                k = self.per_dim_draw(rank, lambda j: 1, lambda j: 5)
            else:
                if d.coin(0.4):
                    f["stride"] = self.size_value(self.per_dim_draw(rank, lambda j: 1, lambda j: 3))
                k = self.per_dim_draw(
                    rank,
                    lambda j: 1,
                    lambda j: min(5, (s[1 + j] + 2 * pad[j] - 1) // dil[j] + 1),
                )
            f["kernel"] = self.size_value(k)
            if d.coin(0.2):
                f["bias"] = d.coin(0.3)
        elif kind == "conv_transpose":
            c = s[0]
            f["filters"] = d.int(1, 6)
            if d.coin(0.2):
                f["groups"] = d.pick([g for g in _divisors(c) if f["filters"] % g == 0])
            st_ = (1,) * rank
            if d.coin(0.7):
                st_ = self.per_dim_draw(rank, lambda j: 1, lambda j: 3)
                f["stride"] = self.size_value(st_)
            dil = (1,) * rank
            if d.coin(0.2):
                dil = self.per_dim_draw(rank, lambda j: 1, lambda j: 2)
                f["dilation"] = self.size_value(dil)
            k = self.per_dim_draw(rank, lambda j: 1, lambda j: 4)
            f["kernel"] = self.size_value(k)
            op = (0,) * rank
            if d.coin(0.3):
                op = self.per_dim_draw(rank, lambda j: 0, lambda j: max(st_[j], dil[j]) - 1)
                f["output_padding"] = self.size_value(op)
            if d.coin(0.4):
                pad = self.per_dim_draw(
                    rank,
                    lambda j: 0,
                    lambda j: min(2, ((s[1 + j] - 1) * st_[j] + dil[j] * (k[j] - 1) + op[j]) // 2),
                )
                f["padding"] = self.size_value(pad)
            if d.coin(0.2):
                f["bias"] = d.coin(0.3)
        elif kind == "pool":
            if d.coin(0.5):
                f["mode"] = d.pick(["max", "avg"])
            how = d.weighted({"window": 7, "global": 1.5, "output": 1.5})
            if how == "global":
                f["kernel"] = "global"
            elif how == "output":
                f["output"] = self.size_value(
                    self.per_dim_draw(rank, lambda j: 1, lambda j: max(3, s[1 + j]))
                )
            else:
                pad = (0,) * rank
                if d.coin(0.4):
                    pad = self.per_dim_draw(rank, lambda j: 0, lambda j: 1)
                    f["padding"] = self.size_value(pad)
                k = self.per_dim_draw(
                    rank,
                    lambda j: max(1, 2 * pad[j]),
                    lambda j: min(4, s[1 + j] + 2 * pad[j]),
                )
                f["kernel"] = self.size_value(k)
                if d.coin(0.5):
                    f["stride"] = self.size_value(self.per_dim_draw(rank, lambda j: 1, lambda j: 3))
                if d.coin(0.3):
                    f["ceil"] = d.coin(0.7)
        elif kind == "dense":
            f["units"] = d.int(1, 12)
            if d.coin(0.2):
                f["bias"] = d.coin(0.3)
        elif kind == "batchnorm":
            if d.coin(0.15):
                f["eps"] = d.pick([1e-3, 0.1, 1, 1e-5])
            if d.coin(0.15):
                f["momentum"] = d.pick([0.01, 0.5, 1, 1.0])
        elif kind == "dropout":
            if d.coin(0.5):
                f["rate"] = d.pick([0, 0.0, 0.1, 0.25, 0.5, 0.9, 0.999])
        elif kind == "activation":
            f["fn"] = d.pick(FNS)
        elif kind == "reshape":
            total = math.prod(s)
            divs = _divisors(total)
            how = d.weighted({"flat": 1, "two": 3, "three": 2, "four": 1})
            if how == "flat":
                f["shape"] = d.pick([[total], [-1]])
            else:
                parts, rest = [], total
                for _ in range({"two": 1, "three": 2, "four": 3}[how]):
                    c = d.pick(_divisors(rest))
                    parts.append(c)
                    rest //= c
                parts.append(rest)
                if d.coin(0.5):
                    parts[d.int(0, len(parts) - 1)] = -1
                f["shape"] = parts
            del divs
        elif kind == "upsample":
            if d.coin(0.5):
                scales = [2, 3, 0.5, 1.5, 2.5, 1, 0.75, 1.25, 0.4, 2.0, 1.7]
                good = [x for x in scales if all(math.floor(n * x) >= 1 for n in s[1:])]
                f["scale"] = d.pick(good or [2])
            else:
                f["size"] = self.size_value(self.per_dim_draw(rank, lambda j: 1, lambda j: 12))
            if rank == 2 and d.coin(0.5):
                f["mode"] = d.pick(["bilinear", "nearest"])
            elif d.coin(0.2):
                f["mode"] = "nearest"
        elif kind == "concat":
            pass  # axis is chosen with the partners
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
        if what == "huge":  # over the parameter or activation budget (never built)
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
        elif what == "value" and f:
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


@dataclass
class _Scope:
    """Values visible while generating a list of layers (the top level or a block body)."""

    values: dict[str, Value]  # local name -> value
    order: list[str]  # local names in creation order (for picking earlier values)
    prev: Value
    used: set[str] = field(default_factory=set)  # vids used
    produced: list[Value] = field(default_factory=list)
    present: int = 0  # layers kept so far (numbers unnamed layers in a block)


class _SpecGen(_Gen):
    """Draws a whole spec: input, vars, blocks, layers, outputs; then renders its text."""

    # -- inputs ------------------------------------------------------------------------------

    def pick_primary(self, scope: _Scope) -> tuple[Value, str | None]:
        """The layer's main input: the previous value, or an earlier one named in `inputs`."""
        d = self.d
        if len(scope.order) > 1 and d.coin(0.3):
            local = d.pick(scope.order)
            v = scope.values[local]
            if v.vid != scope.prev.vid:
                return v, local
        return scope.prev, None

    def partners(self, kind: str, primary: Value, scope: _Scope, f: dict) -> list[str] | None:
        """Local names of a merge's other inputs (compatible shapes preferred)."""
        d = self.d
        s = primary.shape
        cands = [n for n in scope.order if scope.values[n].shape is not None]
        if s is None:
            pool = scope.order
        elif kind == "concat":
            axis = 0
            if len(s) > 1 and d.coin(0.2):
                axis = d.int(1, len(s) - 1)
            if axis or d.coin(0.2):
                f["axis"] = axis
            pool = [
                n
                for n in cands
                if len(scope.values[n].shape) == len(s)
                and all(
                    a == b for i, (a, b) in enumerate(zip(scope.values[n].shape, s)) if i != axis
                )
            ]
        else:
            pool = [n for n in cands if scope.values[n].shape == s]
        if not pool:
            if not self.mistake(0.5):
                return None
            pool = scope.order
        count = d.weighted({"1": 8, "2": 2})
        return [d.pick(pool) for _ in range(int(count))]

    # -- a list of layers --------------------------------------------------------------------

    def gen_layers(
        self, scope: _Scope, n: int, prefix: str, top: bool, in_block: str | None
    ) -> list[dict]:
        """Generate `n` layers into `scope`. Returns layer dicts (values may be Refs)."""
        d = self.d
        out: list[dict] = []
        for i in range(n):
            primary, explicit = self.pick_primary(scope)
            item: dict[str, Any] = {}
            layer_inputs: list[str] | None = [explicit] if explicit else None
            use_block = (
                top
                and self.blocks
                and (in_block is None)
                and d.coin(0.45)
                and primary.shape is not None
            )
            if use_block:
                item, shape = self.gen_instance(primary, scope, explicit, prefix)
                kind = item["type"]
            else:
                kind = self.choose_kind(primary.shape)
                f = self.layer_fields(kind, primary.shape)
                if kind in MERGES:
                    others = self.partners(kind, primary, scope, f)
                    if others is None:
                        kind = "identity" if d.coin(0.3) else "batchnorm"
                        f = self.layer_fields(kind, primary.shape)
                    else:
                        base = explicit or (self.local_of(scope, primary))
                        layer_inputs = [base, *others]
                        if d.coin(0.5):
                            layer_inputs = layer_inputs[::-1]
                if self.mistake():
                    kind, f = self.mutate_fields(kind, f)
                item = {"type": kind, **f}
                if layer_inputs is not None:
                    item["inputs"] = (
                        layer_inputs[0]
                        if len(layer_inputs) == 1 and d.coin(0.6)
                        else list(layer_inputs)
                    )
                shape = self.shape_of(kind, f, layer_inputs, primary, scope, {})
            # names
            name = self.layer_name(top, in_block, scope, i)
            if name is not None:
                item = {"name": name, **item}
            if not use_block and self.mistake(0.2):
                self.mutate_inputs(item, i, scope)
            # `when` on a plain layer (top level; blocks add theirs in gen_block)
            if top and not use_block and d.coin(0.06):
                item["when"] = d.pick([True, False, Ref("$on", lambda e: e["on"])])
                self.vars.setdefault("on", d.coin(0.5))
                self.var_text.setdefault("on", self.vars["on"])
                self.features.add("when-top")
            local = self.record(item, shape, scope, prefix, top, primary)
            item["_local"] = local
            if use_block and item.get("when") is not False:
                b = self.blocks[item["type"]]
                copy = ".0" if _is_int(item.get("repeat")) and item["repeat"] > 1 else ""
                self.inner_names += [
                    f"{local}{copy}.{inner['_local']}"
                    for inner in b.layers
                    if inner.get("when", True) is True
                ]
            out.append(item)
        return out

    def mutate_inputs(self, item: dict, i: int, scope: _Scope) -> None:
        """A wrong `inputs`: unknown, later (a cycle), itself, the wrong number, wrong type."""
        d = self.d
        what = d.pick(["unknown", "later", "self", "arity", "type", "input_twice"])
        self.features.add(f"bad-inputs-{what}")
        if what == "unknown":
            item["inputs"] = d.pick(["nope", "l99", "Input", "input.x"])
        elif what == "later":
            item["inputs"] = (
                [f"l{i + 1}"] if item.get("type") not in MERGES else [f"l{i + 1}", scope.order[-1]]
            )
        elif what == "self" and isinstance(item.get("name"), str):
            item["inputs"] = item["name"]
        elif what == "arity":
            if item.get("type") in MERGES:
                item["inputs"] = [scope.order[-1]]
            else:
                item["inputs"] = [scope.order[-1], scope.order[0]]
        elif what == "type":
            item["inputs"] = d.pick([3, [1], {"a": 1}, True, [[scope.order[-1]]]])
        else:
            item["inputs"] = [scope.order[0], scope.order[0]]

    def local_of(self, scope: _Scope, value: Value) -> str:
        for n in reversed(scope.order):
            if scope.values[n].vid == value.vid:
                return n
        return scope.order[-1]

    def layer_name(self, top: bool, in_block: str | None, scope: _Scope, i: int) -> str | None:
        d = self.d
        if self.mistake(0.15):
            self.features.add("bad-name")
            return d.pick(BAD_NAMES + list(scope.values)[:2] + ["input"])
        how = d.weighted({"auto": 3, "plain": 4, "tricky": 1})
        if how == "auto":
            return None
        if how == "tricky":
            name = d.pick(TRICKY_NAMES)
        else:
            name = ("l" if top else "b") + str(i)
        if name in scope.values or name in ("input",) or name in self.blocks:
            return ("l" if top else "b") + str(i) + "_"
        return name

    def shape_of(
        self,
        kind: str,
        f: dict,
        layer_inputs: list[str] | None,
        primary: Value,
        scope: _Scope,
        env: dict,
    ) -> Shape | None:
        if layer_inputs is None:
            shapes = [primary.shape]
        else:
            shapes = [scope.values[n].shape if n in scope.values else None for n in layer_inputs]
            if any(n not in scope.values for n in layer_inputs):
                self.ok = False
        if any(x is None for x in shapes):
            return None
        resolved = {k: resolve(v, env) for k, v in f.items()}
        try:
            return layer_shape(kind, resolved, shapes)
        except Invalid:
            self.ok = False
            return None

    def record(
        self, item: dict, shape: Shape | None, scope: _Scope, prefix: str, top: bool, prim: Value
    ) -> str:
        """Add the layer's output to the scope under its local name; mark its inputs used."""
        name = item.get("name")
        if not isinstance(name, str) or not name:
            if top:
                name = self.default_name(str(item.get("type")), scope)
            else:
                name = str(len(scope.produced))  # position in the block's list
        when = item.get("when", True)
        when_v = when.fn(self.vars) if isinstance(when, Ref) else when
        ins = item.get("inputs")
        names = _input_names(ins)
        if names is None:
            inputs_v = [prim]
        else:
            inputs_v = [scope.values[n] for n in names if n in scope.values]
        if when_v is False:
            value = inputs_v[0] if inputs_v else scope.prev
            scope.values[name] = value
        else:
            for v in inputs_v:
                scope.used.add(v.vid)
            value = Value(prefix + name, shape)
            scope.values[name] = value
            scope.produced.append(value)
        if name not in scope.order:
            scope.order.append(name)
        scope.prev = value
        return name

    def default_name(self, kind: str, scope: _Scope) -> str:
        n = 1
        while f"{kind}{n}" in scope.values or f"{kind}{n}" in self.reserved_top:
            n += 1
        return f"{kind}{n}"

    # -- blocks ------------------------------------------------------------------------------

    def gen_block(self, index: int, in_shape: Shape) -> BlockDef:
        """A block definition, generated for its first use on `in_shape`."""
        d = self.d
        name = d.pick(["unit", "stage", "branchy", "res", "cbr"]) + str(index)
        # Parameters: their values for the first instance, and how they are declared.
        env: dict[str, Any] = {}
        decl: dict[str, Any] = {}
        params: dict[str, tuple[str, Any, bool]] = {}
        pool = {
            "f": ("int", d.int(1, 8)), "s": ("int", d.pick([1, 1, 2])),
            "k": ("int", d.pick([1, 3, 3, 5, 2])), "flag": ("bool", d.coin(0.5)),
            "act": ("str", d.pick(ACTIVATIONS)), "p": ("int", d.int(0, 2)),
        }  # fmt: skip
        self.roles = {}
        role_of = {}
        for role, (ptype, value) in pool.items():
            if not d.coin(0.6):
                continue
            pname = d.pick(ROLE_NAMES[role]) if d.coin(0.3) else role
            self.roles[role] = pname
            role_of[pname] = role
            if pname != role:
                self.features.add("tricky-param-name")
            styles = {"typed": 2, "default": 3, "long": 1}
            if ptype == "int":
                styles.update({"float": 0.7, "any": 0.5})
            style = d.weighted(styles)
            env[pname] = value
            if style == "typed":
                decl[pname] = ptype
                params[pname] = (ptype, None, True)
            elif style == "default":
                decl[pname] = value
                params[pname] = (ptype, value, False)
            elif style == "long":
                decl[pname] = {"type": ptype, "default": value}
                params[pname] = (ptype, value, False)
            elif style == "float":  # declared float, used as an int: instances pass ints
                default = float(value) if d.coin(0.7) else value
                decl[pname] = {"type": "float", "default": default} if d.coin(0.5) else default
                params[pname] = ("float", default, False)
                self.features.add("float-param")
            else:
                decl[pname] = {"type": "any", "default": value}
                params[pname] = ("any", value, False)
        if self.vars_shadow_params and self.roles and d.coin(0.3):
            pname = d.pick(sorted(self.roles.values()))
            self.var_text.setdefault(pname, 7)  # a var of the same name: the param must win
            self.features.add("var-shadowed")
        two_inputs = d.coin(0.15)
        first_in = "input" if d.coin(0.8) else d.pick(["src", "x", "out", "y", "a0"])
        second_in = "skip" if d.coin(0.7) else d.pick(["res", "x", "out", "y", "input_"])
        if second_in == first_in:
            second_in = "skip"
        inputs = [first_in, second_in] if two_inputs else [first_in]
        if inputs != ["input"] and inputs != ["input", "skip"]:
            self.features.add("block-input-names")
        block = BlockDef(name, params, decl, inputs, [], None, dict(env), role_of)
        scope = _Scope(
            {n: Value(n, in_shape) for n in inputs}, list(inputs), Value("input", in_shape)
        )
        scope.prev = scope.values[first_in]
        n = d.int(1, 4)
        layers = []
        for i in range(n):
            primary, explicit = self.pick_primary(scope)
            nested = [b for b in self.blocks.values() if b is not None and len(b.inputs) == 1]
            if nested and primary.shape is not None and d.coin(0.3):
                item = self.nested_instance(d.pick(nested), env, params, decl, explicit, primary)
                lname = self.layer_name(False, name, scope, i)
                if lname is not None:
                    item = {"name": lname, **item}
                if d.coin(0.15) and self.when_ref() is not None:
                    item["when"] = self.when_ref()
                shape = self.simulate_nested(item, env, primary.shape)
                when = resolve(item.get("when", True), env)
                item["_local"] = self.record_block(item, shape, scope, primary, when, i)
                layers.append(item)
                continue
            kind = self.choose_kind(primary.shape)
            f = self.layer_fields(kind, primary.shape)
            layer_inputs = [explicit] if explicit else None
            if kind in MERGES:
                others = self.partners(kind, primary, scope, f)
                if others is None:
                    kind, f = "batchnorm", {}
                else:
                    layer_inputs = [explicit or self.local_of(scope, primary), *others]
            if self.mistake(0.5):
                kind, f = self.mutate_fields(kind, f)
            f = {k: self.parametrize(k, v, env, params, decl) for k, v in f.items()}
            item: dict[str, Any] = {"type": kind, **f}
            if layer_inputs is not None:
                item["inputs"] = layer_inputs if len(layer_inputs) > 1 else layer_inputs[0]
            lname = self.layer_name(False, name, scope, i)
            if lname is not None:
                item = {"name": lname, **item}
            shape = self.shape_of(kind, f, layer_inputs, primary, scope, env)
            if d.coin(0.25):
                when = self.when_ref()
                if when is not None:
                    item["when"] = when
                    self.features.add("when-block")
            when = resolve(item.get("when", True), env)
            local = self.record_block(item, shape, scope, primary, when, i)
            item["_local"] = local
            layers.append(item)
        # Merge dangling values back into the last one so nothing is left unused.
        dangling = [v for v in scope.produced if v.vid not in scope.used and v is not scope.prev]
        if two_inputs and second_in not in scope.used:
            dangling.append(scope.values[second_in])
        for v in dangling:
            if not d.coin(0.9):
                self.ok = False
                break
            last = scope.prev
            local_v = next((k for k, x in scope.values.items() if x is v), None)
            if local_v is None:  # the value has no local name left to merge by
                continue
            local_last = self.local_of(scope, last)
            kind = "add" if v.shape == last.shape else "concat"
            item = {"type": kind, "inputs": [local_last, local_v]}
            shape = self.shape_of(kind, {}, [local_last, local_v], last, scope, env)
            local = self.record_block(item, shape, scope, last, True, len(layers))
            item["_local"] = local
            layers.append(item)
        block.layers = layers
        if d.coin(0.15):
            named = [it["name"] for it in layers if isinstance(it.get("name"), str)]
            if named:
                block.output = named[-1] if not self.mistake(0.5) else d.pick(named + ["nope"])
        self.features.add("blocks")
        return block

    def nested_instance(
        self,
        nb: BlockDef,
        env: dict,
        params: dict,
        decl: dict,
        explicit: str | None,
        primary: Value,
    ) -> dict:
        """A use of an earlier block inside a block body; args may refer to the outer params."""
        d = self.d
        item: dict[str, Any] = {"type": nb.name}
        for pname, (ptype, _, required) in nb.params.items():
            if required or d.coin(0.8 if ptype == "float" else 0.4):
                v = self.param_value(nb, pname)
                key = {"act": "activation", "flag": "bias"}.get(nb.role_of.get(pname), "")
                item[pname] = self.parametrize(key, v, env, params, decl)
        if d.coin(0.3):
            item["repeat"] = d.int(1, 2)
        if explicit:
            item["inputs"] = explicit
        self.features.add("nested-block")
        return item

    def simulate_nested(self, item: dict, env: dict, shape: Shape | None) -> Shape | None:
        nb = self.blocks[item["type"]]
        args = {
            k: resolve(v, env)
            for k, v in item.items()
            if k not in ("type", "name", "inputs", "when", "repeat", "first") and k[0] != "_"
        }
        if any(v is UNKNOWN for v in args.values()):
            self.ok = False
            return None
        first = {k: resolve(v, env) for k, v in item.get("first", {}).items()}
        return self.simulate_instance(nb, args, first, resolve(item.get("repeat", 1), env), [shape])

    def record_block(
        self, item: dict, shape: Shape | None, scope: _Scope, prim: Value, when: Any, index: int
    ) -> str:
        """Like `record`, inside a block: unnamed layers are numbered as nn.Sequential numbers
        its children (layers switched off by `when` get no number and cannot be named)."""
        name = item.get("name")
        if not isinstance(name, str) or not name:
            if when is False:
                name = ""
            else:
                name = str(scope.present)
        if when is not False:
            scope.present += 1
        ins = item.get("inputs")
        names = _input_names(ins)
        inputs_v = (
            [prim] if names is None else [scope.values[n] for n in names if n in scope.values]
        )
        if when is False:
            target = inputs_v[0] if inputs_v else scope.prev
            scope.prev = target
            if name:
                scope.values[name] = target
                if name not in scope.order:
                    scope.order.append(name)
            return name
        else:
            for v in inputs_v:
                scope.used.add(v.vid)
            value = Value(name, shape)
            scope.values[name] = value
            scope.produced.append(value)
        if name not in scope.order:
            scope.order.append(name)
        scope.prev = scope.values[name]
        return name

    def when_ref(self) -> Ref | None:
        """A `when` condition over the block's params (booleans, comparisons, and/or/not)."""
        d = self.d
        flag, s = self.roles.get("flag"), self.roles.get("s")
        options = []
        if flag:
            options += [
                Ref(f"${flag}", lambda e: e[flag]),
                Ref(f"${{not {flag}}}", lambda e: not e[flag]),
            ]
        if s:
            options += [Ref(f"${{{s} == 1}}", lambda e: e[s] == 1)]
        if flag and s:
            options += [
                Ref(f"${{{flag} and {s} > 1}}", lambda e: e[flag] and e[s] > 1),
                Ref(f"${{{flag} or {s} != 1}}", lambda e: e[flag] or e[s] != 1),
                Ref(f"${{True if {flag} else {s} >= 2}}", lambda e: e[flag] or e[s] >= 2),
            ]
        return d.pick(options) if options else None

    def var_ref(self, value: Any) -> Ref:
        """A reference to a top-level var holding `value` (used from inside a block)."""
        name = f"g_{len(self.var_text)}"
        for k, v in self.var_text.items():
            if v == value and type(v) is type(value) and k.startswith("g_"):
                name = k
                break
        self.var_text[name] = value
        self.features.add("var-in-block")
        return Ref(f"${name}", lambda e, v=value: v)

    def parametrize(self, key: str, value: Any, env: dict, params: dict, decl: dict) -> Any:
        """Maybe write a field value as a reference to a block parameter that gives it."""
        d = self.d
        roles = self.roles
        if key == "activation" and isinstance(value, str) and "act" in roles and d.coin(0.5):
            a = roles["act"]
            return Ref(f"${a}", lambda e: e[a])
        if key == "bias" and isinstance(value, bool) and "flag" in roles and d.coin(0.5):
            fl = roles["flag"]
            if value == env[fl]:
                return Ref(f"${fl}", lambda e: e[fl])
            return Ref(f"${{not {fl}}}", lambda e: not e[fl])
        if key == "rate" and "s" in roles and d.coin(0.3):
            s_ = roles["s"]
            return Ref(f"${{{s_} / 4}}", lambda e: e[s_] / 4)
        if key == "scale" and "s" in roles and d.coin(0.3) and not isinstance(value, bool):
            s_ = roles["s"]
            return Ref(f"${{{s_} * 1.5}}", lambda e: e[s_] * 1.5)
        if key in ("kernel", "padding", "stride", "output", "size") and d.coin(0.08):
            return self.var_ref(value)  # a var, possibly a list
        if not _is_int(value) or not d.coin(0.6):
            return value
        if d.coin(0.1):
            return self.var_ref(value)
        options: list[Ref] = []
        for role in ("f", "s", "k", "p"):
            if role not in roles:
                continue
            p = roles[role]
            pv = env[p]
            if pv == value:
                options.append(Ref(f"${p}", lambda e, p=p: e[p]))
            elif pv and value % pv == 0 and value // pv > 1:
                c = value // pv
                options.append(Ref(f"${{{p} * {c}}}", lambda e, p=p, c=c: e[p] * c))
            elif abs(value - pv) <= 2:
                c = value - pv
                sign = "+" if c > 0 else "-"
                options.append(Ref(f"${{{p} {sign} {abs(c)}}}", lambda e, p=p, c=c: e[p] + c))
            if (pv - 1) // 2 == value and pv > 1:
                options.append(Ref(f"${{({p} - 1) // 2}}", lambda e, p=p: (e[p] - 1) // 2))
            if pv // 2 == value and pv > 1:
                options.append(Ref(f"${{{p} // 2}}", lambda e, p=p: e[p] // 2))
            if max(pv, value) == value and pv < value:
                options.append(Ref(f"${{max({p}, {value})}}", lambda e, p=p, v=value: max(e[p], v)))
        if "flag" in roles and options and d.coin(0.1):
            fl, first = roles["flag"], options[0]
            options = [
                Ref(
                    f"${{{first.text[2:-1] if first.text.startswith('${') else first.text[1:]}"
                    f" if {fl} else {value}}}",
                    lambda e, fn=first.fn, fl=fl, v=value: fn(e) if e[fl] else v,
                )
            ]
        if not options:
            return value
        self.features.add("param-ref")
        return d.pick(options)

    def gen_instance(
        self, primary: Value, scope: _Scope, explicit: str | None, prefix: str
    ) -> tuple[dict, Shape | None]:
        """A top-level use of a block: `type: <block>`, args, maybe `repeat`, `first`, `when`."""
        d = self.d
        block = d.pick(sorted(self.blocks))
        b = self.blocks[block]
        item: dict[str, Any] = {"type": block}
        args: dict[str, Any] = {}
        for pname, (ptype, _, required) in b.params.items():
            if required or d.coin(0.8 if ptype == "float" else 0.4):
                args[pname] = self.param_value(b, pname)
        if self.mistake(0.3):
            if d.coin(0.5) and args:
                args[d.pick(sorted(args))] = self.bad_value(None)
            elif d.coin(0.5) and args:
                args.pop(d.pick(sorted(args)))
            else:
                args[d.pick(["fillters", "zz", "repeats"])] = 1
            self.features.add("bad-args")
        item.update(args)
        repeat = 1
        if d.coin(0.35):
            repeat = d.int(1, 3)
            item["repeat"] = repeat
            self.features.add("repeat")
            if self.mistake(0.2):
                item["repeat"] = d.pick(
                    [0, -1, 1001, 2.0, "two", True, Ref("${1 + 1}", lambda e: 2)]
                )
        first: dict[str, Any] = {}
        if repeat > 1 and b.params and d.coin(0.5):
            for pname in b.params:
                if d.coin(0.5):
                    first[pname] = self.param_value(b, pname)
            if first:
                item["first"] = first
                self.features.add("first")
        if d.coin(0.08):
            item["when"] = d.pick([True, False])
            self.features.add("when-instance")
        ins: list[str] = [explicit] if explicit else []
        if len(b.inputs) == 2:
            base = explicit or self.local_of(scope, primary)
            same = [n for n in scope.order if scope.values[n].shape == primary.shape]
            ins = [base, d.pick(same or scope.order)]
        if ins:
            item["inputs"] = ins if len(ins) > 1 else ins[0]
        # Simulate the instance.
        shapes = (
            [primary.shape]
            if not ins
            else [scope.values[n].shape if n in scope.values else None for n in ins]
        )
        if item.get("when") is False:
            return item, shapes[0]
        shape = self.simulate_instance(b, args, first, item.get("repeat", 1), shapes)
        return item, shape

    def param_value(self, b: BlockDef, pname: str) -> Any:
        d = self.d
        role, first = b.role_of.get(pname), b.first_env.get(pname)
        if d.coin(0.4) and first is not None:
            return first
        if role == "s":
            return d.pick([1, 2, 1])
        if role == "k":
            return d.pick([1, 3, 5, 2])
        if role == "p":
            return d.int(0, 2)
        if role == "f":
            return d.int(1, 8)
        if role == "flag":
            return d.coin(0.5)
        if role == "act":
            return d.pick(ACTIVATIONS)
        return first

    def simulate_instance(
        self, b: BlockDef, args: dict, first: dict, repeat: Any, shapes: list
    ) -> Shape | None:
        if not _is_int(repeat) or not 1 <= repeat <= 1000:
            self.ok = False
            return None
        if any(s is None for s in shapes):
            return None
        current = list(shapes)
        for copy in range(repeat):
            env = {}
            for pname, (ptype, default, required) in b.params.items():
                values = {**args, **(first if copy == 0 else {})}
                if pname in values:
                    env[pname] = values[pname]
                elif required:
                    self.ok = False
                    return None
                else:
                    env[pname] = default
                v = env[pname]
                good = {
                    "int": _is_int, "bool": lambda x: isinstance(x, bool),
                    "str": lambda x: isinstance(x, str), "any": lambda x: True,
                    "float": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
                }[ptype]  # fmt: skip
                if not good(v):
                    self.ok = False
                    return None
            if set(args) - set(b.params) or set(first) - set(b.params):
                self.ok = False
                return None
            if len(current) != len(b.inputs):
                self.ok = False
                return None
            out = self.simulate_body(b, env, current)
            if out is None:
                return None
            current = [out]
        return current[0]

    def simulate_body(self, b: BlockDef, env: dict, shapes: list[Shape]) -> Shape | None:
        values: dict[str, tuple[int, Shape | None]] = {}
        uid = 0
        for n, s in zip(b.inputs, shapes):
            values[n] = (-1 - uid, s)
            uid += 1
        prev = values[b.inputs[0]]
        used: set[int] = set()
        produced: list[int] = []
        present = 0
        for item in b.layers:
            when = resolve(item.get("when", True), env)
            local = item.get("name") if isinstance(item.get("name"), str) else None
            if when is not False:
                local = local or str(present)
                present += 1
            ins = item.get("inputs")
            names = _input_names(ins)
            if names is not None and any(n not in values for n in names):
                self.ok = False
                return None
            inputs = [prev] if names is None else [values[n] for n in names]
            if when is False:
                if local:
                    values[local] = inputs[0]
                prev = inputs[0]
                continue
            if when is not True:
                self.ok = False
                return None
            kind = item["type"]
            if kind in self.blocks:
                if inputs[0][1] is None:
                    return None
                shape = self.simulate_nested(item, env, inputs[0][1])
                if shape is None:
                    return None
                for i, _ in inputs:
                    used.add(i)
                uid += 1
                values[local] = (uid, shape)
                produced.append(uid)
                prev = values[local]
                continue
            f = {
                k: resolve(v, env)
                for k, v in item.items()
                if k not in ("type", "name", "inputs", "when", "_local")
            }
            if any(s is None for _, s in inputs):
                return None
            try:
                shape = layer_shape(kind, f, [s for _, s in inputs])
            except Invalid:
                self.ok = False
                return None
            for i, _ in inputs:
                used.add(i)
            uid += 1
            values[local] = (uid, shape)
            produced.append(uid)
            prev = values[local]
        out = values.get(b.output, prev)
        if any(p not in used and p != out[0] for p in produced):
            self.ok = False
        return out[1]

    # -- the whole spec ----------------------------------------------------------------------

    def spec(self) -> Drawn:
        d = self.d
        # Input.
        rank = self.force_rank
        if rank is None:
            rank = d.weighted({"2": 5, "1": 3, "0": 0.7, "3": 1.2})
            rank = int(rank)
        if rank == 0:
            shape: tuple = (d.int(1, 16),)
        elif rank == 3:
            shape = (d.int(1, 3), *self.per_dim_draw(3, lambda j: 1, lambda j: 6))
        else:
            shape = (d.int(1, 6), *self.per_dim_draw(rank, lambda j: 1, lambda j: 12))
        self.features.add(f"rank{rank}")
        input_name = "input"
        input_decl: dict[str, Any] = {"shape": list(shape)}
        if d.coin(0.1):
            input_name = d.pick(["x", "img", "seq", "out", "y", "inp"])
            input_decl["name"] = input_name
            self.features.add("input-name")
        if self.mistake(0.1):
            input_decl["shape"] = d.pick([[], [0, 4], [3, 4, 4, 4, 4], "3x4", [2.0, 4], [-1, 3]])
            self.features.add("bad-input")
        self.reserved_top = {input_name}
        top = _Scope({input_name: Value(input_name, shape)}, [input_name], Value(input_name, shape))
        # Blocks, defined for a first use on the input shape (or a small variant of it).
        if self.use_blocks and rank >= 1:
            for i in range(d.int(1, 2)):
                self.blocks[f"tmp{i}"] = None  # reserve
                b = self.gen_block(i, shape)
                del self.blocks[f"tmp{i}"]
                self.blocks[b.name] = b
        n = d.int(1, 7)
        layers = self.gen_layers(top, n, "", True, None)
        # Outputs: every dangling value, so nothing is left unused (or, by mistake, not).
        dangling = [v.vid for v in top.produced if v.vid not in top.used]
        outputs = None
        if len(dangling) > 1 or (dangling and dangling[-1] != top.prev.vid) or d.coin(0.1):
            if self.mistake(0.2):
                keep = dangling[:-1] if d.coin(0.5) else [*dangling, "nope"]
            else:
                keep = dangling
            if d.coin(0.5):
                keep = keep[::-1]
            outputs = keep or [top.prev.vid]
            if d.coin(0.05):
                outputs = [*outputs, outputs[0]]
                self.features.add("duplicate-output")
            self.features.add("outputs")
        if self.inner_names and self.d.coin(0.05):
            # A layer inside a block instance as a network output.
            outputs = [*(outputs or [top.prev.vid]), self.d.pick(self.inner_names)]
            self.features.add("inner-output")
        if not top.produced:
            self.ok = False
        return self.render(input_decl, layers, outputs)

    def render(self, input_decl: dict, layers: list[dict], outputs: list[str] | None) -> Drawn:
        d = self.d
        plain = d.coin(0.5)

        def flow_(v: Any) -> str:
            return flow(v, plain)

        lines = ["archc: 1", f"name: {d.pick(['Net', 'Fuzz', 'M1', 'net_2'])}"]
        if d.coin(0.1):
            lines.append(f"description: {json.dumps(d.pick(['a net', 'x: y', '# not a comment']))}")
        vars_ = dict(self.var_text)
        layers = [self.with_vars(item, vars_) for item in layers]
        if vars_:
            lines.append(f"vars: {flow_(vars_)}")
            self.features.add("vars")
        lines.append(f"input: {flow_(input_decl)}")
        if self.blocks:
            lines.append("blocks:")
            for b in self.blocks.values():
                lines.append(f"  {b.name}:")
                if b.decl:
                    lines.append(f"    params: {flow_(b.decl)}")
                if b.inputs != ["input"]:
                    one = len(b.inputs) == 1 and plain
                    lines.append(f"    inputs: {flow_(b.inputs[0] if one else b.inputs)}")
                if b.output is not None:
                    lines.append(f"    output: {flow_(b.output)}")
                lines.append("    layers:")
                for item in b.layers:
                    lines.append(f"      - {flow_(_public(item))}")
        lines.append("layers:")
        for item in layers:
            lines.append(f"  - {flow_(_public(item))}")
        if outputs is not None:
            lines.append(f"outputs: {flow_(outputs)}")
        text = "\n".join(lines) + "\n"
        if self.d.coin(self.wild * 0.3):
            text = self.break_text(text)
            self.ok = False
        return Drawn(text, self.ok, frozenset(self.features))

    def with_vars(self, item: dict, vars_: dict) -> dict:
        """Maybe write some top-level int fields as `$var` / `${var * c}` references."""
        d = self.d
        if not d.coin(0.25):
            return item
        out = dict(item)
        for key in ("filters", "units", "kernel", "stride", "padding", "rate"):
            v = out.get(key)
            if v is None or isinstance(v, (bool, Ref, Raw, list)) or not d.coin(0.5):
                continue
            if not isinstance(v, (int, float)) or isinstance(v, float) and not math.isfinite(v):
                continue
            name = f"v_{key}"
            if name not in vars_:
                vars_[name] = v
            base = vars_[name]
            if isinstance(base, Ref):
                continue
            if base == v:
                out[key] = Ref(f"${name}", None)
            elif isinstance(v, int) and isinstance(base, int) and base and v % base == 0:
                out[key] = Ref(f"${{{name} * {v // base}}}", None)
            elif isinstance(v, int) and isinstance(base, int):
                out[key] = Ref(f"${{{name} + {v - base}}}", None)
            self.features.add("var-ref")
        if d.coin(0.1):  # a var defined through another var
            vars_["v_twice"] = Ref("${v_base * 2}", None)
            vars_.setdefault("v_base", 2)
        if self.mistake(0.1):
            vars_["v_bad"] = d.pick(
                [Ref("${v_bad + 1}", None), Ref("${1 / 0}", None), Ref("${nope}", None),
                 Ref("${2 ** 300}", None), Ref("${__import__('os')}", None)]
            )  # fmt: skip
            out["units" if "units" in out else "filters"] = Ref("$v_bad", None)
            self.features.add("bad-var")
        return out

    def break_text(self, text: str) -> str:
        """A YAML-level mistake: syntax, tags, duplicate keys, tabs, truncation."""
        d = self.d
        self.features.add("broken-yaml")
        lines = text.splitlines()
        what = d.pick(
            ["tab", "dup", "unclosed", "tag", "truncate", "empty", "list", "topkey", "version",
             "nokey", "alias", "dupname", "anchor_ok"]
        )  # fmt: skip
        i = d.int(0, len(lines) - 1)
        if what == "tab":
            lines.insert(i, "\t- {type: relu}")
        elif what == "dup":
            lines[i] = (
                lines[i].replace("{", "{type: identity, type: identity, ", 1)
                if "{" in lines[i]
                else lines[i] + "\nlayers: []"
            )
        elif what == "unclosed":
            lines[i] = lines[i].replace("}", "", 1) if "}" in lines[i] else lines[i] + " ["
        elif what == "tag":
            lines[i] = (
                lines[i].replace("{", "!!python/object:os.system {", 1)
                if "{" in lines[i]
                else lines[i].replace(": ", ": !!binary ", 1)
            )
        elif what == "truncate":
            text = "\n".join(lines)
            return text[: d.int(0, len(text))]
        elif what == "empty":
            return d.pick(["", "\n", "# nothing\n", "---\n"])
        elif what == "list":
            return "- archc: 1\n- " + lines[-1] + "\n"
        elif what == "topkey":
            lines.insert(d.int(1, len(lines)), d.pick(["extra: 1", "Layers: []", "outputz: [a]"]))
        elif what == "version":
            lines[0] = d.pick(["archc: 2", "archc: '1'", "archc: 1.0", "archc: true"])
        elif what == "nokey":
            lines = [ln for ln in lines if not ln.startswith(d.pick(["archc", "name", "input"]))]
        elif what == "alias":
            lines.insert(1, "x: &a [*a]")
        elif what == "dupname":
            lines.append(lines[-1] if lines[-1].startswith("  -") else "  - {type: identity}")
        elif what == "anchor_ok":  # valid YAML anchors: must not break anything by themselves
            text = "\n".join(lines) + "\n"
            return text.replace("input: {", "input: &in {", 1)
        return "\n".join(lines) + "\n"


def _input_names(ins: Any) -> list[str] | None:
    """The names an `inputs` value lists (None: the default input); odd entries dropped."""
    if isinstance(ins, str):
        return [ins]
    if isinstance(ins, list):
        return [n for n in ins if isinstance(n, str)]
    return None


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if not k.startswith("_")}


@st.composite
def specs(
    draw: Callable,
    *,
    wild: float | None = None,
    blocks: bool | None = None,
    rank: int | None = None,
) -> Drawn:
    """A spec text. `wild`: chance of a deliberate mistake per decision (None: drawn)."""
    if wild is None:
        wild = draw(st.sampled_from([0.0, 0.0, 0.0, 0.02, 0.05, 0.15]))
    if blocks is None:
        blocks = draw(st.integers(0, 99)) >= 70
    gen = _SpecGen(draw, wild=wild, blocks=blocks, rank=rank)
    return gen.spec()
