"""Drawing a list of layers into a scope: inputs, merges, names, `when`, and the shapes."""

from __future__ import annotations

from typing import Any

from .base import GenBase
from .oracle import Invalid, Shape, is_int, layer_shape
from .state import Scope, Value, input_names
from .values import Ref, resolve
from .vocab import BAD_NAMES, MERGES, TRICKY_NAMES


class LayersMixin(GenBase):
    # -- inputs ------------------------------------------------------------------------------

    def pick_primary(self, scope: Scope) -> tuple[Value, str | None]:
        """The layer's main input: the previous value, or an earlier one named in `inputs`."""
        d = self.d
        if len(scope.order) > 1 and d.coin(0.3):
            local = d.pick(scope.order)
            v = scope.values[local]
            if v.vid != scope.prev.vid:
                return v, local
        return scope.prev, None

    def partners(self, kind: str, primary: Value, scope: Scope, f: dict) -> list[str] | None:
        """Local names of a merge's other inputs (compatible shapes preferred)."""
        d = self.d
        s = primary.shape
        cands = [n for n in scope.order if scope.values[n].shape is not None]
        if s is None:
            pool = scope.order
        elif kind == "concat":
            pool = self.concat_partners(s, scope, cands, f)
        else:
            pool = [n for n in cands if scope.values[n].shape == s]
        if not pool:
            if not self.mistake(0.5):
                return None
            pool = scope.order
        count = d.weighted({"1": 8, "2": 2})
        return [d.pick(pool) for _ in range(int(count))]

    def concat_partners(self, s: Shape, scope: Scope, cands: list[str], f: dict) -> list[str]:
        """Draw a concat's axis; the values that agree with `s` on every other axis."""
        d = self.d
        axis = 0
        if len(s) > 1 and d.coin(0.2):
            axis = d.int(1, len(s) - 1)
        if axis or d.coin(0.2):
            f["axis"] = axis
        return [
            n
            for n in cands
            if len(scope.values[n].shape) == len(s)
            and all(a == b for i, (a, b) in enumerate(zip(scope.values[n].shape, s)) if i != axis)
        ]

    def local_of(self, scope: Scope, value: Value) -> str:
        for n in reversed(scope.order):
            if scope.values[n].vid == value.vid:
                return n
        return scope.order[-1]

    # -- a list of layers --------------------------------------------------------------------

    def gen_layers(
        self, scope: Scope, n: int, prefix: str, top: bool, in_block: str | None
    ) -> list[dict]:
        """Generate `n` layers into `scope`. Returns layer dicts (values may be Refs)."""
        return [self.gen_layer(scope, i, prefix, top, in_block) for i in range(n)]

    def gen_layer(self, scope: Scope, i: int, prefix: str, top: bool, in_block: str | None) -> dict:
        """The `i`-th layer of a list: a block instance or a plain layer, named and recorded."""
        d = self.d
        primary, explicit = self.pick_primary(scope)
        use_block = bool(
            top and self.blocks and in_block is None and d.coin(0.45) and primary.shape is not None
        )
        if use_block:
            item, shape = self.gen_instance(primary, scope, explicit)
        else:
            item, shape = self.plain_layer(primary, scope, explicit)
        name = self.layer_name(top, in_block, scope, i)
        if name is not None:
            item = {"name": name, **item}
        if not use_block and self.mistake(0.2):
            self.mutate_inputs(item, i, scope)
        # `when` on a plain layer (top level; blocks add theirs in gen_block)
        if top and not use_block and d.coin(0.06):
            self.add_top_when(item)
        local = self.record(item, shape, scope, prefix, top, primary)
        item["_local"] = local
        if use_block and item.get("when") is not False:
            self.note_inner_names(item, local)
        return item

    def plain_layer(
        self, primary: Value, scope: Scope, explicit: str | None
    ) -> tuple[dict, Shape | None]:
        """A layer of a built-in kind (a merge drawing its partners), maybe with a mistake."""
        d = self.d
        layer_inputs: list[str] | None = [explicit] if explicit else None
        kind = self.choose_kind(primary.shape)
        f = self.layer_fields(kind, primary.shape)
        if kind in MERGES:
            others = self.partners(kind, primary, scope, f)
            if others is None:
                kind = "identity" if d.coin(0.3) else "batchnorm"
                f = self.layer_fields(kind, primary.shape)
            else:
                layer_inputs = [explicit or self.local_of(scope, primary), *others]
                if d.coin(0.5):
                    layer_inputs = layer_inputs[::-1]
        if self.mistake():
            kind, f = self.mutate_fields(kind, f)
        item: dict[str, Any] = {"type": kind, **f}
        if layer_inputs is not None:
            one = len(layer_inputs) == 1 and d.coin(0.6)
            item["inputs"] = layer_inputs[0] if one else list(layer_inputs)
        return item, self.shape_of(kind, f, layer_inputs, primary, scope, {})

    def add_top_when(self, item: dict) -> None:
        d = self.d
        item["when"] = d.pick([True, False, Ref("$on", lambda e: e["on"])])
        self.vars.setdefault("on", d.coin(0.5))
        self.var_text.setdefault("on", self.vars["on"])
        self.features.add("when-top")

    def note_inner_names(self, item: dict, local: str) -> None:
        """Remember the full names of a block instance's layers (candidate network outputs)."""
        b = self.blocks[item["type"]]
        copy = ".0" if is_int(item.get("repeat")) and item["repeat"] > 1 else ""
        self.inner_names += [
            f"{local}{copy}.{inner['_local']}"
            for inner in b.layers
            if inner.get("when", True) is True
        ]

    def mutate_inputs(self, item: dict, i: int, scope: Scope) -> None:
        """A wrong `inputs`: unknown, later (a cycle), itself, the wrong number, wrong type."""
        d = self.d
        what = d.pick(["unknown", "later", "self", "arity", "type", "input_twice"])
        self.features.add(f"bad-inputs-{what}")
        if what == "unknown":
            item["inputs"] = d.pick(["nope", "l99", "Input", "input.x"])
        elif what == "later":
            item["inputs"] = (
                [f"l{i + 1}"] if item.get("type") not in MERGES else [f"l{i + 1}", scope.order[-1]]
            )
        elif what == "self" and isinstance(item.get("name"), str):
            item["inputs"] = item["name"]
        elif what == "arity":
            if item.get("type") in MERGES:
                item["inputs"] = [scope.order[-1]]
            else:
                item["inputs"] = [scope.order[-1], scope.order[0]]
        elif what == "type":
            item["inputs"] = d.pick([3, [1], {"a": 1}, True, [[scope.order[-1]]]])
        else:
            item["inputs"] = [scope.order[0], scope.order[0]]

    def layer_name(self, top: bool, in_block: str | None, scope: Scope, i: int) -> str | None:
        d = self.d
        if self.mistake(0.15):
            self.features.add("bad-name")
            return d.pick(BAD_NAMES + list(scope.values)[:2] + ["input"])
        how = d.weighted({"auto": 3, "plain": 4, "tricky": 1})
        if how == "auto":
            return None
        if how == "tricky":
            name = d.pick(TRICKY_NAMES)
        else:
            name = ("l" if top else "b") + str(i)
        if name in scope.values or name in ("input",) or name in self.blocks:
            return ("l" if top else "b") + str(i) + "_"
        return name

    # -- shapes and the scope ----------------------------------------------------------------

    def shape_of(
        self,
        kind: str,
        f: dict,
        layer_inputs: list[str] | None,
        primary: Value,
        scope: Scope,
        env: dict,
    ) -> Shape | None:
        if layer_inputs is None:
            shapes = [primary.shape]
        else:
            shapes = [scope.values[n].shape if n in scope.values else None for n in layer_inputs]
            if any(n not in scope.values for n in layer_inputs):
                self.ok = False
        if any(x is None for x in shapes):
            return None
        resolved = {k: resolve(v, env) for k, v in f.items()}
        try:
            return layer_shape(kind, resolved, shapes)
        except Invalid:
            self.ok = False
            return None

    def record(
        self, item: dict, shape: Shape | None, scope: Scope, prefix: str, top: bool, prim: Value
    ) -> str:
        """Add the layer's output to the scope under its local name; mark its inputs used."""
        name = item.get("name")
        if not isinstance(name, str) or not name:
            if top:
                name = self.default_name(str(item.get("type")), scope)
            else:
                name = str(len(scope.produced))  # position in the block's list
        when = item.get("when", True)
        when_v = when.fn(self.vars) if isinstance(when, Ref) else when
        names = input_names(item.get("inputs"))
        if names is None:
            inputs_v = [prim]
        else:
            inputs_v = [scope.values[n] for n in names if n in scope.values]
        if when_v is False:
            value = inputs_v[0] if inputs_v else scope.prev
            scope.values[name] = value
        else:
            for v in inputs_v:
                scope.used.add(v.vid)
            value = Value(prefix + name, shape)
            scope.values[name] = value
            scope.produced.append(value)
        if name not in scope.order:
            scope.order.append(name)
        scope.prev = value
        return name

    def default_name(self, kind: str, scope: Scope) -> str:
        n = 1
        while f"{kind}{n}" in scope.values or f"{kind}{n}" in self.reserved_top:
            n += 1
        return f"{kind}{n}"
