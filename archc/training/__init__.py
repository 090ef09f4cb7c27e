"""Run a spec: `archc train`, `evaluate` and `predict` on the compiled module.

The verbs read the one analysed `Graph` and the module `archc.to_torch` compiles from it; this
package adds what a training run needs around them, one small module per concern:

  data.py          data sets (bundled digits, IDX, image folders, .npz) fitted to the spec
  model.py         the trained graph (logits: a final softmax is left to prediction), spec hash
  recipe.py        the training settings and their defaults
  loop.py          epochs, steps, augmentation, evaluation
  checkpoint.py    checkpoints written atomically, read back only for the same spec
  report.py        metrics.csv, metrics.json, the curves and the confusion matrix as PNG
  distributed.py   torchrun and DistributedDataParallel
  run.py           a whole training run, as `archc train` and `archc.train` start it
  verbs.py         the command-line side: printing, --json, evaluate and predict

Importing this package imports neither torch nor the other extras: each verb imports them when
it runs, after `require` has checked that they are installed.
"""

from __future__ import annotations

from archc import extras

# The `train` extra: import name -> distribution name.
EXTRA = {
    "torch": "torch",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
    "PIL": "Pillow",
}


def require(verb: str) -> None:
    """Raise a one-line UsageError (E006) naming the `train` extra when a package of it is
    missing."""
    extras.require_for_verb(verb, "train", EXTRA)
