"""dense, batchnorm, the shape-only layers and reshape against torch."""

from __future__ import annotations

import itertools

import pytest
from helpers import make_layer
from torch import nn
from twins import check_layer, ids, n_params

from archc.errors import LayerError

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
