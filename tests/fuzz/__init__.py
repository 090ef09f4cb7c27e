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

The modules, by concern:

* `vocab`: the words drawn from (layer kinds, activations, tricky and bad names);
* `values`: literals, `$` references and raw YAML, and their YAML flow form;
* `oracle`: `layer_shape`, one shape rule per layer kind;
* `state`: the `Drawer` vocabulary and the records kept while drawing (`Drawn`, `Scope`, ...);
* `base`, `fields`, `layers`, `blocks`, `params`, `instances`, `spec`: the generator, one
  class (`spec.SpecGen`) assembled from one mixin per concern: layer fields, lists of layers,
  block definitions, field values written over block parameters, block instances and their
  simulation, and the whole spec with its rendering;
* `breakage`: YAML-level mistakes in the rendered text;
* `checks`: the property the tests check on each text, archc against PyTorch (imports
  torch; not imported by this package).
"""

from __future__ import annotations

from .oracle import Invalid, layer_shape
from .spec import specs
from .state import Drawn

__all__ = ["Drawn", "Invalid", "layer_shape", "specs"]
