"""FLOPs against `torch.utils.flop_counter.FlopCounterMode`, and the operations breakdown
against the figures other tools print for LeNet-5 (docs/counting.md derives each one)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from helpers import LENET, REPO, make_layer
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.cli import main
from archc.emit import ops

ZOO = sorted((REPO / "architectures").glob("*.yaml"))


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_zoo_flops_equal_flop_counter_mode(path):
    """Every zoo spec at full size: on the meta device the forward costs nothing."""
    graph = archc.analyse(archc.load(path))
    with torch.device("meta"):
        model = archc.to_torch(graph)
        x = torch.empty(3, *graph.input_shape)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    assert counter.get_total_flops() == 3 * sum(ops.flops(node) for node in graph.nodes)


def test_lenet_breakdown():
    graph = archc.analyse(archc.load(LENET))
    assert ops.totals(graph) == {"bias": 6_518, "activation": 6_518, "pool": 6_304}


def test_lenet_figures_of_other_tools():
    """docs/counting.md: torchinfo counts the bias adds; ptflops also counts every activation
    value once and every pooled value twice (its module hook and its patched F.avg_pool2d)."""
    graph = archc.analyse(archc.load(LENET))
    total = ops.totals(graph)
    assert graph.macs == 416_520  # archc, fvcore
    assert 2 * graph.macs == 833_040  # FlopCounterMode
    assert graph.macs + total["bias"] == 423_038  # torchinfo
    assert graph.macs + total["bias"] + total["activation"] + 2 * total["pool"] == 442_164
    pooled = sum(node.shape[0] * node.shape[1] * node.shape[2] for node in graph.nodes
                 if node.kind == "pool")  # fmt: skip
    assert graph.macs + pooled == 418_096  # thop: one op per pooled value
    assert graph.macs + (2 - 1 + 2) * pooled == 421_248  # torchscan: (k - 1 + ndim - 2) each


@pytest.mark.parametrize("n, o", [(7, 3), (8, 3), (5, 5), (2, 6), (13, 1), (10, 4)])
def test_adaptive_windows_are_pytorchs(n: int, o: int):
    """An average over a window of k values gives 1/k from a one-hot input inside it."""
    pool = make_layer("pool", mode="avg", output=o)
    sizes = pool.window_sizes([(1, n)], (1, o))
    out = F.adaptive_avg_pool1d(torch.eye(n, dtype=torch.float64).reshape(n, 1, n), o)
    assert sizes == [round(1 / v) for v in out.amax(dim=0)[0].tolist()]
    assert pool.op_count([(1, n)], (1, o)) == {"pool": sum(sizes)}


def test_summary_json_and_flops_table(capsys: pytest.CaptureFixture):
    assert main(["summary", str(LENET), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["flops"] == 833_040 and doc["ops"]["pool"] == 6_304
    c1 = doc["layers"][0]
    assert (c1["flops"], c1["ops"]) == (235_200, {"bias": 4_704, "activation": 4_704})
    assert main(["summary", str(LENET), "--flops"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == [
        "layer", "type", "output", "MACs", "FLOPs", "bias", "activation", "pool",
    ]  # fmt: skip
    assert "total" in out and "416,520  833,040  6,518       6,518  6,304" in out
