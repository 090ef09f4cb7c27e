"""Export a network to ONNX, torch.export (`.pt2`) or TorchScript, and prove the file right.

Every export has a dynamic batch dimension. The file is never trusted as written: it is loaded
back by the runtime that will run it (onnxruntime, `torch.export.load`, `torch.jit.load`) and
run on random input at several batch sizes, and its outputs must match the PyTorch module's
within `TOLERANCE`. Only then is it written, atomically, so a failed export leaves no file.

This module imports no torch: `FORMATS` names the packages each format needs, which the
command line and the API check (`archc.extras`) before `archc.emit.export` and
`archc.weights` do the work.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archc import extras
from archc.analyse import Graph
from archc.errors import UsageError

TOLERANCE = 1e-4  # the largest absolute difference allowed between the file and PyTorch
CHECK_BATCHES = (2, 1, 3)  # batch sizes the file is run at; 1 and 3 prove the batch is dynamic
ONNX_LIMIT = 2**31  # protobuf's size limit: a single-file ONNX model holds at most 2 GiB


@dataclass(frozen=True)
class Format:
    """What a format is called, its file suffix, what runs it, and what it needs installed."""

    title: str
    suffix: str
    runtime: str
    extra: str  # the archc extra that brings `packages`
    packages: dict[str, str]  # import name -> distribution name


_ONNX_PACKAGES = {name: name for name in ("torch", "onnx", "onnxscript", "onnxruntime")}
FORMATS: dict[str, Format] = {
    "onnx": Format("ONNX", ".onnx", "onnxruntime", "export", _ONNX_PACKAGES),
    "pt2": Format("torch.export", ".pt2", "torch.export.load", "torch", extras.TORCH),
    "torchscript": Format("TorchScript", ".pt", "torch.jit.load", "torch", extras.TORCH),
}
_SUFFIXES = {".onnx": "onnx", ".pt2": "pt2", ".pt": "torchscript", ".ts": "torchscript"}


@dataclass(frozen=True)
class ExportReport:
    """What `export` wrote and how closely the file reproduces the PyTorch module."""

    path: Path
    format: str
    size: int  # bytes
    max_diff: float  # largest absolute difference from PyTorch over every output and batch
    batches: tuple[int, ...]
    detail: str = ""  # e.g. the ONNX opset
    note: str = ""  # what the weights' file says the inputs must be, when it says anything

    def text(self) -> str:
        fmt = FORMATS[self.format]
        detail = f" {self.detail}" if self.detail else ""
        batches = ", ".join(map(str, self.batches))
        return (
            f"wrote {self.path} ({fmt.title}{detail}, {_size_text(self.size)}, dynamic batch); "
            f"{fmt.runtime} matches PyTorch {_within(self.max_diff)} "
            f"at batch sizes {batches} (limit {TOLERANCE:.0e})"
        ) + (f"\nnote: {self.note}" if self.note else "")


def resolve_format(path: str | os.PathLike | None, fmt: str | None) -> str:
    """The format asked for, else the one the output file's suffix names, else ONNX."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(
                f"unknown export format `{fmt}`; use one of: {', '.join(FORMATS)}", code="E005"
            )
        return fmt
    if path is None:
        return "onnx"
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UsageError(
            f"cannot tell the export format from `{Path(path).name}`; name the file .onnx, "
            ".pt2 or .pt, or give --format onnx|pt2|torchscript",
            code="E005",
        )
    return _SUFFIXES[suffix]


def default_path(graph: Graph, fmt: str) -> Path:
    return Path("build") / f"{graph.name}{FORMATS[fmt].suffix}"


def export(
    graph: Graph,
    path: str | os.PathLike,
    fmt: str = "onnx",
    weights: str | os.PathLike | None = None,
) -> ExportReport:
    """Export `graph`'s module (with `weights`, else freshly initialised) to `path`, checked.

    The caller has checked that the packages `FORMATS[fmt]` needs are installed."""
    target = Path(path)
    fmt = resolve_format(target, fmt)
    _check_writable(target)
    if fmt == "onnx" and 4 * graph.params >= ONNX_LIMIT:
        raise UsageError(
            f"an ONNX file holds at most 2 GiB, and {graph.name}'s {graph.params:,} parameters "
            f"take {4 * graph.params / 1e9:.1f} GB; export it with --format pt2",
            code="E005",
        )
    from archc.cli import write_atomic
    from archc.emit import export as emit
    from archc.emit import memory

    memory.check_fits(graph)
    module, loaded = emit.build(graph, weights)
    expected = emit.reference(module, graph, CHECK_BATCHES)
    data, detail = emit.EXPORTERS[fmt](module, graph)
    max_diff = emit.compare(data, fmt, graph, CHECK_BATCHES, expected, TOLERANCE)
    write_atomic(target, data)
    note = _input_note(loaded.normalise) if loaded and loaded.normalise else ""
    return ExportReport(target, fmt, len(data), max_diff, CHECK_BATCHES, detail, note)


def _check_writable(target: Path) -> None:
    """Fail before the slow export, not after it, when `target` cannot be written."""
    if target.is_dir():
        raise UsageError(f"cannot write {target}: it is a directory", code="E003")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}", code="E003") from None
    os.close(fd)
    os.unlink(probe)


def _input_note(normalise: dict[str, list[float]]) -> str:
    """`archc train` standardises inputs outside the network: the exported model expects it."""
    mean, std = (", ".join(f"{v:.4g}" for v in normalise.get(k, [])) for k in ("mean", "std"))
    return (
        "the checkpoint's training run standardised its inputs outside the network, per "
        f"channel, as (x - mean) / std with mean [{mean}] and std [{std}]; prepare the "
        "exported model's inputs the same way"
    )


def _within(diff: float) -> str:
    return "exactly" if diff == 0 else f"within {diff:.1e}"


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
