"""`archc export` and `archc.export`: files that other runtimes run with PyTorch's outputs.

Every zoo spec is exported to ONNX through the command line, shrunk with `--set` so that CI
can afford it (smaller inputs and class counts; wide dense layers and bottlenecks narrowed):
the same layer kinds and topology, fewer numbers. The weights come from a state dict the
test saves, so the test holds the very module the file must reproduce, and runs the file
itself with onnxruntime at batch sizes other than the traced one. pt2 and TorchScript are
checked the same way for LeNet-5 and ResNet-18. Then every way an export can fail: each
exits 1 or 2 with one clear line, no traceback, and leaves no file behind.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from helpers import LENET, spec_text

import archc
from archc import cli
from archc.emit import export as emit
from archc.training import checkpoint
from archc.training.model import spec_hash

ZOO = Path(__file__).resolve().parent.parent / "architectures"
TOLERANCE = 1e-4
ALEXNET_CONVS = ((0, 64), (3, 192), (6, 384), (8, 256), (10, 256))  # (index, filters)
# --set overrides that make each zoo spec cheap to export; a zoo file without a row fails.
SMALL: dict[str, list[str]] = {
    "lenet5": [],
    "alexnet": [  # each layer a quarter as wide, or less
        "input.shape=[3,64,64]",
        "vars.classes=10",
        "blocks.classifier.layers.1.units=64",
        "blocks.classifier.layers.4.units=64",
        *(f"blocks.features.layers.{i}.filters={w // 4}" for i, w in ALEXNET_CONVS),
    ],
    "vgg16": [  # each of the 13 convs a quarter as wide
        "input.shape=[3,32,32]",
        "vars.classes=10",
        "blocks.classifier.layers.0.units=64",
        "blocks.classifier.layers.3.units=64",
        *(
            f"blocks.features.layers.{i}.filters={w // 4}"
            for w, convs in ((64, (0, 2)), (128, (5, 7)), (256, (10, 12, 14)))
            for i in convs
        ),
        *(f"blocks.features.layers.{i}.filters=128" for i in (17, 19, 21, 24, 26, 28)),
    ],
    "resnet18": [  # a quarter as wide
        "input.shape=[3,16,16]",
        "vars.classes=10",
        *(f"layers.{i}.filters={w}" for i, w in ((0, 16), (3, 16), (4, 32), (5, 64), (6, 128))),
    ],
    "resnet50": [  # 5 bottlenecks, not 16, a quarter as wide
        "input.shape=[3,16,16]",
        "vars.classes=10",
        *(f"layers.{i}.width={w}" for i, w in ((3, 16), (4, 32), (5, 64), (6, 128))),
        *(f"layers.{i}.repeat={n}" for i, n in ((3, 1), (4, 2), (5, 1), (6, 1))),
    ],
    "mobilenet_v2": [  # 4 inverted residuals, not 17: t=1, t=6 with stride 2, the residual add
        "input.shape=[3,16,16]",
        "vars.classes=10",
        *(f"blocks.features.layers.{i}.when=false" for i in range(5, 18)),
    ],
    "squeezenet1_0": ["input.shape=[3,24,24]", "vars.classes=10"],
    "unet": ["input.shape=[3,16,16]", "vars.width=4"],
}
ZOO_SPECS = sorted(p.stem for p in ZOO.glob("*.yaml"))


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    """`archc ARGS` in this process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def saved_module(spec: archc.Spec, path: Path) -> torch.nn.Module:
    """A module of `spec` with random weights (batchnorm statistics included), saved to `path`."""
    torch.manual_seed(0)
    module = archc.to_torch(spec).eval()
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.endswith(("running_mean", "running_var")):
                buffer.uniform_(0.5, 1.5)
    torch.save(module.state_dict(), path)
    return module


def outputs(module: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        result = module(x)
    return [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]


def largest_difference(want: list[np.ndarray], got: list[np.ndarray]) -> float:
    assert [w.shape for w in want] == [g.shape for g in got]
    return max(float(np.max(np.abs(w - g))) for w, g in zip(want, got))


# -- every zoo spec to ONNX, through the command line -----------------------------------------


@pytest.mark.parametrize("name", ZOO_SPECS)
def test_zoo_spec_exports_to_onnx_that_onnxruntime_runs_alike(name, tmp_path, capsys):
    overrides = SMALL[name]
    spec = archc.load(ZOO / f"{name}.yaml", overrides)
    module = saved_module(spec, tmp_path / "weights.pt")
    target = tmp_path / "out" / "model.onnx"
    sets = [arg for o in overrides for arg in ("--set", o)]
    code, out, err = run(
        capsys, "export", ZOO / f"{name}.yaml", *sets, "--weights", tmp_path / "weights.pt",
        "-o", target,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {target} (ONNX opset ")
    printed = re.search(r"onnxruntime matches PyTorch (exactly|within (\S+)) at batch sizes", out)
    assert printed and float(printed[2] or 0) <= TOLERANCE
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx"]  # no .onnx.data

    model = onnx.load(target)
    onnx.checker.check_model(model)
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    graph = archc.analyse(spec)
    assert [o.name for o in model.graph.output] == list(graph.outputs)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # the batches are tiny: threads would only spin
    session = onnxruntime.InferenceSession(str(target), options, ["CPUExecutionProvider"])
    for batch in (1, 5):
        x = torch.randn(batch, *graph.input_shape)
        got = session.run(None, {graph.input_name: x.numpy()})
        assert largest_difference(outputs(module, x), got) <= TOLERANCE


def test_every_zoo_spec_has_a_small_variant():
    assert set(ZOO_SPECS) == set(SMALL)
    assert len(ZOO_SPECS) >= 8


def test_every_layer_kind_and_repeated_outputs_to_onnx(tmp_path):
    from test_generated import EVERY_KIND

    spec = archc.loads(EVERY_KIND, overrides=["outputs=[head, pooled, head]"])
    report = archc.export(spec, tmp_path / "every.onnx")
    assert report.format == "onnx" and report.max_diff <= TOLERANCE
    assert report.size == (tmp_path / "every.onnx").stat().st_size
    model = onnx.load(tmp_path / "every.onnx")
    assert [o.name for o in model.graph.output] == ["head", "pooled", "head_2"]  # unique
    session = onnxruntime.InferenceSession(model.SerializeToString())
    head, _, again = session.run(None, {"input": np.ones((2, 3, 10, 10), np.float32)})
    assert np.array_equal(head, again)


# -- pt2 and TorchScript ----------------------------------------------------------------------

RUNNERS = {
    "pt2": lambda path: torch.export.load(path).module(),
    "torchscript": lambda path: torch.jit.load(path),
}


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
@pytest.mark.parametrize("fmt", list(RUNNERS))
def test_resnet18_to_pt2_and_torchscript_through_the_api(fmt, tmp_path):
    spec = archc.load(ZOO / "resnet18.yaml", SMALL["resnet18"])
    module = saved_module(spec, tmp_path / "weights.pt")
    target = tmp_path / f"model.{fmt}"
    report = archc.export(spec, target, format=fmt, weights=tmp_path / "weights.pt")
    assert report.path == target and report.size == target.stat().st_size
    assert report.max_diff <= TOLERANCE and report.batches == (2, 1, 3)
    loaded = RUNNERS[fmt](target)
    for batch in (1, 4):
        x = torch.randn(batch, *spec.input.shape)
        assert largest_difference(outputs(module, x), outputs(loaded, x)) <= TOLERANCE


def test_lenet5_to_pt2_named_by_its_suffix_from_an_archc_checkpoint(tmp_path, capsys):
    spec = archc.load(LENET)
    module = saved_module(spec, tmp_path / "weights.pt")
    state = {
        "format": checkpoint.FORMAT, "version": checkpoint.VERSION,
        "spec_hash": spec_hash(archc.analyse(spec)), "spec_name": "LeNet5",
        "model": module.state_dict(), "normalise": {"mean": [0.25], "std": [0.5]},
    }  # fmt: skip
    torch.save(state, tmp_path / "checkpoint.pt")
    target = tmp_path / "lenet.pt2"
    code, out, err = run(
        capsys, "export", LENET, "--weights", tmp_path / "checkpoint.pt", "-o", target
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {target} (torch.export, ")
    assert "torch.export.load matches PyTorch" in out and "mean [0.25] and std [0.5]" in out
    x = torch.randn(4, 1, 32, 32)
    loaded = torch.export.load(target).module()
    assert largest_difference(outputs(module, x), outputs(loaded, x)) <= TOLERANCE


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_lenet5_to_torchscript_at_the_default_path_from_ddp_weights(tmp_path, capsys, monkeypatch):
    module = saved_module(archc.load(LENET), tmp_path / "weights.pt")
    state = {f"module.{k}": v for k, v in module.state_dict().items()}  # a DDP wrapper's keys
    torch.save(state, tmp_path / "ddp.pt")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "export", LENET, "--format", "torchscript", "--weights", "ddp.pt")
    assert (code, err) == (0, "") and out.startswith("wrote build/LeNet5.pt (TorchScript, ")
    loaded = torch.jit.load(tmp_path / "build" / "LeNet5.pt")
    x = torch.randn(4, 1, 32, 32)
    assert largest_difference(outputs(module, x), outputs(loaded, x)) <= TOLERANCE


# -- weights files ----------------------------------------------------------------------------


def _another_specs_checkpoint(path: Path) -> None:
    spec = archc.load(LENET, ["layers.5.units=64"])
    torch.save(
        {
            "format": checkpoint.FORMAT,
            "spec_hash": spec_hash(archc.analyse(spec)),
            "spec_name": "LeNet5",
            "model": archc.to_torch(spec).state_dict(),
        },
        path,
    )


WEIGHTS_ERRORS = {
    "missing": (None, "cannot read weights: No such file or directory"),
    "not torch": (lambda p: p.write_text("not weights"), "not a PyTorch weights file"),
    "truncated": (
        lambda p: p.write_bytes(_saved_bytes(p)[:500]),
        "truncated or corrupt",
    ),
    "pickled code": (
        lambda p: torch.save({"model": {}, "fn": print}, p),
        "pickled Python objects, which archc never unpickles",
    ),
    "no state dict": (lambda p: torch.save([1, 2], p), "holds no state dict"),
    "wrong shape": (
        lambda p: torch.save(
            archc.to_torch(archc.load(LENET, ["layers.5.units=64"])).state_dict(), p
        ),
        "the weights do not fit LeNet5 (3 tensors of another shape): "
        "`f5.weight` is 64x400 in the weights but 120x400 in LeNet5",
    ),
    "missing and extra": (
        lambda p: torch.save(
            {"c1.weight": torch.zeros(6, 1, 5, 5), "fc.weight": torch.zeros(1)}, p
        ),
        "(9 tensors missing, 1 tensor extra): `c1.bias` is missing",
    ),
    "another spec": (_another_specs_checkpoint, "the checkpoint is for another spec"),
}


def _saved_bytes(path: Path) -> bytes:
    torch.save(archc.to_torch(archc.load(LENET)).state_dict(), path)
    return path.read_bytes()


@pytest.mark.parametrize("case", list(WEIGHTS_ERRORS))
def test_unusable_weights_exit_2_naming_the_problem(case, tmp_path, capsys):
    make, expected = WEIGHTS_ERRORS[case]
    weights = tmp_path / "weights.pt"
    if make:
        make(weights)
    code, out, err = run(capsys, "export", LENET, "--weights", weights, "-o", tmp_path / "n.onnx")
    assert (code, out) == (2, "")
    assert err.startswith(f"archc: error[E604]: {weights}") and expected in err
    assert err.count("\n") == 1 and not (tmp_path / "n.onnx").exists()


# -- failures: a clear line, the right exit code, no file -------------------------------------


def test_an_unknown_format_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", str(LENET), "--format", "png", "-o", str(tmp_path / "n.png")])
    assert exit_.value.code == 2 and "invalid choice: 'png'" in capsys.readouterr().err
    code, out, err = run(capsys, "export", LENET, "-o", tmp_path / "n.jpg")
    assert code == 2 and "error[E005]: cannot tell the export format from `n.jpg`" in err
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_fails_before_exporting(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(emit, "build", None)  # building would now crash: it must not start
    code, out, err = run(capsys, "export", LENET, "-o", tmp_path / "file" / "n.onnx")
    assert code == 2 and err.startswith(f"archc: error[E003]: cannot write {tmp_path}/file/n.onnx")
    code, out, err = run(capsys, "export", LENET, "--format", "onnx", "-o", tmp_path)
    assert code == 2 and "it is a directory" in err


MISSING = [
    ("onnxruntime", "onnx", "export"),
    ("onnxscript", "onnx", "export"),
    ("torch", "onnx", "export"),  # the export extra brings torch too
    ("torch", "pt2", "torch"),
    ("torch", "torchscript", "torch"),
]


@pytest.mark.parametrize("missing,fmt,extra", MISSING)
def test_a_missing_package_names_its_extra(missing, fmt, extra, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, missing, None)  # as if it were not installed
    code, out, err = run(capsys, "export", LENET, "--format", fmt, "-o", tmp_path / "n.x")
    assert (code, out) == (2, "")
    assert err == (
        f"archc: error[E006]: `archc export --format {fmt}` needs {missing}: "
        f"pip install 'archc[{extra}]'\n"
    )
    with pytest.raises(ImportError) as error:
        archc.export(archc.load(LENET), tmp_path / "n.x", format=fmt)
    assert str(error.value) == (
        f"archc.export(format={fmt!r}) needs {missing}: pip install 'archc[{extra}]'"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_differs_from_pytorch_is_not_written(tmp_path, capsys, monkeypatch):
    real = emit.LOADERS["torchscript"]

    def off_by_a_little(data, graph):
        runner = real(data, graph)
        return lambda x: [a + 1e-3 for a in runner(x)]

    monkeypatch.setitem(emit.LOADERS, "torchscript", off_by_a_little)
    code, out, err = run(capsys, "export", LENET, "-o", tmp_path / "n.pt")
    assert (code, out) == (1, "")
    assert err.startswith(
        f"{LENET}: error[E701]: export refused: at batch size 2, output `output`: the "
        "exported file differs from PyTorch by 1.0e-03 (limit 1e-04); no file was written\n"
    )
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_weights_that_give_nan_are_refused_before_exporting(tmp_path, capsys, monkeypatch):
    state = archc.to_torch(archc.load(LENET)).state_dict()
    state["c1.bias"] = torch.full((6,), float("nan"))
    torch.save(state, tmp_path / "nan.pt")
    monkeypatch.setitem(emit.EXPORTERS, "pt2", None)  # exporting would now crash
    code, out, err = run(
        capsys, "export", LENET, "--weights", tmp_path / "nan.pt", "-o", tmp_path / "n.pt2"
    )
    assert code == 1 and "error[E701]" in err
    assert "PyTorch's own output holds NaN or infinity, so no file can be checked" in err
    assert not (tmp_path / "n.pt2").exists()


def test_onnx_over_2_gib_is_refused_before_anything_is_built(tmp_path, capsys, monkeypatch):
    (tmp_path / "big.yaml").write_text(spec_text([{"type": "dense", "units": 30000}], [20000]))
    monkeypatch.setattr(emit, "build", None)  # building would now crash: it must not start
    code, out, err = run(
        capsys,
        "export",
        tmp_path / "big.yaml",
        "--max-params",
        "10000000000",
        "-o",
        tmp_path / "b.onnx",
    )
    assert code == 2 and "error[E005]: an ONNX file holds at most 2 GiB" in err
    assert "600,030,000 parameters take 2.4 GB; export it with --format pt2" in err
