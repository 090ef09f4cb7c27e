"""The generated source (`archc.to_source`) as a standalone module that needs only torch.

The emitted file is imported in a fresh interpreter that cannot import archc (``-S -E -s``:
no site-packages processing, so neither archc's editable install nor PYTHONPATH is seen; torch's
directory is added by hand), loads a state_dict saved from `archc.to_torch`, runs a saved input
and saves the output, which must equal the in-process module's output.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import LENET, spec_text

import archc

# A network that uses every layer kind, so every emitter entry is exercised standalone.
EVERY_KIND = spec_text(
    [
        {"name": "stem", "type": "conv", "filters": 8, "kernel": 3, "padding": "same"},
        {"name": "bn", "type": "batchnorm", "activation": "relu"},
        {
            "name": "left",
            "type": "conv",
            "filters": 8,
            "kernel": [1, 3],
            "padding": [0, 1],
            "groups": 2,
            "activation": "gelu",
        },
        {"name": "res", "type": "add", "inputs": ["bn", "left"]},
        {"name": "down", "type": "pool", "kernel": 3, "stride": 2, "padding": 1, "ceil": True},
        {"name": "avg", "type": "pool", "mode": "avg", "kernel": 2, "inputs": "res"},
        {
            "name": "up",
            "type": "conv_transpose",
            "filters": 4,
            "kernel": 2,
            "stride": 2,
            "inputs": "avg",
            "activation": "tanh",
        },
        {"name": "back", "type": "upsample", "scale": 2, "inputs": "down"},
        {"name": "back2", "type": "upsample", "size": [12, 12], "mode": "bilinear", "inputs": "up"},
        {"name": "gate", "type": "activation", "fn": "sigmoid", "inputs": "back"},
        {"name": "mul", "type": "multiply", "inputs": ["gate", "back"]},
        {"name": "cat", "type": "concat", "inputs": ["mul", "back2"]},
        {"name": "adapt", "type": "pool", "output": [3, 2]},
        {"name": "glob", "type": "pool", "kernel": "global", "mode": "avg", "inputs": "cat"},
        {"name": "shaped", "type": "reshape", "shape": [-1, 6], "inputs": "adapt"},
        {"name": "flat", "type": "flatten"},
        {"name": "drop", "type": "dropout", "rate": 0.25},
        {"name": "tap", "type": "identity"},
        {"name": "head", "type": "dense", "units": 5, "bias": False, "activation": "softmax"},
        {"name": "pooled", "type": "flatten", "inputs": "glob"},
    ],
    [3, 10, 10],
    name="EveryKind",
    outputs=["head", "pooled"],
)

SPECS = {"lenet5": lambda: archc.load(LENET), "every_kind": lambda: archc.loads(EVERY_KIND)}

RUNNER = r"""
import json, sys
sys.path.append(sys.argv[1])  # torch's site-packages, without processing its .pth files
try:
    import archc  # noqa: F401
    archc_importable = True
except ImportError:
    archc_importable = False
import torch
module = __import__(sys.argv[2])
model = getattr(module, sys.argv[2])()
model.load_state_dict(torch.load("state.pt"))
model.eval()
with torch.no_grad():
    out = model(torch.load("input.pt"))
torch.save(out if isinstance(out, tuple) else (out,), "output.pt")
print(json.dumps({
    "archc_importable": archc_importable,
    "archc_loaded": any(m == "archc" or m.startswith("archc.") for m in sys.modules),
    "module_file": module.__file__,
}))
"""


@pytest.fixture(params=sorted(SPECS))
def spec(request):
    return SPECS[request.param]()


def test_generated_module_runs_without_archc(spec, tmp_path):
    graph = archc.analyse(spec)
    (tmp_path / f"{graph.name}.py").write_text(archc.to_source(spec))
    torch.manual_seed(0)
    model = archc.to_torch(spec).eval()
    # Non-trivial running statistics, so that loading them matters.
    for buffer in model.buffers():
        if buffer.dtype.is_floating_point:
            buffer.uniform_(0.5, 1.5)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    x = torch.randn(3, *graph.input_shape)
    torch.save(x, tmp_path / "input.pt")
    with torch.no_grad():
        expected = model(x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    (tmp_path / "run_generated.py").write_text(RUNNER)

    site_packages = str(Path(torch.__file__).resolve().parent.parent)
    proc = subprocess.run(
        [sys.executable, "-S", "-E", "-s", "run_generated.py", site_packages, graph.name],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["archc_importable"] is False
    assert report["archc_loaded"] is False
    assert Path(report["module_file"]).resolve() == (tmp_path / f"{graph.name}.py").resolve()

    outputs = torch.load(tmp_path / "output.pt")
    assert len(outputs) == len(expected) == len(graph.outputs)
    for got, want, shape in zip(outputs, expected, graph.output_shapes()):
        assert tuple(got.shape) == (3, *shape)
        assert torch.allclose(got, want, atol=1e-6), (got - want).abs().max()


def test_source_is_deterministic(spec):
    first = archc.to_source(spec)
    assert archc.to_source(spec) == first
    # A second, independent load of the same spec gives byte-identical source too.
    again = archc.load(LENET) if spec.name == "LeNet5" else archc.loads(EVERY_KIND)
    assert archc.to_source(again) == first
    assert archc.to_source(archc.analyse(spec)) == first


ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional"}


def test_source_parses_and_imports_only_torch(spec):
    source = archc.to_source(spec)
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in generated code"
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    assert imported and imported <= ALLOWED_IMPORTS, imported
    # Imports sit at the top level only: nothing is imported lazily inside a function.
    nested = [
        n
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.ClassDef))
        for n in ast.walk(f)
        if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    assert nested == []
    # No dynamic code execution either.
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__", "open", "getattr"}


def test_source_defines_the_named_class(spec):
    tree = ast.parse(archc.to_source(spec))
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == [spec.name]
