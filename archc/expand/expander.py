"""The expander: vars, expressions, layers, `when`, and default names and inputs.

Block instances are expanded by the methods of `instances.InstanceExpansion`.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping, Sequence
from typing import Any

from archc import expr
from archc.errors import Diagnostic, Pos, SpecError
from archc.expand.definitions import did_you_mean, is_name, parse_blocks
from archc.expand.instances import InstanceExpansion
from archc.expand.records import (
    FAILED,
    MAX_LAYERS,
    Abort,
    Expansion,
    Instance,
    Scope,
)
from archc.expr import Vars
from archc.load import Document, YMap, YSeq
from archc.overrides import apply_overrides


def expand(doc: Document, overrides: Sequence[str] = ()) -> Document:
    """Apply overrides and expand vars, expressions and blocks. Raises SpecError."""
    data = apply_overrides(doc.data, overrides)
    return _Expander(doc, data).run()


class _Expander(InstanceExpansion):
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
            except Abort:
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
        for name in list(raw):
            if problem := expr.bad_name(name):
                self.error("E206", f"var {problem}", raw.key_pos[name])
        values = Vars(raw)
        for name in raw:
            if name not in values.failed and not expr.bad_name(name):
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
        layers, names, last = self.layers(seq, Scope(self.vars, {}, ""), self.input_name(), True)
        if not layers and seq and not self.diagnostics:  # not because of another mistake
            self.error("E202", "`when` leaves out every layer: the network has none", seq.pos)
        flat = YSeq(layers, pos=seq.pos)
        flat.item_pos = [layer.pos for layer in layers]
        out["layers"] = flat
        given = out.get("outputs")
        if isinstance(given, YSeq):  # a block instance stands for its output layer
            for name, pos in zip(given, given.item_pos):
                self.note_reference(name, pos)
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
            return FAILED

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
        self, seq: YSeq, scope: Scope, default_input: str, top: bool = False
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

    def when(self, item: YMap, scope: Scope) -> Any:
        """The layer's `when` condition: True, False, or FAILED (already reported)."""
        when = self.value(
            item.get("when", True), item.value_pos.get("when", item.pos), scope.values
        )
        if when is not True and when is not False and when is not FAILED:
            self.error(
                "E204",
                f"`when` must be true or false. Received: when={when!r}",
                item.value_pos["when"],
            )
        return when

    def layer(
        self, item: YMap, local: str, scope: Scope, inputs: list[str]
    ) -> tuple[list[YMap], str]:
        """One layer or block instance: its flat layers and the full name of its output."""
        kind = item.get("type")
        if isinstance(kind, str) and kind in self.blocks:
            return self.instance(self.blocks[kind], item, local, scope, inputs)
        full = scope.prefix + local
        return [self.plain(item, full, inputs, scope)], full

    def inputs(self, item: YMap, scope: Scope, prev: str) -> list[str]:
        raw = item.get("inputs")
        if raw is None:
            return [prev]
        raw = self.value(raw, item.value_pos["inputs"], scope.values)
        listed = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
        if listed is None or not all(isinstance(n, str) for n in listed):
            if raw is not FAILED:
                self.error(
                    "E204",
                    f"`inputs` must be a layer name or a list of names. Received: inputs={raw!r}",
                    item.value_pos["inputs"],
                )
            return [prev]
        for k, n in enumerate(listed):
            pos = raw.item_pos[k] if isinstance(raw, YSeq) else item.value_pos["inputs"]
            self.note_reference(n, pos)
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
            raise Abort

    def note_reference(self, name: object, pos: Pos) -> None:
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

    def plain(self, item: YMap, full: str, inputs: list[str], scope: Scope) -> YMap:
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
