"""The Python API: the pipeline's verbs, load -> analyse -> emit.

``spec = archc.load(path)``, then ``archc.analyse(spec)``, ``archc.to_torch(spec)``,
``archc.to_source(spec)`` or ``archc.to_graphviz(spec)``. Every emitter accepts a `Spec` or an
already analysed `Graph`. Invalid specs raise `SpecError` carrying every diagnostic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from archc import expand as _expand
from archc import load as _load
from archc.analyse import Budget, Graph
from archc.analyse import analyse as _analyse
from archc.errors import SpecError
from archc.validate import Spec, partial_spec, validate

if TYPE_CHECKING:
    import graphviz
    from torch import nn


def load(path: str | Path, overrides: Sequence[str] = ()) -> Spec:
    """Read, expand and validate a spec file. `overrides` are ``key=value`` texts (``--set``)."""
    return _compile(_load.load(path), overrides)


def loads(text: str, path: str = "<spec>", overrides: Sequence[str] = ()) -> Spec:
    """Like `load`, from spec text; `path` is only used in error messages."""
    return _compile(_load.loads(text, path), overrides)


def _compile(doc: _load.Document, overrides: Sequence[str]) -> Spec:
    expanded = _expand.expand(doc, overrides)
    try:
        return validate(expanded)
    except SpecError as exc:
        raise SpecError([*exc.diagnostics, *_independent(expanded)], doc.text) from None


def _independent(doc: _load.Document) -> list:
    """Mistakes the analysis finds in the layers that are valid, beside the invalid ones.

    Left out: budget errors (the budget the caller will use is not known here) and unused
    layers (an invalid layer's inputs may be what was meant to use them).
    """
    spec = partial_spec(doc)
    if spec is None:
        return []
    try:
        _analyse(spec, Budget(max_params=2**63, max_activation=2**63))
    except SpecError as exc:
        return [d for d in exc.diagnostics if d.code != "E405" and not d.code.startswith("E5")]
    return []


def analyse(spec: Spec | Graph, budget: Budget = Budget()) -> Graph:
    """Static shapes, parameters and MACs of every layer."""
    return spec if isinstance(spec, Graph) else _analyse(spec, budget)


def to_source(spec: Spec | Graph) -> str:
    """The standalone Python module (imports only torch) that defines the network."""
    from archc.emit.source import to_source as emit

    return emit(analyse(spec))


def to_torch(spec: Spec | Graph) -> nn.Module:
    """A freshly initialised `nn.Module` of the network."""
    from archc.emit.torch import to_torch as emit

    return emit(analyse(spec))


def to_graphviz(
    spec: Spec | Graph, rankdir: str = "TB", collapse: bool = False
) -> graphviz.Digraph:
    """A `graphviz.Digraph` of the network with tensor shapes on its edges."""
    from archc.emit.diagram import to_graphviz as emit

    return emit(analyse(spec), rankdir=rankdir, collapse=collapse)
