"""Emit an in-process `nn.Module`, and check its real shapes against the static ones.

The module is the generated source compiled in a fresh namespace, as torch.fx does with its
generated code: what `to_torch` returns is exactly what `archc build` writes, so the two can
never disagree and the forward pass runs at hand-written speed. This is the only archc module
that imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from archc.analyse import Graph
from archc.emit.source import plan_forward, to_source


def to_torch(graph: Graph) -> nn.Module:
    """Instantiate the graph's generated module class (random initial weights)."""
    return module_class(graph)()


def module_class(graph: Graph) -> type[nn.Module]:
    source = to_source(graph)
    namespace: dict = {"__name__": f"archc_generated.{graph.name}"}
    exec(compile(source, f"<archc:{graph.name}>", "exec"), namespace)
    return namespace[graph.name]


@dataclass(frozen=True)
class ShapeMismatch:
    layer: str
    static: tuple[int, ...]
    real: tuple[int, ...]


def check_shapes(module: nn.Module, graph: Graph, batch: int = 2) -> list[ShapeMismatch]:
    """Run a random batch step by step and compare every layer's real output shape.

    The steps are the generated forward's own statements, evaluated one at a time so that each
    layer's output can be measured; the module's real forward must then agree with them.
    """
    steps, returns = plan_forward(graph)
    env: dict = {"self": module, "torch": torch, "nn": nn, "F": F}
    sample = torch.randn(batch, *graph.input_shape)
    env["x"] = sample
    mismatches = []
    module.eval()
    with torch.no_grad():
        for step in steps:
            env[step.target] = eval(compile(step.expr, "<archc step>", "eval"), env)
            if step.node is None:
                continue
            real = tuple(env[step.target].shape[1:])
            if real != step.node.shape or env[step.target].shape[0] != batch:
                mismatches.append(ShapeMismatch(step.node.name, step.node.shape, real))
        expected = [env[name] for name in returns]
        out = module(sample)
    outs = out if isinstance(out, tuple) else (out,)
    for name, tensor, reference in zip(graph.outputs, outs, expected):
        if tensor.shape != reference.shape:
            mismatches.append(
                ShapeMismatch(name, tuple(reference.shape[1:]), tuple(tensor.shape[1:]))
            )
    return mismatches
