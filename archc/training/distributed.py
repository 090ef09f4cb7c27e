"""Scale out: `archc train --nproc N` under torchrun, DistributedDataParallel in each process.

`launch` re-runs the same `archc train` command under PyTorch's own launcher
(``python -m torch.distributed.run --standalone --nproc-per-node N -m archc train ...``); every
process then finds its rank in the environment torchrun sets (`Context.from_env`) and joins the
group: gloo on CPU, nccl on GPU. A multi-machine run starts the same command with `torchrun`
directly (docs/training.md). Rank 0 alone prints, writes metrics and checkpoints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    local_rank: int
    local_world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"

    @classmethod
    def from_env(cls, device: str) -> Context:
        """This process's place in the run (rank 0 of 1 outside torchrun); joins the group."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        chosen = pick_device(device)
        if chosen.type == "cuda":
            chosen = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
            torch.cuda.set_device(chosen)
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
        return cls(rank, world, local_rank, local_world, chosen)

    def sum(self, values: Sequence[float]) -> list[float]:
        """`values` summed over every process (unchanged in a single process)."""
        if self.world == 1:
            return [float(v) for v in values]
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def pick_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        from archc.errors import UsageError

        raise UsageError("--device cuda: PyTorch sees no CUDA device here", code="E606")
    return torch.device(choice)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Below this many multiply-accumulates per step, one thread is fastest: the ops are too short
# to split, and on a small or shared CPU extra threads mostly wait for each other (LeNet-5 at
# batch 32, 13M MACs: 4 ms a step on one thread, 25-40 ms on two busy cores).
SMALL_STEP_MACS = 100_000_000


def threads_per_process(local_world: int, step_macs: int = SMALL_STEP_MACS) -> int:
    """Intra-op threads for each process: one for a small model, else this machine's cores
    shared between its processes (`--threads` decides instead when given)."""
    if step_macs < SMALL_STEP_MACS:
        return 1
    return max(1, cpu_count() // max(1, local_world))


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run ``archc ARGV`` in `nproc` processes on this machine under torchrun; its exit code."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default; each process then sets
    # its threads (`threads_per_process`), so torchrun has nothing to warn about
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "archc",
        *argv,
    ]
    try:
        return subprocess.run(command, env=env).returncode
    except KeyboardInterrupt:
        return 130
