"""conv and conv_transpose: the output-size formulas and the layers against torch.

MACs are checked against a count derived from the torch weight's shape.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import make_layer
from torch import nn
from twins import check_layer, ids, run_torch

from archc import formulas

# -- the formulas ----------------------------------------------------------------------------

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
    }
    for kind, results in accepted.items():
        share = sum(results) / len(results)
        assert 0.3 < share < 1, (kind, share)  # both branches are exercised
