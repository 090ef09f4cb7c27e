"""Drawing block definitions: parameters and how they are declared, inputs, and a body whose
field values may refer to the parameters, with `when` conditions and nested instances."""

from __future__ import annotations

from typing import Any

from .base import GenBase
from .oracle import Shape
from .state import BlockDef, Scope, Value, input_names
from .values import Ref, resolve
from .vocab import ACTIVATIONS, MERGES, ROLE_NAMES


class BlocksMixin(GenBase):
    def gen_block(self, index: int, in_shape: Shape) -> BlockDef:
        """A block definition, generated for its first use on `in_shape`."""
        d = self.d
        name = d.pick(["unit", "stage", "branchy", "res", "cbr"]) + str(index)
        env, params, decl, role_of = self.block_params()
        inputs = self.block_inputs()
        block = BlockDef(name, params, decl, inputs, [], None, dict(env), role_of)
        scope = Scope(
            {n: Value(n, in_shape) for n in inputs}, list(inputs), Value("input", in_shape)
        )
        scope.prev = scope.values[inputs[0]]
        layers = [self.block_layer(name, scope, i, env) for i in range(d.int(1, 4))]
        self.merge_dangling(scope, layers, env, inputs)
        block.layers = layers
        if d.coin(0.15):
            named = [it["name"] for it in layers if isinstance(it.get("name"), str)]
            if named:
                block.output = named[-1] if not self.mistake(0.5) else d.pick(named + ["nope"])
        self.features.add("blocks")
        return block

    # -- the interface -----------------------------------------------------------------------

    def block_params(self) -> tuple[dict, dict, dict, dict]:
        """Parameters by role: (first instance's values, params, declarations, role of each)."""
        d = self.d
        env: dict[str, Any] = {}
        decl: dict[str, Any] = {}
        params: dict[str, tuple[str, Any, bool]] = {}
        pool = {
            "f": ("int", d.int(1, 8)), "s": ("int", d.pick([1, 1, 2])),
            "k": ("int", d.pick([1, 3, 3, 5, 2])), "flag": ("bool", d.coin(0.5)),
            "act": ("str", d.pick(ACTIVATIONS)), "p": ("int", d.int(0, 2)),
        }  # fmt: skip
        self.roles = {}
        role_of = {}
        for role, (ptype, value) in pool.items():
            if not d.coin(0.6):
                continue
            pname = d.pick(ROLE_NAMES[role]) if d.coin(0.3) else role
            self.roles[role] = pname
            role_of[pname] = role
            if pname != role:
                self.features.add("tricky-param-name")
            env[pname] = value
            decl[pname], params[pname] = self.declare_param(ptype, value)
        if self.vars_shadow_params and self.roles and d.coin(0.3):
            pname = d.pick(sorted(self.roles.values()))
            self.var_text.setdefault(pname, 7)  # a var of the same name: the param must win
            self.features.add("var-shadowed")
        return env, params, decl, role_of

    def declare_param(self, ptype: str, value: Any) -> tuple[Any, tuple[str, Any, bool]]:
        """How a parameter is declared (typed, by default, long form, ...): (decl, param)."""
        d = self.d
        styles = {"typed": 2, "default": 3, "long": 1}
        if ptype == "int":
            styles.update({"float": 0.7, "any": 0.5})
        style = d.weighted(styles)
        if style == "typed":
            return ptype, (ptype, None, True)
        if style == "default":
            return value, (ptype, value, False)
        if style == "long":
            return {"type": ptype, "default": value}, (ptype, value, False)
        if style == "float":  # declared float, used as an int: instances pass ints
            default = float(value) if d.coin(0.7) else value
            self.features.add("float-param")
            long = {"type": "float", "default": default} if d.coin(0.5) else default
            return long, ("float", default, False)
        return {"type": "any", "default": value}, ("any", value, False)

    def block_inputs(self) -> list[str]:
        d = self.d
        two_inputs = d.coin(0.15)
        first_in = "input" if d.coin(0.8) else d.pick(["src", "x", "out", "y", "a0"])
        second_in = "skip" if d.coin(0.7) else d.pick(["res", "x", "out", "y", "input_"])
        if second_in == first_in:
            second_in = "skip"
        inputs = [first_in, second_in] if two_inputs else [first_in]
        if inputs != ["input"] and inputs != ["input", "skip"]:
            self.features.add("block-input-names")
        return inputs

    # -- the body ----------------------------------------------------------------------------

    def block_layer(self, block: str, scope: Scope, i: int, env: dict) -> dict:
        """The `i`-th layer of a block body: a nested instance or a plain layer, recorded."""
        primary, explicit = self.pick_primary(scope)
        nested = [b for b in self.blocks.values() if b is not None and len(b.inputs) == 1]
        if nested and primary.shape is not None and self.d.coin(0.3):
            return self.nested_block_layer(nested, block, scope, i, env, primary, explicit)
        return self.plain_block_layer(block, scope, i, env, primary, explicit)

    def nested_block_layer(
        self,
        nested: list[BlockDef],
        block: str,
        scope: Scope,
        i: int,
        env: dict,
        primary: Value,
        explicit: str | None,
    ) -> dict:
        d = self.d
        item = self.nested_instance(d.pick(nested), env, explicit)
        lname = self.layer_name(False, block, scope, i)
        if lname is not None:
            item = {"name": lname, **item}
        if d.coin(0.15) and self.when_ref() is not None:
            item["when"] = self.when_ref()
        shape = self.simulate_nested(item, env, primary.shape)
        when = resolve(item.get("when", True), env)
        item["_local"] = self.record_block(item, shape, scope, primary, when)
        return item

    def plain_block_layer(
        self, block: str, scope: Scope, i: int, env: dict, primary: Value, explicit: str | None
    ) -> dict:
        d = self.d
        kind = self.choose_kind(primary.shape)
        f = self.layer_fields(kind, primary.shape)
        layer_inputs = [explicit] if explicit else None
        if kind in MERGES:
            others = self.partners(kind, primary, scope, f)
            if others is None:
                kind, f = "batchnorm", {}
            else:
                layer_inputs = [explicit or self.local_of(scope, primary), *others]
        if self.mistake(0.5):
            kind, f = self.mutate_fields(kind, f)
        f = {k: self.parametrize(k, v, env) for k, v in f.items()}
        item: dict[str, Any] = {"type": kind, **f}
        if layer_inputs is not None:
            item["inputs"] = layer_inputs if len(layer_inputs) > 1 else layer_inputs[0]
        lname = self.layer_name(False, block, scope, i)
        if lname is not None:
            item = {"name": lname, **item}
        shape = self.shape_of(kind, f, layer_inputs, primary, scope, env)
        if d.coin(0.25):
            when = self.when_ref()
            if when is not None:
                item["when"] = when
                self.features.add("when-block")
        when = resolve(item.get("when", True), env)
        item["_local"] = self.record_block(item, shape, scope, primary, when)
        return item

    def merge_dangling(self, scope: Scope, layers: list[dict], env: dict, inputs: list) -> None:
        """Merge dangling values back into the last one so nothing is left unused."""
        dangling = [v for v in scope.produced if v.vid not in scope.used and v is not scope.prev]
        if len(inputs) == 2 and inputs[1] not in scope.used:
            dangling.append(scope.values[inputs[1]])
        for v in dangling:
            if not self.d.coin(0.9):
                self.ok = False
                break
            last = scope.prev
            local_v = next((k for k, x in scope.values.items() if x is v), None)
            if local_v is None:  # the value has no local name left to merge by
                continue
            local_last = self.local_of(scope, last)
            kind = "add" if v.shape == last.shape else "concat"
            item = {"type": kind, "inputs": [local_last, local_v]}
            shape = self.shape_of(kind, {}, [local_last, local_v], last, scope, env)
            item["_local"] = self.record_block(item, shape, scope, last, True)
            layers.append(item)

    def record_block(
        self, item: dict, shape: Shape | None, scope: Scope, prim: Value, when: Any
    ) -> str:
        """Like `record`, inside a block: unnamed layers are numbered as nn.Sequential numbers
        its children (layers switched off by `when` get no number and cannot be named)."""
        name = item.get("name")
        if not isinstance(name, str) or not name:
            name = "" if when is False else str(scope.present)
        if when is not False:
            scope.present += 1
        names = input_names(item.get("inputs"))
        inputs_v = (
            [prim] if names is None else [scope.values[n] for n in names if n in scope.values]
        )
        if when is False:
            target = inputs_v[0] if inputs_v else scope.prev
            scope.prev = target
            if name:
                scope.values[name] = target
                if name not in scope.order:
                    scope.order.append(name)
            return name
        for v in inputs_v:
            scope.used.add(v.vid)
        value = Value(name, shape)
        scope.values[name] = value
        scope.produced.append(value)
        if name not in scope.order:
            scope.order.append(name)
        scope.prev = scope.values[name]
        return name

    def when_ref(self) -> Ref | None:
        """A `when` condition over the block's params (booleans, comparisons, and/or/not)."""
        d = self.d
        flag, s = self.roles.get("flag"), self.roles.get("s")
        options = []
        if flag:
            options += [
                Ref(f"${flag}", lambda e: e[flag]),
                Ref(f"${{not {flag}}}", lambda e: not e[flag]),
            ]
        if s:
            options += [Ref(f"${{{s} == 1}}", lambda e: e[s] == 1)]
        if flag and s:
            options += [
                Ref(f"${{{flag} and {s} > 1}}", lambda e: e[flag] and e[s] > 1),
                Ref(f"${{{flag} or {s} != 1}}", lambda e: e[flag] or e[s] != 1),
                Ref(f"${{True if {flag} else {s} >= 2}}", lambda e: e[flag] or e[s] >= 2),
            ]
        return d.pick(options) if options else None
