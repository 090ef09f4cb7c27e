"""Every registered layer kind and every public formula has a table of torch comparisons."""

from __future__ import annotations

import inspect

from archc import formulas
from archc.layers import Layer

# Layer kinds that tests/layers/test_*.py compare with torch; a new kind needs its own table.
COVERED_KINDS = {
    "conv", "conv_transpose", "pool", "upsample", "dense", "batchnorm", "activation", "dropout",
    "identity", "flatten", "reshape", "concat", "add", "multiply",
}  # fmt: skip


def test_every_registered_kind_is_covered():
    assert set(Layer.registry) == COVERED_KINDS


def test_every_formula_is_covered():
    public = {
        name
        for name, fn in inspect.getmembers(formulas, inspect.isfunction)
        if fn.__module__ == formulas.__name__ and not name.startswith("_")
    }
    tested = {"conv_out", "pool_out", "conv_transpose_out", "same_padding", "upsample_out"}
    assert public == tested
