"""archc.training.model: the trained (logits) graph, the classifier check, the spec hash."""

from __future__ import annotations

import pytest
import torch

import archc
from archc.training.model import spec_hash, trainable

SOFTMAX_HEAD = [
    {"type": "flatten"},
    {"name": "head", "type": "dense", "units": 4, "activation": "softmax"},
]
SOFTMAX_LAYER = [
    {"type": "flatten"},
    {"name": "scores", "type": "dense", "units": 4},
    {"name": "probs", "type": "activation", "fn": "softmax"},
]


@pytest.mark.parametrize("layers", [SOFTMAX_HEAD, SOFTMAX_LAYER], ids=["field", "layer"])
def test_final_softmax_is_left_out_of_the_trained_graph(spec_text, layers) -> None:
    graph = archc.analyse(archc.loads(spec_text(layers, [1, 4, 4])))
    model = trainable(graph)
    assert model.classes == 4
    assert "softmax" in archc.to_source(graph)
    assert "softmax" not in archc.to_source(model.logits)
    full, logits = archc.to_torch(graph), archc.to_torch(model.logits)
    # The same state dict: keys and shapes. Loading it strictly proves the weights identical.
    assert {k: v.shape for k, v in full.state_dict().items()} == {
        k: v.shape for k, v in logits.state_dict().items()
    }
    logits.load_state_dict(full.state_dict())
    x = torch.randn(5, 1, 4, 4)
    torch.testing.assert_close(logits(x).softmax(1), full(x))
    assert not torch.allclose(logits(x).sum(1), torch.ones(5))


def test_a_spec_without_softmax_is_trained_as_written(lenet_spec) -> None:
    graph = archc.analyse(lenet_spec)
    model = trainable(graph)
    assert model.logits is not graph  # LeNet-5 ends in a softmax
    assert trainable(model.logits).logits is model.logits
    assert "logits" in trainable(model.logits).note


@pytest.mark.parametrize(
    "layers, field, message",
    [
        ([{"type": "conv", "filters": 2, "kernel": 1}], "layer", "has shape [2, 4, 4]"),
        ([{"type": "flatten"}, {"type": "dense", "units": 1}], "layer", "has one class"),
        (
            [{"type": "flatten"}, {"type": "dense", "units": 3, "activation": "sigmoid"}],
            "activation",
            "ends in `sigmoid`",
        ),
    ],
)
def test_not_a_classifier_is_e605_at_the_output(spec_text, layers, field, message) -> None:
    graph = archc.analyse(archc.loads(spec_text(layers, [1, 4, 4]), path="net.yaml"))
    with pytest.raises(archc.SpecError) as caught:
        trainable(graph)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E605"
    assert message in diagnostic.message
    assert diagnostic.pos.line == 4 + len(layers)  # the last layer's line
    if field == "activation":
        text = spec_text(layers, [1, 4, 4]).splitlines()[diagnostic.pos.line - 1]
        assert text[diagnostic.pos.col - 1 :].startswith('"sigmoid"')


def test_spec_hash_follows_the_weights_not_the_name(lenet_path) -> None:
    base = archc.analyse(archc.load(lenet_path))
    renamed = archc.analyse(archc.load(lenet_path, ["name=Other", "description=x"]))
    wider = archc.analyse(archc.load(lenet_path, ["layers.5.units=100"]))
    assert spec_hash(base) == spec_hash(renamed)
    assert spec_hash(base) != spec_hash(wider)
    assert len(spec_hash(base)) == 64
