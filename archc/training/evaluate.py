"""`archc evaluate` and `archc predict`: a checkpoint's weights in the compiled module.

Both load the checkpoint into `archc.to_torch(graph)`, the module of the spec as written
(strictly: every key and shape must match), so what is measured is the module `archc build`
writes, final softmax included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from archc.analyse import Graph
from archc.errors import UsageError
from archc.training import checkpoint
from archc.training import data as datasets
from archc.training.loop import EVAL_BATCH, Normalise
from archc.training.model import spec_hash, trainable


@dataclass(frozen=True)
class Evaluation:
    classes: list[str]
    matrix: np.ndarray  # [true class, predicted class] counts
    data: str

    @property
    def count(self) -> int:
        return int(self.matrix.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.matrix)) / max(1, self.count)

    @property
    def precision(self) -> np.ndarray:
        """Per class: correct / predicted as the class (0 where nothing was)."""
        return _ratio(np.diag(self.matrix), self.matrix.sum(axis=0))

    @property
    def recall(self) -> np.ndarray:
        """Per class: correct / samples of the class (0 where there were none)."""
        return _ratio(np.diag(self.matrix), self.matrix.sum(axis=1))

    @property
    def support(self) -> np.ndarray:
        return self.matrix.sum(axis=1)

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "samples": self.count,
            "accuracy": self.accuracy,
            "classes": [
                {"class": name, "precision": float(p), "recall": float(r), "samples": int(n)}
                for name, p, r, n in zip(self.classes, self.precision, self.recall, self.support)
            ],
            "confusion": self.matrix.tolist(),
        }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(
        numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0
    ).astype(float)


@dataclass(frozen=True)
class Loaded:
    model: nn.Module  # the compiled module of the spec as written, in eval mode
    normalise: Normalise
    classes: list[str]
    state: dict[str, Any]
    softmax: bool  # whether the module's output already is probabilities


def load_model(graph: Graph, weights: Path) -> Loaded:
    from archc.emit.torch import to_torch

    model_graphs = trainable(graph)
    state = checkpoint.load(weights, spec_hash(graph), graph.name)
    model = to_torch(graph)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        first = str(exc).splitlines()[0]
        raise checkpoint.checkpoint_error(f"{weights}: the weights do not fit: {first}") from None
    norm = state["normalise"]
    return Loaded(
        model.eval(),
        Normalise(list(norm["mean"]), list(norm["std"])),
        list(state["classes"]),
        state,
        model_graphs.logits is not graph,
    )


@torch.no_grad()
def evaluate(graph: Graph, weights: Path, data: str | None = None) -> Evaluation:
    """The checkpoint on the held-out split of `data` (default: the data it was trained on)."""
    loaded = load_model(graph, weights)
    source = data or loaded.state.get("data")
    if source is None:
        raise datasets.data_error(
            f"{weights} was trained on arrays given from Python; say which data to use: --data"
        )
    held_out = datasets.load(source, graph, len(loaded.classes)).val
    x, y = torch.from_numpy(held_out.x), torch.from_numpy(held_out.y)
    predicted = torch.cat(
        [
            loaded.model(loaded.normalise(x[start : start + EVAL_BATCH])).argmax(1)
            for start in range(0, len(y), EVAL_BATCH)
        ]
    )
    n = len(loaded.classes)
    matrix = np.bincount(y.numpy() * n + predicted.numpy(), minlength=n * n).reshape(n, n)
    return Evaluation(loaded.classes, matrix, source)


@torch.no_grad()
def predict(graph: Graph, weights: Path, images: list[Path], top: int = 3) -> list[list[tuple]]:
    """For each image, the `top` classes and their probabilities, most likely first."""
    from PIL import Image, UnidentifiedImageError

    shape = tuple(graph.input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise UsageError(
            f"predict reads images, for a spec input of [1, H, W] or [3, H, W]. "
            f"Received: input {list(shape)}",
            code="E601",
        )
    loaded = load_model(graph, weights)
    arrays = []
    for path in images:
        try:
            with Image.open(path) as image:
                mode = "L" if shape[0] == 1 else "RGB"
                arrays.append(datasets.image_array(image, mode, (shape[2], shape[1])) / 255)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise datasets.data_error(f"{path}: not a readable image: {reason}") from None
    output = loaded.model(loaded.normalise(torch.from_numpy(np.stack(arrays))))
    probabilities = output if loaded.softmax else output.softmax(1)
    values, indices = probabilities.topk(min(top, probabilities.shape[1]), dim=1)
    return [
        [(loaded.classes[i], float(p)) for p, i in zip(row_p.tolist(), row_i.tolist())]
        for row_p, row_i in zip(values, indices)
    ]
