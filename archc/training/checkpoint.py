"""Checkpoints: the weights, optimizer, schedule, epoch, history and the spec's hash.

A checkpoint is written through a temporary file and a rename (`archc.cli.write_atomic`), so an
interrupted run leaves the previous one whole. It is read back with ``weights_only=True`` (no
pickled code runs) and only for a spec with the same hash (E604 otherwise).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from archc.errors import UsageError

FORMAT = "archc-checkpoint"
VERSION = 1


def save(path: Path, state: dict[str, Any]) -> None:
    from archc.cli import write_atomic

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    write_atomic(path, buffer.getvalue())


def load(path: Path, spec_hash: str, spec_name: str) -> dict[str, Any]:
    """Read a checkpoint written for the spec whose hash is `spec_hash`."""
    if not path.is_file():
        reason = "a directory" if path.is_dir() else "No such file or directory"
        raise checkpoint_error(f"{path}: cannot read checkpoint: {reason}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise checkpoint_error(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    except Exception as exc:  # torch.load reports a foreign file in many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise checkpoint_error(f"{path}: not an archc checkpoint: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise checkpoint_error(f"{path}: not an archc checkpoint (written by `archc train`)")
    if state.get("spec_hash") != spec_hash:
        raise checkpoint_error(
            f"{path}: the checkpoint is for another spec: it was trained on "
            f"`{state.get('spec_name')}` (hash {str(state.get('spec_hash'))[:12]}) and this is "
            f"`{spec_name}` (hash {spec_hash[:12]}); the layers, the input or a --set differ"
        )
    return state


def checkpoint_error(message: str) -> UsageError:
    return UsageError(message, code="E604")
