"""Block instances: parameters bound and checked, `repeat` and `first`, one copy at a time.

A mixin of the expander: it reports through `error`, evaluates through `value` and expands a
copy's layers through `layers`, which the expander defines.
"""

from __future__ import annotations

import difflib
from typing import Any

from archc.errors import Pos
from archc.expand.definitions import INSTANCE_KEYS, PARAM_TYPES, Block, did_you_mean
from archc.expand.records import (
    FAILED,
    MAX_BLOCK_DEPTH,
    MAX_REPEAT,
    Instance,
    Scope,
)
from archc.expr import Chain
from archc.load import YMap, YSeq


class InstanceExpansion:
    """The expander's methods for block instances."""

    def instance(
        self, block: Block, item: YMap, local: str, scope: Scope, inputs: list[str]
    ) -> tuple[list[YMap], str]:
        """Expand one block instance (all its `repeat` copies); returns layers, output name."""
        chain = " -> ".join([*scope.stack, block.name])
        if block.name in scope.stack:
            self.error(
                "E207",
                f"block `{block.name}` contains itself: {chain}",
                item.pos,
                help="a block cannot instantiate itself, directly or through another",
            )
            return [], inputs[0]
        if len(scope.stack) >= MAX_BLOCK_DEPTH:
            self.error("E106", f"blocks nest more than {MAX_BLOCK_DEPTH} deep: {chain}", item.pos)
            return [], inputs[0]
        args = self.args(block, item, item, scope)
        first_args = self.first_args(block, item, scope)
        repeat = self.repeat(item, scope)
        if repeat is None:
            return [], inputs[0]
        container = len(self.instances)
        layers: list[YMap] = []
        current = inputs
        for copy in range(repeat):
            self.grow(item)
            params = self.bind(block, {**args, **(first_args if copy == 0 else {})}, item)
            if params is None or not self.arity_ok(block, current, item, copy):
                return layers, current[0]
            path = scope.prefix + local + (f".{copy}" if repeat > 1 else "")
            expanded, last = self.copy(block, params, path, scope, current, item.pos)
            layers.extend(expanded)
            current = [last]
        if repeat > 1:
            path = scope.prefix + local
            stack = Instance(path, block.name, (), tuple(inputs), current[0], True, item.pos)
            self.instances.insert(container, stack)
        return layers, current[0]

    def copy(
        self,
        block: Block,
        params: dict[str, Any],
        path: str,
        scope: Scope,
        inputs: list[str],
        at: Pos,
    ) -> tuple[list[YMap], str]:
        """One copy of a block at `path`: its flat layers and the full name of its output."""
        record = len(self.instances)
        self.instances.append(None)  # filled in below, once its output is known
        inner = Scope(
            Chain(params, self.vars),
            dict(zip(block.inputs, inputs)),
            path + ".",
            (*scope.stack, block.name),
        )
        layers, names, last = self.layers(block.layers, inner, inputs[0])
        if block.output is not None:
            if block.output in names:
                last = names[block.output]
            else:
                self.error(
                    "E402",
                    f"block `{block.name}` has no layer `{block.output}` for its output",
                    block.node.value_pos["output"],
                )
        self.instances[record] = Instance(
            path, block.name, tuple(params.items()), tuple(inputs), last, pos=at
        )
        return layers, last

    def first_args(self, block: Block, item: YMap, scope: Scope) -> dict[str, Any]:
        """Parameters that only the first copy takes (``first: {stride: 2}``)."""
        first = item.get("first")
        if first is None:
            return {}
        if not isinstance(first, YMap):
            self.error(
                "E204",
                "`first` must map parameters to the first copy's values",
                item.value_pos["first"],
            )
            return {}
        return self.args(block, first, item, scope)

    def repeat(self, item: YMap, scope: Scope) -> int | None:
        """The number of copies, or None when it is not a valid count (already reported)."""
        pos = item.value_pos.get("repeat", item.pos)
        repeat = self.value(item.get("repeat", 1), pos, scope.values)
        if type(repeat) is int and 1 <= repeat <= MAX_REPEAT:
            return repeat
        if repeat is not FAILED:
            self.error(
                "E204",
                f"`repeat` must be an integer from 1 to {MAX_REPEAT}. Received: repeat={repeat!r}",
                pos,
            )
        return None

    def arity_ok(self, block: Block, inputs: list[str], item: YMap, copy: int) -> bool:
        if len(inputs) == len(block.inputs):
            return True
        message = (
            f"block `{block.name}` takes {len(block.inputs)} input(s) "
            f"({', '.join(block.inputs)}). Received: {len(inputs)}"
        )
        if copy > 0:  # the copies after the first read the one before: a single value
            message = (
                f"block `{block.name}` takes {len(block.inputs)} inputs "
                f"({', '.join(block.inputs)}), so it cannot be repeated: each copy after the "
                "first reads only the output of the copy before"
            )
        self.error("E403", message, item.value_pos.get("repeat" if copy else "inputs", item.pos))
        return False

    def args(self, block: Block, node: YMap, item: YMap, scope: Scope) -> dict[str, Any]:
        """Block parameters given on an instance (or in its `first`), evaluated."""
        args = {}
        for key, value in node.items():
            if node is item and key in INSTANCE_KEYS:
                continue
            if key not in block.params:
                options = list(block.params) + (list(INSTANCE_KEYS) if node is item else [])
                self.error(
                    "E205",
                    f"block `{block.name}` has no parameter `{key}`",
                    node.key_pos[key],
                    help=did_you_mean(key, options)
                    or "its parameters are: " + (", ".join(block.params) or "none"),
                )
                continue
            args[key] = self.value(value, node.value_pos[key], scope.values)
            if isinstance(args[key], (YMap, YSeq)):
                args[key] = self.substitute(args[key], node.value_pos[key], scope.values)
        return args

    def bind(self, block: Block, args: dict[str, Any], item: YMap) -> dict[str, Any] | None:
        """Every declared parameter's value for one copy, type-checked; None after a mistake."""
        params = {}
        ok = True
        misspelt = [k for k in item if k not in block.params and k not in INSTANCE_KEYS]
        for name, param in block.params.items():
            if name in args:
                value = args[name]
            elif not param.required:
                value = param.default
            else:  # a misspelt parameter is reported as such, not also as missing
                if not difflib.get_close_matches(name, misspelt, n=1, cutoff=0.6):
                    self.error(
                        "E202", f"block `{block.name}` needs the parameter `{name}`", item.pos
                    )
                ok = False
                continue
            if value is FAILED:
                ok = False
                continue
            if not _has_type(value, param.type):
                self.error(
                    "E204",
                    f"parameter `{name}` of block `{block.name}` must be "
                    f"{param.type}. Received: {name}={value!r}",
                    item.value_pos.get(name, item.pos),
                )
                ok = False
            params[name] = value
        return params if ok else None


def _has_type(value: Any, kind: str) -> bool:
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, PARAM_TYPES[kind])
