"""The training loop: optimizer, one-cycle schedule, augmentation, steps and evaluation.

Data order and augmentation are drawn per epoch from the seed alone, never from the process:
`DistributedSampler` gives rank r every world-th index of one seeded permutation, so the union
of the ranks' k-th batches is the k-th batch of a single process with the same global batch,
and each sample's random shift is indexed by the sample, not drawn by the rank that holds it.
With the data split evenly, N processes therefore take the same steps as one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from archc.training.distributed import Context
from archc.training.recipe import Recipe

EVAL_BATCH = 512


@dataclass
class Tensors:
    """A split on the device: samples in [0, 1] and labels."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Normalise:
    """Per-channel standardisation with the training split's statistics."""

    mean: list[float]
    std: list[float]

    @classmethod
    def of(cls, x: torch.Tensor) -> Normalise:
        dims = [0, *range(2, x.dim())] if x.dim() > 2 else list(range(x.dim()))
        mean, std = x.mean(dim=dims), x.std(dim=dims).clamp_min(1e-6)
        return cls(mean.reshape(-1).tolist(), std.reshape(-1).tolist())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, *([1] * (x.dim() - 2))) if len(self.mean) > 1 else (1,)
        mean = torch.tensor(self.mean, device=x.device).reshape(shape)
        std = torch.tensor(self.std, device=x.device).reshape(shape)
        return (x - mean) / std


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    lr = recipe.peak_lr
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    return torch.optim.Adam(model.parameters(), lr=lr)


def batches_per_epoch(samples: int, recipe: Recipe, world: int) -> int:
    local = -(-samples // world)  # DistributedSampler pads every rank to the same count
    return -(-local // (recipe.batch // world))


class Trainer:
    """One model's training state: module (wrapped in DDP across processes), optimizer,
    schedule and, for float16 on CUDA, the gradient scaler."""

    def __init__(self, model: nn.Module, recipe: Recipe, ctx: Context, steps: int) -> None:
        self.model = model.to(ctx.device)
        self.ctx = ctx
        self.net: nn.Module = self.model
        if ctx.world > 1:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = make_optimizer(self.model, recipe)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=recipe.peak_lr, total_steps=max(1, recipe.epochs * steps)
        )
        cuda = ctx.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if recipe.amp and cuda else None
        dtype = torch.float16 if cuda else torch.bfloat16
        self.autocast: Callable[[], contextlib.AbstractContextManager] = (
            (lambda: torch.autocast(ctx.device.type, dtype=dtype))
            if recipe.amp
            else contextlib.nullcontext
        )

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One update on a batch: its summed loss and its number of correct predictions."""
        with self.autocast():
            logits = self.net(x)
            loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.schedule.step()
        return loss.detach() * len(y), (logits.detach().argmax(1) == y).sum()

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def epoch_batches(
    data: Tensors, recipe: Recipe, epoch: int, ctx: Context
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This process's batches of one epoch, augmented, in [0, 1] (not yet standardised)."""
    sampler = DistributedSampler(
        range(len(data)), num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=recipe.seed
    )
    sampler.set_epoch(epoch)
    order = torch.tensor(list(sampler), device=data.x.device)
    shifts = epoch_shifts(len(data), data.x.dim(), recipe, epoch)
    if shifts is not None:
        shifts = shifts.to(data.x.device)
    local = recipe.batch // ctx.world
    for start in range(0, len(order), local):
        index = order[start : start + local]
        x = data.x[index]
        if shifts is not None:
            x = shift_images(x, shifts[index], recipe.shift)
        yield x, data.y[index]


def epoch_shifts(samples: int, dims: int, recipe: Recipe, epoch: int) -> torch.Tensor | None:
    """A (dy, dx) shift per sample for this epoch, from the seed and the epoch only."""
    if recipe.shift == 0 or dims != 4:
        return None
    generator = torch.Generator().manual_seed(recipe.seed * 100_003 + epoch)
    return torch.randint(-recipe.shift, recipe.shift + 1, (samples, 2), generator=generator)


def shift_images(x: torch.Tensor, shifts: torch.Tensor, most: int) -> torch.Tensor:
    """Move each image by its (dy, dx), filling with zeros (the background of [0, 1] data)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (most, most, most, most))
    rows = torch.arange(h, device=x.device) + most - shifts[:, :1]  # n x h
    cols = torch.arange(w, device=x.device) + most - shifts[:, 1:]  # n x w
    index = (rows[:, :, None] * (w + 2 * most) + cols[:, None, :]).reshape(n, 1, h * w)
    flat = padded.reshape(n, c, -1).gather(2, index.expand(n, c, h * w))
    return flat.reshape(n, c, h, w)


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Tensors, normalise: Normalise, ctx: Context, amp: bool = False
) -> tuple[float, float, float]:
    """Summed loss, correct predictions and count over this process's share of `data`,
    summed over every process."""
    model.eval()
    x, y = data.x[ctx.rank :: ctx.world], data.y[ctx.rank :: ctx.world]
    loss, correct = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.int64)
    dtype = torch.float16 if ctx.device.type == "cuda" else torch.bfloat16
    for start in range(0, len(y), EVAL_BATCH):
        batch_x, batch_y = normalise(x[start : start + EVAL_BATCH]), y[start : start + EVAL_BATCH]
        with torch.autocast(ctx.device.type, dtype=dtype, enabled=amp):
            logits = model(batch_x).float()
        loss += F.cross_entropy(logits, batch_y, reduction="sum").double().cpu()
        correct += (logits.argmax(1) == batch_y).sum().cpu()
    model.train()
    return tuple(ctx.sum([loss.item(), correct.item(), len(y)]))  # type: ignore[return-value]
