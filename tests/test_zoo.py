"""The model zoo (architectures/*.yaml) against published figures and torchvision's layout.

Expected parameters and GMACs are the torchvision table of shared/reference/numbers.md
(3x224x224 input, 1000 classes). For every spec: the static summary (`archc summary --json`,
run as a subprocess) gives exactly the published parameter count and MACs that round to the
published GMACs; the generated PyTorch module has that many parameters, torchvision's
state_dict keys for a few spot-checked tensors, and a forward pass whose every layer shape
matches the static analysis; the diagram renders. A hand-written torchvision-style ResNet-18
then exchanges weights with the archc one and must compute the same function.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import torch
from torch import nn

import archc
from archc.emit.torch import check_shapes

ZOO = Path(__file__).resolve().parent.parent / "architectures"


def _unet_figures(
    channels: int = 3, size: int = 128, width: int = 16, classes: int = 2
) -> tuple[int, int]:
    """Params and MACs of architectures/unet.yaml, worked out by hand (no published figure)."""
    params = macs = 0

    def conv(cin: int, cout: int, k: int, pixels: int, bias: bool) -> None:
        nonlocal params, macs
        params += cout * cin * k * k + (cout if bias else 0)
        macs += pixels * cout * cin * k * k

    def double_conv(cin: int, cout: int, side: int) -> None:
        nonlocal params
        conv(cin, cout, 3, side * side, bias=False)
        conv(cout, cout, 3, side * side, bias=False)
        params += 2 * 2 * cout  # two batchnorms

    widths = [width, 2 * width, 4 * width]
    cin, side = channels, size
    for w in widths:  # encoder: a double conv per level, then a 2x2 max pool
        double_conv(cin, w, side)
        cin, side = w, side // 2
    double_conv(cin, 8 * width, side)  # bottleneck
    cin = 8 * width
    for w in reversed(widths):  # decoder: 2x2 stride-2 transposed conv, concat, double conv
        params += cin * w * 4 + w
        macs += side * side * cin * w * 4  # every input pixel meets every weight once
        side *= 2
        double_conv(2 * w, w, side)
        cin = w
    conv(cin, classes, 1, side * side, bias=True)  # 1x1 head
    return params, macs


UNET_PARAMS, UNET_MACS = _unet_figures()

# (spec file, params, GMACs as published; None where there is no published figure).
ZOO_TABLE = [
    ("alexnet.yaml", 61_100_840, "0.714"),
    ("vgg16.yaml", 138_357_544, "15.47"),
    ("resnet18.yaml", 11_689_512, "1.814"),
    ("resnet50.yaml", 25_557_032, "4.089"),
    ("mobilenet_v2.yaml", 3_504_872, "0.3008"),
    ("squeezenet1_0.yaml", 1_248_424, "0.819"),
    ("unet.yaml", UNET_PARAMS, None),
]

# Spot-checked state_dict keys and shapes: torchvision's, for the torchvision models.
STATE_KEYS = {
    "alexnet.yaml": {
        "features.0.weight": (64, 3, 11, 11),
        "features.3.weight": (192, 64, 5, 5),
        "features.6.weight": (384, 192, 3, 3),
        "features.8.weight": (256, 384, 3, 3),
        "features.10.bias": (256,),
        "classifier.1.weight": (4096, 9216),
        "classifier.4.weight": (4096, 4096),
        "classifier.6.bias": (1000,),
    },
    "vgg16.yaml": {
        "features.0.weight": (64, 3, 3, 3),
        "features.2.weight": (64, 64, 3, 3),
        "features.5.weight": (128, 64, 3, 3),
        "features.28.weight": (512, 512, 3, 3),
        "classifier.0.weight": (4096, 25088),
        "classifier.3.weight": (4096, 4096),
        "classifier.6.weight": (1000, 4096),
    },
    "resnet18.yaml": {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_var": (64,),
        "layer1.1.conv2.weight": (64, 64, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer4.0.downsample.1.bias": (512,),
        "fc.weight": (1000, 512),
    },
    "resnet50.yaml": {
        "conv1.weight": (64, 3, 7, 7),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer3.5.bn3.weight": (1024,),
        "layer4.0.downsample.1.running_mean": (2048,),
        "layer4.2.conv3.weight": (2048, 512, 1, 1),
        "fc.weight": (1000, 2048),
    },
    "mobilenet_v2.yaml": {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.0.1.weight": (32,),
        "features.1.conv.0.0.weight": (32, 1, 3, 3),
        "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.1.conv.2.running_mean": (16,),
        "features.2.conv.0.0.weight": (96, 16, 1, 1),
        "features.2.conv.1.0.weight": (96, 1, 3, 3),
        "features.2.conv.2.weight": (24, 96, 1, 1),
        "features.2.conv.3.bias": (24,),
        "features.17.conv.2.weight": (320, 960, 1, 1),
        "features.18.0.weight": (1280, 320, 1, 1),
        "features.18.1.bias": (1280,),
        "classifier.1.weight": (1000, 1280),
    },
    "squeezenet1_0.yaml": {
        "features.0.weight": (96, 3, 7, 7),
        "features.3.squeeze.weight": (16, 96, 1, 1),
        "features.3.expand1x1.weight": (64, 16, 1, 1),
        "features.3.expand3x3.weight": (64, 16, 3, 3),
        "features.12.expand3x3.bias": (256,),
        "classifier.1.weight": (1000, 512, 1, 1),
    },
    "unet.yaml": {
        "enc1.0.weight": (16, 3, 3, 3),
        "bottleneck.4.running_var": (128,),
        "dec3.up.weight": (128, 64, 2, 2),
        "dec1.conv.3.weight": (16, 16, 3, 3),
        "head.weight": (2, 16, 1, 1),
    },
}
IDS = [row[0].removesuffix(".yaml") for row in ZOO_TABLE]
EXPECTED_FILES = ["lenet5.yaml", *(row[0] for row in ZOO_TABLE)]


def run_archc(*args: str | os.PathLike) -> subprocess.CompletedProcess:
    """``python -m archc ARGS`` in a subprocess that imports this checkout's archc."""
    root = str(Path(archc.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "archc", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def three_figures(x: float) -> str:
    return f"{x:.3g}"


def published_figure_matches(macs: int, published: str) -> bool:
    """MACs, in G, within half a unit of the last digit of the published figure."""
    half_unit = Decimal(5).scaleb(Decimal(published).as_tuple().exponent - 1)
    return abs(Decimal(macs) / 10**9 - Decimal(published)) <= half_unit


# -- the zoo files ---------------------------------------------------------------------------


def test_the_zoo_files_exist():
    for name in EXPECTED_FILES:
        assert (ZOO / name).is_file(), f"architectures/{name} is missing"


def test_resnet50_spec_is_compact():
    lines = (ZOO / "resnet50.yaml").read_text().splitlines()
    assert len(lines) < 100


# -- static figures, from the command line ---------------------------------------------------


@pytest.mark.parametrize("spec,params,gmacs", ZOO_TABLE, ids=IDS)
def test_summary_json_matches_published_figures(spec, params, gmacs):
    proc = run_archc("summary", ZOO / spec, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["params"] == params
    assert sum(layer["params"] for layer in summary["layers"]) == params
    if gmacs is None:
        assert summary["macs"] == UNET_MACS
        return
    assert summary["input"] == [3, 224, 224]
    assert summary["output"] == [1000]
    assert three_figures(summary["macs"] / 1e9) == three_figures(float(gmacs))
    assert published_figure_matches(summary["macs"], gmacs), summary["macs"]


# -- the generated PyTorch module ------------------------------------------------------------


@pytest.mark.parametrize("spec,params,gmacs", ZOO_TABLE, ids=IDS)
def test_torch_module(spec, params, gmacs):
    torch.manual_seed(0)
    graph = archc.analyse(archc.load(ZOO / spec))
    module = archc.to_torch(graph)
    assert sum(p.numel() for p in module.parameters()) == params
    state = module.state_dict()
    for key, shape in STATE_KEYS[spec].items():
        assert key in state, f"{key} missing; keys start {list(state)[:8]}"
        assert tuple(state[key].shape) == shape, key
    assert check_shapes(module, graph, batch=1) == []


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("spec", [row[0] for row in ZOO_TABLE], ids=IDS)
def test_diagram_renders_svg(tmp_path, spec):
    target = tmp_path / "net.svg"
    proc = run_archc("diagram", ZOO / spec, "-o", target)
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in target.read_text()


# -- a hand-written torchvision-style ResNet-18 ----------------------------------------------


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock, written out."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    """torchvision.models.resnet18, written out."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(64, 64, 1)
        self.layer2 = self._stage(64, 128, 2)
        self.layer3 = self._stage(128, 256, 2)
        self.layer4 = self._stage(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    @staticmethod
    def _stage(inplanes: int, planes: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomise_batchnorm(module: nn.Module) -> None:
    """Non-trivial affine weights and running statistics, so eval mode is a real test."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)


@pytest.fixture(scope="module")
def resnet18_pair():
    torch.manual_seed(0)
    generated = archc.to_torch(archc.load(ZOO / "resnet18.yaml"))
    _randomise_batchnorm(generated)
    return generated.eval(), ResNet18().eval()


def test_resnet18_state_dict_matches_torchvision_layout(resnet18_pair):
    generated, hand = resnet18_pair
    expected = [(k, tuple(v.shape)) for k, v in hand.state_dict().items()]
    actual = [(k, tuple(v.shape)) for k, v in generated.state_dict().items()]
    assert actual == expected
    assert sum(p.numel() for p in hand.parameters()) == 11_689_512


def test_resnet18_weights_load_both_ways_and_compute_the_same(resnet18_pair):
    generated, hand = resnet18_pair
    hand.load_state_dict(generated.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hand(x)
        torch.testing.assert_close(generated(x), expected)
    assert expected.shape == (2, 1000)
    assert not math.isclose(expected.std().item(), 0.0, abs_tol=1e-6)

    # And back: a fresh archc module takes the hand-written network's weights.
    torch.manual_seed(2)
    fresh = archc.to_torch(archc.load(ZOO / "resnet18.yaml")).eval()
    fresh.load_state_dict(hand.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), expected)


# -- the JSON Schema editors use ---------------------------------------------------------------


@pytest.fixture(scope="module")
def schema_validator():
    import jsonschema

    from archc.schema import json_schema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("spec", EXPECTED_FILES)
def test_every_spec_and_its_expansion_satisfy_the_schema(spec, schema_validator):
    import yaml

    expanded = run_archc("expand", ZOO / spec)
    assert expanded.returncode == 0, expanded.stderr
    for data in (yaml.safe_load((ZOO / spec).read_text()), yaml.safe_load(expanded.stdout)):
        errors = [e.message for e in schema_validator.iter_errors(data)]
        assert errors == [], errors[:3]


@pytest.mark.parametrize(
    "layer",
    [
        {"type": "conv", "filters": 0, "kernel": 5},
        {"type": "conv", "filters": 6, "kernal": 5},
        {"type": "conv", "filters": "six", "kernel": 5},
        {"type": "conv", "name": "a b", "filters": 6, "kernel": 5},
    ],
    ids=["zero-filters", "misspelt-key", "text-for-a-number", "bad-name"],
)
def test_the_schema_refuses_what_archc_refuses(layer, schema_validator):
    data = {"archc": 1, "name": "Net", "input": {"shape": [1, 8, 8]}, "layers": [layer]}
    assert list(schema_validator.iter_errors(data))
    with pytest.raises(archc.SpecError):
        archc.loads(json.dumps(data))
