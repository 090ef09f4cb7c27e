"""Emit an in-process `nn.Module`, and check its real shapes against the static ones.

The module is the generated source compiled in a fresh namespace, as torch.fx does with its
generated code: what `to_torch` returns is exactly what `archc build` writes, so the two can
never disagree and the forward pass runs at hand-written speed. This is the only archc module
that imports torch.
"""

from __future__ import annotations

import hashlib
import linecache
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from archc.analyse import Graph
from archc.emit.layers import has_module, step_expr
from archc.emit.source import to_source


def to_torch(graph: Graph) -> nn.Module:
    """Instantiate the graph's generated module class (random initial weights)."""
    return module_class(graph)()


def module_class(graph: Graph) -> type[nn.Module]:
    """The generated class, compiled from its source.

    The source is registered with `linecache` under a name unique to its text, as torch.fx
    does for its generated code, so that `inspect` finds it: `torch.jit.script` reads a
    forward method's source, and tracebacks show the generated lines.
    """
    source = to_source(graph)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    filename = f"<archc:{graph.name}:{digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"archc_generated_{graph.name}"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[graph.name]


@dataclass(frozen=True)
class ShapeMismatch:
    layer: str
    static: tuple[int, ...]
    real: tuple[int, ...]


def check_shapes(module: nn.Module, graph: Graph, batch: int = 2) -> list[ShapeMismatch]:
    """Run a random batch layer by layer and compare every real output shape with the static one.

    Each layer's forward step (the same expression the generated forward uses) is evaluated on
    its submodule, so every layer is measured; the module's own forward must then give the
    same outputs.
    """
    sample = torch.randn(batch, *graph.input_shape)
    values = {graph.input_name: sample}
    mismatches = []
    module.eval()
    with torch.no_grad():
        for node in graph.nodes:
            env = {"torch": torch, "F": F, "nn": nn}
            env.update((f"a{k}", values[name]) for k, name in enumerate(node.inputs))
            if has_module(node):
                env["m"] = module.get_submodule(node.name)
            expr = step_expr(node, [f"a{k}" for k in range(len(node.inputs))], "m")
            out = eval(compile(expr, "<archc step>", "eval"), env)
            values[node.name] = out
            if tuple(out.shape) != (batch, *node.shape):
                mismatches.append(ShapeMismatch(node.name, node.shape, tuple(out.shape[1:])))
        result = module(sample)
    results = result if isinstance(result, tuple) else (result,)
    for name, real in zip(graph.outputs, results):
        expected = values.get(name)
        if expected is None or real.shape != expected.shape or not torch.allclose(real, expected):
            mismatches.append(
                ShapeMismatch(
                    f"{name} (module output)", graph.shape_of(name), tuple(real.shape[1:])
                )
            )
    return mismatches


def check_params(module: nn.Module, graph: Graph) -> list[str]:
    """Where the module's trainable parameters differ from the static counts: each layer's
    own submodule, then the whole module."""
    problems = []
    for node in graph.nodes:
        if has_module(node):
            real = sum(p.numel() for p in module.get_submodule(node.name).parameters())
            if real != node.params:
                problems.append(f"layer `{node.name}` has {real:,} parameters, not {node.params:,}")
    total = sum(p.numel() for p in module.parameters())
    if total != graph.params:
        problems.append(f"the module has {total:,} parameters, not {graph.params:,}")
    return problems
