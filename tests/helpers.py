"""Shared helpers for the archc test suite: spec text, layer objects, torch twins, the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LENET = REPO / "architectures" / "lenet5.yaml"

# LeNet-5's published figures: the table "LeNet-5, modern variant" of
# shared/reference/numbers.md. (layer, output shape, params, MACs at batch 1.)
LENET_PUBLISHED = [
    ("c1", (6, 28, 28), 156, 117_600),
    ("s2", (6, 14, 14), 0, 0),
    ("c3", (16, 10, 10), 2_416, 240_000),
    ("s4", (16, 5, 5), 0, 0),
    ("flat", (400,), 0, 0),
    ("f5", (120,), 48_120, 48_000),
    ("f6", (84,), 10_164, 10_080),
    ("output", (10,), 850, 840),
]
LENET_PARAMS = 61_706
LENET_MACS = 416_520


def spec_text(
    layers: Sequence[dict[str, Any]],
    input_shape: Sequence[int],
    *,
    name: str = "Net",
    outputs: Sequence[str] | None = None,
) -> str:
    """YAML text of a spec: one flow mapping per layer, so each layer is on its own line.

    JSON is YAML, so `json.dumps` renders every value unambiguously (no YAML 1.1 surprises).
    The first layer is on line 5, the n-th on line 4 + n.
    """
    lines = [
        "archc: 1",
        f"name: {json.dumps(name)}",
        f"input: {{shape: {json.dumps(list(input_shape))}}}",
        "layers:",
    ]
    lines += [f"  - {flow(layer)}" for layer in layers]
    if outputs is not None:
        lines.append(f"outputs: {json.dumps(list(outputs))}")
    return "\n".join(lines) + "\n"


def flow(value: Any) -> str:
    """`value` as a YAML flow node: JSON, except non-finite floats, which are .inf / .nan."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return json.dumps(value)


def make_layer(kind: str, **fields: Any):
    """A validated archc layer object of `kind`, built through pydantic."""
    from archc.layers import Layer

    return Layer.registry[kind].model_validate({"type": kind, **fields})


def check_in_process(
    path: str | os.PathLike, cwd: str | os.PathLike | None = None
) -> tuple[int, str, str]:
    """``archc check PATH`` through `archc.cli.main` in this process: (exit code, stdout,
    stderr). For tables of specs whose subject is archc's verdict, not the process."""
    from measured import run_in_process

    run = run_in_process("check", path, cwd=cwd)
    return run.rc, run.out, run.err


def run_cli(
    *args: str | os.PathLike, cwd: str | os.PathLike | None = None, env: dict | None = None
) -> tuple[int, str, str]:
    """Run ``python -m archc ARGS`` in a subprocess: (returncode, stdout, stderr).

    The subprocess imports the same archc package as the tests do, whatever its cwd.
    """
    import archc

    package_root = str(Path(archc.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": path, **(env or {})}
    full_env.pop("ARCHC_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "archc", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr
