"""Stage 2, expand: positioned spec data -> the flat spec the compiler really sees.

In order: ``--set`` overrides are applied to the data; ``vars`` are resolved (they may refer to
each other; a cycle is an error); every ``$name`` / ``${expression}`` value is evaluated; block
instances (``type: <block>``, with ``repeat`` and ``first`` overrides) are replaced by their
layers under hierarchical names (``layer2.0.conv1``); layers switched off with ``when`` pass
their input through; and every layer gets an explicit name and explicit inputs.

Positions survive expansion: a layer that came from a block definition points at that
definition's line. The instances are recorded so that emitters can rebuild the hierarchy.
"""

from __future__ import annotations

import difflib
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archc import expr
from archc.errors import Diagnostic, Pos, SpecError
from archc.expr import Chain, Vars
from archc.load import Document, YMap, YSeq
from archc.overrides import apply_overrides

# Keys of a block instance that are not block parameters.
INSTANCE_KEYS = ("name", "type", "inputs", "when", "repeat", "first")
BLOCK_KEYS = ("params", "inputs", "layers", "output", "description")
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list,),
    "any": (object,),
}  # fmt: skip
MAX_REPEAT = 1_000
MAX_BLOCK_DEPTH = 16
MAX_LAYERS = 20_000  # layers and block copies after expansion


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


@dataclass(frozen=True)
class Instance:
    """One block instance in the expanded spec (`repeated` marks the container of copies)."""

    path: str  # full dotted name, e.g. "layer2" or "layer2.0"
    block: str
    args: tuple[tuple[str, Any], ...]
    inputs: tuple[str, ...]  # full names of the values it reads, in the block's input order
    output: str  # full name of the layer whose value it returns
    repeated: bool = False


@dataclass(frozen=True)
class Expansion:
    """What the expand stage adds to a document: the block definitions and their instances."""

    blocks: dict[str, Block] = field(default_factory=dict)
    instances: tuple[Instance, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)  # resolved values


def expand(doc: Document, overrides: Sequence[str] = ()) -> Document:
    """Apply overrides and expand vars, expressions and blocks. Raises SpecError."""
    data = apply_overrides(doc.data, overrides)
    return _Expander(doc, data).run()


# -- expansion -------------------------------------------------------------------------------


@dataclass
class _Scope:
    values: Mapping[str, Any]  # names usable in expressions
    names: dict[str, str]  # local layer name -> full name of its output
    prefix: str  # "" at top level, "layer2.0." inside an instance
    stack: tuple[str, ...] = ()  # enclosing block names, for recursion checks


class _Expander:
    def __init__(self, doc: Document, data: YMap) -> None:
        self.doc, self.data = doc, data
        self.diagnostics: list[Diagnostic] = []
        self.instances: list[Instance] = []
        self.count = 0

    def error(
        self, code: str, message: str, pos: Pos, help: str | None = None, layer: str | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.doc.path, pos, layer, help=help))

    def run(self) -> Document:
        data = self.data
        raw_vars = data.get("vars", YMap())
        if not isinstance(raw_vars, YMap):
            self.error(
                "E204", "`vars` must be a mapping of names to values", data.value_pos["vars"]
            )
            raw_vars = YMap()
        self.vars = Vars(raw_vars)
        for name in raw_vars:  # report every bad var once, where it is defined
            if name not in self.vars.failed:
                try:
                    self.vars[name]
                except expr.ExprError as exc:
                    self.error("E210", str(exc), raw_vars.value_pos[name], exc.help)
        self.blocks = self.parse_blocks(data.get("blocks"))
        out = YMap(pos=data.pos)
        for key, value in data.items():
            if key in ("vars", "blocks"):
                continue
            out[key] = value
            out.key_pos[key], out.value_pos[key] = data.key_pos[key], data.value_pos[key]
        for key in ("input", "outputs", "name", "description"):
            if key in out and isinstance(out[key], (str, YSeq, YMap)):
                out[key] = self.substitute(out[key], out.value_pos[key], self.vars)
        if key_ok(data, "layers", YSeq):
            scope = _Scope(self.vars, {}, "")
            try:
                layers, names, last = self.layers(
                    data["layers"], scope, self.input_name(), top=True
                )
            except _Abort:
                raise SpecError([*self.doc.problems, *self.diagnostics], self.doc.text) from None
            flat = YSeq(pos=data["layers"].pos)
            for layer in layers:
                flat.append(layer)
                flat.item_pos.append(layer.pos)
            out["layers"] = flat
            if isinstance(out.get("outputs"), YSeq):  # block instances name their output layer
                for n, pos in zip(out["outputs"], out["outputs"].item_pos):
                    self.check_not_inside(n, pos)
                outputs = YSeq(
                    (names.get(n, n) if isinstance(n, str) else n for n in out["outputs"]),
                    pos=out["outputs"].pos,
                )
                outputs.item_pos = out["outputs"].item_pos
                out["outputs"] = outputs
            elif "outputs" not in out and layers:  # the last layer's value, not the last line's
                outputs = YSeq([last], pos=data["layers"].pos)
                outputs.item_pos = [data["layers"].pos]
                outputs.synthesized = True
                out["outputs"] = outputs
                out.key_pos["outputs"] = out.value_pos["outputs"] = outputs.pos
        if self.diagnostics:  # with the loader's findings: both are reported together
            raise SpecError([*self.doc.problems, *self.diagnostics], self.doc.text)
        expansion = Expansion(
            self.blocks, tuple(self.instances), {name: self.vars[name] for name in self.vars.raw}
        )
        return Document(self.doc.path, self.doc.text, out, self.doc.problems, expansion)

    def input_name(self) -> str:
        """The input's name, or `input` where the name is invalid (validation reports that)."""
        inp = self.data.get("input")
        if (
            isinstance(inp, YMap)
            and _is_name(inp.get("name"))
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

    # -- blocks ------------------------------------------------------------------------------

    def parse_blocks(self, raw: Any) -> dict[str, Block]:
        if raw is None:
            return {}
        if not isinstance(raw, YMap):
            self.error(
                "E204",
                "`blocks` must be a mapping of block names to definitions",
                self.data.value_pos["blocks"],
            )
            return {}
        blocks = {}
        from archc.layers import Layer

        for name, node in raw.items():
            pos = raw.key_pos[name]
            if not expr.REFERENCE.match("$" + name):
                self.error("E206", f"`{name}` is not a valid block name", pos)
                continue
            if name in Layer.registry:
                self.error(
                    "E206",
                    f"block `{name}` has the name of a layer type",
                    pos,
                    help="rename the block",
                )
                continue
            if not isinstance(node, YMap) or not key_ok(node, "layers", YSeq):
                self.error(
                    "E202", f"block `{name}` needs `layers`, a list of layers", raw.value_pos[name]
                )
                continue
            for key in node:
                if key not in BLOCK_KEYS:
                    self.error(
                        "E201",
                        f"unknown key `{key}` in block `{name}`",
                        node.key_pos[key],
                        help=_did_you_mean(key, BLOCK_KEYS),
                    )
            inputs = node.get("inputs", "input")
            inputs = [inputs] if isinstance(inputs, str) else inputs
            if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
                self.error(
                    "E204",
                    "block `inputs` must be a name or a list of names",
                    node.value_pos["inputs"],
                )
                inputs = ["input"]
            output = node.get("output")
            blocks[name] = Block(
                name,
                self.parse_params(node),
                tuple(inputs),
                node["layers"],
                output if isinstance(output, str) else None,
                node,
            )
        return blocks

    def parse_params(self, node: YMap) -> dict[str, Param]:
        raw = node.get("params", YMap())
        if not isinstance(raw, YMap):
            self.error(
                "E204",
                "`params` must map parameter names to a type or a default",
                node.value_pos["params"],
            )
            return {}
        params = {}
        for name, decl in raw.items():
            pos = raw.key_pos[name]
            if name in INSTANCE_KEYS:
                self.error("E206", f"`{name}` cannot name a block parameter", pos)
                continue
            if isinstance(decl, YMap):
                kind = decl.get("type", "any")
                required = "default" not in decl
                default = decl.get("default")
            elif isinstance(decl, str) and decl in PARAM_TYPES:
                kind, required, default = decl, True, None
            else:
                kind, required, default = _type_of(decl), False, decl
            if kind not in PARAM_TYPES:
                self.error(
                    "E204",
                    f"unknown parameter type `{kind}`",
                    raw.value_pos[name],
                    help="types are: " + ", ".join(PARAM_TYPES),
                )
                continue
            params[name] = Param(name, kind, default, required, pos)
        return params

    # -- layers ------------------------------------------------------------------------------

    def layers(
        self, seq: YSeq, scope: _Scope, default_input: str, top: bool = False
    ) -> tuple[list[YMap], dict[str, str], str]:
        """Expand a list of layers. Returns the flat layers, local -> full names, last output."""
        from archc.validate import default_names

        items = [(i, item) for i, item in enumerate(seq) if isinstance(item, YMap)]
        for i, item in enumerate(seq):
            if not isinstance(item, YMap):
                self.error(
                    "E204", "a layer must be a mapping such as {type: conv, ...}", seq.item_pos[i]
                )
        given = [
            item.get("name") if isinstance(item.get("name"), str) else None for _, item in items
        ]
        if top:
            kinds = [t if isinstance(t := item.get("type"), str) else "layer" for _, item in items]
            local_names = default_names(kinds, given)
        else:  # inside a block, unnamed layers are numbered later, like nn.Sequential children
            local_names = given

        out: list[YMap] = []
        names = scope.names
        prev = default_input
        seen: set[str] = set()
        present = 0  # layers kept so far: an unnamed layer's number, as nn.Sequential counts
        for (_, item), local in zip(items, local_names):
            if "name" in item and not isinstance(item["name"], str):
                self.error(
                    "E204",
                    f"`name` must be a plain name such as conv1. Received: name={item['name']!r}",
                    item.value_pos["name"],
                )
            elif "name" in item and not top and not _is_name(item["name"]):
                self.error(
                    "E204",
                    f"`{item['name']}` is not a valid layer name: use ASCII "
                    "letters, digits and `_`, not starting with a digit",
                    item.value_pos["name"],
                )
            inputs = self.inputs(item, scope, prev)
            when = self.value(
                item.get("when", True), item.value_pos.get("when", item.pos), scope.values
            )
            if when is not True and when is not False and when is not _FAILED:
                self.error(
                    "E204",
                    f"`when` must be true or false. Received: when={when!r}",
                    item.value_pos["when"],
                )
            if when is False:
                if local is not None:
                    names[local] = inputs[0] if inputs else prev
                prev = inputs[0] if inputs else prev
                continue
            local = local if local is not None else str(present)
            present += 1
            if local in seen:
                self.error(
                    "E401", f"duplicate layer name `{local}`", item.value_pos.get("name", item.pos)
                )
                continue
            seen.add(local)
            kind = item.get("type")
            if isinstance(kind, str) and kind in self.blocks:
                layers, last = self.instance(self.blocks[kind], item, local, scope, inputs)
                out.extend(layers)
            else:
                out.append(self.plain(item, scope.prefix + local, inputs, scope))
                last = scope.prefix + local
            names[local] = last
            prev = last
        return out, names, prev

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
        for n in listed:
            self.check_not_inside(n, item.value_pos["inputs"])
        return [scope.names.get(n, n) for n in listed]

    def grow(self, item: YMap) -> None:
        """Count one more layer or block copy; stop at once past the limit."""
        self.count += 1
        if self.count > MAX_LAYERS:
            self.error(
                "E106",
                f"the spec expands to more than {MAX_LAYERS:,} layers",
                item.pos,
                help="use fewer or shorter `repeat`s",
            )
            raise _Abort

    def check_not_inside(self, name: object, pos: Pos) -> None:
        """A reference to a layer inside a block instance (other than through its name)."""
        if isinstance(name, str) and any(
            i is not None and name.startswith(i.path + ".") for i in self.instances
        ):
            self.error(
                "E402",
                f"`{name}` reaches inside a block instance; refer to the instance by its name, "
                "which stands for its output",
                pos,
            )

    def plain(self, item: YMap, full: str, inputs: list[str], scope: _Scope) -> YMap:
        self.grow(item)
        out = YMap(pos=item.pos)
        out["name"] = full
        out.key_pos["name"] = item.key_pos.get("name", item.pos)
        out.value_pos["name"] = item.value_pos.get("name", item.pos)
        for key, value in item.items():
            if key in ("name", "inputs", "when"):
                continue
            out[key] = self.substitute(value, item.value_pos[key], scope.values)
            out.key_pos[key], out.value_pos[key] = item.key_pos[key], item.value_pos[key]
        names = YSeq(inputs, pos=item.value_pos.get("inputs", item.pos))
        names.item_pos = [names.pos] * len(inputs)
        names.synthesized = "inputs" not in item
        out["inputs"] = names
        out.key_pos["inputs"] = item.key_pos.get("inputs", item.pos)
        out.value_pos["inputs"] = names.pos
        return out

    def instance(
        self, block: Block, item: YMap, local: str, scope: _Scope, inputs: list[str]
    ) -> tuple[list[YMap], str]:
        """Expand one block instance (all its `repeat` copies); returns layers, output name."""
        if block.name in scope.stack or len(scope.stack) >= MAX_BLOCK_DEPTH:
            chain = " -> ".join([*scope.stack, block.name])
            self.error(
                "E207",
                f"block `{block.name}` contains itself: {chain}",
                item.pos,
                help="a block cannot instantiate itself, directly or through another",
            )
            return [], inputs[0]
        args = self.args(block, item, item, scope)
        first = item.get("first")
        first_args = self.args(block, first, item, scope) if isinstance(first, YMap) else {}
        if first is not None and not isinstance(first, YMap):
            self.error(
                "E204",
                "`first` must map parameters to the first copy's values",
                item.value_pos["first"],
            )
        repeat = self.value(
            item.get("repeat", 1), item.value_pos.get("repeat", item.pos), scope.values
        )
        if type(repeat) is not int or not 1 <= repeat <= MAX_REPEAT:
            if repeat is not _FAILED:
                self.error(
                    "E204",
                    f"`repeat` must be an integer from 1 to {MAX_REPEAT}. "
                    f"Received: repeat={repeat!r}",
                    item.value_pos["repeat"],
                )
            return [], inputs[0]
        container = len(self.instances)
        layers: list[YMap] = []
        current = inputs
        for copy in range(repeat):
            self.grow(item)
            values = {**args, **(first_args if copy == 0 else {})}
            params = self.params(block, values, item)
            if params is None:
                return layers, current[0]
            if len(current) != len(block.inputs):
                self.error(
                    "E403",
                    f"block `{block.name}` takes {len(block.inputs)} input(s) "
                    f"({', '.join(block.inputs)}). Received: {len(current)}",
                    item.value_pos.get("inputs", item.pos),
                )
                return layers, current[0]
            path = scope.prefix + local + (f".{copy}" if repeat > 1 else "")
            record = len(self.instances)
            self.instances.append(None)  # filled in below, once its output is known
            inner = _Scope(
                Chain(params, self.vars),
                dict(zip(block.inputs, current)),
                path + ".",
                (*scope.stack, block.name),
            )
            expanded, names, last = self.layers(block.layers, inner, current[0])
            if block.output is not None:
                if block.output not in names:
                    self.error(
                        "E402",
                        f"block `{block.name}` has no layer `{block.output}` for its output",
                        block.node.value_pos["output"],
                    )
                else:
                    last = names[block.output]
            layers.extend(expanded)
            self.instances[record] = Instance(
                path, block.name, tuple(params.items()), tuple(current), last
            )
            current = [last]
        if repeat > 1:
            self.instances.insert(
                container,
                Instance(
                    scope.prefix + local, block.name, (), tuple(inputs), current[0], repeated=True
                ),
            )
        return layers, current[0]

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
                    help=_did_you_mean(key, options)
                    or "its parameters are: " + (", ".join(block.params) or "none"),
                )
                continue
            args[key] = self.value(value, node.value_pos[key], scope.values)
            if isinstance(args[key], (YMap, YSeq)):
                args[key] = self.substitute(args[key], node.value_pos[key], scope.values)
        return args

    def params(self, block: Block, args: dict[str, Any], item: YMap) -> dict[str, Any] | None:
        params = {}
        ok = True
        misspelt = [k for k in item if k not in block.params and k not in INSTANCE_KEYS]
        for name, param in block.params.items():
            if name in args:
                value = args[name]
            elif param.required:
                if not difflib.get_close_matches(name, misspelt, n=1, cutoff=0.6):
                    self.error(
                        "E202", f"block `{block.name}` needs the parameter `{name}`", item.pos
                    )
                ok = False
                continue
            else:
                value = param.default
            if value is _FAILED:
                ok = False
                continue
            allowed = PARAM_TYPES[param.type]
            if not isinstance(value, allowed) or (
                param.type in ("int", "float") and isinstance(value, bool)
            ):
                pos = item.value_pos.get(name, item.pos)
                self.error(
                    "E204",
                    f"parameter `{name}` of block `{block.name}` must be "
                    f"{param.type}. Received: {name}={value!r}",
                    pos,
                )
                ok = False
            params[name] = value
        return params if ok else None


class _Abort(Exception):
    """Expansion stopped at a limit; the diagnostic is already recorded."""


class _Failed:
    """Marks a value whose evaluation already produced a diagnostic."""

    def __repr__(self) -> str:
        return "<failed>"


_FAILED = _Failed()


def key_ok(node: YMap, key: str, kind: type) -> bool:
    return isinstance(node.get(key), kind)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and expr.REFERENCE.match("$" + value) is not None


def _type_of(value: Any) -> str:
    for name in ("bool", "int", "float", "str", "list"):
        if isinstance(value, PARAM_TYPES[name]):
            return name
    return "any"


def _did_you_mean(word: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
