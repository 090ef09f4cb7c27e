"""Block definitions: the top-level ``blocks:`` map, parsed into `Block` and `Param` records.

A definition declares its parameters (a type, a default, or both), the names of its inputs,
its layers (expanded per instance, not here) and optionally the layer whose value it returns.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archc import expr
from archc.errors import Pos
from archc.load import YMap, YSeq

# Keys of a block instance that are not block parameters.
INSTANCE_KEYS = ("name", "type", "inputs", "when", "repeat", "first")
BLOCK_KEYS = ("params", "inputs", "layers", "output", "description")
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list,),
    "any": (object,),
}  # fmt: skip

# Reports one mistake: code, message, position, help.
Report = Callable[..., None]


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    required: bool
    pos: Pos


@dataclass(frozen=True)
class Block:
    """A block definition: declared parameters, input names, layers, output layer."""

    name: str
    params: dict[str, Param]
    inputs: tuple[str, ...]
    layers: YSeq
    output: str | None
    node: YMap


def parse_blocks(raw: Any, pos: Pos, layer_kinds: Sequence[str], error: Report) -> dict[str, Block]:
    """The definitions under ``blocks:`` (at `pos`); each mistake goes to `error`."""
    if raw is None:
        return {}
    if not isinstance(raw, YMap):
        error("E204", "`blocks` must be a mapping of block names to definitions", pos)
        return {}
    blocks = {}
    for name, node in raw.items():
        if not is_name(name):
            error("E206", f"`{name}` is not a valid block name", raw.key_pos[name])
        elif name in layer_kinds:
            error(
                "E206",
                f"block `{name}` has the name of a layer type",
                raw.key_pos[name],
                help="rename the block",
            )
        elif not isinstance(node, YMap) or not isinstance(node.get("layers"), YSeq):
            error("E202", f"block `{name}` needs `layers`, a list of layers", raw.value_pos[name])
        else:
            blocks[name] = _block(name, node, error)
    return blocks


def _block(name: str, node: YMap, error: Report) -> Block:
    for key in node:
        if key not in BLOCK_KEYS:
            error(
                "E201",
                f"unknown key `{key}` in block `{name}`",
                node.key_pos[key],
                help=did_you_mean(key, BLOCK_KEYS),
            )
    inputs = node.get("inputs", "input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        error("E204", "block `inputs` must be a name or a list of names", node.value_pos["inputs"])
        inputs = ["input"]
    output = node.get("output")
    if output is not None and not isinstance(output, str):
        error(
            "E204",
            f"a block's `output` is the name of one of its layers. Received: output={output!r}",
            node.value_pos["output"],
        )
    return Block(
        name,
        _params(node, error),
        tuple(inputs),
        node["layers"],
        output if isinstance(output, str) else None,
        node,
    )


def _params(node: YMap, error: Report) -> dict[str, Param]:
    """Declared parameters: ``name: type`` (required), ``name: default``, or both in a map."""
    raw = node.get("params", YMap())
    if not isinstance(raw, YMap):
        error(
            "E204",
            "`params` must map parameter names to a type or a default",
            node.value_pos["params"],
        )
        return {}
    params = {}
    for name, decl in raw.items():
        pos = raw.key_pos[name]
        if name in INSTANCE_KEYS:
            error("E206", f"`{name}` cannot name a block parameter", pos)
            continue
        if problem := expr.bad_name(name):
            error("E206", f"parameter {problem}", pos)
            continue
        if isinstance(decl, YMap):
            for key in decl:
                if key not in ("type", "default"):
                    error(
                        "E201",
                        f"unknown key `{key}` in the declaration of parameter `{name}`",
                        decl.key_pos[key],
                        help=did_you_mean(key, ("type", "default")),
                    )
            kind, required, default = (
                decl.get("type", "any"),
                "default" not in decl,
                decl.get("default"),
            )
        elif isinstance(decl, str) and decl in PARAM_TYPES:
            kind, required, default = decl, True, None
        else:
            kind, required, default = _type_of(decl), False, decl
        if kind not in PARAM_TYPES:
            error(
                "E204",
                f"unknown parameter type `{kind}`",
                raw.value_pos[name],
                help="types are: " + ", ".join(PARAM_TYPES),
            )
            continue
        params[name] = Param(name, kind, default, required, pos)
    return params


def is_name(value: Any) -> bool:
    """A name archc accepts for a layer, block or parameter."""
    return isinstance(value, str) and expr.REFERENCE.match("$" + value) is not None


def _type_of(value: Any) -> str:
    for name in ("bool", "int", "float", "str", "list"):
        if isinstance(value, PARAM_TYPES[name]):
            return name
    return "any"


def did_you_mean(word: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
