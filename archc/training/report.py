"""What a run leaves behind besides checkpoints: metrics.csv, metrics.json and PNG plots.

Every file is written atomically; the plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def write_metrics(out: Path, history: Sequence[dict[str, Any]]) -> None:
    from archc.cli import write_atomic

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: row[k] for k in COLUMNS} for row in history)
    write_atomic(out / "metrics.csv", text.getvalue().encode())
    write_atomic(out / "metrics.json", (json.dumps(list(history), indent=2) + "\n").encode())


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(figure: Any, path: Path) -> None:
    from archc.cli import write_atomic

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_atomic(path, buffer.getvalue())


def plot_curves(path: Path, history: Sequence[dict[str, Any]], title: str) -> None:
    """Loss and accuracy per epoch, training and held-out, side by side."""
    figure = _figure(9, 3.6)
    loss, accuracy = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    for split, style in (("train", "-"), ("val", "--")):
        label = "training" if split == "train" else "held out"
        loss.plot(epochs, [row[f"{split}_loss"] for row in history], style, label=label)
        accuracy.plot(
            epochs, [100 * row[f"{split}_accuracy"] for row in history], style, label=label
        )
    loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    accuracy.set(xlabel="epoch", ylabel="%", title="accuracy")
    for axes in (loss, accuracy):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    _save(figure, path)


def plot_confusion(path: Path, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> None:
    """Counts of (true class, predicted class), the diagonal being the correct ones."""
    n = len(classes)
    figure = _figure(max(4.0, 0.45 * n + 2), max(3.5, 0.45 * n + 1.5))
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(n)
    axes.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true", title="confusion")
    axes.set_xticklabels(classes, rotation=90 if max(map(len, classes)) > 2 else 0)
    axes.set_yticklabels(classes)
    if n <= 30:
        top = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                if count:
                    color = "white" if count > top / 2 else "black"
                    axes.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    _save(figure, path)
