"""Write docs/errors.md: every error code, with a spec that triggers it and archc's real output.

Run with `make docs-errors`. tests/test_error_codes.py checks that every example in the
document still gives its code, so the document cannot drift from the program.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from archc.errors import CODES

ROOT = Path(__file__).resolve().parent.parent
HEAD = "archc: 1\nname: Example\ninput: {shape: [1, 28, 28]}\nlayers:\n"

# code -> (spec text, extra command-line arguments); None text means a command-line example.
EXAMPLES: dict[str, tuple[str | None, list[str]]] = {
    "E001": (None, ["check", "missing.yaml"]),
    "E002": (None, []),
    "E003": (HEAD + "  - {type: flatten}\n", ["build", "-o", "/proc/archc-out"]),
    "E004": (HEAD + "  - {type: flatten}\n", ["--set", "vars.width"]),
    "E005": (HEAD + "  - {type: flatten}\n", ["diagram", "-o", "net.jpg"]),
    "E006": (None, []),
    "E007": (None, []),
    "E100": (HEAD + "  - {type: conv, filters: 6, kernel: 5\n", []),
    "E101": (None, []),
    "E102": (HEAD + "  - {type: conv, filters: 6, kernel: 5, kernel: 3}\n", []),
    "E103": (HEAD + "  - !!python/object/apply:os.system [echo hi]\n", []),
    "E105": ("# only a comment\n", []),
    "E106": (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh")
        ),
        [],
    ),
    "E107": (HEAD + "  - {type: flatten, [1, 2]: 3}\n", []),
    "E201": (HEAD + "  - {type: conv, filters: 6, kernal: 5}\n", []),
    "E202": (HEAD + "  - {type: conv, filters: 6}\n", []),
    "E203": (HEAD + "  - {type: convolution, filters: 6, kernel: 5}\n", []),
    "E204": (HEAD + "  - {type: conv, filters: 0x10, kernel: 5}\n", []),
    "E205": (
        "archc: 1\nname: Example\ninput: {shape: [1, 28, 28]}\nblocks:\n"
        "  unit: {params: {filters: int}, layers: [{type: conv, filters: $filters, kernel: 3}]}\n"
        "layers:\n  - {type: unit, filter: 8}\n",
        [],
    ),
    "E206": (
        "archc: 1\nname: Example\ninput: {shape: [1, 28, 28]}\nblocks:\n"
        "  conv: {layers: [{type: flatten}]}\nlayers:\n  - {type: flatten}\n",
        [],
    ),
    "E207": (
        "archc: 1\nname: Example\ninput: {shape: [1, 28, 28]}\nblocks:\n"
        "  a: {layers: [{type: b}]}\n  b: {layers: [{type: a}]}\nlayers:\n  - {type: a}\n",
        [],
    ),
    "E210": (
        "archc: 1\nname: Example\nvars: {width: $height, height: $width}\n"
        "input: {shape: [1, 28, 28]}\nlayers:\n  - {type: conv, filters: $width, kernel: 3}\n",
        [],
    ),
    "E301": (HEAD + "  - {type: flatten}\n  - {type: conv, filters: 6, kernel: 3}\n", []),
    "E302": (
        "archc: 1\nname: Example\ninput: {shape: [1, 4, 4]}\nlayers:\n"
        "  - {name: c1, type: conv, filters: 6, kernel: 5}\n",
        [],
    ),
    "E303": (HEAD + "  - {type: conv, filters: 6, kernel: 3, stride: 2, padding: same}\n", []),
    "E304": (
        HEAD + "  - {type: conv, filters: 6, kernel: 3}\n"
        "  - {type: conv, filters: 8, kernel: 3, groups: 4}\n",
        [],
    ),
    "E305": (HEAD + "  - {type: dense, units: 10}\n", []),
    "E306": (HEAD + "  - {type: reshape, shape: [2, 10, 10]}\n", []),
    "E310": (
        HEAD + "  - {name: a, type: conv, filters: 8, kernel: 3}\n"
        "  - {name: b, type: conv, filters: 8, kernel: 5, inputs: input}\n"
        "  - {type: add, inputs: [a, b]}\n",
        [],
    ),
    "E311": (
        HEAD + "  - {name: a, type: conv, filters: 8, kernel: 3}\n"
        "  - {name: b, type: pool, kernel: 2, inputs: input}\n"
        "  - {type: concat, inputs: [a, b]}\n",
        [],
    ),
    "E401": (
        HEAD + "  - {name: c, type: conv, filters: 6, kernel: 3}\n"
        "  - {name: c, type: conv, filters: 6, kernel: 3}\n",
        [],
    ),
    "E402": (
        HEAD + "  - {name: c1, type: conv, filters: 6, kernel: 3}\n"
        "  - {type: flatten, inputs: cl}\n",
        [],
    ),
    "E403": (HEAD + "  - {type: add}\n", []),
    "E404": (
        HEAD + "  - {name: a, type: conv, filters: 1, kernel: 1, inputs: b}\n"
        "  - {name: b, type: conv, filters: 1, kernel: 1, inputs: a}\n",
        [],
    ),
    "E405": (
        HEAD + "  - {name: side, type: conv, filters: 6, kernel: 3}\n"
        "  - {name: main, type: flatten, inputs: input}\n",
        [],
    ),
    "E406": (
        HEAD + "  - {name: stem.conv1, type: conv, filters: 6, kernel: 3, padding: same}\n"
        "  - {name: stem.conv2, type: conv, filters: 6, kernel: 3, padding: same}\n"
        "  - {name: both, type: add, inputs: [stem.conv1, stem.conv2]}\n",
        [],
    ),
    "E501": (HEAD + "  - {type: conv, filters: 100000000, kernel: 1}\n", []),
    "E502": (
        "archc: 1\nname: Example\ninput: {shape: [100000]}\nlayers:\n"
        "  - {type: dense, units: 100000}\n",
        [],
    ),
    "E605": (HEAD + "  - {type: conv, filters: 6, kernel: 5}\n", ["train"]),
}

EXPLAIN_NO_EXAMPLE = {
    "E007": "At most 100 errors are printed as text (1,000 as JSON); one closing line (one "
    "last JSON entry with code E007) says how many more were found:\n\n"
    "```\n... and 19,901 more errors not shown\n20001 errors\n```\n",
    "E006": "`pip install archc` brings the static verbs only; a verb that runs the network "
    "names the extra it needs:\n\n"
    "```\n$ archc build lenet5.yaml\narchc: error[E006]: `archc build` needs torch: "
    "pip install 'archc[torch]'\n```\n",
    "E002": "A spec file over 4 MiB is refused before it is parsed:\n\n"
    "```\n$ archc check huge.yaml\narchc: error[E002]: huge.yaml: file is 104,857,600 "
    "bytes; spec files are limited to 4,194,304\n```\n",
    "E503": "`archc build` estimates the memory the model and its shape check need before it "
    "imports PyTorch, and refuses a model that would not fit (the numbers depend on the machine):"
    "\n\n```\n$ archc build big.yaml\nbig.yaml:5:5: error[E503]: layer `dense1`: building the "
    "model needs about 6.4 GB (1,600,040,000 parameters and every layer's output for a batch of "
    "2); this machine has 3.0 GB free\n    5 |   - {type: dense, units: 40000}\n      |     "
    "^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  help: `archc check` and `summary` need no memory for the "
    "model; reduce the sizes to build it\n1 error\n```\n",
    "E101": "A file that is not UTF-8 text:\n\n```\n$ archc check latin1.yaml\n"
    "latin1.yaml:3:7: error[E101]: file is not UTF-8 text (byte 0xe9 at offset 34)\n"
    "1 error\n```\n",
    "E701": "`archc export` runs the file it made (onnxruntime, `torch.export.load`, "
    "`torch.jit.load`) beside the PyTorch module and writes nothing unless every output "
    "matches within 1e-4. Weights that make the module's own output NaN leave nothing to "
    "compare:\n\n```\n$ archc export lenet5.yaml --weights diverged.pt -o lenet5.onnx\n"
    "lenet5.yaml: error[E701]: export refused: at batch size 2, output `output`: PyTorch's own "
    "output holds NaN or infinity, so no file can be checked; no file was written\n"
    "  help: an exported file must reproduce PyTorch's finite outputs; check the weights, "
    "and report the spec if they are sound\n1 error\n```\n",
    "E601": (
        "`archc train`, `evaluate` and `predict` read the data before training starts; a "
        "missing file, a\n"
        "damaged `.npz`, gzip or IDX file, an `.npz` without `x` or `y`, labels that are "
        "not integers, or\n"
        "an image Pillow cannot open is refused in one line:\n"
        "\n"
        "```\n"
        "$ archc train example.yaml --data missing.npz\n"
        "archc: error[E601]: missing.npz: cannot read data: No such file or directory\n"
        "```\n"
    ),
    "E602": (
        "Images are resized to the spec's height and width, and gray images repeated to "
        "3 channels where\n"
        "the spec asks for them; any other difference is reported at the spec's input:\n"
        "\n"
        "```\n"
        "$ archc train example.yaml --data rgb.npz\n"
        "example.yaml:3:16: error[E602]: the data does not fit the spec's input: the "
        "data has 3 channels and the spec's input 1. Received: rgb.npz\n"
        "    3 | input: {shape: [1, 28, 28]}\n"
        "      |                ^^^^^^^^^^^\n"
        "  help: set the input shape to the data's, e.g. --set input.shape=[C,H,W]\n"
        "1 error\n"
        "```\n"
    ),
    "E603": (
        "Labels count from 0 and must be fewer than the output's units (or a folder of "
        "images must have\n"
        "no more class folders than that):\n"
        "\n"
        "```\n"
        "$ archc train example.yaml --data labels.npz\n"
        "example.yaml:6:37: error[E603]: layer `out`: 1 label is outside the 10 classes "
        "of the output (0 to 9). Received: labels 12 in labels.npz\n"
        "    6 |   - {name: out, type: dense, units: 10, activation: softmax}\n"
        "      |                                     ^^\n"
        "  help: the output needs one score per class; labels count from 0\n"
        "1 error\n"
        "```\n"
    ),
    "E604": (
        "A checkpoint holds the hash of the spec it was trained for (its input, layers "
        "and outputs after\n"
        "expansion and `--set`); it is refused for any other, as is `--resume` with "
        "settings that differ\n"
        "from the checkpoint's run:\n"
        "\n"
        "```\n"
        "$ archc evaluate example.yaml --weights runs/Other/checkpoint.pt\n"
        "archc: error[E604]: runs/Other/checkpoint.pt: the checkpoint is for another "
        "spec: it was trained on `LeNet5` (hash 06a9f2695c82) and this is `Example` "
        "(hash ea62711fcf42); the layers, the input or a --set differ\n"
        "```\n"
    ),
    "E606": (
        "`--device cuda` where PyTorch sees no GPU (and a package a command needs that "
        "its extra did not\n"
        "install):\n"
        "\n"
        "```\n"
        "$ archc train example.yaml --device cuda\n"
        "archc: error[E606]: --device cuda: PyTorch sees no CUDA device here\n"
        "```\n"
    ),
}


def command(text: str | None, args: list[str], workdir: Path) -> list[str]:
    """The `archc` arguments of an example; its spec, if any, written to `workdir`."""
    if text is not None:
        (workdir / "example.yaml").write_text(text)
    if not args or args[0].startswith("--"):
        return ["check", "example.yaml", *args]
    if args[0] != "check" or text is not None:
        return [args[0], "example.yaml", *args[1:]] if text is not None else args
    return args


def run(text: str | None, args: list[str], workdir: Path) -> str:
    args = command(text, args, workdir)
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "archc", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    shown = "$ archc " + " ".join(args) + "\n" + (result.stdout + result.stderr).strip()
    return shown


def main() -> None:
    parts = [
        "# Error codes\n",
        "Every mistake archc finds has a stable code. Each is printed as\n"
        "`path:line:col: error[CODE]: message`, then the line with a caret under the node, then\n"
        "`note:` and `help:` lines; `--format json` prints the same as JSON objects (`path`,\n"
        "`line`, `col`, `code`, `message`, `layer`, `notes`, `help`). Exit code 1 means the spec\n"
        "is invalid, 2 a command-line or file problem.\n",
        "The examples below are archc's real output (regenerate with `make docs-errors`).\n",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for code, title in CODES.items():
            parts.append(f"## {code}: {title}\n")
            if code in EXPLAIN_NO_EXAMPLE:
                parts.append(EXPLAIN_NO_EXAMPLE[code])
                continue
            text, args = EXAMPLES[code]
            if text is not None:
                parts.append(f"```yaml\n{text}```\n")
            parts.append(f"```\n{run(text, args, Path(tmp))}\n```\n")
    (ROOT / "docs" / "errors.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
