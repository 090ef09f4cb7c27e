"""The whole spec: input, blocks, layers and outputs, rendered as YAML text; `specs()`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .blocks import BlocksMixin
from .breakage import break_text
from .fields import FieldsMixin
from .instances import InstancesMixin
from .layers import LayersMixin
from .oracle import Shape
from .params import ParamsMixin
from .state import Drawn, Scope, Value, public
from .values import Raw, Ref, flow


class SpecGen(LayersMixin, BlocksMixin, ParamsMixin, InstancesMixin, FieldsMixin):
    """Draws a whole spec: input, vars, blocks, layers, outputs; then renders its text."""

    def spec(self) -> Drawn:
        d = self.d
        rank, shape = self.input_shape()
        self.features.add(f"rank{rank}")
        input_name, input_decl = self.input_decl(shape)
        self.reserved_top = {input_name}
        top = Scope({input_name: Value(input_name, shape)}, [input_name], Value(input_name, shape))
        # Blocks, defined for a first use on the input shape (or a small variant of it).
        if self.use_blocks and rank >= 1:
            for i in range(d.int(1, 2)):
                self.blocks[f"tmp{i}"] = None  # reserve
                b = self.gen_block(i, shape)
                del self.blocks[f"tmp{i}"]
                self.blocks[b.name] = b
        layers = self.gen_layers(top, d.int(1, 7), "", True, None)
        outputs = self.outputs(top)
        if not top.produced:
            self.ok = False
        return self.render(input_decl, layers, outputs)

    def input_shape(self) -> tuple[int, Shape]:
        """(rank, shape): mostly 2-D, then 1-D; a few flat and 3-D inputs."""
        d = self.d
        rank = self.force_rank
        if rank is None:
            rank = int(d.weighted({"2": 5, "1": 3, "0": 0.7, "3": 1.2}))
        if rank == 0:
            return rank, (d.int(1, 16),)
        if rank == 3:
            return rank, (d.int(1, 3), *self.per_dim_draw(3, lambda j: 1, lambda j: 6))
        return rank, (d.int(1, 6), *self.per_dim_draw(rank, lambda j: 1, lambda j: 12))

    def input_decl(self, shape: Shape) -> tuple[str, dict[str, Any]]:
        d = self.d
        input_name = "input"
        input_decl: dict[str, Any] = {"shape": list(shape)}
        if d.coin(0.1):
            input_name = d.pick(["x", "img", "seq", "out", "y", "inp"])
            input_decl["name"] = input_name
            self.features.add("input-name")
        if self.mistake(0.1):
            input_decl["shape"] = d.pick([[], [0, 4], [3, 4, 4, 4, 4], "3x4", [2.0, 4], [-1, 3]])
            self.features.add("bad-input")
        return input_name, input_decl

    def outputs(self, top: Scope) -> list[str] | None:
        """Every dangling value, so nothing is left unused (or, by mistake, not)."""
        d = self.d
        dangling = [v.vid for v in top.produced if v.vid not in top.used]
        outputs = None
        if len(dangling) > 1 or (dangling and dangling[-1] != top.prev.vid) or d.coin(0.1):
            if self.mistake(0.2):
                keep = dangling[:-1] if d.coin(0.5) else [*dangling, "nope"]
            else:
                keep = dangling
            if d.coin(0.5):
                keep = keep[::-1]
            outputs = keep or [top.prev.vid]
            if d.coin(0.05):
                outputs = [*outputs, outputs[0]]
                self.features.add("duplicate-output")
            self.features.add("outputs")
        if self.inner_names and d.coin(0.05):
            # A layer inside a block instance as a network output.
            outputs = [*(outputs or [top.prev.vid]), d.pick(self.inner_names)]
            self.features.add("inner-output")
        return outputs

    # -- the text ----------------------------------------------------------------------------

    def render(self, input_decl: dict, layers: list[dict], outputs: list[str] | None) -> Drawn:
        d = self.d
        plain = d.coin(0.5)
        lines = ["archc: 1", f"name: {d.pick(['Net', 'Fuzz', 'M1', 'net_2'])}"]
        if d.coin(0.1):
            lines.append(f"description: {json.dumps(d.pick(['a net', 'x: y', '# not a comment']))}")
        vars_ = dict(self.var_text)
        layers = [self.with_vars(item, vars_) for item in layers]
        if vars_:
            lines.append(f"vars: {flow(vars_, plain)}")
            self.features.add("vars")
        lines.append(f"input: {flow(input_decl, plain)}")
        if self.blocks:
            lines += self.render_blocks(plain)
        lines.append("layers:")
        lines += [f"  - {flow(public(item), plain)}" for item in layers]
        if outputs is not None:
            lines.append(f"outputs: {flow(outputs, plain)}")
        text = "\n".join(lines) + "\n"
        if d.coin(self.wild * 0.3):
            self.features.add("broken-yaml")
            text = break_text(d, text)
            self.ok = False
        return Drawn(text, self.ok, frozenset(self.features))

    def render_blocks(self, plain: bool) -> list[str]:
        lines = ["blocks:"]
        for b in self.blocks.values():
            lines.append(f"  {b.name}:")
            if b.decl:
                lines.append(f"    params: {flow(b.decl, plain)}")
            if b.inputs != ["input"]:
                one = len(b.inputs) == 1 and plain
                lines.append(f"    inputs: {flow(b.inputs[0] if one else b.inputs, plain)}")
            if b.output is not None:
                lines.append(f"    output: {flow(b.output, plain)}")
            lines.append("    layers:")
            lines += [f"      - {flow(public(item), plain)}" for item in b.layers]
        return lines

    def with_vars(self, item: dict, vars_: dict) -> dict:
        """Maybe write some top-level int fields as `$var` / `${var * c}` references."""
        d = self.d
        if not d.coin(0.25):
            return item
        out = dict(item)
        for key in ("filters", "units", "kernel", "stride", "padding", "rate"):
            self.var_field(out, key, vars_)
        if d.coin(0.1):  # a var defined through another var
            vars_["v_twice"] = Ref("${v_base * 2}", None)
            vars_.setdefault("v_base", 2)
        if self.mistake(0.1):
            vars_["v_bad"] = d.pick(
                [Ref("${v_bad + 1}", None), Ref("${1 / 0}", None), Ref("${nope}", None),
                 Ref("${2 ** 300}", None), Ref("${__import__('os')}", None)]
            )  # fmt: skip
            out["units" if "units" in out else "filters"] = Ref("$v_bad", None)
            self.features.add("bad-var")
        return out

    def var_field(self, out: dict, key: str, vars_: dict) -> None:
        """Maybe write the number `out[key]` through the var `v_<key>`."""
        v = out.get(key)
        if v is None or isinstance(v, (bool, Ref, Raw, list)) or not self.d.coin(0.5):
            return
        if not isinstance(v, (int, float)) or isinstance(v, float) and not math.isfinite(v):
            return
        name = f"v_{key}"
        base = vars_.setdefault(name, v)
        if isinstance(base, Ref):
            return
        if base == v:
            out[key] = Ref(f"${name}", None)
        elif isinstance(v, int) and isinstance(base, int) and base and v % base == 0:
            out[key] = Ref(f"${{{name} * {v // base}}}", None)
        elif isinstance(v, int) and isinstance(base, int):
            out[key] = Ref(f"${{{name} + {v - base}}}", None)
        self.features.add("var-ref")


@st.composite
def specs(
    draw: Callable,
    *,
    wild: float | None = None,
    blocks: bool | None = None,
    rank: int | None = None,
) -> Drawn:
    """A spec text. `wild`: chance of a deliberate mistake per decision (None: drawn)."""
    if wild is None:
        wild = draw(st.sampled_from([0.0, 0.0, 0.0, 0.02, 0.05, 0.15]))
    if blocks is None:
        blocks = draw(st.integers(0, 99)) >= 70
    gen = SpecGen(draw, wild=wild, blocks=blocks, rank=rank)
    return gen.spec()
