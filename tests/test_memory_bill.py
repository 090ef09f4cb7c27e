"""`archc memory` against PyTorch: the bytes it states are the bytes PyTorch holds.

Saved activations are measured with `torch.autograd.graph.saved_tensors_hooks` during a forward
pass in training mode, counting each storage once (``untyped_storage().data_ptr()``) and leaving
out the storages of parameters, of buffers (batchnorm's running statistics, billed as buffers)
and of the input batch (billed as the input): the static total must equal it to the byte.
Models are built on the meta device and given uninitialised CPU storage: what autograd saves
does not depend on the values, and a 138M-parameter VGG then costs no initialisation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import REPO, spec_text
from torch.distributed._tools.mem_tracker import MemTracker

import archc
from archc.cli import main
from archc.emit.memory_bill import LEFT_OUT, bill, human
from archc.layers.footprint import ACTIVATION_SAVES

ZOO = REPO / "architectures"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p),
    "adamw": lambda p: torch.optim.AdamW(p),
}


def built(graph: archc.Graph, dtype: str = "float32") -> torch.nn.Module:
    with torch.device("meta"):
        model = archc.to_torch(graph)
    return model.to_empty(device="cpu").to(DTYPES[dtype]).train()


def measured_saved(graph: archc.Graph, batch: int = 2, dtype: str = "float32") -> int:
    """Bytes of the distinct storages autograd saves in one forward pass (see the docstring)."""
    model = built(graph, dtype)
    x = torch.randn(batch, *graph.input_shape, dtype=DTYPES[dtype])
    excluded = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    excluded.add(x.untyped_storage().data_ptr())
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in excluded:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(storages.values())


# Full size for LeNet-5, ResNet-18 and MobileNetV2; the others at a smaller input (CI time).
ZOO_SIZES = {
    "lenet5.yaml": [],
    "resnet18.yaml": [],
    "mobilenet_v2.yaml": [],
    "resnet50.yaml": ["input.shape=[3,32,32]"],
    "vgg16.yaml": ["input.shape=[3,64,64]"],
    "alexnet.yaml": ["input.shape=[3,96,96]"],
    "squeezenet1_0.yaml": ["input.shape=[3,64,64]"],
    "unet.yaml": ["input.shape=[3,32,32]"],
}


def test_every_zoo_spec_has_a_size():
    assert sorted(ZOO_SIZES) == sorted(p.name for p in ZOO.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(ZOO_SIZES))
def test_zoo_saved_activations_to_the_byte(name: str):
    graph = archc.analyse(archc.load(ZOO / name, ZOO_SIZES[name]))
    assert bill(graph, 2).saved_activations == measured_saved(graph)


# One spec per rule: every activation function (own and as a layer, in place or not), every
# pooling form, dropout, views, merges, resampling, 1-D and 3-D inputs, several uses of a value.
def conv(filters: int = 4, kernel: int = 3, **fields: object) -> dict:
    return {"type": "conv", "filters": filters, "kernel": kernel, "padding": kernel // 2, **fields}


def pool(**fields: object) -> dict:
    return {"type": "pool", **fields}


def dense(units: int, **fields: object) -> dict:
    return {"type": "dense", "units": units, **fields}


FLAT, BN = {"type": "flatten"}, {"type": "batchnorm"}
AVG = {"mode": "avg"}


def act(fn: str) -> dict:
    return {"type": "activation", "fn": fn}


KINDS: dict[str, tuple[list[dict], list[int]]] = {
    **{f"{fn} after conv": ([conv(activation=fn), conv(2, 1)], [3, 8, 8])
       for fn in ACTIVATION_SAVES},
    **{f"{fn} layer": ([conv(), act(fn), conv(2, 1)], [3, 8, 8]) for fn in ACTIVATION_SAVES},
    **{
        f"{fn} of the input": ([pool(kernel=2), act(fn), FLAT, dense(3)], [3, 8, 8])
        for fn in ("relu", "relu6", "leaky_relu")
    },
    "dense, batchnorm, relu6": (
        [FLAT, dense(6, bias=False), {**BN, "activation": "relu6"}, dense(2)], [2, 3, 3]
    ),
    "max pool ceil": ([pool(kernel=3, stride=2, ceil=True), conv()], [3, 9, 9]),
    "avg pool padded": ([conv(), pool(**AVG, kernel=3, stride=2, padding=1), conv()], [3, 9, 9]),
    "adaptive avg": ([conv(), pool(**AVG, output=[3, 2]), conv()], [3, 7, 8]),
    "global avg": ([conv(), pool(**AVG, kernel="global"), FLAT, dense(2)], [3, 8, 8]),
    "global max": ([conv(), pool(kernel="global"), FLAT, dense(2)], [3, 8, 8]),
    "dropout, reshape": (
        [conv(), FLAT, {"type": "dropout", "rate": 0.3}, {"type": "reshape", "shape": [4, 16]},
         conv(2)],
        [3, 4, 4],
    ),
    "upsample": (
        [conv(), {"type": "upsample", "scale": 2}, conv(),
         {"type": "upsample", "scale": 2, "mode": "bilinear"}, conv()],
        [3, 4, 4],
    ),
    "conv_transpose, identity": (
        [{"type": "conv_transpose", "filters": 4, "kernel": 2, "stride": 2, "activation": "tanh"},
         {"type": "identity"}, conv()],
        [3, 4, 4],
    ),
    "1-D": ([conv(activation="relu"), pool(kernel=2), BN, pool(**AVG, kernel=2)], [3, 16]),
    "3-D": (
        [conv(), pool(kernel=2), {**BN, "activation": "silu"}, pool(**AVG, kernel=2)], [2, 6, 6, 6]
    ),
    "merges": ([
        conv(name="a", activation="relu"),
        conv(name="b", inputs="a"),
        {"name": "m", "type": "multiply", "inputs": ["a", "b", "input"]},
        {"name": "n", "type": "multiply", "inputs": ["input", "b"]},
        {"name": "s", "type": "add", "inputs": ["a", "m", "n"], "activation": "relu"},
        {"name": "c", "type": "concat", "inputs": ["s", "a"]},
        conv(2, 1, name="out", inputs="c"),
    ], [4, 6, 6]),
}  # fmt: skip


def test_every_registered_kind_is_measured():
    from archc.layers import Layer

    measured = {layer["type"] for layers, _ in KINDS.values() for layer in layers}
    assert measured >= set(Layer.registry)


@pytest.mark.parametrize("case", list(KINDS))
def test_every_kind_saved_activations_to_the_byte(case: str):
    layers, shape = KINDS[case]
    graph = archc.analyse(archc.loads(spec_text(layers, shape)))
    assert bill(graph, 3).saved_activations == measured_saved(graph, batch=3)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision(dtype: str):
    graph = archc.analyse(archc.load(ZOO / "squeezenet1_0.yaml", ["input.shape=[3,64,64]"]))
    model = built(graph, dtype)
    result = bill(graph, 2, dtype)
    assert result.saved_activations == measured_saved(graph, dtype=dtype)
    assert result.parameters == sum(p.nbytes for p in model.parameters())
    assert result.buffers == sum(b.nbytes for b in model.buffers())


SMALL = spec_text(
    [conv(8, name="c"), {**BN, "name": "bn", "activation": "relu"}, pool(kernel=2), FLAT,
     dense(10, bias=False), dense(3, name="fc")],
    [3, 8, 8],
)  # fmt: skip


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_weights_gradients_buffers_and_optimizer_state(optimizer: str):
    graph = archc.analyse(archc.loads(SMALL))
    model = built(graph)
    opt = OPTIMIZERS[optimizer](model.parameters())
    x = torch.randn(2, *graph.input_shape)
    model(x).sum().backward()
    opt.step()
    result = bill(graph, 2, optimizer=optimizer)
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    assert result.parameters == sum(p.nbytes for p in model.parameters())
    assert result.gradients == sum(p.grad.nbytes for p in model.parameters())
    assert result.buffers == sum(b.nbytes for b in model.buffers())
    assert result.optimizer_state == sum(t.nbytes for t in state)
    assert result.input == x.nbytes
    layers = {layer.name: layer for layer in result.layers}
    fc, bn = model.get_submodule("fc"), model.get_submodule("bn")
    assert layers["fc"].parameters == fc.weight.nbytes + fc.bias.nbytes
    assert layers["bn"].buffers == sum(b.nbytes for b in bn.buffers())
    fc_state = [t for p in fc.parameters() for t in opt.state[p].values()]
    assert layers["fc"].optimizer == sum(t.nbytes for t in fc_state)


def tracked_peak(graph: archc.Graph, optimizer: str) -> int:
    """MemTracker's peak over a training step, after one step has made the optimizer's state
    (as in every step of a training run but the first)."""
    model = built(graph)
    opt = OPTIMIZERS[optimizer](model.parameters())
    x = torch.randn(2, *graph.input_shape)

    def step() -> None:
        model(x).sum().backward()
        opt.step()
        opt.zero_grad()

    step()
    tracker = MemTracker()
    tracker.track_external(model, opt)
    with tracker:
        step()
    return tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]


@pytest.mark.parametrize(
    "name, sets, optimizer",
    [
        ("lenet5.yaml", [], "sgd"),
        ("resnet18.yaml", ["input.shape=[3,32,32]"], "momentum"),
        ("squeezenet1_0.yaml", ["input.shape=[3,64,64]"], "adam"),
    ],
)
def test_total_within_ten_percent_of_the_tracked_peak(name: str, sets: list[str], optimizer: str):
    graph = archc.analyse(archc.load(ZOO / name, sets))
    total = bill(graph, 2, optimizer=optimizer).total
    peak = tracked_peak(graph, optimizer)
    assert abs(total - peak) <= 0.10 * peak, (total, peak)


def tracked_forward_peak(graph: archc.Graph) -> int:
    """MemTracker's peak over a forward pass without autograd, in eval mode."""
    model = built(graph).eval()
    x = torch.randn(2, *graph.input_shape)
    tracker = MemTracker()
    tracker.track_external(model)
    with torch.no_grad(), tracker:
        model(x)
    return tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]


@pytest.mark.parametrize(
    "name, sets",
    [
        ("lenet5.yaml", []),
        ("unet.yaml", ["input.shape=[3,64,64]"]),
        ("squeezenet1_0.yaml", ["input.shape=[3,64,64]"]),
    ],
)
def test_inference_within_ten_percent_of_the_tracked_peak(name: str, sets: list[str]):
    graph = archc.analyse(archc.load(ZOO / name, sets))
    result = bill(graph, 2, inference=True)
    assert result.gradients == result.optimizer_state == result.saved_activations == 0
    assert result.live > 0
    peak = tracked_forward_peak(graph)
    assert abs(result.total - peak) <= 0.10 * peak, (result.total, peak)


def test_human_units():
    assert [human(n) for n in (0, 1023, 1024, 1536, 45_000_000, 3 * 2**30)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "42.9 MiB", "3.0 GiB",
    ]  # fmt: skip


def cli(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    """``archc ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_json_and_table(capsys: pytest.CaptureFixture):
    rc, out, err = cli(capsys, "memory", ZOO / "lenet5.yaml", "--batch", "2", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    parts = ("parameters", "buffers", "gradients", "optimizer", "input", "saved_activations")
    assert doc["live_activations"] == 0 and doc["inference"] is False
    assert doc["total"] == sum(doc[k] for k in parts)
    assert doc["batch"] == 2 and doc["dtype"] == "float32" and doc["optimizer_name"] == "sgd"
    assert [layer["name"] for layer in doc["layers"]][:2] == ["c1", "s2"]
    assert doc["saved_activations"] == sum(layer["saved_activations"] for layer in doc["layers"])
    args = ("memory", ZOO / "resnet18.yaml", "--batch", "64", "--optimizer", "adam")
    rc, out, err = cli(capsys, *args)
    assert rc == 0, err
    assert out.startswith("ResNet18: one training step at batch 64, float32, adam\n")
    assert LEFT_OUT in out and "cuDNN" in LEFT_OUT and "CUDA context" in LEFT_OUT
    graph = archc.analyse(archc.load(ZOO / "resnet18.yaml"))
    assert f"({bill(graph, 64, optimizer='adam').total:,} bytes)" in out
    rc, out, err = cli(
        capsys, "memory", ZOO / "lenet5.yaml", "--batch", "3", "--inference", "--json"
    )
    doc = json.loads(out)
    assert rc == 0 and doc["inference"] is True and doc["saved_activations"] == 0
    graph = archc.analyse(archc.load(ZOO / "lenet5.yaml"))
    assert doc["live_activations"] == bill(graph, 3, inference=True).live
    rc, out, err = cli(capsys, "memory", ZOO / "lenet5.yaml", "--batch", "3", "--inference")
    assert out.startswith("LeNet5: one forward pass without autograd at batch 3, float32\n")
    assert "live activations" in out


@pytest.mark.parametrize(
    "args", [["--batch", "0"], ["--batch", "2", "--dtype", "int8"], ["--optimizer", "sgd"]]
)
def test_cli_bad_options(capsys: pytest.CaptureFixture, args: list[str]):
    rc, out, err = cli(capsys, "memory", ZOO / "lenet5.yaml", *args)
    assert rc == 2 and out == "" and "archc memory: error" in err


def test_cli_invalid_spec(capsys: pytest.CaptureFixture, tmp_path: Path):
    (tmp_path / "net.yaml").write_text(
        spec_text([{"type": "conv", "filters": 2, "kernel": 9}], [1, 4, 4])
    )
    rc, out, err = cli(capsys, "memory", tmp_path / "net.yaml", "--batch", "2")
    assert rc == 1 and out == "" and "error[E302]" in err
