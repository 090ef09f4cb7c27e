"""pool: the output-size formula (ceil mode and its dropped last window) and the layer,
adaptive and global pooling included, against torch.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from helpers import make_layer
from torch import nn
from twins import check_layer, ids, run_torch

from archc import formulas
from archc.errors import LayerError

# -- the formula -----------------------------------------------------------------------------

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


def test_the_grid_is_mostly_cases_torch_accepts():
    """Guard against a grid that makes nearly every case an error (only "both raise" tested)."""
    results = [
        run_torch(torch_pool(mode, 1, k, s, p, ceil), (3, n)) is not None
        for mode, n, k, s, p, ceil in POOL_1D
    ]
    share = sum(results) / len(results)
    assert 0.3 < share < 1, share  # both branches are exercised
