"""The generated forward's in-place operations change nothing but memory.

Each network is compared with its out-of-place twin: the same generated source with every
``inplace=True`` made ``False`` and every ``a += b`` written ``a = a + b``. With the same
weights, in training mode, both must give the same outputs and the same gradients for the input
and every parameter. A wrong in-place operation either makes autograd raise (a tensor it saved
was overwritten) or changes a value another layer still reads; either fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from helpers import spec_text

import archc

ZOO = sorted((Path(__file__).resolve().parent.parent / "architectures").glob("*.yaml"))


def out_of_place(source: str) -> str:
    source = source.replace("inplace=True", "inplace=False")
    return re.sub(r"^(\s+)(\w+) \+= (\w+)$", r"\1\2 = \2 + \3", source, flags=re.MULTILINE)


def compile_class(source: str, name: str) -> type[torch.nn.Module]:
    namespace: dict = {"__name__": f"twin_{name}"}
    exec(compile(source, f"<twin {name}>", "exec"), namespace)
    return namespace[name]


def assert_same_training_step(graph: archc.Graph) -> None:
    source = archc.to_source(graph)
    twin_source = out_of_place(source)
    torch.manual_seed(0)
    model = compile_class(source, graph.name)()
    twin = compile_class(twin_source, graph.name)()
    twin.load_state_dict(model.state_dict())
    results = []
    for module in (model, twin):
        module.train()
        torch.manual_seed(2)  # the same dropout masks
        x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(1))
        x.requires_grad_(True)
        out = module(x)
        outs = out if isinstance(out, tuple) else (out,)
        sum((o * torch.arange(o.numel()).reshape(o.shape).sin()).sum() for o in outs).backward()
        grads = [x.grad] + [p.grad for p in module.parameters()]
        results.append((outs, grads))
    (outs, grads), (twin_outs, twin_grads) = results
    for a, b in zip((*outs, *grads), (*twin_outs, *twin_grads)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def small(path: Path) -> archc.Graph:
    spec = archc.load(path)
    try:
        return archc.analyse(archc.load(path, [f"input.shape=[{spec.input.shape[0]},64,64]"]))
    except archc.SpecError:
        return archc.analyse(spec)


def test_the_zoo_uses_in_place_operations():
    sources = {p.stem: archc.to_source(archc.load(p)) for p in ZOO}
    assert "nn.ReLU(inplace=True)" in sources["vgg16"]
    assert "nn.ReLU6(inplace=True)" in sources["mobilenet_v2"]
    assert re.search(r"^\s+\w+ \+= \w+$", sources["resnet50"], re.MULTILINE)
    assert all(out_of_place(s) != s for s in sources.values())


# AlexNet and VGG-16 are left out: their in-place forms (ReLU modules after convolutions and
# linear layers in a Sequential) are SqueezeNet's and MobileNetV2's too, and their classifiers'
# hundred million weights make one training step take seconds.
TWINNED = [p for p in ZOO if p.stem not in ("alexnet", "vgg16")]


@pytest.mark.parametrize("path", TWINNED, ids=[p.stem for p in TWINNED])
def test_zoo_in_place_matches_out_of_place(path: Path):
    assert_same_training_step(small(path))


# Graphs whose fresh values are read twice, or whose sums read the network input or an
# activation's output: nothing here may be overwritten, except where the test says.
FAN_OUT = {
    "conv read twice, then summed": [
        {"name": "c", "type": "conv", "filters": 4, "kernel": 3, "padding": 1},
        {"name": "r", "type": "activation", "fn": "relu", "inputs": "c"},
        {"name": "s", "type": "add", "inputs": ["c", "r"], "activation": "relu"},
    ],
    "sum with the input": [
        {"name": "c", "type": "conv", "filters": 3, "kernel": 3, "padding": 1},
        {"name": "s", "type": "add", "inputs": ["input", "c"]},
        {"name": "t", "type": "add", "inputs": ["s", "input"], "activation": "relu"},
    ],
    "sum of a sigmoid and a batchnorm": [
        {"name": "c", "type": "conv", "filters": 3, "kernel": 1, "activation": "sigmoid"},
        {"name": "b", "type": "batchnorm", "inputs": "input"},
        {"name": "s", "type": "add", "inputs": ["c", "b"]},
        {"name": "m", "type": "multiply", "inputs": ["s", "b"]},
    ],
    "three-way sum and a reused sum": [
        {"name": "a", "type": "conv", "filters": 3, "kernel": 1},
        {"name": "b", "type": "conv", "filters": 3, "kernel": 1, "inputs": "input"},
        {"name": "s", "type": "add", "inputs": ["a", "b", "input"]},
        {"name": "r", "type": "activation", "fn": "relu6", "inputs": "s"},
        {"name": "t", "type": "add", "inputs": ["r", "s"]},
    ],
    "activation layer after a flatten view": [
        {"name": "c", "type": "conv", "filters": 2, "kernel": 1},
        {"name": "f", "type": "flatten"},
        {"name": "r", "type": "activation", "fn": "relu"},
        {"name": "d", "type": "dense", "units": 4, "inputs": "f"},
        {"name": "s", "type": "concat", "inputs": ["r", "d"]},
    ],
}


@pytest.mark.parametrize("layers", FAN_OUT.values(), ids=list(FAN_OUT))
def test_fan_out_in_place_matches_out_of_place(layers):
    graph = archc.analyse(archc.loads(spec_text(layers, [3, 8, 8])))
    assert_same_training_step(graph)
