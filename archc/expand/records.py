"""What the expand stage records beside the flat layers, and the state its parts share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archc.errors import Pos
from archc.expand.definitions import Block

MAX_REPEAT = 1_000
MAX_BLOCK_DEPTH = 16
MAX_LAYERS = 50_000  # layers and block copies after expansion


@dataclass(frozen=True)
class Instance:
    """One block instance in the expanded spec (`repeated` marks the container of copies)."""

    path: str  # full dotted name, e.g. "layer2" or "layer2.0"
    block: str
    args: tuple[tuple[str, Any], ...]
    inputs: tuple[str, ...]  # full names of the values it reads, in the block's input order
    output: str  # full name of the layer whose value it returns
    repeated: bool = False
    pos: Pos | None = None  # the layer of the spec that makes it


@dataclass(frozen=True)
class Expansion:
    """What the expand stage adds to a document: the block definitions and their instances."""

    blocks: dict[str, Block] = field(default_factory=dict)
    instances: tuple[Instance, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)  # resolved values

    def where_made(self, layer: str) -> str | None:
        """For a layer of a block instance (whose position is in the block's definition):
        which instance it belongs to, and the line of the spec's layer that makes it."""
        around = [i for i in self.instances if layer.startswith(i.path + ".") and i.pos]
        if not around:
            return None
        outer, inner = around[0], around[-1]
        return f"in `{inner.path}` (block `{inner.block}`), made at line {outer.pos.line}"


@dataclass
class Scope:
    """Where layers are being expanded: the network, or one copy of a block."""

    values: Mapping[str, Any]  # names usable in expressions
    names: dict[str, str]  # local layer name -> full name of its output
    prefix: str  # "" at top level, "layer2.0." inside an instance
    stack: tuple[str, ...] = ()  # enclosing block names, for recursion checks


class Abort(Exception):
    """Expansion stopped at a limit; the diagnostic is already recorded."""


class Failed:
    """Marks a value whose evaluation already produced a diagnostic."""

    def __repr__(self) -> str:
        return "<failed>"


FAILED = Failed()
