"""Diagrams that scale: every zoo diagram within 4,000 px at 96 dpi by default, with its
branches and merges drawn; `--depth` folds as `summary --depth` does; absorbed layers and
numbered children labelled."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers import REPO

import archc
from archc.cli import main
from archc.emit import folding

ZOO = sorted((REPO / "architectures").glob("*.yaml"))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def svg_pixels(path: Path) -> tuple[float, float]:
    """Width and height of an SVG written by Graphviz, in pixels at 96 dpi (1 pt = 96/72 px)."""
    head = path.read_text()[:2000]
    width, height = (
        float(re.search(rf'{a}="([0-9.]+)pt"', head).group(1)) for a in ("width", "height")
    )
    return width * 96 / 72, height * 96 / 72


def boxes_and_edges(dot: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The node names and the edges of a DOT source as archc writes it."""
    edges = re.findall(r'^\s*"?([\w.]+)"? -> "?([\w.]+)"?', dot, re.M)
    boxes = set(re.findall(r'^\s*"?([\w.]+)"? \[label=', dot, re.M))
    return boxes, edges


@needs_dot
@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_zoo_diagram_fits_and_keeps_its_merges(tmp_path: Path, path: Path):
    target = tmp_path / "net.svg"
    assert main(["diagram", str(path), "-o", str(target)]) == 0
    width, height = svg_pixels(target)
    assert max(width, height) < 4000, (width, height)
    # The same default as DOT: at least one merge of the network drawn with all its inputs.
    dot = archc.to_graphviz(archc.load(path)).source
    boxes, edges = boxes_and_edges(dot)
    graph = archc.analyse(archc.load(path))
    merges = [n for n in graph.nodes if n.kind in ("add", "concat", "multiply")]
    if merges:
        drawn = [n for n in merges if n.name in boxes]
        assert drawn, "every merge is folded away"
        assert all(sum(1 for _, b in edges if b == n.name) == len(set(n.inputs)) for n in drawn)


def test_depth_folds_as_summary_does():
    spec = archc.load(REPO / "architectures" / "resnet18.yaml")
    boxes, edges = boxes_and_edges(archc.to_graphviz(spec, depth=2).source)
    assert {"layer1.0", "layer2.1", "conv1", "fc"} <= boxes
    assert not any(b.count(".") > 1 for b in boxes)
    assert ("layer1.0", "layer1.1") in edges and ("maxpool", "layer1.0") in edges
    collapsed = archc.to_graphviz(spec, collapse=True).source
    assert collapsed == archc.to_graphviz(spec, depth=1).source
    full, _ = boxes_and_edges(archc.to_graphviz(spec, depth=9).source)
    assert "layer2.0.downsample.0" in full and "layer2.0.add" in full


def test_labels_name_numbered_children_and_absorbed_layers():
    spec = archc.load(REPO / "architectures" / "mobilenet_v2.yaml")
    dot = archc.to_graphviz(spec, depth=2).source
    assert "<b>features.5</b>: inverted_residual<br/>32x28x28" in dot
    dot = archc.to_graphviz(spec, depth=9).source
    # features.0 is conv, batchnorm, ReLU6: one box, the numbered conv titled by its kind.
    label = re.search(r'"?features\.0\.0"? \[label=<(.*)> fillcolor', dot).group(1)
    assert label.startswith("<b>0: conv</b><br/>32 filters 3x3")
    assert "+ batchnorm<br/>+ relu6" in label and "928 params" in label
    boxes, _ = boxes_and_edges(dot)
    assert "features.0.1" not in boxes and "features.0.2" not in boxes


def test_fit_opens_first_instances_before_repeats():
    graph = archc.analyse(archc.load(REPO / "architectures" / "resnet50.yaml"))
    fold = folding.fit(graph, {n.name: 5 for n in graph.nodes})
    assert {"layer1", "layer1.0"} <= fold.open
    assert "layer3.5" not in fold.open
    assert folding.estimate(graph, fold, {n.name: 5 for n in graph.nodes}) <= folding.LIMIT_PT
    lenet = archc.analyse(archc.load(REPO / "architectures" / "lenet5.yaml"))
    assert folding.fit(lenet, {n.name: 5 for n in lenet.nodes}) == folding.by_depth(lenet, None)
