"""The settings of a training run, with the defaults `archc train` uses. No torch here.

The default recipe: batch 32, Adam with a one-cycle schedule peaking at 3e-3, inputs
standardised with the training split's per-channel mean and standard deviation, random shifts of
up to 3 pixels in each direction (images only), and 30 epochs. On the bundled digits it takes
LeNet-5 past 99% on the held-out 20% (see docs/training.md for the measured figures).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

OPTIMIZERS = ("adam", "adamw", "sgd")
DEVICES = ("auto", "cpu", "cuda")
# The peak learning rate of the one-cycle schedule, per optimizer.
DEFAULT_LR = {"adam": 3e-3, "adamw": 3e-3, "sgd": 0.05}


@dataclass(frozen=True)
class Recipe:
    """How to train: every field is also an `archc train` option."""

    epochs: int = 30
    batch: int = 32  # the global batch: split across processes under --nproc
    lr: float | None = None  # the schedule's peak; None: DEFAULT_LR[optimizer]
    optimizer: str = "adam"
    seed: int = 0
    shift: int = 3  # random shifts of up to this many pixels (0: no augmentation)
    amp: bool = False
    device: str = "auto"
    threads: int = 0  # intra-op threads per process; 0: chosen from the model's size

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recipe:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def differences(self, other: Recipe) -> list[str]:
        """Fields where `other` differs, as ``--name value`` texts (for --resume)."""
        return [
            f"--{f.name} {getattr(other, f.name)} (the checkpoint's run used "
            f"{getattr(self, f.name)})"
            for f in fields(self)
            if f.name not in ("device", "threads")
            and getattr(self, f.name) != getattr(other, f.name)
        ]

    def with_(self, **changes: Any) -> Recipe:
        return replace(self, **changes)
