"""One process of a distributed run (torchrun's environment variables set by
test_training_distributed.py): train, then save this rank's weights.

Usage: ddp_worker.py SPEC DATA OUT EPOCHS BATCH
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

import archc


def main() -> None:
    spec, data, out, epochs, batch = sys.argv[1:]
    history = archc.train(
        archc.load(spec), data=data, epochs=int(epochs), batch=int(batch), out=Path(out)
    )
    torch.save(history.model.state_dict(), Path(out) / f"rank{os.environ['RANK']}.pt")


if __name__ == "__main__":
    main()
