"""The command-line side of `archc train`, `evaluate` and `predict`: options and printing.

Nothing here imports torch at import time: `archc --help` and the static verbs stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from archc.analyse import Graph
from archc.training.recipe import DEVICES, OPTIMIZERS

EXIT_OK = 0
RECIPE_OPTIONS = ("epochs", "batch", "lr", "optimizer", "seed", "shift", "amp", "device", "threads")


def train(args: argparse.Namespace, graph: Graph) -> int:
    from archc.training.model import trainable

    trainable(graph)  # not a classifier (E605): said before torch is imported
    from archc.training import run
    from archc.training.distributed import launch

    out = Path(args.out) if args.out else Path("runs") / graph.name
    options = {k: getattr(args, k) for k in RECIPE_OPTIONS if getattr(args, k) is not None}
    if args.nproc > 1:
        _precheck(graph, args, out, options)
        return launch(_worker_argv(args, out), args.nproc)
    log = run.Log(quiet=args.quiet or args.json)
    history = run.train(graph, args.data, options, out, args.resume, log)
    if os.environ.get("RANK", "0") != "0":  # a torchrun process other than the first
        return EXIT_OK
    if args.json:
        print(json.dumps(history.to_json()))
        return EXIT_OK
    if not history.epochs or log.quiet:
        return EXIT_OK
    final = history.final
    files = ", ".join(("checkpoint.pt", "metrics.csv", "metrics.json", "curves.png"))
    print(
        f"wrote {out}/: {files}\n"
        f"held-out accuracy {final['val_accuracy']:.2%} after {final['epoch']} epochs "
        f"({history.seconds:.1f} s)"
    )
    return EXIT_OK


def _precheck(graph: Graph, args: argparse.Namespace, out: Path, options: dict) -> None:
    """Everything that can fail before training, checked once here rather than in every
    process (where torchrun would report it as a crash)."""
    from archc.training import data, run
    from archc.training.model import spec_hash, trainable

    classes = trainable(graph).classes
    run.check_writable(out)
    state = run.resume_state(out, spec_hash(graph), graph.name) if args.resume else None
    _, source = run.resolve_recipe(options, state, args.data)
    if (args.batch or 32) % args.nproc:
        from archc.errors import UsageError

        raise UsageError(f"--batch {args.batch or 32} does not split over {args.nproc} processes")
    data.load(source, graph, classes)


def _worker_argv(args: argparse.Namespace, out: Path) -> list[str]:
    """The `archc train` command each process runs: this one without --nproc."""
    argv = ["train", args.spec, "--out", str(out), "--format", args.format]
    argv += [f"--set={item}" for item in args.set]
    argv += [f"--max-params={args.max_params}", f"--max-activation={args.max_activation}"]
    if args.data:
        argv += ["--data", args.data]
    for name in RECIPE_OPTIONS:
        value = getattr(args, name)
        if value is True:
            argv.append(f"--{name}")
        elif value is not None and value is not False:
            argv += [f"--{name}", str(value)]
    argv += [flag for flag in ("--resume", "--json", "--quiet") if getattr(args, flag[2:])]
    return argv


def evaluate(args: argparse.Namespace, graph: Graph) -> int:
    from archc.training import evaluate as evaluation
    from archc.training import report

    result = evaluation.evaluate(graph, Path(args.weights), args.data)
    target = Path(args.output) if args.output else Path(args.weights).parent / "confusion.png"
    report.plot_confusion(target, result.matrix.tolist(), result.classes)
    if args.json:
        print(json.dumps({**result.to_json(), "confusion_png": str(target)}))
        return EXIT_OK
    print(f"{graph.name} on {result.data}, held out: {result.count:,} samples")
    print(f"accuracy {result.accuracy:.2%}\n")
    width = max(5, *map(len, result.classes))
    print(f"{'class':<{width}}  precision   recall  samples")
    for name, p, r, n in zip(result.classes, result.precision, result.recall, result.support):
        print(f"{name:<{width}}  {p:>9.2%}  {r:>7.2%}  {n:>7,}")
    print(f"\nwrote {target}")
    return EXIT_OK


def predict(args: argparse.Namespace, graph: Graph) -> int:
    from archc.training import evaluate as evaluation

    images = [Path(p) for p in args.images]
    results = evaluation.predict(graph, Path(args.weights), images, args.top)
    if args.json:
        print(json.dumps([
            {"image": str(path), "top": [{"class": c, "probability": p} for c, p in top]}
            for path, top in zip(images, results)
        ]))  # fmt: skip
        return EXIT_OK
    for path, top in zip(images, results):
        print(f"{path}: " + ", ".join(f"{c} {p:.1%}" for c, p in top))
    return EXIT_OK


# -- argument parsing ------------------------------------------------------------------------


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def add_parsers(sub: argparse._SubParsersAction, command: Callable, runs: dict) -> None:
    """The train, evaluate and predict subcommands; `command` makes a spec-reading parser."""
    p = command(sub, "train", runs["train"], "train the network (bundled digits by default)")
    p.add_argument("--data", metavar="SOURCE", help="digits (default), a directory of IDX "
                   "files or of class folders, IMAGES,LABELS (IDX files), or an .npz")  # fmt: skip
    p.add_argument("--epochs", type=whole(1), metavar="N", help="default 30")
    p.add_argument("--batch", type=whole(1), metavar="N", help="global batch size, default 32")
    p.add_argument("--lr", type=positive_float, metavar="X",
                   help="peak of the one-cycle schedule (default 3e-3; sgd 0.05)")  # fmt: skip
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default adam")
    p.add_argument("--shift", type=whole(0), metavar="PX",
                   help="random shifts of up to PX pixels (default 3; 0: none)")  # fmt: skip
    p.add_argument("--device", choices=DEVICES, help="default auto: cuda when there is one")
    p.add_argument("--amp", action="store_true", default=None,
                   help="mixed precision: bfloat16 on CPU, float16 on CUDA")  # fmt: skip
    p.add_argument("--seed", type=whole(0), metavar="N", help="default 0")
    p.add_argument("--threads", type=whole(1), metavar="N",
                   help="threads per process (default: by model size)")  # fmt: skip
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--nproc", type=whole(1), default=1, metavar="N",
                   help="processes on this machine, under torchrun (default 1)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p = command(sub, "evaluate", runs["evaluate"], "measure a checkpoint on held-out data")
    p.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint.pt of a run")
    p.add_argument("--data", metavar="SOURCE", help="default: the data it was trained on")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="confusion-matrix PNG (default: confusion.png beside CKPT)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p = command(sub, "predict", runs["predict"], "classify images with a checkpoint")
    p.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint.pt of a run")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (read with Pillow)")
    p.add_argument("--top", type=whole(1), default=3, metavar="K", help="classes shown (3)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
