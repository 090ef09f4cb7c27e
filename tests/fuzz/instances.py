"""Drawing uses of blocks (`type: <block>` with arguments, `repeat`, `first`, `when`), and
simulating an instance through the oracle to know its output shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .base import GenBase
from .oracle import Invalid, Shape, is_int, layer_shape
from .state import BlockDef, Scope, Value, input_names
from .values import UNKNOWN, Ref, resolve
from .vocab import ACTIVATIONS

# Whether a value fits a declared parameter type.
_PARAM_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": is_int,
    "bool": lambda x: isinstance(x, bool),
    "str": lambda x: isinstance(x, str),
    "any": lambda x: True,
    "float": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
}
# Keys of an instance that are not arguments.
_INSTANCE_KEYS = ("type", "name", "inputs", "when", "repeat", "first")


class InstancesMixin(GenBase):
    # -- drawing instances -------------------------------------------------------------------

    def gen_instance(
        self, primary: Value, scope: Scope, explicit: str | None
    ) -> tuple[dict, Shape | None]:
        """A top-level use of a block: `type: <block>`, args, maybe `repeat`, `first`, `when`."""
        d = self.d
        block = d.pick(sorted(self.blocks))
        b = self.blocks[block]
        item: dict[str, Any] = {"type": block}
        args = self.instance_args(b)
        item.update(args)
        repeat = self.instance_repeat(item)
        first = self.instance_first(b, item) if repeat > 1 and b.params and d.coin(0.5) else {}
        if d.coin(0.08):
            item["when"] = d.pick([True, False])
            self.features.add("when-instance")
        ins = self.instance_inputs(b, scope, primary, explicit)
        if ins:
            item["inputs"] = ins if len(ins) > 1 else ins[0]
        shapes = (
            [primary.shape]
            if not ins
            else [scope.values[n].shape if n in scope.values else None for n in ins]
        )
        if item.get("when") is False:
            return item, shapes[0]
        return item, self.simulate_instance(b, args, first, item.get("repeat", 1), shapes)

    def instance_args(self, b: BlockDef) -> dict[str, Any]:
        """Arguments for the required parameters and some optional ones; maybe a mistake."""
        d = self.d
        args: dict[str, Any] = {}
        for pname, (ptype, _, required) in b.params.items():
            if required or d.coin(0.8 if ptype == "float" else 0.4):
                args[pname] = self.param_value(b, pname)
        if self.mistake(0.3):
            if d.coin(0.5) and args:
                args[d.pick(sorted(args))] = self.bad_value(None)
            elif d.coin(0.5) and args:
                args.pop(d.pick(sorted(args)))
            else:
                args[d.pick(["fillters", "zz", "repeats"])] = 1
            self.features.add("bad-args")
        return args

    def instance_repeat(self, item: dict) -> int:
        """Maybe a `repeat` (by mistake, a bad one); the drawn count."""
        d = self.d
        repeat = 1
        if d.coin(0.35):
            repeat = d.int(1, 3)
            item["repeat"] = repeat
            self.features.add("repeat")
            if self.mistake(0.2):
                item["repeat"] = d.pick(
                    [0, -1, 1001, 2.0, "two", True, Ref("${1 + 1}", lambda e: 2)]
                )
        return repeat

    def instance_first(self, b: BlockDef, item: dict) -> dict[str, Any]:
        """`first:` arguments for the first copy of a repeated block."""
        first: dict[str, Any] = {}
        for pname in b.params:
            if self.d.coin(0.5):
                first[pname] = self.param_value(b, pname)
        if first:
            item["first"] = first
            self.features.add("first")
        return first

    def instance_inputs(
        self, b: BlockDef, scope: Scope, primary: Value, explicit: str | None
    ) -> list[str]:
        ins: list[str] = [explicit] if explicit else []
        if len(b.inputs) == 2:
            base = explicit or self.local_of(scope, primary)
            same = [n for n in scope.order if scope.values[n].shape == primary.shape]
            ins = [base, self.d.pick(same or scope.order)]
        return ins

    def param_value(self, b: BlockDef, pname: str) -> Any:
        d = self.d
        role, first = b.role_of.get(pname), b.first_env.get(pname)
        if d.coin(0.4) and first is not None:
            return first
        if role == "s":
            return d.pick([1, 2, 1])
        if role == "k":
            return d.pick([1, 3, 5, 2])
        if role == "p":
            return d.int(0, 2)
        if role == "f":
            return d.int(1, 8)
        if role == "flag":
            return d.coin(0.5)
        if role == "act":
            return d.pick(ACTIVATIONS)
        return first

    def nested_instance(self, nb: BlockDef, env: dict, explicit: str | None) -> dict:
        """A use of an earlier block inside a block body; args may refer to the outer params."""
        d = self.d
        item: dict[str, Any] = {"type": nb.name}
        for pname, (ptype, _, required) in nb.params.items():
            if required or d.coin(0.8 if ptype == "float" else 0.4):
                v = self.param_value(nb, pname)
                key = {"act": "activation", "flag": "bias"}.get(nb.role_of.get(pname), "")
                item[pname] = self.parametrize(key, v, env)
        if d.coin(0.3):
            item["repeat"] = d.int(1, 2)
        if explicit:
            item["inputs"] = explicit
        self.features.add("nested-block")
        return item

    # -- simulating instances ----------------------------------------------------------------

    def simulate_nested(self, item: dict, env: dict, shape: Shape | None) -> Shape | None:
        nb = self.blocks[item["type"]]
        args = {
            k: resolve(v, env) for k, v in item.items() if k not in _INSTANCE_KEYS and k[0] != "_"
        }
        if any(v is UNKNOWN for v in args.values()):
            self.ok = False
            return None
        first = {k: resolve(v, env) for k, v in item.get("first", {}).items()}
        return self.simulate_instance(nb, args, first, resolve(item.get("repeat", 1), env), [shape])

    def simulate_instance(
        self, b: BlockDef, args: dict, first: dict, repeat: Any, shapes: list
    ) -> Shape | None:
        """The output shape of `repeat` copies of block `b`, or None (unknown or invalid)."""
        if not is_int(repeat) or not 1 <= repeat <= 1000:
            self.ok = False
            return None
        if any(s is None for s in shapes):
            return None
        current = list(shapes)
        for copy in range(repeat):
            env = self.instance_env(b, {**args, **(first if copy == 0 else {})})
            if env is None:
                return None
            if set(args) - set(b.params) or set(first) - set(b.params):
                self.ok = False
                return None
            if len(current) != len(b.inputs):
                self.ok = False
                return None
            out = self.simulate_body(b, env, current)
            if out is None:
                return None
            current = [out]
        return current[0]

    def instance_env(self, b: BlockDef, values: dict) -> dict | None:
        """The parameters' values in one copy (None: one is missing or of the wrong type)."""
        env = {}
        for pname, (ptype, default, required) in b.params.items():
            if pname in values:
                env[pname] = values[pname]
            elif required:
                self.ok = False
                return None
            else:
                env[pname] = default
            if not _PARAM_TYPES[ptype](env[pname]):
                self.ok = False
                return None
        return env

    def simulate_body(self, b: BlockDef, env: dict, shapes: list[Shape]) -> Shape | None:
        """One copy of `b`'s body on `shapes` with parameters `env` (None: unknown/invalid)."""
        body = _Body.start(b.inputs, shapes)
        for item in b.layers:
            if not self.simulate_item(item, env, body):
                return None
        out = body.values.get(b.output, body.prev)
        if any(p not in body.used and p != out[0] for p in body.produced):
            self.ok = False
        return out[1]

    def simulate_item(self, item: dict, env: dict, body: _Body) -> bool:
        """Run one body layer; False stops the simulation (the shape cannot be known)."""
        when = resolve(item.get("when", True), env)
        local = item.get("name") if isinstance(item.get("name"), str) else None
        if when is not False:
            local = local or str(body.present)
            body.present += 1
        names = input_names(item.get("inputs"))
        if names is not None and any(n not in body.values for n in names):
            self.ok = False
            return False
        inputs = [body.prev] if names is None else [body.values[n] for n in names]
        if when is False:
            if local:
                body.values[local] = inputs[0]
            body.prev = inputs[0]
            return True
        if when is not True:
            self.ok = False
            return False
        shape = self.item_shape(item, env, [s for _, s in inputs])
        if shape is None:
            return False
        body.add(local, [i for i, _ in inputs], shape)
        return True

    def item_shape(self, item: dict, env: dict, shapes: list[Shape | None]) -> Shape | None:
        kind = item["type"]
        if kind in self.blocks:
            return None if shapes[0] is None else self.simulate_nested(item, env, shapes[0])
        f = {
            k: resolve(v, env)
            for k, v in item.items()
            if k not in ("type", "name", "inputs", "when", "_local")
        }
        if any(s is None for s in shapes):
            return None
        try:
            return layer_shape(kind, f, shapes)
        except Invalid:
            self.ok = False
            return None


@dataclass
class _Body:
    """The values of a block body being simulated: local name -> (unique id, shape)."""

    values: dict[str, tuple[int, Shape | None]]
    prev: tuple[int, Shape | None]
    used: set[int] = field(default_factory=set)
    produced: list[int] = field(default_factory=list)
    present: int = 0  # layers kept so far (numbers unnamed layers)
    uid: int = 0

    @classmethod
    def start(cls, inputs: list[str], shapes: list[Shape]) -> _Body:
        values = {n: (-1 - uid, s) for uid, (n, s) in enumerate(zip(inputs, shapes))}
        return cls(values, values[inputs[0]], uid=len(values))

    def add(self, local: str, inputs: list[int], shape: Shape) -> None:
        self.used.update(inputs)
        self.uid += 1
        self.values[local] = (self.uid, shape)
        self.produced.append(self.uid)
        self.prev = self.values[local]
