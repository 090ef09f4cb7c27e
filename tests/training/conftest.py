"""Fixtures for the training tests: small data sets written at test time, a short run.

Every run here is a few hundred digits for one or two epochs: enough to see the loss fall and
the files appear, cheap enough for CI. The full 99% claim is `make train-demo`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from archc.training import EXTRA

# Without the `train` extra there is nothing here to run (its absence is tested in
# test_training_run.py by hiding a package).
if any(importlib.util.find_spec(name) is None for name in EXTRA):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images.astype(np.float32) / 16, data.target.astype(np.int64)


@pytest.fixture(scope="session")
def small_npz(tmp_path_factory: pytest.TempPathFactory, digits) -> Path:
    """300 digits (30 per class) as an .npz of 8x8 images in [0, 1]."""
    x, y = digits
    keep = np.concatenate([np.flatnonzero(y == k)[:30] for k in range(10)])
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x=x[keep], y=y[keep])
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, small_npz: Path, lenet_path: Path):
    """A two-epoch LeNet-5 run on `small_npz`: (history, output directory)."""
    import archc

    out = tmp_path_factory.mktemp("run")
    history = archc.train(archc.load(lenet_path), data=small_npz, epochs=2, out=out, lr=3e-3)
    return history, out


@pytest.fixture(scope="session")
def split_npz(tmp_path_factory: pytest.TempPathFactory, digits) -> Path:
    """240 digits to train on and 60 held out, as `x`, `y`, `x_val`, `y_val`: a source with
    its own held-out part (no split to compute)."""
    x, y = digits
    keep = np.concatenate([np.flatnonzero(y == k)[:30] for k in range(10)])
    train, val = keep[np.arange(300) % 5 != 0], keep[np.arange(300) % 5 == 0]
    path = tmp_path_factory.mktemp("data") / "split.npz"
    np.savez(path, x=x[train], y=y[train], x_val=x[val], y_val=y[val])
    return path
