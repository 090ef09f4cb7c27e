"""The expander: vars, expressions, block instances, `when` and default names and inputs."""

from __future__ import annotations

import difflib
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archc import expr
from archc.errors import Diagnostic, Pos, SpecError
from archc.expand.definitions import (
    INSTANCE_KEYS,
    PARAM_TYPES,
    Block,
    did_you_mean,
    is_name,
    parse_blocks,
)
from archc.expr import Chain, Vars
from archc.load import Document, YMap, YSeq
from archc.overrides import apply_overrides

MAX_REPEAT = 1_000
MAX_BLOCK_DEPTH = 16
MAX_LAYERS = 20_000  # layers and block copies after expansion


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


def expand(doc: Document, overrides: Sequence[str] = ()) -> Document:
    """Apply overrides and expand vars, expressions and blocks. Raises SpecError."""
    data = apply_overrides(doc.data, overrides)
    return _Expander(doc, data).run()


@dataclass
class _Scope:
    values: Mapping[str, Any]  # names usable in expressions
    names: dict[str, str]  # local layer name -> full name of its output
    prefix: str  # "" at top level, "layer2.0." inside an instance
    stack: tuple[str, ...] = ()  # enclosing block names, for recursion checks


class _Abort(Exception):
    """Expansion stopped at a limit; the diagnostic is already recorded."""


class _Failed:
    """Marks a value whose evaluation already produced a diagnostic."""

    def __repr__(self) -> str:
        return "<failed>"


_FAILED = _Failed()


class _Expander:
    def __init__(self, doc: Document, data: YMap) -> None:
        self.doc, self.data = doc, data
        self.diagnostics: list[Diagnostic] = []
        self.instances: list[Instance | None] = []  # None: a copy still being expanded
        self.count = 0
        self.dotted: list[tuple[str, Pos]] = []  # references written with dots
        self.written_dotted: set[str] = set()  # top-level layer names written with dots
        self.top_item: YMap | None = None  # the top-level layer being expanded

    def error(
        self, code: str, message: str, pos: Pos, help: str | None = None, layer: str | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.doc.path, pos, layer, help=help))

    def fail(self) -> SpecError:
        """Every mistake found, with the loader's: both are reported together."""
        return SpecError([*self.doc.problems, *self.diagnostics], self.doc.text)

    def run(self) -> Document:
        from archc.layers import Layer  # the layer registry; blocks may not take its names

        self.vars = self.resolve_vars()
        self.blocks = parse_blocks(
            self.data.get("blocks"), self.data.value_pos.get("blocks"), Layer.registry, self.error
        )
        out = self.top_level()
        if isinstance(self.data.get("layers"), YSeq):
            try:
                self.network(out)
            except _Abort:
                raise self.fail() from None
        if self.diagnostics:
            raise self.fail()
        expansion = Expansion(
            self.blocks, tuple(self.instances), {name: self.vars[name] for name in self.vars.raw}
        )
        return Document(self.doc.path, self.doc.text, out, self.doc.problems, expansion)

    def resolve_vars(self) -> Vars:
        """The `vars` map, each var evaluated once so that every bad one is reported once."""
        raw = self.data.get("vars", YMap())
        if not isinstance(raw, YMap):
            pos = self.data.value_pos["vars"]
            self.error("E204", "`vars` must be a mapping of names to values", pos)
            raw = YMap()
        values = Vars(raw)
        for name in raw:
            if name not in values.failed:
                try:
                    values[name]
                except expr.ExprError as exc:
                    if not exc.consequence:
                        self.error("E210", str(exc), raw.value_pos[name], exc.help)
        return values

    def top_level(self) -> YMap:
        """The document without `vars` and `blocks`, expressions in its header evaluated."""
        data = self.data
        out = YMap(pos=data.pos)
        for key, value in data.items():
            if key not in ("vars", "blocks"):
                out[key] = value
                out.key_pos[key], out.value_pos[key] = data.key_pos[key], data.value_pos[key]
        for key in ("input", "outputs", "name", "description"):
            if key in out and isinstance(out[key], (str, YSeq, YMap)):
                out[key] = self.substitute(out[key], out.value_pos[key], self.vars)
        return out

    def network(self, out: YMap) -> None:
        """Expand the top-level layers into `out`, and name its outputs by their full names."""
        seq = self.data["layers"]
        layers, names, last = self.layers(seq, _Scope(self.vars, {}, ""), self.input_name(), True)
        if not layers and seq and not self.diagnostics:  # not because of another mistake
            self.error("E202", "`when` leaves out every layer: the network has none", seq.pos)
        flat = YSeq(layers, pos=seq.pos)
        flat.item_pos = [layer.pos for layer in layers]
        out["layers"] = flat
        given = out.get("outputs")
        if isinstance(given, YSeq):  # a block instance stands for its output layer
            for name, pos in zip(given, given.item_pos):
                self.check_not_inside(name, pos)
            outputs = YSeq(
                (names.get(n, n) if isinstance(n, str) else n for n in given), pos=given.pos
            )
            outputs.item_pos = given.item_pos
            out["outputs"] = outputs
        elif "outputs" not in out and layers:  # the last layer's value, not the last line's
            outputs = YSeq([last], pos=seq.pos)
            outputs.item_pos = [seq.pos]
            outputs.synthesized = True
            out["outputs"] = outputs
            out.key_pos["outputs"] = out.value_pos["outputs"] = outputs.pos
        self.check_references(layers)  # once the outputs' references are noted too

    def input_name(self) -> str:
        """The input's name, or `input` where the name is invalid (validation reports that)."""
        inp = self.data.get("input")
        if (
            isinstance(inp, YMap)
            and is_name(inp.get("name"))
            and not keyword.iskeyword(inp["name"])
        ):
            return inp["name"]
        return "input"

    # -- values ------------------------------------------------------------------------------

    def value(self, value: Any, pos: Pos, scope: Mapping[str, Any]) -> Any:
        """Evaluate a `$name` / `${...}` value; plain values pass through."""
        text = expr.source_of(value)
        if text is None:
            return value
        try:
            return expr.evaluate(text, scope)
        except expr.ExprError as exc:
            if not exc.consequence:
                self.error("E210", str(exc), pos, exc.help)
            return _FAILED

    def substitute(self, node: Any, pos: Pos, scope: Mapping[str, Any]) -> Any:
        """`node` with every expression inside it evaluated, positions kept."""
        if isinstance(node, YMap):
            out = YMap(pos=node.pos)
            out.key_pos, out.value_pos = dict(node.key_pos), dict(node.value_pos)
            for key, item in node.items():
                out[key] = self.substitute(item, node.value_pos[key], scope)
            return out
        if isinstance(node, YSeq):
            out = YSeq(pos=node.pos)
            out.item_pos = list(node.item_pos)
            out.extend(self.substitute(item, p, scope) for item, p in zip(node, node.item_pos))
            return out
        return self.value(node, pos, scope)

    # -- layers ------------------------------------------------------------------------------

    def layers(
        self, seq: YSeq, scope: _Scope, default_input: str, top: bool = False
    ) -> tuple[list[YMap], dict[str, str], str]:
        """Expand a list of layers. Returns the flat layers, local -> full names, last output."""
        items = self.layer_items(seq)
        locals_ = self.local_names(items, top)
        out: list[YMap] = []
        prev = default_input
        seen: set[str] = set()
        present = 0  # layers kept so far: an unnamed layer's number, as nn.Sequential counts
        for item, local in zip(items, locals_):
            if top:
                self.top_item = item
            self.check_name(item, top)
            inputs = self.inputs(item, scope, prev)
            if self.when(item, scope) is False:  # the layer passes its input on
                prev = inputs[0] if inputs else prev
                if local is not None:
                    scope.names[local] = prev
                continue
            local = local if local is not None else str(present)
            present += 1
            if local in seen:
                pos = item.value_pos.get("name", item.pos)
                self.error("E401", f"duplicate layer name `{local}`", pos)
                continue
            seen.add(local)
            expanded, prev = self.layer(item, local, scope, inputs)
            out.extend(expanded)
            scope.names[local] = prev
        return out, scope.names, prev

    def layer_items(self, seq: YSeq) -> list[YMap]:
        for item, pos in zip(seq, seq.item_pos):
            if not isinstance(item, YMap):
                self.error("E204", "a layer must be a mapping such as {type: conv, ...}", pos)
        return [item for item in seq if isinstance(item, YMap)]

    def local_names(self, items: list[YMap], top: bool) -> list[str | None]:
        """Given names; at top level, a default (`conv1`) for each unnamed layer.

        Inside a block, unnamed layers are numbered later, like nn.Sequential's children.
        """
        from archc.validate import default_names

        given = [item.get("name") if isinstance(item.get("name"), str) else None for item in items]
        if not top:
            return given
        kinds = [t if isinstance(t := item.get("type"), str) else "layer" for item in items]
        return default_names(kinds, given)

    def check_name(self, item: YMap, top: bool) -> None:
        """A layer name must be a string; inside a block it is checked here (the validator
        sees only full dotted names)."""
        if "name" not in item:
            return
        name = item["name"]
        if not isinstance(name, str):
            self.error(
                "E204",
                f"`name` must be a plain name such as conv1. Received: name={name!r}",
                item.value_pos["name"],
            )
        elif not top and not is_name(name):
            self.error(
                "E204",
                f"`{name}` is not a valid layer name: use ASCII "
                "letters, digits and `_`, not starting with a digit",
                item.value_pos["name"],
            )

    def when(self, item: YMap, scope: _Scope) -> Any:
        """The layer's `when` condition: True, False, or _FAILED (already reported)."""
        when = self.value(
            item.get("when", True), item.value_pos.get("when", item.pos), scope.values
        )
        if when is not True and when is not False and when is not _FAILED:
            self.error(
                "E204",
                f"`when` must be true or false. Received: when={when!r}",
                item.value_pos["when"],
            )
        return when

    def layer(
        self, item: YMap, local: str, scope: _Scope, inputs: list[str]
    ) -> tuple[list[YMap], str]:
        """One layer or block instance: its flat layers and the full name of its output."""
        kind = item.get("type")
        if isinstance(kind, str) and kind in self.blocks:
            return self.instance(self.blocks[kind], item, local, scope, inputs)
        full = scope.prefix + local
        return [self.plain(item, full, inputs, scope)], full

    def inputs(self, item: YMap, scope: _Scope, prev: str) -> list[str]:
        raw = item.get("inputs")
        if raw is None:
            return [prev]
        raw = self.value(raw, item.value_pos["inputs"], scope.values)
        listed = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
        if listed is None or not all(isinstance(n, str) for n in listed):
            if raw is not _FAILED:
                self.error(
                    "E204",
                    f"`inputs` must be a layer name or a list of names. Received: inputs={raw!r}",
                    item.value_pos["inputs"],
                )
            return [prev]
        for k, n in enumerate(listed):
            pos = raw.item_pos[k] if isinstance(raw, YSeq) else item.value_pos["inputs"]
            self.check_not_inside(n, pos)
            if scope.prefix and n not in scope.names:  # a block is a module: it reads only
                self.error(  # what it is given, and what it computes before
                    "E402",
                    f"unknown input `{n}` in block `{scope.stack[-1]}`",
                    pos,
                    help=did_you_mean(n, list(scope.names))
                    or "a layer in a block reads the block's `inputs` and the layers before it",
                )
        return [scope.names.get(n, n) for n in listed]

    def grow(self, item: YMap) -> None:
        """Count one more layer or block copy; stop at once past the limit, reported at the
        top-level layer that grew too large."""
        self.count += 1
        if self.count > MAX_LAYERS:
            self.error(
                "E106",
                f"the spec expands to more than {MAX_LAYERS:,} layers",
                (self.top_item or item).pos,
                help="use fewer or shorter `repeat`s",
            )
            raise _Abort

    def check_not_inside(self, name: object, pos: Pos) -> None:
        """Note a reference, to refuse it later if it reaches inside a block instance."""
        if isinstance(name, str) and "." in name:
            self.dotted.append((name, pos))

    def check_references(self, layers: list[YMap]) -> None:
        """References and layer names written with dots must not reach inside an instance.

        An instance is one module that returns one value: a layer may read it only through
        its name, and no layer written outside the block may be placed inside it. Checked
        once every instance is known, so that the order of the layers does not matter.
        """
        paths = {i.path for i in self.instances if i is not None}

        def instance_of(name: str) -> str | None:
            parts = name.split(".")
            return next(
                (p for k in range(1, len(parts)) if (p := ".".join(parts[:k])) in paths), None
            )

        for name, pos in self.dotted:
            if instance_of(name) is not None:
                self.error(
                    "E402",
                    f"`{name}` reaches inside a block instance; refer to the instance by its "
                    "name, which stands for its output",
                    pos,
                )
        for layer in layers:
            name = layer["name"]
            inside = instance_of(name) if name in self.written_dotted else None
            if inside is not None:
                self.error(
                    "E401",
                    f"layer `{name}` is written outside block instance `{inside}` but "
                    "named inside it",
                    layer.value_pos["name"],
                    help="choose a name without the instance's prefix",
                )

    def plain(self, item: YMap, full: str, inputs: list[str], scope: _Scope) -> YMap:
        """A layer (not a block instance) with its full name, explicit inputs, values evaluated."""
        self.grow(item)
        if not scope.prefix and "." in full:
            self.written_dotted.add(full)
        out = YMap(pos=item.pos)
        out["name"] = full
        out.key_pos["name"] = item.key_pos.get("name", item.pos)
        out.value_pos["name"] = item.value_pos.get("name", item.pos)
        for key, value in item.items():
            if key not in ("name", "inputs", "when"):
                out[key] = self.substitute(value, item.value_pos[key], scope.values)
                out.key_pos[key], out.value_pos[key] = item.key_pos[key], item.value_pos[key]
        names = YSeq(inputs, pos=item.value_pos.get("inputs", item.pos))
        written = item.get("inputs")
        if isinstance(written, YSeq) and len(written) == len(inputs):
            names.item_pos = list(written.item_pos)  # each name where it is written
        else:
            names.item_pos = [names.pos] * len(inputs)
        names.synthesized = "inputs" not in item
        out["inputs"] = names
        out.key_pos["inputs"] = item.key_pos.get("inputs", item.pos)
        out.value_pos["inputs"] = names.pos
        return out

    # -- block instances ---------------------------------------------------------------------

    def instance(
        self, block: Block, item: YMap, local: str, scope: _Scope, inputs: list[str]
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
        scope: _Scope,
        inputs: list[str],
        at: Pos,
    ) -> tuple[list[YMap], str]:
        """One copy of a block at `path`: its flat layers and the full name of its output."""
        record = len(self.instances)
        self.instances.append(None)  # filled in below, once its output is known
        inner = _Scope(
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

    def first_args(self, block: Block, item: YMap, scope: _Scope) -> dict[str, Any]:
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

    def repeat(self, item: YMap, scope: _Scope) -> int | None:
        """The number of copies, or None when it is not a valid count (already reported)."""
        pos = item.value_pos.get("repeat", item.pos)
        repeat = self.value(item.get("repeat", 1), pos, scope.values)
        if type(repeat) is int and 1 <= repeat <= MAX_REPEAT:
            return repeat
        if repeat is not _FAILED:
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

    def args(self, block: Block, node: YMap, item: YMap, scope: _Scope) -> dict[str, Any]:
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
            if value is _FAILED:
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
