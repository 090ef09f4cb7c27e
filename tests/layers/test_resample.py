"""upsample: the output-size formula and the layer (scale or size) against torch."""

from __future__ import annotations

import itertools

import pytest
from helpers import make_layer
from torch import nn
from twins import check_layer, ids, run_torch

from archc import formulas

# -- the formula -----------------------------------------------------------------------------


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
