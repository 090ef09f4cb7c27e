"""A whole training run, as `archc train` and `archc.train` start it.

Order of work: check the spec is a classifier and the output directory is writable, read a
checkpoint to resume, read and fit the data, then train. Every check that can fail runs before
the first step, so a mistake costs no training time and leaves no file behind.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archc.analyse import Graph
from archc.errors import UsageError
from archc.training import checkpoint, report
from archc.training import data as datasets
from archc.training.distributed import Context, threads_per_process
from archc.training.loop import (
    Normalise,
    Tensors,
    Trainer,
    batches_per_epoch,
    epoch_batches,
    evaluate,
)
from archc.training.model import Trainable, spec_hash, trainable
from archc.training.recipe import Recipe

CHECKPOINT = "checkpoint.pt"


@dataclass
class History:
    """What a run gives back: one row per epoch, the checkpoint, and the trained module."""

    epochs: list[dict[str, Any]]
    model: nn.Module  # the compiled module of the spec as written (final softmax included)
    checkpoint: Path | None
    seconds: float
    log: list[str] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any]:
        return self.epochs[-1] if self.epochs else {}

    def to_json(self) -> dict[str, Any]:
        """The final metrics: what `archc train --json` prints."""
        last = self.final
        return {
            "epochs": last.get("epoch", 0),
            "train_loss": last.get("train_loss"),
            "val_loss": last.get("val_loss"),
            "val_accuracy": last.get("val_accuracy"),
            "seconds": round(self.seconds, 3),
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
        }


class Log:
    """Where a run reports: lines to `stream`, a progress bar per epoch on a terminal."""

    def __init__(self, quiet: bool = False, stream: Any = None, bars: bool | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.bars = (not quiet and sys.stderr.isatty()) if bars is None else bars
        self.lines: list[str] = []

    def info(self, text: str) -> None:
        self.lines.append(text)
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def bar(self, total: int, description: str) -> Any:
        from tqdm import tqdm

        return tqdm(
            total=total,
            desc=description,
            unit="batch",
            leave=False,
            file=sys.stderr,
            disable=not self.bars,
            dynamic_ncols=True,
        )


def train(
    graph: Graph,
    data: str | tuple | None = None,
    options: dict[str, Any] | None = None,
    out: Path | None = None,
    resume: bool = False,
    log: Log | None = None,
) -> History:
    """Train the spec's module on `data` (default: the bundled digits, or with `resume` the
    checkpoint's data). `options` are the `Recipe` fields to set (the rest default, or with
    `resume` come from the checkpoint in `out`)."""
    began = time.perf_counter()
    model_graphs = trainable(graph)
    digest = spec_hash(graph)
    made = check_writable(out) if out is not None else []
    try:
        state = resume_state(out, digest, graph.name) if resume else None
        recipe, data = resolve_recipe(options or {}, state, data)
        ctx = Context.from_env(recipe.device)
    except BaseException:
        remove_empty(made)
        raise
    log = log if log is not None and ctx.main else Log(quiet=True)
    try:
        run = _Run(graph, model_graphs, digest, recipe, ctx, log, out)
        return run.train(data, state, began)
    except BaseException:
        remove_empty(made)  # a run that failed before its first checkpoint leaves nothing
        raise
    finally:
        ctx.close()


@dataclass
class _Run:
    graph: Graph
    model_graphs: Trainable
    digest: str
    recipe: Recipe
    ctx: Context
    log: Log
    out: Path | None

    def train(self, data: str | tuple, state: dict[str, Any] | None, began: float) -> History:
        recipe = self.recipe
        dataset, train_split, val_split = self.read(data)
        normalise = Normalise.of(train_split.x)
        trainer, history = self.trainer(len(train_split), state)
        saved = {
            "spec_hash": self.digest,
            "spec_name": self.graph.name,
            "recipe": recipe.to_json(),
            "data": data if isinstance(data, str) else None,
            "classes": dataset.classes,
            "input_shape": list(self.graph.input_shape),
            "normalise": {"mean": normalise.mean, "std": normalise.std},
        }
        try:
            for epoch in range(len(history), recipe.epochs):
                history.append(
                    _epoch(trainer, train_split, val_split, normalise, recipe, epoch, self.log)
                )
                rng = {"rng": torch.get_rng_state()}  # dropout's: resumed runs draw the same
                self.save(
                    {**saved, "epoch": epoch + 1, "history": history, **trainer.state(), **rng}
                )
        except KeyboardInterrupt:
            self.interrupted(history)
            raise
        if self.ctx.main and self.out is not None and history:
            title = f"{self.graph.name} on {dataset.log[0].removeprefix('data: ')}"
            report.plot_curves(self.out / "curves.png", history, title)
        from archc.emit.torch import to_torch

        model = to_torch(self.graph)
        model.load_state_dict(trainer.model.state_dict())  # strict: the same keys and shapes
        seconds = time.perf_counter() - began
        return History(history, model.cpu().eval(), self.checkpoint, seconds, self.log.lines)

    def read(self, data: str | tuple) -> tuple[datasets.Data, Tensors, Tensors]:
        """The data, fitted and split, on the device; what was read goes to the log."""
        recipe, ctx = self.recipe, self.ctx
        dataset = datasets.load(data, self.graph, self.model_graphs.classes)
        for line in [*dataset.log, self.model_graphs.note]:
            self.log.info(line)
        if ctx.world > 1:
            self.log.info(
                f"processes: {ctx.world} ({ctx.backend}), a global batch of {recipe.batch}, "
                f"{recipe.batch // ctx.world} per process"
            )
        if recipe.batch % ctx.world:
            raise UsageError(f"--batch {recipe.batch} does not split over {ctx.world} processes")
        train_split, val_split = (
            Tensors(torch.from_numpy(a.x).to(ctx.device), torch.from_numpy(a.y).to(ctx.device))
            for a in (dataset.train, dataset.val)
        )
        return dataset, train_split, val_split

    def trainer(
        self, samples: int, state: dict[str, Any] | None
    ) -> tuple[Trainer, list[dict[str, Any]]]:
        """A fresh model from the seed, or the checkpoint's; and the history so far."""
        from archc.emit.torch import to_torch

        recipe, ctx = self.recipe, self.ctx
        step_macs = self.graph.macs * (recipe.batch // ctx.world) * 3  # forward and backward
        torch.set_num_threads(recipe.threads or threads_per_process(ctx.local_world, step_macs))
        torch.manual_seed(recipe.seed)  # the same initial weights in every process
        steps = batches_per_epoch(samples, recipe, ctx.world)
        trainer = Trainer(to_torch(self.model_graphs.logits), recipe, ctx, steps)
        torch.manual_seed(recipe.seed + ctx.rank)  # dropout masks differ between processes
        if state is None:
            return trainer, []
        trainer.load_state(state)
        if ctx.world == 1:  # rank 0's state; other ranks keep their own seeds
            torch.set_rng_state(state["rng"])
        self.log.info(f"resumed after epoch {state['epoch']} of {recipe.epochs}")
        return trainer, list(state["history"])

    @property
    def checkpoint(self) -> Path | None:
        return self.out / CHECKPOINT if self.out is not None else None

    def save(self, state: dict[str, Any]) -> None:
        if self.ctx.main and self.out is not None:
            checkpoint.save(self.out / CHECKPOINT, state)
            report.write_metrics(self.out, state["history"])

    def interrupted(self, history: list[dict[str, Any]]) -> None:
        if not self.ctx.main:
            return
        if self.out is None:
            where = "nothing was saved (no output directory)"
        elif history:
            where = f"{self.checkpoint} holds epoch {len(history)}; continue with --resume"
        else:
            where = "no epoch finished, so no checkpoint was written"
        print(f"\narchc: interrupted: {where}", file=sys.stderr)


def _epoch(trainer: Trainer, train_split: Tensors, val_split: Tensors, normalise: Normalise,
           recipe: Recipe, epoch: int, log: Log) -> dict[str, Any]:  # fmt: skip
    began = time.perf_counter()
    ctx = trainer.ctx
    loss = torch.zeros((), device=ctx.device)
    correct = torch.zeros((), dtype=torch.int64, device=ctx.device)
    count = 0
    steps = batches_per_epoch(len(train_split), recipe, ctx.world)
    lr = trainer.optimizer.param_groups[0]["lr"]
    with log.bar(steps, f"epoch {epoch + 1}/{recipe.epochs}") as bar:
        for x, y in epoch_batches(train_split, recipe, epoch, ctx):
            step_loss, step_correct = trainer.step(normalise(x), y)
            loss += step_loss
            correct += step_correct
            count += len(y)
            bar.update()
    train_loss, train_correct, train_count = ctx.sum([loss.item(), correct.item(), count])
    val_loss, val_correct, val_count = evaluate(
        trainer.model, val_split, normalise, ctx, recipe.amp
    )
    row = {
        "epoch": epoch + 1,
        "train_loss": train_loss / train_count,
        "train_accuracy": train_correct / train_count,
        "val_loss": val_loss / max(1, val_count),
        "val_accuracy": val_correct / max(1, val_count),
        "lr": lr,
        "seconds": round(time.perf_counter() - began, 3),
    }
    log.info(
        f"epoch {row['epoch']:>{len(str(recipe.epochs))}}/{recipe.epochs}  "
        f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}  "
        f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}  {row['seconds']:.1f} s"
    )
    return row


def check_writable(out: Path) -> list[Path]:
    """Fail now, not after an epoch, when `out` cannot hold the run's files. Returns the
    directories it created, deepest first."""
    made = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        remove_empty(made)
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}", code="E003") from None
    return made


def remove_empty(directories: list[Path]) -> None:
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:  # not empty (or never made): leave it
            return


def resume_state(out: Path | None, digest: str, name: str) -> dict[str, Any]:
    if out is None:
        raise UsageError("--resume needs the output directory of the run to continue")
    return checkpoint.load(out / CHECKPOINT, digest, name)


def resolve_recipe(
    options: dict[str, Any], state: dict[str, Any] | None, data: str | tuple | None
) -> tuple[Recipe, str | tuple]:
    """The recipe and data of a new run, or of the checkpoint's run for --resume (where
    settings that differ from the checkpoint's are refused)."""
    if state is None:
        return Recipe(**options), "digits" if data is None else data
    saved = Recipe.from_json(state["recipe"])
    changed = saved.differences(saved.with_(**options))
    if data is not None and data != state.get("data"):
        changed.append(f"--data {data} (the checkpoint's run used {state.get('data')})")
    if changed:
        raise UsageError(
            "--resume continues the checkpoint's run with its own settings; drop "
            + "; ".join(changed),
            code="E604",
        )
    if state["epoch"] >= saved.epochs:
        raise UsageError(
            f"--resume: the checkpoint's run already finished its {saved.epochs} epochs",
            code="E604",
        )
    if state.get("data") is None:
        raise UsageError("--resume: the checkpoint's run read arrays given from Python; "
                         "resume it from Python with the same data", code="E604")  # fmt: skip
    machine = {k: options[k] for k in ("device", "threads") if k in options}
    return saved.with_(**machine), state["data"]
