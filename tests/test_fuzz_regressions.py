"""Regression tests for the archc bugs the shape fuzzer (tests/test_fuzz_shapes.py) found.

Each entry is a minimal reproducer and what went wrong before the fix. archc may fix a bug
either way: by rejecting the spec with a `SpecError` (with a known code and a real position),
or by compiling a module that PyTorch agrees with; `fuzz.checks.check_text` accepts both and
reports anything else.
"""

from __future__ import annotations

import pytest
from fuzz.checks import check_text

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

# id -> (the bug, as it was found; the spec that showed it)
REGRESSIONS: dict[str, tuple[str, str]] = {
    "inner-output": (
        "`outputs:` naming a layer inside a block instance is accepted, but to_source raises "
        "KeyError (the instance's module returns only its output)",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
blocks:
  b:
    layers:
      - {name: c, type: conv, filters: 3, kernel: 1}
      - {name: d, type: conv, filters: 4, kernel: 1}
layers:
  - {name: blk, type: b}
outputs: [blk, blk.c]
""",
    ),
    "default-output-of-block-with-output": (
        "when the last layer is a block instance whose `output:` is not its last layer, the "
        "network's default output is the instance's last inner layer; to_source raises "
        "KeyError",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
blocks:
  b:
    output: c
    layers:
      - {name: c, type: conv, filters: 3, kernel: 1}
      - {name: d, type: conv, filters: 4, kernel: 1}
layers:
  - {name: blk, type: b}
""",
    ),
    "same-value-twice": (
        "a two-input block given the same value twice, emitted as a concrete class, gets `def "
        "forward(self, out, out)`: SyntaxError",
        """
archc: 1
name: Net
input: {shape: [2, 6]}
blocks:
  pair:
    inputs: [a, b]
    layers:
      - {type: flatten, inputs: b}
layers:
  - {type: pair, inputs: [input, input]}
""",
    ),
    "required-after-optional": (
        "a required block parameter declared after an optional one is passed positionally "
        "after a keyword: `B(2, f=3, 1)`, SyntaxError",
        """
archc: 1
name: Net
input: {shape: [2, 6]}
blocks:
  b:
    params: {f: 2, k: int}
    layers:
      - {name: c, type: conv, filters: $f, kernel: $k}
layers:
  - {type: b, f: 3, k: 1}
""",
    ),
    "huge-scale": (
        "upsample `scale: 1e308` overflows: analyse raises OverflowError, not SpecError",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
layers:
  - {type: upsample, scale: 1e308}
""",
    ),
    "infinite-scale": (
        "upsample `scale: .inf` is accepted as a positive number; analyse raises "
        "OverflowError, not SpecError",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
layers:
  - {type: upsample, scale: .inf}
""",
    ),
    "float-param": (
        "a float block parameter (default 2.0) given the int 2: the instance leaves it out as "
        "equal to the default, so the class builds nn.Conv1d(.., 2.0, ..): TypeError",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
blocks:
  b:
    params: {w: 2.0}
    layers:
      - {name: c, type: conv, filters: $w, kernel: 1}
layers:
  - {type: b, w: 2}
""",
    ),
    "param-shadows-builtin": (
        "a block parameter named `max` shadows the builtin in the class's __init__: `max(f, "
        "3)` raises TypeError 'int' object is not callable",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
blocks:
  b:
    params: {max: 3, f: 2}
    layers:
      - {name: c, type: conv, filters: "${max(f, 3)}", kernel: 1}
layers:
  - {type: b}
""",
    ),
    "instance-name-reused": (
        "a layer with the same name as a block instance is not reported (E401); the module "
        "assigns self.a twice and the forward fails",
        """
archc: 1
name: Net
input: {shape: [2, 8]}
blocks:
  b:
    layers:
      - {name: c, type: conv, filters: 3, kernel: 1}
layers:
  - {name: a, type: b}
  - {name: a, type: conv, filters: 4, kernel: 1}
""",
    ),
    "one-element-list": (
        "a one-element size list reaching a block class through a var or parameter is emitted "
        "as kernel_size=(3,) for a 2-D conv: torch RuntimeError",
        """
archc: 1
name: Net
vars: {k: [3]}
input: {shape: [2, 6, 6]}
blocks:
  b:
    layers:
      - {name: c, type: conv, filters: 2, kernel: $k, dilation: [1, 2]}
layers:
  - {type: b}
""",
    ),
    "infinite-eps": (
        "batchnorm `eps: .inf` is accepted; to_torch raises CodegenError",
        """
archc: 1
name: Net
input: {shape: [2, 6]}
layers:
  - {type: batchnorm, eps: .inf}
""",
    ),
    "explicit-null": (
        "an optional field written as null (pool `stride: null`, upsample `size: null`) is "
        "accepted; to_torch raises CodegenError: cannot render None",
        """
archc: 1
name: Net
input: {shape: [2, 6]}
layers:
  - {type: pool, kernel: 2, stride: null}
""",
    ),
    "block-at-two-ranks": (
        "a block used on a [C, L] and on a [C, H, W] input becomes one class whose layers "
        "have the rank of the first instance (nn.Conv1d for both): torch RuntimeError",
        """
archc: 1
name: Net
input: {shape: [2, 8, 8]}
blocks:
  b:
    layers:
      - {name: c, type: conv, filters: 2, kernel: 1}
layers:
  - {name: flat, type: reshape, shape: [2, 64]}
  - {name: one, type: b}
  - {name: two, type: b, inputs: input}
outputs: [one, two]
""",
    ),
    "avg-pool-3d-padding": (
        "3-D average pooling whose window fits only thanks to the padding (input 1x1x1, "
        "kernel 2, padding 1) is accepted with output 1x1x1, but torch's avg_pool3d requires "
        "the unpadded input to be at least the kernel: RuntimeError",
        """
archc: 1
name: Net
input: {shape: [1, 1, 1, 1]}
layers:
  - {type: pool, mode: avg, kernel: 2, padding: 1}
""",
    ),
    "layer-named-getattr": (
        "a layer named `getattr` in a block with numbered layers becomes a local variable of "
        'forward, so the earlier `getattr(self, "0")` raises UnboundLocalError',
        """
archc: 1
name: Net
input: {shape: [2, 8]}
blocks:
  b:
    layers:
      - {type: conv, filters: 2, kernel: 1}
      - {name: getattr, type: conv, filters: 2, kernel: 1}
      - {type: add, inputs: [getattr, getattr]}
layers:
  - {type: b}
""",
    ),
}


@pytest.mark.parametrize("bug", REGRESSIONS)
def test_fuzz_regression(bug):
    what, spec = REGRESSIONS[bug]
    out = check_text(spec.lstrip())
    assert not out.problems, f"regression ({what}):\n" + "\n".join(
        f"{p.signature}: {p.detail}" for p in out.problems
    )
