"""archc.training.run and `archc train`: a short run's history, files, determinism, resume."""

from __future__ import annotations

import csv
import json

import pytest
import torch

import archc
from archc import cli
from archc.training import checkpoint, run
from archc.training.model import spec_hash


def state_of(history) -> dict[str, torch.Tensor]:
    return history.model.state_dict()


def test_a_short_run_learns_and_writes_its_files(trained) -> None:
    history, out = trained
    first, last = history.epochs
    assert last["train_loss"] < first["train_loss"]
    assert last["val_loss"] < first["val_loss"]
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.pt", "curves.png", "metrics.csv", "metrics.json",
    ]  # fmt: skip
    assert (out / "curves.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads((out / "metrics.json").read_text()) == history.epochs
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [float(r["val_accuracy"]) for r in rows] == [e["val_accuracy"] for e in history.epochs]
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["recipe"]["epochs"] == 2
    assert saved["spec_hash"] == spec_hash(archc.analyse(archc.load("architectures/lenet5.yaml")))
    for key, value in state_of(history).items():  # the module returned is the one saved
        assert torch.equal(saved["model"][key], value)
    assert set(saved) >= {"optimizer", "schedule", "normalise", "classes", "history"}


def test_the_returned_module_is_the_spec_as_written(trained) -> None:
    history, _ = trained
    probabilities = history.model(torch.randn(3, 1, 32, 32))  # LeNet-5 ends in softmax
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))


def test_same_seed_same_weights_other_seed_other_weights(small_npz, lenet_spec) -> None:
    runs = [archc.train(lenet_spec, data=small_npz, epochs=1, seed=s) for s in (3, 3, 4)]
    same, other = state_of(runs[1]), state_of(runs[2])
    for key, value in state_of(runs[0]).items():
        assert torch.equal(value, same[key]), key
    assert not all(torch.equal(v, other[k]) for k, v in state_of(runs[0]).items())


def test_interrupt_keeps_the_last_checkpoint_and_resume_finishes_the_same_run(
    small_npz, lenet_spec, tmp_path, monkeypatch, capsys
) -> None:
    straight = archc.train(lenet_spec, data=small_npz, epochs=2, seed=1)
    calls = []
    real_epoch = run._epoch

    def interrupted_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(run, "_epoch", interrupted_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        archc.train(lenet_spec, data=small_npz, epochs=2, seed=1, out=tmp_path)
    assert "holds epoch 1; continue with --resume" in capsys.readouterr().err
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.setattr(run, "_epoch", real_epoch)
    resumed = archc.train(lenet_spec, data=small_npz, out=tmp_path, resume=True)
    assert [e["epoch"] for e in resumed.epochs] == [1, 2]
    for key, value in state_of(straight).items():
        assert torch.equal(value, state_of(resumed)[key]), key


def test_cli_json_prints_the_final_metrics(small_npz, tmp_path, capsys) -> None:
    code = cli.main(
        ["train", "architectures/lenet5.yaml", "--data", str(small_npz), "--epochs", "1",
         "--batch", "64", "--optimizer", "sgd", "--out", str(tmp_path / "o"), "--json"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert list(result) == ["epochs", "train_loss", "val_loss", "val_accuracy", "seconds",
                            "checkpoint"]  # fmt: skip
    assert result["epochs"] == 1
    assert result["checkpoint"] == str(tmp_path / "o" / "checkpoint.pt")
    assert 0 <= result["val_accuracy"] <= 1


def test_cli_text_says_what_it_read_and_how_it_trains(small_npz, tmp_path, capsys) -> None:
    args = ["train", "architectures/lenet5.yaml", "--data", str(small_npz), "--epochs", "1"]
    assert cli.main([*args, "--out", str(tmp_path), "--amp", "--shift", "0"]) == 0
    out = capsys.readouterr().out
    assert "fit: images resized from 8x8 to 32x32 (bilinear)" in out
    assert "its softmax is applied at prediction, not before the loss" in out
    assert "epoch 1/1  train loss" in out
    assert f"wrote {tmp_path}/" in out


# -- bad input -------------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["train", "architectures/lenet5.yaml", *args])
    return code, capsys.readouterr().err


def test_unwritable_output_directory_is_e003_before_training(capsys, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run_cli(capsys, "--out", str(blocker / "run"))
    assert code == 2
    assert err.startswith(f"archc: error[E003]: cannot write {blocker / 'run'}:")
    assert "Traceback" not in err


def test_failed_run_leaves_no_directory(capsys, tmp_path) -> None:
    out = tmp_path / "a" / "b"
    code, err = run_cli(capsys, "--out", str(out), "--data", str(tmp_path / "none.npz"))
    assert code == 2 and "error[E601]" in err
    assert not (tmp_path / "a").exists()


def test_resume_refuses_other_settings_and_other_specs(trained, capsys) -> None:
    _, out = trained
    code, err = run_cli(capsys, "--out", str(out), "--resume", "--epochs", "5")
    assert code == 2
    assert "--epochs 5 (the checkpoint's run used 2)" in err
    code, err = run_cli(capsys, "--out", str(out), "--resume", "--set", "layers.5.units=90")
    assert code == 2
    assert "error[E604]" in err and "the checkpoint is for another spec" in err
    code, err = run_cli(capsys, "--out", str(out), "--resume")
    assert code == 2 and "already finished its 2 epochs" in err


def test_cuda_without_a_gpu_is_e606(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = run_cli(capsys, "--out", str(tmp_path / "o"), "--device", "cuda")
    assert code == 2
    assert err == "archc: error[E606]: --device cuda: PyTorch sees no CUDA device here\n"
    assert not (tmp_path / "o").exists()


def test_resume_without_a_checkpoint_is_e604(capsys, tmp_path) -> None:
    code, err = run_cli(capsys, "--out", str(tmp_path), "--resume")
    assert code == 2
    assert f"{tmp_path / 'checkpoint.pt'}: cannot read checkpoint" in err


def test_a_failed_save_leaves_the_previous_checkpoint_whole(trained, tmp_path, monkeypatch):
    _, out = trained
    target = tmp_path / "checkpoint.pt"
    target.write_bytes((out / "checkpoint.pt").read_bytes())
    before = target.read_bytes()

    def broken_save(obj: object, f) -> None:  # noqa: ANN001
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        checkpoint.save(target, {"model": {}})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_spec_that_is_not_a_classifier_is_refused_before_torch(capsys, tmp_path, spec_text):
    spec = tmp_path / "net.yaml"
    spec.write_text(spec_text([{"type": "conv", "filters": 2, "kernel": 1}], [1, 4, 4]))
    assert cli.main(["train", str(spec), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:5:5: error[E605]" in err
    assert not (tmp_path / "o").exists()


def test_train_extra_missing_is_one_line_exit_2(monkeypatch, capsys, lenet_spec) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    code, err = run_cli(capsys)
    assert code == 2
    assert err == (
        "archc: error[E006]: `archc train` needs scikit-learn: pip install 'archc[train]'\n"
    )
    with pytest.raises(ImportError, match=r"archc.train needs scikit-learn: pip install"):
        archc.train(lenet_spec)
