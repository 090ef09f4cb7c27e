"""A training step of `archc train` against a hand-written loop's step on the same model.

`bench_train_step()` times whole epochs (45 steps of batch 32, LeNet-5 on the bundled digits
resized to 32x32, one thread) of two loops over the same pre-made batches, interleaved round
by round, each with its own copy of the same initial weights:

  archc        `archc.training.loop.Trainer.step`: forward, cross-entropy on the logits,
               backward, Adam, the one-cycle schedule, and the loss and accuracy sums it keeps
  hand-written zero_grad, forward, F.cross_entropy, backward, Adam, scheduler step

and prints the ratio of the median epoch times measured in this one run (target: at most
1.05). Data preparation (augmentation, standardisation) is the same work in any loop and is
outside both timings. Run: `.venv/bin/python benchmarks/train_bench.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this checkout's archc

TARGET = 1.05


def _batches(steps: int, batch: int) -> list[tuple]:
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images[: steps * batch]).float()[:, None] / 16
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    y = torch.from_numpy(digits.target[: steps * batch]).long()
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, steps * batch, batch)]


def _loops(steps: int) -> dict[str, Callable[[list[tuple]], None]]:
    import torch
    import torch.nn.functional as F

    import archc
    from archc.training.distributed import Context
    from archc.training.loop import Trainer
    from archc.training.model import trainable
    from archc.training.recipe import Recipe

    graph = trainable(archc.analyse(archc.load(ROOT / "architectures" / "lenet5.yaml"))).logits
    recipe = Recipe(epochs=1000)
    torch.manual_seed(0)
    ours = archc.to_torch(graph)
    theirs = archc.to_torch(graph)
    theirs.load_state_dict(ours.state_dict())
    trainer = Trainer(ours, recipe, Context(0, 1, 0, 1, torch.device("cpu")), steps)
    optimizer = torch.optim.Adam(theirs.parameters(), lr=recipe.peak_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.peak_lr, total_steps=recipe.epochs * steps
    )

    def archc_epoch(batches: list[tuple]) -> None:
        for x, y in batches:
            trainer.step(x, y)

    def hand_epoch(batches: list[tuple]) -> None:
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(theirs(x), y)
            loss.backward()
            optimizer.step()
            schedule.step()

    return {"archc": archc_epoch, "hand-written": hand_epoch}


def bench_train_step(rounds: int = 21, steps: int = 45, batch: int = 32) -> float:
    """Print the per-step times and their ratio; return the ratio (archc / hand-written)."""
    import torch

    torch.set_num_threads(1)
    batches = _batches(steps, batch)
    loops = _loops(steps)
    for run in loops.values():  # warm-up: allocator, autograd graph, optimizer state
        run(batches)
    times: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for i in range(rounds):
        for name in names[i % 2 :] + names[: i % 2]:  # alternate which goes first
            began = time.perf_counter()
            loops[name](batches)
            times[name].append((time.perf_counter() - began) / steps)
    for name, values in times.items():
        print(
            f"{name:<13} {statistics.median(values) * 1e3:6.3f} ms/step "
            f"(min {min(values) * 1e3:.3f}, {rounds} epochs of {steps} steps, batch {batch})"
        )
    ratio = statistics.median(times["archc"]) / statistics.median(times["hand-written"])
    verdict = "ok" if ratio <= TARGET else "MISSED"
    print(f"ratio archc / hand-written: {ratio:.3f} (target <= {TARGET}) {verdict}")
    return ratio


if __name__ == "__main__":
    bench_train_step()
