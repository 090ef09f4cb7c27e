"""The generator's state and the decisions every part of it makes: mistakes and sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .state import BlockDef, Drawer
from .values import Raw


class GenBase:
    """What the generator knows while it draws one spec.

    The generator is one class, `spec.SpecGen`, put together from mixins by concern (layer
    fields, layer lists, blocks, block parameters, block instances, the whole spec); each
    mixin derives from this class and may call the others' methods through `self`.
    """

    def __init__(self, draw: Callable, *, wild: float, blocks: bool, rank: int | None) -> None:
        self.d = Drawer(draw)
        self.wild = wild
        self.use_blocks = blocks
        self.force_rank = rank
        self.ok = True  # oracle: still valid?
        self.features: set[str] = set()
        self.vars: dict[str, Any] = {}
        self.var_text: dict[str, Any] = {}
        self.blocks: dict[str, BlockDef] = {}
        self.roles: dict[str, str] = {}  # role (f, s, ...) -> parameter name, current block
        self.inner_names: list[str] = []
        self.vars_shadow_params = True
        self.reserved_top: set[str] = set()

    # -- mistakes ----------------------------------------------------------------------------

    def mistake(self, scale: float = 1.0) -> bool:
        if self.d.coin(self.wild * scale):
            self.ok = False
            return True
        return False

    def bad_value(self, good: Any) -> Any:
        """A wrong value of some kind, for a field whose right value is `good`."""
        self.features.add("bad-value")
        options = [
            0, -1, 2.5, 3.0, True, "3", "x", None, [], [1, 2, 3, 4], [[1]], {"a": 1}, 10**40,
            float("inf"), float("nan"), -0.5, Raw("0x10"), Raw("1_0"), Raw("!!str 3"), 1e308,
            "same", "global", "${1/0}", "$nope", "${2**200}", Raw("no"), [0, 1],
        ]  # fmt: skip
        return self.d.pick(options)

    # -- sizes -------------------------------------------------------------------------------

    def size_value(self, vals: tuple[int, ...]) -> Any:
        """How a per-dim size is written: an int, a one-element list or a full list."""
        if len(set(vals)) == 1:
            how = self.d.weighted({"int": 6, "one": 1, "list": 3})
            if how == "int":
                return vals[0]
            if how == "one":
                return [vals[0]]
        return list(vals)

    def per_dim_draw(self, rank: int, lo: Callable[[int], int], hi: Callable[[int], int]) -> tuple:
        """One size per dim in [lo(j), hi(j)]; mostly the same size for every dim."""
        if self.d.coin(0.7):
            lo_all = max(lo(j) for j in range(rank))
            hi_all = min(hi(j) for j in range(rank))
            if lo_all <= hi_all:
                v = self.d.int(lo_all, hi_all)
                return (v,) * rank
        return tuple(self.d.int(lo(j), max(lo(j), hi(j))) for j in range(rank))
