"""The generator's vocabulary for drawing, and the small records it keeps while it draws."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from .oracle import Shape


class Drawer:
    """Small drawing vocabulary whose shrinking goes toward the simplest choice."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw

    def coin(self, p: float) -> bool:
        """True with probability `p`; shrinks to False."""
        if p <= 0:
            return False
        return self.draw(st.integers(0, 999)) >= 1000 - round(p * 1000)

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, max(lo, hi)))

    def pick(self, options: list) -> Any:
        return self.draw(st.sampled_from(options))

    def weighted(self, weights: dict[str, float]) -> str:
        items = [(k, w) for k, w in weights.items() if w > 0]
        scale = 100
        total = sum(round(w * scale) for _, w in items)
        r = self.draw(st.integers(0, total - 1))
        for k, w in items:
            r -= round(w * scale)
            if r < 0:
                return k
        return items[-1][0]


def divisors(n: int) -> list[int]:
    """Divisors of n in increasing order (in O(sqrt n): sizes may be huge on purpose)."""
    if n > 10**12:
        return [1, n]
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


@dataclass
class Value:
    """A value in a scope: a produced layer output or an input, with its believed shape."""

    vid: str  # unique id (the full name)
    shape: Shape | None  # None: unknown (an earlier mistake)


@dataclass
class BlockDef:
    name: str
    params: dict[str, tuple[str, Any, bool]]  # name -> (type, default, required)
    decl: dict[str, Any]  # how params are written
    inputs: list[str]
    layers: list[dict]  # layer dicts with Ref values; "_local", "_inputs", "_when" meta keys
    output: str | None
    first_env: dict
    role_of: dict[str, str] = field(default_factory=dict)  # param name -> role (f, s, ...)


@dataclass
class Drawn:
    text: str
    expect_valid: bool  # the generator's belief (guidance only)
    features: frozenset[str]

    def __repr__(self) -> str:  # hypothesis prints the falsifying example with this
        return "Drawn(text=\n" + self.text + ")"


@dataclass
class Scope:
    """Values visible while generating a list of layers (the top level or a block body)."""

    values: dict[str, Value]  # local name -> value
    order: list[str]  # local names in creation order (for picking earlier values)
    prev: Value
    used: set[str] = field(default_factory=set)  # vids used
    produced: list[Value] = field(default_factory=list)
    present: int = 0  # layers kept so far (numbers unnamed layers in a block)


def input_names(ins: Any) -> list[str] | None:
    """The names an `inputs` value lists (None: the default input); odd entries dropped."""
    if isinstance(ins, str):
        return [ins]
    if isinstance(ins, list):
        return [n for n in ins if isinstance(n, str)]
    return None


def public(item: dict) -> dict:
    """A layer dict without the generator's own `_` keys."""
    return {k: v for k, v in item.items() if not k.startswith("_")}
