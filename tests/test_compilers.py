"""PyTorch's compilers accept archc's modules: TorchScript, torch.compile and torch.export.

Every zoo network, as `archc.to_torch` builds it in process: TorchScript reads the forward's
source (found through `linecache`), `torch.compile(fullgraph=True)` must capture the whole
forward in one graph (the eager backend: capture is what is tested, not code generation), and
`torch.export` must trace it. The file `archc build` writes holds the same source, imported
from disk: TorchScript, the one compiler that reads source rather than running the code, is
run on it too (for three networks: finding a file's source is the same for all). Every result
must compute what the module computes. Inputs are shrunk where the spec allows, since the
compilers' cost is in the graph, not the image.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import pytest
import torch

import archc

ZOO = {
    p.stem: p
    for p in sorted((Path(__file__).resolve().parent.parent / "architectures").glob("*.yaml"))
}


def small(name: str) -> archc.Graph:
    """The zoo network at a 64x64 input where its spec allows one, else as written."""
    spec = archc.load(ZOO[name])
    channels = spec.input.shape[0]
    try:
        return archc.analyse(archc.load(ZOO[name], [f"input.shape=[{channels},64,64]"]))
    except archc.SpecError:
        return archc.analyse(spec)


def from_file(graph: archc.Graph, directory: Path) -> torch.nn.Module:
    path = directory / f"{graph.name}.py"
    path.write_text(archc.to_source(graph))
    spec = importlib.util.spec_from_file_location(f"built_{graph.name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, graph.name)()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script's notice
        yield


@pytest.mark.parametrize("name", sorted(ZOO))
def test_script_compile_and_export(name: str):
    graph = small(name)
    torch.manual_seed(0)
    model = archc.to_torch(graph).eval()
    x = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(torch.jit.script(model)(x), expected)
        torch._dynamo.reset()
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x), expected)
        exported = torch.export.export(model, (x,))
        torch.testing.assert_close(exported.module()(x), expected)


# Finding the source of a file on disk is the same for every network: three of them, a chain,
# a residual network and one with concatenations and upsampling.
@pytest.mark.parametrize("name", ["lenet5", "resnet18", "unet"])
def test_the_built_file_scripts(name: str, tmp_path: Path):
    graph = small(name)
    torch.manual_seed(0)
    model = from_file(graph, tmp_path).eval()
    x = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(model)(x), model(x))
