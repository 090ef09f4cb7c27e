"""The torch side of `archc export`: build the module, serialise it, and run the file back.

Each format has one exporter (module -> file bytes) and one loader (file bytes -> a function
from an input batch to the list of output arrays), in the tables `EXPORTERS` and `LOADERS`.
PyTorch's outputs are computed first (`reference`), and the bytes are checked against them
(`compare`) before they are written, so the file on disk is the file that was run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from archc.analyse import Graph
from archc.emit.torch import to_torch
from archc.errors import Diagnostic, SpecError
from archc.weights import Weights, load_weights

Runner = Callable[[torch.Tensor], list[np.ndarray]]
TRACE_BATCH = 2


def build(
    graph: Graph, weights: str | os.PathLike | None = None
) -> tuple[nn.Module, Weights | None]:
    """The network's module in eval mode, with `weights` loaded when given, and what was read."""
    module = to_torch(graph)
    loaded = load_weights(module, weights, graph) if weights is not None else None
    return module.eval(), loaded


def sample(graph: Graph, batch: int) -> torch.Tensor:
    """A reproducible random input batch: the same graph and batch give the same tensor."""
    generator = torch.Generator().manual_seed(batch)
    return torch.randn(batch, *graph.input_shape, generator=generator)


# -- exporters: module -> (file bytes, a detail for the report) ---------------------------------


def to_onnx(module: nn.Module, graph: Graph) -> tuple[bytes, str]:
    """One self-contained ONNX file (weights inside, no `.onnx.data`): the input named as in
    the spec, the outputs after their layers, the batch dimension named ``batch``."""
    with _quiet():
        onnx_program = torch.onnx.export(
            module,
            (sample(graph, TRACE_BATCH),),
            dynamic_shapes=({0: "batch"},),  # a name, not a Dim: the exporter keeps it
            external_data=False,
            verbose=False,
            input_names=[graph.input_name],
            output_names=output_names(graph),
        )
    proto = onnx_program.model_proto
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return proto.SerializeToString(), f"opset {opset}"


def output_names(graph: Graph) -> list[str]:
    """The output layers' names, made unique as ONNX requires: a layer listed twice in
    `outputs` is ``name_2`` the second time."""
    names: list[str] = []
    for name in graph.outputs:
        unique, k = name, 1
        while unique in names:
            k += 1
            unique = f"{name}_{k}"
        names.append(unique)
    return names


def to_pt2(module: nn.Module, graph: Graph) -> tuple[bytes, str]:
    """`torch.export.export` with the batch a `torch.export.Dim`, saved by `torch.export.save`."""
    batch = torch.export.Dim("batch")
    with _quiet():
        exported = torch.export.export(
            module, (sample(graph, TRACE_BATCH),), dynamic_shapes=({0: batch},)
        )
    buffer = io.BytesIO()
    torch.export.save(exported, buffer)
    return buffer.getvalue(), ""


def to_torchscript(module: nn.Module, graph: Graph) -> tuple[bytes, str]:
    """Scripted, not traced: the generated forward has no data-dependent control flow, and a
    scripted module keeps the batch dimension free without relying on a trace."""
    buffer = io.BytesIO()
    with _quiet():
        torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue(), ""


EXPORTERS: dict[str, Callable[[nn.Module, Graph], tuple[bytes, str]]] = {
    "onnx": to_onnx,
    "pt2": to_pt2,
    "torchscript": to_torchscript,
}


# -- loaders: file bytes -> a runner ----------------------------------------------------------


def onnx_runner(data: bytes, graph: Graph) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: no graph-optimisation chatter on stderr
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return lambda x: list(session.run(None, {graph.input_name: x.numpy()}))


def pt2_runner(data: bytes, graph: Graph) -> Runner:
    loaded = torch.export.load(io.BytesIO(data)).module()
    return lambda x: _arrays(loaded(x))


def torchscript_runner(data: bytes, graph: Graph) -> Runner:
    loaded = torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
    return lambda x: _arrays(loaded(x))


LOADERS: dict[str, Callable[[bytes, Graph], Runner]] = {
    "onnx": onnx_runner,
    "pt2": pt2_runner,
    "torchscript": torchscript_runner,
}


# -- the check --------------------------------------------------------------------------------


def reference(module: nn.Module, graph: Graph, batches: Sequence[int]) -> list[list[np.ndarray]]:
    """PyTorch's outputs on `sample(graph, b)` for each batch size `b`: what the file must give.

    Raises SpecError (E701) when one is not finite (NaN or infinity, e.g. from diverged
    weights): nothing could be compared against it, so nothing is exported.
    """
    expected = []
    for batch in batches:
        with torch.no_grad():
            arrays = _arrays(module(sample(graph, batch)))
        for name, array in zip(graph.outputs, arrays, strict=True):
            if not np.isfinite(array).all():
                what = "PyTorch's own output holds NaN or infinity, so no file can be checked"
                raise _failed(graph, what, name, batch)
        expected.append(arrays)
    return expected


def compare(
    data: bytes,
    fmt: str,
    graph: Graph,
    batches: Sequence[int],
    expected: list[list[np.ndarray]],
    tolerance: float,
) -> float:
    """Run the file at each batch size: its largest absolute difference from `expected`.

    Raises SpecError (E701) when an output's shape differs or a difference exceeds `tolerance`.
    """
    with _quiet():
        run = LOADERS[fmt](data, graph)
    worst = 0.0
    for batch, want_all in zip(batches, expected, strict=True):
        with torch.no_grad(), _quiet():
            got = run(sample(graph, batch))
        for name, want, have in zip(graph.outputs, want_all, got, strict=True):
            if want.shape != have.shape:
                shapes = f"shape {list(have.shape)} where PyTorch gives {list(want.shape)}"
                raise _failed(graph, f"the exported file gives {shapes}", name, batch)
            diff = float(np.max(np.abs(want - have), initial=0.0))
            if not diff <= tolerance:  # a NaN difference fails too
                what = (
                    f"the exported file differs from PyTorch by {diff:.1e} (limit {tolerance:.0e})"
                )
                raise _failed(graph, what, name, batch)
            worst = max(worst, diff)
    return worst


def _failed(graph: Graph, what: str, output: str, batch: int) -> SpecError:
    source = graph.spec.source
    return SpecError(
        [
            Diagnostic(
                "E701",
                f"export refused: at batch size {batch}, output `{output}`: {what}; "
                "no file was written",
                source.path if source else "<spec>",
                help="an exported file must reproduce PyTorch's finite outputs; check the "
                "weights, and report the spec if they are sound",
            )
        ],
        source.text if source else None,
    )


def _arrays(output: torch.Tensor | Sequence[torch.Tensor]) -> list[np.ndarray]:
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    return [t.detach().numpy() for t in outputs]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress lines, warnings and log records.

    torch.onnx prints a line per stage and logs a warning per optional operator library it
    does not find; none of it says anything about the file, which `check` proves instead.
    """
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    sink = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
