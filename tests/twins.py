"""Torch twins: run a hand-built torch layer and compare it with an archc layer.

Each case builds the torch layer by hand (never through archc's emitters), runs a zero tensor
of batch 1 through it, and compares: the output shape with `output_shape`, the parameter count
with ``sum(p.numel())``. Where torch raises, archc must raise a `LayerError` from
`output_shape` too.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

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
