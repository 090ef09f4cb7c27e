"""archc.training.evaluate and `archc evaluate` / `archc predict`, checked against sklearn."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import archc
from archc import cli
from archc.training import data as datasets
from archc.training.evaluate import evaluate, load_model, predict


def test_evaluation_agrees_with_sklearn(trained, small_npz, lenet_spec) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score

    history, out = trained
    graph = archc.analyse(lenet_spec)
    result = evaluate(graph, out / "checkpoint.pt")
    # Predictions made here, independently, from the module the run returned.
    held_out = datasets.load(str(small_npz), graph, 10).val
    loaded = load_model(graph, out / "checkpoint.pt")
    with torch.no_grad():
        predicted = history.model(loaded.normalise(torch.from_numpy(held_out.x))).argmax(1)
    truth = held_out.y
    assert result.count == len(truth) == 60
    assert result.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert result.accuracy == pytest.approx(history.final["val_accuracy"])
    np.testing.assert_array_equal(
        result.matrix, confusion_matrix(truth, predicted, labels=range(10))
    )
    kw = {"labels": range(10), "average": None, "zero_division": 0}
    np.testing.assert_allclose(result.precision, precision_score(truth, predicted, **kw))
    np.testing.assert_allclose(result.recall, recall_score(truth, predicted, **kw))


def test_cli_evaluate_prints_the_table_and_draws_the_matrix(trained, tmp_path, capsys) -> None:
    _, out = trained
    png = tmp_path / "cm.png"
    args = ["evaluate", "architectures/lenet5.yaml", "--weights", str(out / "checkpoint.pt")]
    assert cli.main([*args, "-o", str(png)]) == 0
    text = capsys.readouterr().out
    assert "held out: 60 samples" in text
    assert "class  precision   recall  samples" in text
    assert png.read_bytes().startswith(b"\x89PNG")
    assert cli.main([*args, "-o", str(png), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [c["class"] for c in result["classes"]] == [str(k) for k in range(10)]
    assert sum(map(sum, result["confusion"])) == result["samples"] == 60


def test_predict_reads_images_in_any_mode_and_size(trained, digits, tmp_path, capsys) -> None:
    from PIL import Image

    history, out = trained
    x, _ = digits
    gray = tmp_path / "gray.png"
    Image.fromarray((x[0] * 255).astype(np.uint8)).save(gray)
    rgb = tmp_path / "rgb.jpg"
    Image.fromarray((x[1] * 255).astype(np.uint8)).convert("RGB").resize((40, 40)).save(rgb)
    graph = archc.analyse(archc.load("architectures/lenet5.yaml"))
    results = predict(graph, out / "checkpoint.pt", [gray, rgb], top=3)
    assert [len(top) for top in results] == [3, 3]
    for top in results:
        probabilities = [p for _, p in top]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
    # The first image exactly as training saw it: the same module gives the same top class.
    loaded = load_model(graph, out / "checkpoint.pt")
    sample = datasets.image_array(Image.open(gray), "L", (32, 32)) / 255
    with torch.no_grad():
        expected = history.model(loaded.normalise(torch.from_numpy(sample[None]))).argmax(1)
    assert results[0][0][0] == str(int(expected))
    args = ["predict", "architectures/lenet5.yaml", "--weights", str(out / "checkpoint.pt")]
    assert cli.main([*args, str(gray), "--top", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"{gray}: {results[0][0][0]} ")


def test_bad_weights_and_images_are_clear_errors(trained, tmp_path, capsys) -> None:
    _, out = trained
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    short = tmp_path / "short.pt"
    short.write_bytes(b"junk")  # torch.load fails on it with struct.error
    text = tmp_path / "note.png"
    text.write_text("not an image")
    spec = "architectures/lenet5.yaml"
    cases = [
        (["evaluate", spec, "--weights", str(junk)], "E604", "not an archc checkpoint"),
        (["evaluate", spec, "--weights", str(short)], "E604", "not an archc checkpoint"),
        (["evaluate", spec, "--weights", str(tmp_path)], "E604", "a directory"),
        (["evaluate", spec, "--weights", str(tmp_path / "no.pt")], "E604", "cannot read"),
        (["evaluate", spec, "--weights", str(out / "checkpoint.pt"), "--set",
          "layers.0.filters=8"], "E604", "the checkpoint is for another spec"),
        (["predict", spec, "--weights", str(out / "checkpoint.pt"), str(text)], "E601",
         "not a readable image"),
    ]  # fmt: skip
    for args, code, message in cases:
        assert cli.main(args) == 2, args
        err = capsys.readouterr().err
        assert f"error[{code}]" in err and message in err, err
        assert "Traceback" not in err and len(err.splitlines()) == 1
