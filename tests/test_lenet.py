"""LeNet-5 (architectures/lenet5.yaml) against its published figures.

The numbers (tests/helpers.py) are the table "LeNet-5, modern variant" of
shared/reference/numbers.md: per-layer output shapes, parameters and MACs (batch 1), and the
totals 61,706 params and 416,520 MACs.
"""

from __future__ import annotations

import pytest
import torch
from helpers import LENET_MACS, LENET_PARAMS, LENET_PUBLISHED

import archc

PUBLISHED = LENET_PUBLISHED
TOTAL_PARAMS = LENET_PARAMS
TOTAL_MACS = LENET_MACS


@pytest.fixture(scope="module")
def graph(lenet_spec):
    return archc.analyse(lenet_spec)


@pytest.fixture(scope="module")
def model(lenet_spec):
    torch.manual_seed(0)
    return archc.to_torch(lenet_spec).eval()


def test_layer_names_in_order(graph):
    assert [node.name for node in graph.nodes] == [row[0] for row in PUBLISHED]


@pytest.mark.parametrize("name,shape,params,macs", PUBLISHED, ids=[row[0] for row in PUBLISHED])
def test_layer(graph, name, shape, params, macs):
    node = graph.node(name)
    assert node.shape == shape
    assert node.params == params
    assert node.macs == macs


def test_totals(graph):
    assert graph.input_shape == (1, 32, 32)
    assert graph.output_shapes() == [(10,)]
    assert graph.params == TOTAL_PARAMS
    assert graph.macs == TOTAL_MACS


def test_torch_module_has_the_published_parameter_count(model):
    assert sum(p.numel() for p in model.parameters()) == TOTAL_PARAMS
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == TOTAL_PARAMS


@pytest.mark.parametrize("batch", [1, 2, 7])
def test_forward_pass_gives_probabilities(model, batch):
    with torch.no_grad():
        out = model(torch.randn(batch, 1, 32, 32))
    assert out.shape == (batch, 10)
    assert torch.all(out >= 0)
    assert torch.allclose(out.sum(dim=1), torch.ones(batch), atol=1e-5)


def test_check_shapes_finds_no_mismatch(graph, model):
    from archc.emit.torch import check_shapes

    assert check_shapes(model, graph) == []
