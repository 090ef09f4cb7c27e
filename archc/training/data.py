"""Data sets for training, read into memory and fitted to the spec's input and classes.

Sources (`--data`): ``digits`` (scikit-learn's bundled 1,797 8x8 digits, the default), MNIST-
format IDX files (a directory, or ``IMAGES,LABELS``; gzipped or not), a directory with one
sub-folder of images per class (read with Pillow), an ``.npz`` with arrays ``x`` and ``y`` (and
optionally ``x_val``, ``y_val``), and from Python an ``(x, y)`` pair of arrays. Pixel values are
scaled to [0, 1] (bytes / 255, digits / 16); images are resized to the spec's height and width,
bilinearly. Held-out data is the source's own test set where it has one (IDX ``t10k-*``,
``x_val``), else a stratified 20% with a fixed seed, so that every run and `archc evaluate` see
the same split.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archc.errors import UsageError
from archc.training.fit import check_class_count, fit_labels, fit_samples

SPLIT_SEED = 0
VAL_FRACTION = 0.2
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class Arrays:
    """Samples (float32, N x *input shape) and their labels (int64)."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Data:
    train: Arrays
    val: Arrays
    classes: list[str]
    log: list[str] = field(default_factory=list)  # what was read and how it was fitted


@dataclass
class _Raw:
    x: np.ndarray
    y: np.ndarray
    scale: float  # divide by this to get [0, 1]
    name: str
    classes: list[str] | None = None
    val: tuple[np.ndarray, np.ndarray] | None = None


def data_error(message: str) -> UsageError:
    return UsageError(message, code="E601")


def load(source: str | tuple, graph: object, classes: int) -> Data:
    """Read `source`, fit it to the graph's input shape and `classes`, and split it.

    Raises UsageError (E601) for an unreadable or malformed source and SpecError (E602, E603)
    for data that does not fit the spec.
    """
    shape = tuple(graph.input_shape)  # type: ignore[attr-defined]
    raw = _read(source, shape)
    log = [f"data: {raw.name}, {len(raw.y):,} samples of shape {list(raw.x.shape[1:])}"]
    if raw.classes is not None:
        check_class_count(len(raw.classes), classes, graph, raw.name)  # type: ignore[arg-type]
    x = fit_samples(raw.x, raw.scale, graph, raw.name, log)
    y = fit_labels(raw.y, classes, graph, raw.name)
    names = _class_names(raw.classes, classes)
    if raw.val is not None:
        val = Arrays(
            fit_samples(raw.val[0], raw.scale, graph, raw.name, []),
            fit_labels(raw.val[1], classes, graph, raw.name),
        )
        log.append(f"split: {len(y):,} for training, {len(val):,} held out (the source's own)")
        return Data(Arrays(x, y), val, names, log)
    train_idx, val_idx = split_indices(y)
    log.append(
        f"split: {len(train_idx):,} for training, {len(val_idx):,} held out "
        f"(stratified {VAL_FRACTION:.0%}, seed {SPLIT_SEED})"
    )
    return Data(Arrays(x[train_idx], y[train_idx]), Arrays(x[val_idx], y[val_idx]), names, log)


def split_indices(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's `train_test_split`, 20% held out with a fixed seed, stratified by class
    where the data allows it (every class has two samples and the held-out part can hold one
    of each)."""
    from sklearn.model_selection import train_test_split

    if len(y) < 2:
        raise data_error(f"the data has {len(y)} sample; training needs at least 2")
    counts = np.bincount(y)[np.bincount(y) > 0]
    held_out = int(np.ceil(len(y) * VAL_FRACTION))
    fair = counts.min() >= 2 and min(held_out, len(y) - held_out) >= len(counts)
    train, val = train_test_split(
        np.arange(len(y)),
        test_size=VAL_FRACTION,
        random_state=SPLIT_SEED,
        stratify=y if fair else None,
    )
    return np.sort(train), np.sort(val)


def _class_names(names: list[str] | None, classes: int) -> list[str]:
    names = list(names or [])
    return names + [str(k) for k in range(len(names), classes)]


# -- readers ---------------------------------------------------------------------------------


def _read(source: str | tuple, shape: tuple[int, ...]) -> _Raw:
    if isinstance(source, tuple):  # (x, y) arrays, from the Python API
        x, y = (np.asarray(a) for a in source)
        _check_pairs("the given arrays", x, y)
        scale = 255.0 if x.dtype == np.uint8 else 1.0
        return _Raw(x.astype(np.float32), y, scale, "the given arrays")
    if source == "digits":
        return _digits()
    if "," in source:
        images, labels = (Path(p) for p in source.split(",", 1))
        return _idx_pair(images, labels, name=f"{images} and {labels}")
    path = Path(source)
    if not path.exists():
        raise data_error(f"{path}: cannot read data: No such file or directory")
    if path.is_dir():
        pairs = _idx_pairs(path)
        return _idx_dir(path, pairs) if pairs else _folder(path, shape)
    if path.suffix == ".npz":
        return _npz(path)
    raise data_error(
        f"{path}: unknown data format; give `digits`, a directory (IDX files, or one "
        "sub-folder of images per class), IMAGES,LABELS (IDX files) or an .npz file"
    )


def _digits() -> _Raw:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return _Raw(digits.images.astype(np.float32), digits.target, 16.0, "the bundled digits")


def _npz(path: Path) -> _Raw:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as arrays:
            data = {k: arrays[k] for k in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise data_error(f"{path}: not a readable .npz file: {exc}") from None
    for key in ("x", "y"):
        if key not in data:
            have = ", ".join(sorted(data)) or "none"
            raise data_error(
                f"{path}: no array `{key}`; an .npz needs `x` and `y`. Received: {have}"
            )
    val_keys = next((p for p in (("x_val", "y_val"), ("x_test", "y_test")) if p[0] in data), None)
    val = (data[val_keys[0]], data[val_keys[1]]) if val_keys and val_keys[1] in data else None
    x, y = data["x"], data["y"]
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    _check_pairs(path, x, y)
    if val is not None:
        _check_pairs(path, *val)
    return _Raw(x.astype(np.float32), y, scale, str(path), val=val)


def _check_pairs(path: Path | str, x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim < 2:
        raise data_error(
            f"{path}: samples must be an array with one row per sample. "
            f"Received: shape {list(x.shape)}"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise data_error(
            f"{path}: there must be one label per sample. Received: {len(x):,} samples, "
            f"labels of shape {list(y.shape)}"
        )
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise data_error(f"{path}: labels must be integers. Received: {y.dtype}")
    if not np.issubdtype(x.dtype, np.number) or (x.dtype.kind == "f" and not np.isfinite(x).all()):
        raise data_error(f"{path}: samples must be finite numbers. Received: {x.dtype}")


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (LeCun's MNIST format), gzipped or not."""
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except OSError as exc:
        raise data_error(f"{path}: cannot read data: {exc.strerror or exc}") from None
    except (EOFError, zlib.error) as exc:
        raise data_error(f"{path}: a damaged gzip file: {exc}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_TYPES:
        raise data_error(f"{path}: not an IDX file (its first bytes are {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise data_error(f"{path}: a truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise data_error(
            f"{path}: the IDX header announces {list(dims)} ({expected:,} bytes) but "
            f"{len(data) - header:,} bytes follow"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _idx_pair(images: Path, labels: Path, name: str) -> _Raw:
    x, y = read_idx(images), read_idx(labels)
    _check_pairs(name, x, y)
    return _Raw(x.astype(np.float32), y, 255.0 if x.dtype == np.uint8 else 1.0, name)


def _idx_pairs(path: Path) -> dict[str, tuple[Path, Path]]:
    """IDX files in a directory, by prefix: ``train-images-idx3-ubyte`` -> ``train-``."""
    files = sorted(p for p in path.iterdir() if p.is_file() and "idx" in p.name)
    labels = {p.name.split("labels")[0]: p for p in files if "labels" in p.name}
    return {
        p.name.split("images")[0]: (p, labels[p.name.split("images")[0]])
        for p in files
        if "images" in p.name and p.name.split("images")[0] in labels
    }


def _idx_dir(path: Path, pairs: dict[str, tuple[Path, Path]]) -> _Raw:
    train_key = next((k for k in pairs if k.startswith("train")), sorted(pairs)[0])
    raw = _idx_pair(*pairs[train_key], name=f"{path} ({train_key}*)")
    held = next((k for k in pairs if k.startswith(("t10k", "test", "val"))), None)
    if held is not None:
        test = _idx_pair(*pairs[held], name=f"{path} ({held}*)")
        raw.val = (test.x, test.y)
        raw.name = f"{path} ({train_key}* and {held}*)"
    return raw


def _folder(path: Path, shape: tuple[int, ...]) -> _Raw:
    from PIL import Image, UnidentifiedImageError

    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise data_error(
            f"{path}: no IDX files and no class sub-folders; a folder of images needs one "
            "sub-folder per class"
        )
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise data_error(
            f"{path}: a folder of images fits a spec input of [1, H, W] or [3, H, W]. "
            f"Received: input {list(shape)}"
        )
    mode, (height, width) = ("L" if shape[0] == 1 else "RGB"), shape[1:]
    xs, ys = [], []
    for label, folder in enumerate(folders):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as image:
                    xs.append(image_array(image, mode, (width, height)))
            except (OSError, UnidentifiedImageError, ValueError) as exc:
                raise data_error(f"{file}: not a readable image: {exc}") from None
            ys.append(label)
    if not xs:
        raise data_error(f"{path}: the class sub-folders hold no images")
    name = f"{path} ({len(folders)} class folders)"
    return _Raw(np.stack(xs), np.array(ys), 255.0, name, [f.name for f in folders])


def image_array(image: object, mode: str, size: tuple[int, int]) -> np.ndarray:
    """A Pillow image in `mode` (``L`` or ``RGB``), resized to `size` (width, height), as a
    C x H x W float32 array of 0..255."""
    from PIL import Image

    image = image.convert(mode).resize(size, Image.Resampling.BILINEAR)  # type: ignore[attr-defined]
    array = np.asarray(image, dtype=np.float32)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
