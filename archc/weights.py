"""Load saved weights into a built module: a plain state dict, or a checkpoint holding one.

A file is read with ``torch.load(weights_only=True)``: tensors and plain containers only, never
pickled code. It may hold a state dict (``torch.save(model.state_dict(), path)``, torchvision's
published weights), a checkpoint of `archc train` (read by `archc.training.checkpoint`, which
refuses one trained from another spec), or any other dict with the state dict under
``"model"``. Keys saved from a `DistributedDataParallel` wrapper (``module.``-prefixed) are
accepted. Before anything is loaded, every tensor is matched against the module by name and
shape, and a mismatch is reported in one line (E604), never as PyTorch's multi-line
RuntimeError.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archc.analyse import Graph
from archc.errors import UsageError

CHECKPOINT_KEY = "model"  # where a checkpoint dict keeps the state dict
SHOWN = 3  # mismatches named in the message; the rest are counted
# Buffers that PyTorch fills in itself when an older state dict lacks them.
OPTIONAL_SUFFIXES = (".num_batches_tracked",)


@dataclass(frozen=True)
class Weights:
    """A state dict, and what its file says about the inputs it was trained on."""

    state: dict[str, torch.Tensor]
    normalise: dict[str, list[float]] | None = None  # {"mean": [...], "std": [...]}


def load_weights(module: nn.Module, path: str | os.PathLike, graph: Graph) -> Weights:
    """Load the weights in `path` into `module`, after checking that every tensor fits."""
    weights = read_weights(path, graph)
    problem = mismatch(module.state_dict(), weights.state, graph.name)
    if problem:
        raise UsageError(f"{path}: {problem}", code="E604")
    module.load_state_dict(weights.state, strict=False)  # strictness is `mismatch`'s job
    return weights


def read_weights(path: str | os.PathLike, graph: Graph) -> Weights:
    """The state dict in `path`. Raises UsageError (E604) when there is none to read."""
    path = Path(path)
    saved = _load(path)
    if isinstance(saved, dict) and _is_archc_checkpoint(saved):
        from archc.training import checkpoint
        from archc.training.model import spec_hash

        saved = checkpoint.load(path, spec_hash(graph), graph.name)  # the same spec, or E604
    state = saved.get(CHECKPOINT_KEY, saved) if isinstance(saved, dict) else saved
    if not _is_state_dict(state):
        raise UsageError(
            f"{path}: holds no state dict: expected a dict of named tensors, or a checkpoint "
            f"with one under {CHECKPOINT_KEY!r}. Received: {_describe(saved)}",
            code="E604",
        )
    if all(key.startswith("module.") for key in state):  # saved from a DDP wrapper
        state = {key.removeprefix("module."): value for key, value in state.items()}
    normalise = saved.get("normalise") if isinstance(saved, dict) else None
    return Weights(state, normalise if isinstance(normalise, dict) else None)


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read weights: {exc.strerror or exc}", code="E604"
        ) from None
    except Exception as exc:  # torch.load reports a foreign file in many exception types
        raise UsageError(
            f"{path}: not a PyTorch weights file: {_unreadable(exc)}", code="E604"
        ) from None


def _unreadable(exc: Exception) -> str:
    """Why torch.load failed, in a few words: its own messages run to paragraphs."""
    text = str(exc)
    if "Weights only load failed" in text:
        return (
            "it holds pickled Python objects, which archc never unpickles; "
            "save the model's state_dict() instead"
        )
    if "zip archive" in text:
        return "it is truncated or corrupt (not a complete zip archive)"
    return "torch.load cannot read it (save weights with torch.save(model.state_dict(), path))"


def _is_archc_checkpoint(saved: dict) -> bool:
    from archc.training import checkpoint

    return saved.get("format") == checkpoint.FORMAT


def mismatch(
    expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], name: str
) -> str | None:
    """None when `state` fits `expected` exactly; else what differs, in one line."""
    wrong = [
        f"`{key}` is {_shape(state[key])} in the weights but {_shape(value)} in {name}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    missing = [
        f"`{key}` is missing"
        for key in expected
        if key not in state and not key.endswith(OPTIONAL_SUFFIXES)
    ]
    extra = [f"`{key}` is not a tensor of {name}" for key in state if key not in expected]
    if not (wrong or missing or extra):
        return None
    counts = [
        _count(len(items), label)
        for items, label in ((wrong, "of another shape"), (missing, "missing"), (extra, "extra"))
        if items
    ]
    details = [*wrong, *missing, *extra]
    more = f"; and {len(details) - SHOWN} more" if len(details) > SHOWN else ""
    return (
        f"the weights do not fit {name} ({', '.join(counts)}): " + "; ".join(details[:SHOWN]) + more
    )


def _count(n: int, label: str) -> str:
    return f"{n} tensor{'s' if n != 1 else ''} {label}"


def _is_state_dict(value: object) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "a scalar"


def _describe(value: object) -> str:
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:5])
        return f"a dict with keys {keys}" if value else "an empty dict"
    return f"a {type(value).__name__}"
