"""The Python API: the pipeline's verbs, load -> analyse -> emit.

``spec = archc.load(path)``, then ``archc.analyse(spec)``, ``archc.to_torch(spec)``,
``archc.to_source(spec)`` or ``archc.to_graphviz(spec)``. Every emitter accepts a `Spec` or an
already analysed `Graph`. Invalid specs raise `SpecError` carrying every diagnostic.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from archc import expand as _expand
from archc import extras
from archc import load as _load
from archc.analyse import Budget, Graph
from archc.analyse import analyse as _analyse
from archc.errors import SpecError
from archc.validate import Spec, partial_spec, validate

if TYPE_CHECKING:
    import graphviz
    from torch import nn

    from archc.exporter import ExportReport
    from archc.training.run import History


def load(path: str | Path, overrides: Sequence[str] = ()) -> Spec:
    """Read, expand and validate a spec file. `overrides` are ``key=value`` texts (``--set``)."""
    with _collector_paused():
        return _compile(_load.load(path), overrides)


def loads(text: str, path: str = "<spec>", overrides: Sequence[str] = ()) -> Spec:
    """Like `load`, from spec text; `path` is only used in error messages."""
    with _collector_paused():
        return _compile(_load.loads(text, path), overrides)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a spec is compiled.

    Loading a large spec allocates hundreds of thousands of small objects that stay alive, and
    each allocation threshold crossed starts a collection that walks them all again: time
    grows with the square of the spec. The pipeline builds no reference cycles worth
    collecting, so the collector waits until it is done.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    if isinstance(spec, Graph):
        return spec
    with _collector_paused():
        return _analyse(spec, budget)


def to_source(spec: Spec | Graph) -> str:
    """The standalone Python module (imports only torch) that defines the network."""
    from archc.emit.source import to_source as emit

    return emit(analyse(spec))


def to_torch(spec: Spec | Graph) -> nn.Module:
    """A freshly initialised `nn.Module` of the network. Needs the ``archc[torch]`` extra."""
    extras.require_for_api("to_torch", "torch", extras.TORCH)
    from archc.emit.torch import to_torch as emit

    return emit(analyse(spec))


def to_graphviz(
    spec: Spec | Graph, rankdir: str = "TB", collapse: bool = False, depth: int | None = None
) -> graphviz.Digraph:
    """A `graphviz.Digraph` of the network with tensor shapes on its edges; blocks below
    `depth` folded, by default as many as keep it within 4,000 px."""
    from archc.emit.diagram import to_graphviz as emit

    return emit(analyse(spec), rankdir=rankdir, collapse=collapse, depth=depth)


def export(
    spec: Spec | Graph,
    path: str | Path,
    format: str | None = None,
    weights: str | Path | None = None,
) -> ExportReport:
    """Write the network as ONNX, torch.export (``.pt2``) or TorchScript, with a dynamic batch.

    `format` is ``"onnx"``, ``"pt2"`` or ``"torchscript"`` (default: from `path`'s suffix,
    else ONNX); `weights` a saved state dict or `archc train` checkpoint (default: fresh
    weights). The file is run back (onnxruntime, `torch.export.load`, `torch.jit.load`) at
    several batch sizes and written, atomically, only when its outputs match PyTorch's within
    1e-4; the returned report holds the largest difference. Raises ImportError naming the
    extra when a package the format needs is missing, UsageError for an unwritable path or
    unusable weights, SpecError (E701) for a failed check.
    """
    from archc.exporter import FORMATS, resolve_format
    from archc.exporter import export as run

    fmt = resolve_format(path, format)
    extras.require_for_api(f"export(format={fmt!r})", FORMATS[fmt].extra, FORMATS[fmt].packages)
    return run(analyse(spec), path, fmt, weights)


def train(
    spec: Spec | Graph | str | Path,
    data: str | Path | tuple | None = None,
    epochs: int | None = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    verbose: bool = False,
    **recipe: object,
) -> History:
    """Train the network as `archc train` does and return its history.

    `spec` is a spec file's path, a `Spec` or a `Graph`. `data` is ``"digits"`` (the bundled
    digits, the default; with `resume`, the checkpoint's data), a path (IDX files, a folder of
    class sub-folders, an ``.npz``) or an ``(x, y)`` pair of arrays. `recipe` takes the other
    `archc train` options: ``batch``, ``lr``, ``optimizer``, ``seed``, ``shift``, ``amp``,
    ``device``, ``threads``. With `out`, the checkpoint, metrics and curves are written there
    (and `resume` continues that run); without, nothing is written. The returned `History`
    holds one row per epoch (``history.epochs``), the final metrics (``history.to_json()``)
    and the trained module of the spec as written (``history.model``).
    """
    from archc.extras import require_for_api
    from archc.training import EXTRA

    require_for_api("train", "train", EXTRA)
    from archc.training.recipe import Recipe

    if isinstance(spec, (str, Path)):
        spec = load(spec)
    from archc.training.run import Log
    from archc.training.run import train as run

    unknown = set(recipe) - set(Recipe.__dataclass_fields__)
    if unknown:
        raise TypeError(f"train() got unknown options: {', '.join(sorted(unknown))}")
    options = {k: v for k, v in {**recipe, "epochs": epochs}.items() if v is not None}
    source = str(data) if isinstance(data, Path) else data
    target = Path(out) if out is not None else None
    return run(analyse(spec), source, options, target, resume, Log(quiet=not verbose))
