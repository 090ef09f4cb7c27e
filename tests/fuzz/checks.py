"""The fuzz property: what archc must do with a spec text, checked against PyTorch.

`check_text(text)` runs archc on the text and never raises; it returns an `Outcome` whose
`problems` list every discrepancy:

* archc may reject the spec: then it must raise `SpecError` (nothing else), and every
  diagnostic must carry a known code (`archc.errors.CODES`) and, if it has a position, a real one.
* if archc accepts it, PyTorch must agree: `to_torch` builds the module, `check_shapes` runs
  every layer on a real batch and finds each output shape equal to the static one, the module's
  parameter count equals `graph.params` (and each layer's its node's), conv and dense MACs equal
  an independent count from the torch weights, and a training-mode forward runs.

This module imports torch; the strategies (`fuzz.specs`) do not.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import torch

import archc
from archc.emit.torch import check_shapes
from archc.errors import CODES

BATCH = 2
# Accepted networks larger than this are not built (the fuzzer draws huge ones on purpose, to
# exercise the budgets; archc's budgets are far above what a test should allocate).
MAX_BUILD = 5_000_000
# archc bounds the work a spec can cause (sizes, budgets, repeat, expression limits): loading and
# analysing a small fuzzed spec must never take long.
SLOW_SECONDS = 5.0


@dataclass(frozen=True)
class Problem:
    """One discrepancy between archc and PyTorch (or archc and its own error contract)."""

    signature: str  # what went wrong, without the specifics: groups equal problems
    detail: str


@dataclass
class Outcome:
    accepted: bool = False
    codes: list[str] = field(default_factory=list)
    unpositioned: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    too_big: bool = False


def _exc_signature(stage: str, exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"\d+", "N", first)[:90]
    return f"{stage}: {type(exc).__name__}: {first}"


def _exc_problem(stage: str, exc: BaseException) -> Problem:
    return Problem(_exc_signature(stage, exc), f"{type(exc).__name__}: {exc}"[:2000])


def check_text(text: str) -> Outcome:
    """Run archc on spec text and every check that applies; never raises."""
    out = Outcome()
    start = time.process_time()  # CPU time: a loaded machine does not make archc look slow
    try:
        graph = archc.analyse(archc.loads(text))
    except archc.SpecError as err:
        check_rejection(err, text, out)
        return out
    except Exception as exc:  # KeyError, TypeError, OverflowError, ... : an archc crash
        out.problems.append(_exc_problem("archc crashed", exc))
        return out
    finally:
        elapsed = time.process_time() - start
        if elapsed > SLOW_SECONDS:
            out.problems.append(Problem("archc is slow on a small spec", f"{elapsed:.1f} s"))
    out.accepted = True
    out.problems += check_expansion(graph)
    check_accepted(graph, out)
    return out


def check_expansion(graph: archc.Graph) -> list[Problem]:
    """`archc expand` round-trips: its text is a spec with the same layers, shapes, parameters
    and MACs."""
    from archc.emit.expanded import to_yaml
    from archc.emit.summary import to_json

    text = to_yaml(graph.spec)
    try:
        again = archc.analyse(archc.loads(text, "<expanded>"))
    except archc.SpecError as err:
        return [Problem("expand: its text is refused", f"{err}\n{text[:2000]}")]
    if to_json(again) != to_json(graph):
        return [Problem("expand: the numbers differ", text[:2000])]
    return []


# -- a rejected spec -------------------------------------------------------------------------


def check_rejection(err: archc.SpecError, text: str, out: Outcome) -> None:
    n_lines = max(1, len(text.splitlines()))
    if not err.diagnostics:
        out.problems.append(Problem("SpecError without diagnostics", ""))
    for d in err.diagnostics:
        out.codes.append(d.code)
        if d.code not in CODES:
            out.problems.append(Problem(f"unknown error code {d.code}", d.message))
        if d.pos.line < 0 or (d.pos.line == 0 and d.pos.col != 0):
            out.problems.append(Problem(f"bad position for {d.code}", f"{d.pos} {d.message}"))
        elif d.pos.line == 0:
            out.unpositioned.append(d.code)
        elif not d.pos.origin and (d.pos.line > n_lines + 1 or d.pos.col < 1):
            out.problems.append(
                Problem(f"position outside the text for {d.code}", f"{d.pos} {d.message}")
            )
    try:
        str(err)
    except Exception as exc:
        out.problems.append(_exc_problem("rendering the SpecError", exc))


# -- an accepted spec ------------------------------------------------------------------------


def check_accepted(graph: archc.Graph, out: Outcome) -> None:
    """Build the module (unless too big) and compare shapes, parameters and MACs with torch."""
    biggest = max([math.prod(graph.input_shape), *(math.prod(n.shape) for n in graph.nodes)])
    if graph.params > MAX_BUILD or biggest * BATCH > MAX_BUILD:
        out.too_big = True
        return
    problems = out.problems
    try:
        module = archc.to_torch(graph)
    except Exception as exc:
        problems.append(_exc_problem("to_torch raised", exc))
        return
    try:
        mismatches = check_shapes(module, graph, batch=BATCH)
    except Exception as exc:
        problems.append(_exc_problem("check_shapes raised (torch)", exc))
        return
    names = {n.name for n in graph.nodes}
    for m in mismatches:
        kind = graph.node(m.layer).kind if m.layer in names else "output"
        problems.append(
            Problem(
                f"static shape != torch shape ({kind})",
                f"layer {m.layer}: static {m.static}, torch {m.real}",
            )
        )
    total = sum(p.numel() for p in module.parameters())
    if total != graph.params:
        problems.append(Problem("params: graph.params != torch", f"{graph.params} vs {total}"))
    for node in graph.nodes:
        problems += check_node(node, module)
    problems += check_training_forward(graph, module)


def check_node(node: archc.Node, module: torch.nn.Module) -> list[Problem]:
    """A node's parameter count, and a conv's or dense's MACs, against its torch submodule."""
    try:
        sub = module.get_submodule(node.name)
    except AttributeError:
        sub = None
    problems = []
    real = sum(p.numel() for p in sub.parameters()) if sub is not None else 0
    if real != node.params:
        problems.append(
            Problem(
                f"params of a {node.kind} node != torch",
                f"{node.name}: static {node.params}, torch {real}",
            )
        )
    if sub is not None and node.kind in ("conv", "conv_transpose", "dense"):
        macs = independent_macs(node, sub)
        if macs is not None and macs != node.macs:
            problems.append(
                Problem(
                    f"MACs of a {node.kind} node != torch weights",
                    f"{node.name}: static {node.macs}, from weights {macs}",
                )
            )
    return problems


def independent_macs(node: archc.Node, sub: torch.nn.Module) -> int | None:
    """MACs from the torch module's weight shape and the (checked) output shape."""
    weight = getattr(sub, "weight", None)
    if weight is None:
        return None
    per_use = math.prod(weight.shape[1:])
    if node.kind == "conv":
        return math.prod(node.shape) * per_use
    if node.kind == "conv_transpose":
        return math.prod(node.input_shapes[0]) * per_use
    if node.kind == "dense":
        return weight.numel()
    return None


def check_training_forward(graph: archc.Graph, module: torch.nn.Module) -> list[Problem]:
    try:
        module.train()
        result = module(torch.randn(BATCH, *graph.input_shape))
        results = result if isinstance(result, tuple) else (result,)
        got = [tuple(r.shape[1:]) for r in results]
        want = [tuple(s) for s in graph.output_shapes()]
        if got != want:
            return [Problem("training forward: output shapes", f"{got} vs {want}")]
        # The backward pass: autograd raises if an in-place operation overwrote what it saved.
        loss = sum(r.float().sum() for r in results if r.requires_grad)
        if isinstance(loss, torch.Tensor):
            loss.backward()
    except Exception as exc:
        return [_exc_problem("training forward raised", exc)]
    return []
