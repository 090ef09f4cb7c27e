"""The graph a run trains, and the hash that ties a checkpoint to its spec. No torch here.

A classifier spec may end in a softmax (LeNet-5's does). Cross-entropy applies its own
log-softmax, so training through the spec's softmax would apply it twice and train a different
model (the double-softmax trap). `logits_graph` therefore drops that final softmax from the
graph that is trained; a softmax has no parameters, so the trained module's `state_dict` has
exactly the keys and shapes of the compiled module's, and a checkpoint loads into either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from archc.analyse import Graph, analyse
from archc.errors import Diagnostic, Pos, SpecError


@dataclass(frozen=True)
class Trainable:
    """A classifier graph ready to train: its logits graph and what was changed to get it."""

    graph: Graph  # the spec as written
    logits: Graph  # the graph that is trained: the final softmax, if any, left out
    classes: int
    note: str  # how the output is trained, for the run's log


def trainable(graph: Graph) -> Trainable:
    """Check that `graph` is a classifier (one flat output of class scores) and drop a final
    softmax. Raises SpecError (E605) at the output layer otherwise."""
    if len(graph.outputs) != 1:
        raise _not_a_classifier(graph, f"it has {len(graph.outputs)} outputs", ("outputs",))
    name = graph.outputs[0]
    if name == graph.input_name:
        raise _not_a_classifier(graph, "its output is its input", ("outputs",))
    node = graph.node(name)
    where = ("layers", node.index)
    if len(node.shape) != 1:
        raise _not_a_classifier(
            graph, f"its output `{name}` has shape {list(node.shape)}, not [classes]", where
        )
    if node.shape[0] < 2:
        raise _not_a_classifier(graph, f"its output `{name}` has one class", where)
    field, fn = _final_activation(node.layer)
    if fn == "none":
        note = f"trained on the logits of `{name}`"
        return Trainable(graph, graph, node.shape[0], note)
    if fn != "softmax":
        raise _not_a_classifier(
            graph,
            f"its output `{name}` ends in `{fn}`; train fits class scores (no final "
            "activation) or probabilities (a final softmax)",
            (*where, field),
        )
    layers = list(graph.spec.layers)
    layers[node.index] = node.layer.model_copy(update={field: "none"})
    spec = graph.spec.model_copy(update={"layers": layers})
    note = (
        f"trained on the logits of `{name}`: its softmax is applied at prediction, not before "
        "the loss (same weights as the compiled module)"
    )
    return Trainable(graph, analyse(spec), node.shape[0], note)


def _final_activation(layer: object) -> tuple[str, str]:
    """The field holding a layer's own activation, and its value."""
    if getattr(layer, "type", None) == "activation":
        return "fn", layer.fn  # type: ignore[attr-defined]
    return "activation", getattr(layer, "activation", "none")


def _not_a_classifier(graph: Graph, why: str, where: tuple) -> SpecError:
    source = graph.spec.source
    pos = source.where(*where) if source else Pos(0, 0)
    layer = graph.spec.layers[where[1]].name if where[0] == "layers" else None
    diagnostic = Diagnostic(
        "E605",
        f"`archc train` fits classifiers, and this network is not one: {why}",
        source.path if source else "<spec>",
        pos,
        layer,
        help="the last layer should give one score per class, e.g. "
        "{type: dense, units: 10, activation: softmax}",
    )
    return SpecError([diagnostic], source.text if source else None)


def spec_hash(graph: Graph) -> str:
    """SHA-256 of what the weights depend on: the input and the expanded layers and outputs.

    The name and description are left out (renaming a network keeps its weights valid); a
    `--set` that changes a layer changes the hash.
    """
    data = graph.spec.model_dump(mode="json", include={"input", "layers", "outputs"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
