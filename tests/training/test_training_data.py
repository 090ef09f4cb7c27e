"""archc.training.data and fit: every source read, fitted to the spec, or refused clearly."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import archc
from archc.errors import SpecError, UsageError
from archc.training import data

HEAD = [{"type": "flatten"}, {"name": "out", "type": "dense", "units": 10}]


def graph_for(spec_text, shape: list[int], units: int = 10):
    layers = [{"type": "flatten"}, {"name": "out", "type": "dense", "units": units}]
    return archc.analyse(archc.loads(spec_text(layers, shape), path="net.yaml"))


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    blob = header + array.tobytes()
    path.write_bytes(gzip.compress(blob) if compress else blob)


def test_bundled_digits_are_resized_and_split_stratified(lenet_spec) -> None:
    graph = archc.analyse(lenet_spec)
    loaded = data.load("digits", graph, 10)
    assert loaded.train.x.shape == (1437, 1, 32, 32)
    assert loaded.val.x.shape == (360, 1, 32, 32)
    assert loaded.train.x.min() >= 0 and loaded.train.x.max() <= 1
    assert "resized from 8x8 to 32x32 (bilinear)" in "\n".join(loaded.log)
    counts = np.bincount(loaded.val.y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of each class of 174 to 183
    again = data.load("digits", graph, 10)
    np.testing.assert_array_equal(loaded.val.y, again.val.y)  # the split is fixed


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_directory_uses_its_test_files_as_held_out(tmp_path, spec_text, compress) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 6, 6), dtype=np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images[:4], compress)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels[:4], compress)
    loaded = data.load(str(tmp_path), graph_for(spec_text, [1, 6, 6]), 10)
    np.testing.assert_array_equal(loaded.train.x[:, 0], images / np.float32(255))
    np.testing.assert_array_equal(loaded.train.y, labels)
    assert len(loaded.val) == 4


def test_idx_pair_of_files_is_split(tmp_path, spec_text) -> None:
    images = np.zeros((20, 4, 4), dtype=np.uint8)
    labels = (np.arange(20) % 2).astype(np.uint8)
    write_idx(tmp_path / "a.idx3", images)
    write_idx(tmp_path / "b.idx1", labels)
    source = f"{tmp_path / 'a.idx3'},{tmp_path / 'b.idx1'}"
    loaded = data.load(source, graph_for(spec_text, [1, 4, 4]), 10)
    assert (len(loaded.train), len(loaded.val)) == (16, 4)


def test_folder_of_class_folders(tmp_path, spec_text) -> None:
    from PIL import Image

    for k, name in enumerate(["cat", "dog", "eel"]):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("RGB", (9, 7), (40 * k, 10 * i, 0)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    loaded = data.load(str(tmp_path), graph_for(spec_text, [1, 5, 5], units=3), 3)
    assert loaded.classes == ["cat", "dog", "eel"]
    assert loaded.train.x.shape[1:] == (1, 5, 5)  # RGB to gray, resized
    assert len(loaded.train) + len(loaded.val) == 6


def test_npz_with_its_own_validation_arrays_and_channels_last(tmp_path, spec_text) -> None:
    x = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=np.array([0, 1]), x_val=x[:1], y_val=np.array([1]))
    loaded = data.load(str(path), graph_for(spec_text, [3, 8, 8]), 10)
    np.testing.assert_array_equal(loaded.train.x, x.transpose(0, 3, 1, 2) / np.float32(255))
    np.testing.assert_array_equal(loaded.val.y, [1])


# -- bad input -------------------------------------------------------------------------------


def _npz(tmp_path: Path, **arrays: np.ndarray) -> str:
    np.savez(tmp_path / "d.npz", **arrays)
    return str(tmp_path / "d.npz")


def test_malformed_sources_are_e601(tmp_path, spec_text) -> None:
    graph = graph_for(spec_text, [1, 4, 4])
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    (tmp_path / "bad.idx3").write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")  # header cut off
    (tmp_path / "short.idx1").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09\x01")
    (tmp_path / "fake.idx3").write_bytes(b"PK\x03\x04rest")
    (tmp_path / "empty").mkdir()
    cases = {
        str(tmp_path / "missing.npz"): "No such file or directory",
        str(tmp_path / "junk.npz"): "not a readable .npz file",
        _npz(tmp_path, x=np.zeros((3, 4, 4))): "no array `y`",
        f"{tmp_path / 'bad.idx3'},{tmp_path / 'short.idx1'}": "truncated IDX header",
        f"{tmp_path / 'fake.idx3'},{tmp_path / 'short.idx1'}": "not an IDX file",
        str(tmp_path / "empty"): "no IDX files and no class sub-folders",
        str(tmp_path / "junk.txt"): "No such file",
    }
    for source, message in cases.items():
        with pytest.raises(UsageError) as caught:
            data.load(source, graph, 10)
        assert caught.value.code == "E601", source
        assert message in str(caught.value), source
    labels = {"x": np.zeros((3, 4, 4)), "y": np.array([0.5, 1, 2])}
    with pytest.raises(UsageError, match="labels must be integers"):
        data.load(_npz(tmp_path, **labels), graph, 10)
    short = {"x": np.zeros((3, 4, 4)), "y": np.array([0, 1])}
    with pytest.raises(UsageError, match="one label per sample"):
        data.load(_npz(tmp_path, **short), graph, 10)


def test_idx_length_must_match_its_header(tmp_path, spec_text) -> None:
    write_idx(tmp_path / "i.idx3", np.zeros((4, 2, 2), dtype=np.uint8))
    (tmp_path / "l.idx1").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02")
    with pytest.raises(UsageError, match=r"announces \[4\] \(4 bytes\) but 2 bytes follow"):
        data.load(
            f"{tmp_path / 'i.idx3'},{tmp_path / 'l.idx1'}", graph_for(spec_text, [1, 2, 2]), 10
        )


def test_label_outside_the_classes_is_e603_at_the_units(tmp_path, spec_text) -> None:
    graph = graph_for(spec_text, [1, 4, 4], units=3)
    source = _npz(tmp_path, x=np.zeros((4, 4, 4)), y=np.array([0, 1, 2, 7]))
    with pytest.raises(SpecError) as caught:
        data.load(source, graph, 3)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E603"
    assert "1 label is outside the 3 classes" in diagnostic.message
    assert "labels 7" in diagnostic.message
    assert (diagnostic.pos.line, diagnostic.layer) == (6, "out")
    line = spec_text(HEAD, [1, 4, 4]).splitlines()[5]
    assert line[diagnostic.pos.col - 1 :].startswith("10")


def test_more_class_folders_than_outputs_is_e603(tmp_path, spec_text) -> None:
    from PIL import Image

    for name in "abc":
        (tmp_path / name).mkdir()
        Image.new("L", (4, 4)).save(tmp_path / name / "0.png")
    with pytest.raises(SpecError, match="the data has 3 classes but the output gives 2"):
        data.load(str(tmp_path), graph_for(spec_text, [1, 4, 4], units=2), 2)


def test_wrong_channels_is_e602_at_the_input_shape(tmp_path, spec_text) -> None:
    graph = graph_for(spec_text, [2, 4, 4])
    source = _npz(tmp_path, x=np.zeros((2, 3, 4, 4)), y=np.array([0, 1]))
    with pytest.raises(SpecError) as caught:
        data.load(source, graph, 10)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E602"
    assert "the data has 3 channels and the spec's input 2" in diagnostic.message
    assert diagnostic.pos.line == 3  # input: {shape: ...}
