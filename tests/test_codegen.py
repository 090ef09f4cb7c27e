"""The code generator's line layout: long lines are broken where Python's grammar allows."""

from __future__ import annotations

import ast

import torch

import archc
from archc.emit.codegen import wrap

SPLAT = (
    "            *([nn.Sequential(nn.Conv2d(in_channels, inp * t, kernel_size=1, bias=False), "
    "nn.BatchNorm2d(inp * t))] if t != 1 else []),"
)


def _parses(code: str) -> ast.Module:
    return ast.parse("x = [\n" + code + "\n]")


def test_a_conditional_splat_gets_no_trailing_comma():
    wrapped = wrap(SPLAT)
    assert wrapped != SPLAT and "else []\n" in wrapped
    # Still one starred list, not a starred one-element tuple.
    starred = _parses(wrapped).body[0].value.elts[0]
    assert isinstance(starred, ast.Starred) and isinstance(starred.value, ast.IfExp)


def test_a_bracket_in_a_comment_is_not_a_bracket():
    comment = "# (width) channels, and a comment long enough to take the line past the limit"
    line = "        out = self.conv1(x)  " + comment
    assert wrap(line) == "        out = self.conv1(\n            x\n        )  " + comment
    no_call = "        out = x  # (a comment (with brackets)" + " that goes on" * 8 + ")"
    assert len(no_call) > 99 and wrap(no_call) == no_call


def test_call_arguments_one_per_line_with_a_trailing_comma():
    line = "        self.conv = nn.Conv2d(" + ", ".join(f"argument_{i}" for i in range(12)) + ")"
    wrapped = wrap(line).split("\n")
    assert wrapped[0] == "        self.conv = nn.Conv2d("
    assert wrapped[1:-1] == [f"            argument_{i}," for i in range(12)]
    assert wrapped[-1] == "        )"


NESTED_OPTIONAL = """\
archc: 1
name: Net
blocks:
  conv_bn_act:
    params: {channels_out: int, expansion_factor_for_the_block: 1}
    layers:
      - {type: conv, filters: "${channels_out * expansion_factor_for_the_block}", kernel: 3,
         padding: 1, bias: false, when: "${expansion_factor_for_the_block != 1}"}
      - {type: batchnorm}
      - {type: activation, fn: relu}
  outer_block_with_a_long_name:
    params: {channels_out: int, expansion_factor_for_the_block: 1}
    layers:
      - {name: body, type: conv_bn_act, channels_out: $channels_out,
         expansion_factor_for_the_block: $expansion_factor_for_the_block}
      - {name: tail, type: conv, filters: $channels_out, kernel: 1}
input: {shape: [3, 16, 16]}
layers:
  - {name: first_stage, type: outer_block_with_a_long_name, channels_out: 8,
     expansion_factor_for_the_block: 2}
  - {name: second_stage, type: outer_block_with_a_long_name, channels_out: 8}
"""


def test_nested_blocks_with_an_optional_layer_compile_and_run():
    graph = archc.analyse(archc.loads(NESTED_OPTIONAL))
    ast.parse(archc.to_source(graph))
    model = archc.to_torch(graph).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(2, 3, 16, 16)).shape) == (2, *graph.output_shapes()[0])
    assert sum(p.numel() for p in model.parameters()) == graph.params
