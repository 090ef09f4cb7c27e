"""`archc explain` (archc/emit/explain.py): every number it prints is the analysed graph's.

Each derivation carries its arithmetic as a Python expression: the tests evaluate it, compare
the value with the graph's own number (output size per axis, parameters, MACs, receptive
field), and read every ``= N`` back from the printed text.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from helpers import LENET, REPO, run_cli, spec_text

import archc
from archc.emit import explain
from archc.layers import Layer
from archc.layers.base import prod
from archc.receptive import receptive_fields

ZOO = sorted((REPO / "architectures").glob("*.yaml"))
AXES = {"L": 0, "D": -3, "H": -2, "W": -1}


def expected_value(step: explain.Step, node: archc.Node, fields) -> int:
    """The graph's own number for a step, found by its label and axis."""
    axes = [a.strip() for a in step.axes.split(",") if a.strip()]
    if step.label in ("field", "jump", "start"):
        f = fields[node.name]
        values = {"field": f.size, "jump": f.jump, "start": f.start}[step.label]
        got = {int(values[AXES[a] if a != "L" else 0]) for a in axes}
        assert len(got) == 1
        return got.pop()
    if not step.label:
        got = {node.shape[AXES[a]] if a != "L" else node.shape[1] for a in axes}
        assert len(got) == 1
        return got.pop()
    return {
        "params": node.params,
        "MACs": node.macs,
        "features": node.shape[0],
        "channels": node.shape[0],
        "values": prod(node.shape),
        "without weight sharing, a dense layer would need": (
            (prod(node.input_shapes[0]) + int(getattr(node.layer, "bias", 0))) * prod(node.shape)
        ),
    }[step.label]


def check(graph: archc.Graph, explained: list[explain.Explained]) -> int:
    fields = receptive_fields(graph)
    checked = 0
    for item in explained:
        for step in item.steps:
            assert eval(step.expression, {"math": math}) == step.value, step
            assert step.value == expected_value(step, item.node, fields), (item.node.name, step)
            checked += 1
        shown = [s for s in item.steps if s.label in ("params", "MACs")]
        assert {s.label: s.value for s in shown} == {
            k: v for k, v in (("params", item.node.params), ("MACs", item.node.macs)) if v
        }, item.node.name
    return checked


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_every_number_is_the_graphs(path):
    graph = archc.analyse(archc.load(path))
    explained = explain.explain(graph)
    assert [e.node.name for e in explained] == [n.name for n in graph.nodes]
    assert check(graph, explained) > len(graph.nodes)
    text = explain.to_text(graph, explained)
    printed = [int(v.replace(",", "")) for v in re.findall(r" = (-?[\d,]+)$", text, re.M)]
    assert printed == [s.value for e in explained for s in e.steps]


def test_lenet_through_the_cli_in_every_format():
    code, out, err = run_cli("explain", LENET)
    assert code == 0, err
    assert "H, W: floor((32 + 2*0 - 5) / 1) + 1 = 28" in out
    assert "params: 6 filters x (5*5*1 + 1) = 156" in out
    assert "(1*32*32 + 1)*6*28*28 = 4,821,600" in out
    assert "field H, W: 14 + (2-1)*2 = 16" in out and "jump H, W: 2*2 = 4" in out
    assert "28x28x6" in out  # the channels-last spelling is explained
    code, out, err = run_cli("explain", LENET, "--format", "json", "--layer", "c3")
    assert code == 0, err
    (layer,) = json.loads(out)["layers"]
    assert (
        layer["name"] == "c3"
        and {"label": "params", "value": 2416}.items()
        <= next(s for s in layer["steps"] if s["label"] == "params").items()
    )
    code, out, err = run_cli("explain", LENET, "--format", "markdown", "--layer", "s2")
    assert code == 0, err
    assert out.startswith("# LeNet5") and "## `s2`" in out and "## `c1`" not in out


def test_a_block_explains_every_layer_inside():
    graph = archc.analyse(archc.load(REPO / "architectures" / "resnet18.yaml"))
    names = [e.node.name for e in explain.explain(graph, "layer2.0")]
    assert names[0] == "layer2.0.conv1" and names[-1] == "layer2.0.add"
    assert "layer2.0.downsample.0" in names and all(n.startswith("layer2.0.") for n in names)


def test_an_unknown_layer_is_a_clear_error():
    code, out, err = run_cli("explain", LENET, "--layer", "c33")
    assert code == 2 and out == ""
    assert (
        err.strip()
        == "archc: error[E402]: the spec has no layer or block `c33`; did you mean `c3`?"
    )


# One layer of every registered kind: a new kind fails here until it has an example (and
# explain fails for a kind without a derivation).
KINDS = {
    "conv": ([2, 9, 9], {"filters": 4, "kernel": 3, "padding": "same", "dilation": 2}),
    "conv_transpose": ([2, 5, 5], {"filters": 3, "kernel": 3, "stride": 2, "output_padding": 1}),
    "pool": ([2, 9, 9], {"kernel": 3, "stride": 2, "ceil": True, "padding": 1}),
    "upsample": ([2, 4, 4], {"scale": 2.5}),
    "dense": ([7], {"units": 3, "bias": False}),
    "flatten": ([2, 3, 3], {}),
    "reshape": ([2, 3, 4], {"shape": [6, 4]}),
    "activation": ([2, 3, 3], {"fn": "relu"}),
    "batchnorm": ([2, 3, 3], {}),
    "dropout": ([2, 3, 3], {}),
    "identity": ([2, 3, 3], {}),
    "add": ([2, 3, 3], {"inputs": ["input", "input"]}),
    "multiply": ([2, 3, 3], {"inputs": ["input", "input"]}),
    "concat": ([2, 3, 3], {"inputs": ["input", "input"], "axis": 2}),
}


def test_every_registered_kind_has_an_example():
    assert set(KINDS) == set(Layer.registry) == set(explain.OUTPUT_RULES)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_derived(kind):
    shape, fields = KINDS[kind]
    graph = archc.analyse(archc.loads(spec_text([{"type": kind, **fields}], shape)))
    (item,) = explain.explain(graph)
    check(graph, [item])
    assert item.steps or item.notes
    if kind not in ("activation", "batchnorm", "dropout", "identity", "add", "multiply"):
        sizes = ("", "features", "channels", "values")
        assert any(s.label in sizes for s in item.steps), "the output size is derived"


def test_readme_shows_the_real_lenet_explanation():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"`archc explain architectures/lenet5.yaml` prints.*?\n```\n(.*?)```",
                      readme, re.S)  # fmt: skip
    assert block, "the README has no explain block"
    code, out, _ = run_cli("explain", "architectures/lenet5.yaml", cwd=REPO)
    assert code == 0 and block[1] == out
