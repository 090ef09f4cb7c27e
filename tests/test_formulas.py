"""Every shape formula and every layer kind's shape/params/MACs against real torch layers.

Each case builds the torch layer by hand (never through archc's emitters), runs a zero tensor
of batch 1 through it, and compares: the output shape with `output_shape`, the parameter count
with ``sum(p.numel())``, and the MACs with a count derived from the torch weight's shape. Where
torch raises, archc must raise a `LayerError` from `output_shape` too.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import make_layer
from torch import nn

from archc import formulas
from archc.errors import LayerError

TORCH_ERRORS = (RuntimeError, ValueError, NotImplementedError, IndexError)


def run_torch(build, *input_shapes):
    """(module, output) of `build()` run on zeros of batch 1, or None if torch raises."""
    try:
        module = build()
        if isinstance(module, nn.Module):
            module.eval()
        with torch.no_grad():
            out = module(*(torch.zeros(1, *s) for s in input_shapes))
    except TORCH_ERRORS:
        return None
    return module, out


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters()) if isinstance(module, nn.Module) else 0


def check_layer(layer, input_shapes, build):
    """Compare an archc layer with the torch layer `build()`; returns the torch (module, out)."""
    result = run_torch(build, *input_shapes)
    if result is None:
        with pytest.raises(LayerError):
            layer.output_shape([tuple(s) for s in input_shapes])
        return None
    module, out = result
    shapes = [tuple(s) for s in input_shapes]
    static = layer.output_shape(shapes)
    assert static == tuple(out.shape[1:])
    assert layer.param_count(shapes, static) == n_params(module)
    return module, out


def ids(value) -> str:
    """A readable test id for one parameter value: 3, 2x3, same, (3x4x4)+(5x4x4)."""
    if isinstance(value, list):
        return "x".join(map(str, value))
    if isinstance(value, tuple):
        if all(isinstance(v, int) for v in value):
            return "x".join(map(str, value))
        return "+".join(f"({ids(v)})" for v in value)
    return str(value)


# -- the formulas themselves -----------------------------------------------------------------

SIZES = (1, 2, 3, 4, 7)
CONV_GRID = list(itertools.product(SIZES, (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)))


@pytest.mark.parametrize("n,k,s,p,d", CONV_GRID, ids=ids)
def test_conv_out_formula(n, k, s, p, d):
    got = formulas.conv_out(n, k, s, p, d)
    result = run_torch(lambda: nn.Conv1d(1, 1, k, s, p, d), (1, n))
    if result is None:
        assert got < 1
    else:
        assert got == result[1].shape[-1]


POOL_FORMULA_GRID = [
    case
    for case in itertools.product(
        (1, 2, 3, 5, 6), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (1, 2), (False, True)
    )
    # PyTorch's precondition, not part of the formula: padding <= half the kernel (PyTorch
    # checks the kernel size itself, not the dilated window).
    if 2 * case[3] <= case[1]
]


@pytest.mark.parametrize("n,k,s,p,d,ceil", POOL_FORMULA_GRID, ids=ids)
def test_pool_out_formula_max(n, k, s, p, d, ceil):
    got = formulas.pool_out(n, k, s, p, d, ceil)
    result = run_torch(lambda: nn.MaxPool1d(k, s, p, d, ceil_mode=ceil), (1, n))
    if result is None:
        assert got < 1
    else:
        assert got == result[1].shape[-1]


@pytest.mark.parametrize(
    "n,k,s,p,ceil", sorted({(n, k, s, p, c) for n, k, s, p, d, c in POOL_FORMULA_GRID}), ids=ids
)
def test_pool_out_formula_avg(n, k, s, p, ceil):
    got = formulas.pool_out(n, k, s, p, 1, ceil)
    result = run_torch(lambda: nn.AvgPool1d(k, s, p, ceil_mode=ceil), (1, n))
    if result is None:
        assert got < 1
    else:
        assert got == result[1].shape[-1]


def test_pool_grid_exercises_the_ceil_drop_rule():
    """The grid above must contain windows that start in the right padding and are dropped."""
    dropped = [
        (n, k, s, p)
        for n, k, s, p, d, ceil in POOL_FORMULA_GRID
        if ceil
        and d == 1
        and formulas.pool_out(n, k, s, p, 1, True) != math.ceil((n + 2 * p - k) / s) + 1
    ]
    assert dropped, "no case of the grid hits PyTorch's drop-the-last-window rule"
    for n, k, s, p in dropped:
        out = nn.MaxPool1d(k, s, p, ceil_mode=True)(torch.zeros(1, 1, n)).shape[-1]
        assert out == math.ceil((n + 2 * p - k) / s)  # one fewer than the naive ceil


@pytest.mark.parametrize(
    "n,k,s,p,op,d",
    list(itertools.product((1, 2, 3, 5), (1, 2, 3), (1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2))),
    ids=ids,
)
def test_conv_transpose_out_formula(n, k, s, p, op, d):
    result = run_torch(
        lambda: nn.ConvTranspose1d(1, 1, k, s, p, output_padding=op, dilation=d), (1, n)
    )
    if op >= max(s, d):  # PyTorch's precondition, not part of the formula
        assert result is None
        return
    got = formulas.conv_transpose_out(n, k, s, p, op, d)
    if result is None:
        assert got < 1
    else:
        assert got == result[1].shape[-1]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k,d", list(itertools.product((1, 2, 3, 4, 5, 6), (1, 2, 3))), ids=ids)
def test_same_padding_matches_torch(k, d):
    """Explicit (left, right) padding then a valid conv reproduces PyTorch's padding='same'."""
    left, right = formulas.same_padding(k, d)
    assert left + right == d * (k - 1)
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, k, padding="same", dilation=d)
    x = torch.randn(1, 2, 9)
    same = conv(x)
    manual = F.conv1d(F.pad(x, (left, right)), conv.weight, conv.bias, dilation=d)
    assert manual.shape == same.shape == (1, 3, 9)
    assert torch.allclose(manual, same, atol=1e-6)


@pytest.mark.parametrize(
    "n,scale",
    list(itertools.product((1, 2, 3, 5, 7, 10), (0.1, 0.25, 0.5, 0.7, 1, 1.5, 2, 2.5, 3))),
    ids=ids,
)
def test_upsample_out_formula(n, scale):
    got = formulas.upsample_out(n, scale)
    result = run_torch(lambda: nn.Upsample(scale_factor=scale, mode="nearest"), (1, n))
    if result is None:
        assert got < 1
    else:
        assert got == result[1].shape[-1]


# -- conv ------------------------------------------------------------------------------------


def torch_conv(rank, cin, filters, k, s=1, p=0, d=1, groups=1, bias=True):
    return lambda: getattr(nn, f"Conv{rank}d")(
        cin, filters, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias
    )


def check_conv_macs(layer, in_shape, module, out):
    """MACs = output elements x weights per output element (the weight's [Cin/groups, *k])."""
    static = tuple(out.shape[1:])
    expected = out[0].numel() * module.weight[0].numel()
    assert layer.mac_count([tuple(in_shape)], static) == expected


CONV_1D = list(
    itertools.product((1, 3, 7), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2), (True, False))
)


@pytest.mark.parametrize("n,k,s,p,d,bias", CONV_1D, ids=ids)
def test_conv_1d(n, k, s, p, d, bias):
    layer = make_layer("conv", filters=4, kernel=k, stride=s, padding=p, dilation=d, bias=bias)
    in_shape = (3, n)
    result = check_layer(layer, [in_shape], torch_conv(1, 3, 4, k, s, p, d, bias=bias))
    if result:
        check_conv_macs(layer, in_shape, *result)


PAIRS_K = ([1, 1], [3, 3], [2, 3], [5, 1])
PAIRS_S = ([1, 1], [2, 1], [3, 2])
PAIRS_P = ([0, 0], [1, 2], [2, 0])
PAIRS_D = ([1, 1], [2, 1], [1, 3])
CONV_2D = list(itertools.product(([5, 7], [3, 8], [1, 4]), PAIRS_K, PAIRS_S, PAIRS_P, PAIRS_D))


@pytest.mark.parametrize("hw,k,s,p,d", CONV_2D, ids=ids)
def test_conv_2d(hw, k, s, p, d):
    layer = make_layer("conv", filters=5, kernel=k, stride=s, padding=p, dilation=d)
    in_shape = (2, *hw)
    build = torch_conv(2, 2, 5, tuple(k), tuple(s), tuple(p), tuple(d))
    result = check_layer(layer, [in_shape], build)
    if result:
        check_conv_macs(layer, in_shape, *result)


@pytest.mark.parametrize(
    "k,s,d,value",
    [
        # a scalar written once for every dimension, and a one-value list
        (3, 2, 1, "int"),
        ([3], [2], [2], "list1"),
    ],
)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_scalar_and_one_value_lists_apply_to_every_dim(k, s, d, value, rank):
    layer = make_layer("conv", filters=2, kernel=k, stride=s, dilation=d)
    in_shape = (1, *([9] * rank))
    scalar = lambda v: v[0] if isinstance(v, list) else v  # noqa: E731
    build = torch_conv(rank, 1, 2, scalar(k), scalar(s), 0, scalar(d))
    result = check_layer(layer, [in_shape], build)
    assert result is not None
    check_conv_macs(layer, in_shape, *result)


@pytest.mark.parametrize(
    "padding,k,s,d,rank",
    [
        (padding, k, s, d, rank)
        for padding, k, s, d, rank in itertools.product(
            ("same", "valid"), (1, 2, 3, 4, 5), (1, 2), (1, 2, 3), (1, 2)
        )
    ],
    ids=ids,
)
def test_conv_padding_words(padding, k, s, d, rank):
    layer = make_layer("conv", filters=3, kernel=k, stride=s, padding=padding, dilation=d)
    in_shape = (2, *([6] * rank))
    result = check_layer(layer, [in_shape], torch_conv(rank, 2, 3, k, s, padding, d))
    if result:
        check_conv_macs(layer, in_shape, *result)


@pytest.mark.parametrize(
    "cin,filters,groups",
    list(itertools.product((4, 6, 12), (4, 6, 12), (1, 2, 3, 4, 6, 12))),
    ids=ids,
)
@pytest.mark.parametrize("rank", [1, 2])
def test_conv_groups(cin, filters, groups, rank):
    layer = make_layer("conv", filters=filters, kernel=3, groups=groups, padding=1)
    in_shape = (cin, *([5] * rank))
    result = check_layer(layer, [in_shape], torch_conv(rank, cin, filters, 3, 1, 1, 1, groups))
    if result:
        check_conv_macs(layer, in_shape, *result)


# -- conv_transpose --------------------------------------------------------------------------

CONV_T_1D = list(itertools.product((1, 2, 4), (1, 2, 3), (1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2)))


def torch_conv_t(rank, cin, filters, k, s=1, p=0, op=0, d=1, groups=1, bias=True):
    return lambda: getattr(nn, f"ConvTranspose{rank}d")(
        cin,
        filters,
        k,
        stride=s,
        padding=p,
        output_padding=op,
        dilation=d,
        groups=groups,
        bias=bias,
    )


def check_conv_t_macs(layer, in_shape, module, out):
    """MACs = input elements x weights each input element meets (the weight's [Cout/groups, *k])."""
    expected = math.prod(in_shape) * module.weight[0].numel()
    assert layer.mac_count([tuple(in_shape)], tuple(out.shape[1:])) == expected


@pytest.mark.parametrize("n,k,s,p,op,d", CONV_T_1D, ids=ids)
def test_conv_transpose_1d(n, k, s, p, op, d):
    layer = make_layer(
        "conv_transpose", filters=4, kernel=k, stride=s, padding=p, output_padding=op, dilation=d
    )
    in_shape = (2, n)
    result = check_layer(layer, [in_shape], torch_conv_t(1, 2, 4, k, s, p, op, d))
    if result:
        check_conv_t_macs(layer, in_shape, *result)


@pytest.mark.parametrize(
    "hw,k,s,p,op",
    list(
        itertools.product(
            ([3, 5], [1, 2]), ([2, 2], [3, 1]), ([1, 1], [2, 3]), ([0, 0], [1, 0]), ([0, 0], [1, 2])
        )
    ),
    ids=ids,
)
def test_conv_transpose_2d(hw, k, s, p, op):
    layer = make_layer(
        "conv_transpose", filters=3, kernel=k, stride=s, padding=p, output_padding=op
    )
    in_shape = (2, *hw)
    result = check_layer(
        layer, [in_shape], torch_conv_t(2, 2, 3, tuple(k), tuple(s), tuple(p), tuple(op))
    )
    if result:
        check_conv_t_macs(layer, in_shape, *result)


@pytest.mark.parametrize(
    "cin,filters,groups,bias",
    list(itertools.product((2, 4, 6), (2, 4, 6), (1, 2, 3), (True, False))),
    ids=ids,
)
def test_conv_transpose_groups(cin, filters, groups, bias):
    layer = make_layer(
        "conv_transpose", filters=filters, kernel=3, stride=2, groups=groups, bias=bias
    )
    in_shape = (cin, 4, 4)
    result = check_layer(
        layer, [in_shape], torch_conv_t(2, cin, filters, 3, 2, groups=groups, bias=bias)
    )
    if result:
        check_conv_t_macs(layer, in_shape, *result)


# -- pooling ---------------------------------------------------------------------------------


def torch_pool(mode, rank, k, s, p, ceil):
    cls = getattr(nn, f"{'Max' if mode == 'max' else 'Avg'}Pool{rank}d")
    return lambda: cls(k, s, p, ceil_mode=ceil)


POOL_1D = list(
    itertools.product(
        ("max", "avg"), (1, 2, 3, 5, 6), (1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (False, True)
    )
)


@pytest.mark.parametrize("mode,n,k,s,p,ceil", POOL_1D, ids=ids)
def test_pool_1d(mode, n, k, s, p, ceil):
    layer = make_layer("pool", mode=mode, kernel=k, stride=s, padding=p, ceil=ceil)
    check_layer(layer, [(3, n)], torch_pool(mode, 1, k, s, p, ceil))
    if run_torch(torch_pool(mode, 1, k, s, p, ceil), (3, n)):
        assert layer.mac_count([(3, n)], layer.output_shape([(3, n)])) == 0


POOL_2D = list(
    itertools.product(
        ("max", "avg"),
        ([5, 6], [2, 7]),
        ([2, 2], [3, 2], [1, 4]),
        (None, [2, 2], [1, 3]),
        ([0, 0], [1, 1], [1, 2]),
        (False, True),
    )
)


@pytest.mark.parametrize("mode,hw,k,s,p,ceil", POOL_2D, ids=ids)
def test_pool_2d(mode, hw, k, s, p, ceil):
    fields = dict(mode=mode, kernel=k, padding=p, ceil=ceil)
    if s is not None:
        fields["stride"] = s
    layer = make_layer("pool", **fields)
    stride = tuple(s) if s is not None else None  # torch's default stride is the kernel too
    check_layer(layer, [(2, *hw)], torch_pool(mode, 2, tuple(k), stride, tuple(p), ceil))


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize(
    "in_shape,output",
    [
        ((3, 7), 1),
        ((3, 7), 3),
        ((3, 2), 5),
        ((3, 7, 5), [2, 3]),
        ((3, 7, 5), [1]),
        ((3, 4, 4), 4),
        ((3, 1, 9), [3, 3]),
        ((2, 4, 5, 6), [2, 2, 3]),
    ],
    ids=str,
)
def test_adaptive_pool(mode, in_shape, output):
    layer = make_layer("pool", mode=mode, output=output)
    rank = len(in_shape) - 1
    size = (
        output if isinstance(output, int) else tuple(output * rank if len(output) == 1 else output)
    )
    cls = getattr(nn, f"Adaptive{'Max' if mode == 'max' else 'Avg'}Pool{rank}d")
    assert check_layer(layer, [in_shape], lambda: cls(size)) is not None


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("in_shape", [(3, 7), (3, 1), (4, 5, 6), (2, 1, 1), (2, 3, 4, 5)], ids=str)
def test_global_pool(mode, in_shape):
    layer = make_layer("pool", mode=mode, kernel="global")
    rank = len(in_shape) - 1
    cls = getattr(nn, f"Adaptive{'Max' if mode == 'max' else 'Avg'}Pool{rank}d")
    result = check_layer(layer, [in_shape], lambda: cls(1))
    assert result is not None
    module, out = result
    reduce = torch.amax if mode == "max" else torch.mean
    x = torch.randn(1, *in_shape)
    dims = tuple(range(2, 2 + rank))
    assert torch.allclose(module(x), reduce(x, dim=dims, keepdim=True))


@pytest.mark.parametrize("in_shape", [(4,), (2, 3, 4, 5, 6)], ids=str)
def test_pool_rejects_inputs_torch_cannot_pool(in_shape):
    layer = make_layer("pool", kernel=2)
    with pytest.raises(LayerError):
        layer.output_shape([in_shape])


# -- upsample --------------------------------------------------------------------------------

UPSAMPLE_SCALE = list(
    itertools.product(
        ("nearest", "bilinear"),
        ((3, 5), (2, 3, 4), (2, 1, 7), (1, 2, 2, 3)),
        (0.25, 0.5, 1, 1.5, 2, 3),
    )
)


@pytest.mark.parametrize("mode,in_shape,scale", UPSAMPLE_SCALE, ids=ids)
def test_upsample_scale(mode, in_shape, scale):
    layer = make_layer("upsample", scale=scale, mode=mode)
    check_layer(layer, [in_shape], lambda: nn.Upsample(scale_factor=scale, mode=mode))


@pytest.mark.parametrize(
    "mode,in_shape,size",
    [
        ("nearest", (3, 5), 8),
        ("nearest", (3, 5), [2]),
        ("nearest", (2, 3, 4), [6, 9]),
        ("nearest", (2, 3, 4), 1),
        ("nearest", (2, 2, 3, 4), [4, 6, 8]),
        ("bilinear", (2, 3, 4), [7, 5]),
        ("bilinear", (2, 3, 4), 10),
        ("bilinear", (3, 5), 8),
    ],
    ids=ids,
)
def test_upsample_size(mode, in_shape, size):
    layer = make_layer("upsample", size=size, mode=mode)
    rank = len(in_shape) - 1
    torch_size = size if isinstance(size, int) else tuple(size * rank if len(size) == 1 else size)
    check_layer(layer, [in_shape], lambda: nn.Upsample(size=torch_size, mode=mode))


# -- layers without a window -----------------------------------------------------------------


@pytest.mark.parametrize(
    "features,units,bias",
    list(itertools.product((1, 5, 400), (1, 10, 120), (True, False))),
    ids=ids,
)
def test_dense(features, units, bias):
    layer = make_layer("dense", units=units, bias=bias)
    module, out = check_layer(layer, [(features,)], lambda: nn.Linear(features, units, bias=bias))
    assert layer.mac_count([(features,)], (units,)) == module.weight.numel()


@pytest.mark.parametrize("in_shape", [(5, 5), (3, 4, 4)], ids=str)
def test_dense_needs_a_flat_input(in_shape):
    """nn.Linear would silently act on the last dim; archc refuses and suggests a flatten."""
    with pytest.raises(LayerError) as info:
        make_layer("dense", units=3).output_shape([in_shape])
    assert "flatten" in info.value.help


@pytest.mark.parametrize("in_shape", [(4,), (3, 5), (2, 4, 4), (2, 3, 3, 3)], ids=str)
def test_batchnorm(in_shape):
    layer = make_layer("batchnorm")
    cls = getattr(nn, f"BatchNorm{max(len(in_shape) - 1, 1)}d")
    module, out = check_layer(layer, [in_shape], lambda: cls(in_shape[0]))
    assert layer.mac_count([in_shape], in_shape) == 0
    # Running statistics are buffers, not parameters.
    assert (
        n_params(module)
        == 2 * in_shape[0]
        < n_params(module) + sum(b.numel() for b in module.buffers() if b.dtype.is_floating_point)
    )


@pytest.mark.parametrize(
    "kind,fields,torch_layer",
    [
        ("activation", {"fn": "relu"}, nn.ReLU),
        ("activation", {"fn": "softmax"}, lambda: nn.Softmax(dim=1)),
        ("activation", {"fn": "gelu"}, nn.GELU),
        ("dropout", {"rate": 0.3}, lambda: nn.Dropout(0.3)),
        ("identity", {}, nn.Identity),
        ("flatten", {}, nn.Flatten),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
@pytest.mark.parametrize("in_shape", [(7,), (3, 5), (2, 4, 6), (2, 3, 4, 5)], ids=str)
def test_shape_only_layers(kind, fields, torch_layer, in_shape):
    layer = make_layer(kind, **fields)
    module, out = check_layer(layer, [in_shape], torch_layer)
    assert layer.mac_count([in_shape], tuple(out.shape[1:])) == 0


@pytest.mark.parametrize(
    "in_shape,target",
    [
        ((12,), [3, 4]),
        ((12,), [-1, 2]),
        ((3, 4, 5), [60]),
        ((3, 4, 5), [-1]),
        ((3, 4, 5), [5, -1, 2]),
        ((3, 4, 5), [1, 1, 60, 1]),
        ((2, 6), [4, 3]),
        # torch refuses these:
        ((12,), [5, -1]),
        ((12,), [5, 3]),
        ((12,), [-1, -1]),
        ((12,), [0, 12]),
        ((12,), [-2, -6]),
    ],
    ids=ids,
)
def test_reshape(in_shape, target):
    layer = make_layer("reshape", shape=target)
    check_layer(layer, [in_shape], lambda: lambda x: x.reshape(x.shape[0], *target))


@pytest.mark.parametrize(
    "shapes,axis",
    [
        (((3, 4, 4), (5, 4, 4)), 0),
        (((3, 4, 4), (5, 4, 4), (1, 4, 4)), 0),
        (((3, 4, 4), (3, 2, 4)), 1),
        (((3, 4, 4), (3, 4, 7)), 2),
        (((6,), (4,)), 0),
        (((2, 5), (2, 3)), 1),
        # torch refuses these:
        (((3, 4, 4), (5, 4, 5)), 0),
        (((3, 4, 4), (3, 2, 4)), 0),
        (((3, 4, 4), (3, 4)), 0),
        (((3, 4), (3, 4)), 2),
    ],
    ids=ids,
)
def test_concat(shapes, axis):
    layer = make_layer("concat", inputs=[f"a{i}" for i in range(len(shapes))], axis=axis)
    check_layer(layer, list(shapes), lambda: lambda *xs: torch.cat(xs, dim=axis + 1))


@pytest.mark.parametrize("kind,op", [("add", torch.add), ("multiply", torch.mul)])
@pytest.mark.parametrize(
    "shapes",
    [
        ((3, 4, 4), (3, 4, 4)),
        ((3, 4, 4), (3, 4, 4), (3, 4, 4)),
        ((7,), (7,)),
        ((2, 5), (2, 5)),
        # torch refuses these (no broadcast possible):
        ((3, 4, 4), (5, 4, 4)),
        ((2, 5), (2, 6)),
        ((7,), (6,)),
    ],
    ids=str,
)
def test_elementwise_merge(kind, op, shapes):
    layer = make_layer(kind, inputs=[f"a{i}" for i in range(len(shapes))])

    def merge(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = op(out, x)
        return out

    result = check_layer(layer, list(shapes), lambda: merge)
    if result:
        assert layer.mac_count([tuple(s) for s in shapes], shapes[0]) == 0


# -- coverage of the registry ----------------------------------------------------------------

# Layer kinds the tables above compare with torch; a new kind needs its own table here.
COVERED_KINDS = {
    "conv", "conv_transpose", "pool", "upsample", "dense", "batchnorm", "activation", "dropout",
    "identity", "flatten", "reshape", "concat", "add", "multiply",
}  # fmt: skip


def test_every_registered_kind_is_covered():
    from archc.layers import Layer

    assert set(Layer.registry) == COVERED_KINDS


def test_every_formula_is_covered():
    import inspect

    public = {
        name
        for name, fn in inspect.getmembers(formulas, inspect.isfunction)
        if fn.__module__ == formulas.__name__ and not name.startswith("_")
    }
    tested = {"conv_out", "pool_out", "conv_transpose_out", "same_padding", "upsample_out"}
    assert public == tested


def test_the_grids_are_mostly_cases_torch_accepts():
    """Guard against a grid (or a torch builder above) that makes nearly every case an error,
    which would leave only the "both raise" branch tested."""
    accepted = {
        "conv": [
            run_torch(torch_conv(1, 3, 4, k, s, p, d, bias=b), (3, n)) is not None
            for n, k, s, p, d, b in CONV_1D
        ],
        "conv_transpose": [
            run_torch(torch_conv_t(1, 2, 4, k, s, p, op, d), (2, n)) is not None
            for n, k, s, p, op, d in CONV_T_1D
        ],
        "pool": [
            run_torch(torch_pool(mode, 1, k, s, p, ceil), (3, n)) is not None
            for mode, n, k, s, p, ceil in POOL_1D
        ],
    }
    for kind, results in accepted.items():
        share = sum(results) / len(results)
        assert 0.3 < share < 1, (kind, share)  # both branches are exercised
