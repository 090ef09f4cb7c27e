"""concat, add and multiply against torch."""

from __future__ import annotations

import pytest
import torch
from helpers import make_layer
from twins import check_layer, ids


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
