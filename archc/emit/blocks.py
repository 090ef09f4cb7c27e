"""Block definitions as parameterised `nn.Module` classes, written the way a person would.

A block such as ResNet's basic block becomes one class whose ``__init__`` takes the input
channels and the block's declared parameters, and whose layers are built from the spec's own
expressions (``nn.Conv2d(in_channels, filters, kernel_size=3, stride=stride, ...)``). Every
instance is then one call: ``Basic(64, 128, stride=2, project=True)``. Layers switched by
``when`` become ``... if project else None`` and are skipped in ``forward`` when absent.

Channel counts inside the class are derived symbolically (a conv has ``filters`` channels, a
concat the sum of its inputs') and checked against every instance's static shapes before the
class is used. A block that cannot be written this way (a `flatten` inside, an expression
choosing an activation, a nested `repeat`) falls back to the caller's concrete classes.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import partial

from archc import expr
from archc.analyse import Graph, Node
from archc.emit.codegen import Code, CodegenError, Namespace, camel_case, ident, lit, wrap_lines
from archc.emit.forward import INDENT, Statement, assign, attribute, forward_lines, sequential
from archc.emit.layers import (
    MODULES,
    Args,
    activation_module,
    activation_of,
    fresh_output,
    module_expr,
    overwrites,
    sequential_modules,
    step_expr,
    sums,
)
from archc.expand import Block, Expansion, Instance
from archc.load import YMap

_PY_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "list"}
# Fields that choose the forward computation or the module class: literal in a block.
_STRUCTURAL = ("type", "activation", "fn", "axis", "shape", "mode")


class Unsupported(Exception):
    """This block cannot become a parameterised class; use concrete classes instead."""


def _channels(kind: str, a: Args, ins: list[str]) -> str:
    """The channel count of a layer's output, as code over the class's parameters."""
    if kind in ("conv", "conv_transpose"):
        return a.need("filters")
    if kind == "dense":
        return a.need("units")
    if kind == "concat":
        if a.layer.axis != 0:
            return ins[0]
        return "(" + " + ".join(ins) + ")" if len(ins) > 1 else ins[0]
    if kind in ("flatten", "reshape"):
        raise Unsupported(f"`{kind}` changes channels in a way a class cannot state")
    return ins[0]


class _SymbolicArgs(Args):
    """Args whose values come from a block definition's text, expressions kept as code."""

    def __init__(self, node: Node, raw: YMap, in_channels: str, render: Callable) -> None:
        super().__init__(node)
        self.raw = raw
        self.in_channels = Code(in_channels)
        self.render = render

    def code(self, field: str) -> Code | None:
        if field not in self.raw:
            return None
        text = expr.source_of(self.raw[field])
        if text is None:
            value = self.raw[field]
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            return Code(lit(list(value) if isinstance(value, list) else value))
        return Code(self.render(text))


class BlockClasses:
    """Renders parameterised classes for the blocks of one graph, on demand."""

    def __init__(
        self, graph: Graph, expansion: Expansion, class_names: Namespace, classes: list[list[str]]
    ) -> None:
        self.graph = graph
        self.expansion = expansion
        self.class_names = class_names
        self.classes = classes  # shared with the source writer: definitions in order
        self.instances: dict[str, list[Instance]] = {}
        for inst in expansion.instances:
            if not inst.repeated:
                self.instances.setdefault(inst.block, []).append(inst)
        self.rendered: dict[str, str | None] = {}  # block -> class name, or None
        # Parameter names as generated code spells them, per block (a parameter called `nn`
        # or `in_channels` must not shadow a name the class itself uses).
        self.safe: dict[str, dict[str, str]] = {}
        self.by_path = {inst.path: inst for inst in expansion.instances}
        self.writers: dict[str, _ClassWriter] = {}

    def call(self, inst: Instance) -> str | None:
        """``Basic(64, 128, stride=2)`` for an instance, or None if its block has no class."""
        name = self.class_for(inst.block)
        if name is None:
            return None
        block = self.expansion.blocks[inst.block]
        args = dict(inst.args)
        parts = [lit(self.graph.shape_of(i)[0]) for i in inst.inputs]
        try:  # required parameters first, as the signature lists them, then changed defaults
            params = block.params.values()
            parts += [lit(args[p.name]) for p in params if p.required]
            for param in params:
                value = args[param.name]
                changed = type(value) is not type(param.default) or value != param.default
                if not param.required and changed:
                    parts.append(f"{self.safe[inst.block][param.name]}={lit(value)}")
        except CodegenError:
            return None
        return f"{name}({', '.join(parts)})"

    def class_for(self, block: str) -> str | None:
        if block not in self.rendered:
            self.rendered[block] = None
            try:
                writer = _ClassWriter(self, self.expansion.blocks[block])
                lines = writer.lines()
            except (Unsupported, CodegenError, expr.ExprError):
                return None
            self.writers[block] = writer
            name = self.class_names.name(camel_case(block))
            self.classes.append([f"class {name}(nn.Module):", *wrap_lines(lines)])
            self.rendered[block] = name
        return self.rendered[block]


class _ClassWriter:
    def __init__(self, owner: BlockClasses, block: Block) -> None:
        self.owner, self.block = owner, block
        self.graph = owner.graph
        self.instances = owner.instances.get(block.name, [])
        if not self.instances:
            raise Unsupported("no instances")
        values = [p.default for p in block.params.values() if not p.required]
        values += [v for inst in self.instances for _, v in inst.args]
        if any(isinstance(v, list) and len(v) == 1 for v in values):
            # `[3]` means 3 for every dimension: the concrete classes write it so
            raise Unsupported("a one-element list as a parameter")
        try:  # every call must be writable before the class is: no class without a use
            for value in values:
                lit(value)
        except CodegenError:
            raise Unsupported("a parameter value code cannot hold") from None
        # Constructor parameters live only in __init__, beside the imports and `self`.
        ns = Namespace(
            frozenset(
                {
                    "self",
                    "super",
                    "torch",
                    "nn",
                    "F",
                    "in_channels",
                    "min",
                    "max",
                    "abs",
                    "getattr",
                    "range",
                }
            )
        )
        if len(block.inputs) == 1:
            self.chan_params = ["in_channels"]
        else:
            self.chan_params = [ns.name(f"{ident(i)}_channels") for i in block.inputs]
        self.safe = {p: ns.name(ident(p)) for p in block.params}
        owner.safe[block.name] = self.safe

    # -- expressions -------------------------------------------------------------------------

    def render(self, text: str, bound: dict[str, ast.expr] | None = None) -> str:
        """An expression of the block's params as Python code (vars inlined as literals)."""
        tree = expr.parse(text)
        mapping = (
            bound
            if bound is not None
            else {p: ast.Name(s, ast.Load()) for p, s in self.safe.items()}
        )
        resolved_vars = self.owner.expansion.vars

        class Substitute(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.expr:
                if node.id in ("min", "max", "abs"):
                    return node
                if node.id in mapping:
                    return mapping[node.id]
                if node.id in resolved_vars:
                    return ast.parse(lit(resolved_vars[node.id]), mode="eval").body
                raise Unsupported(f"unknown name {node.id}")

            def visit_Constant(self, node: ast.Constant) -> ast.expr:
                if isinstance(node.value, str):
                    lit(node.value)  # only option words may appear as strings
                return node

        tree = Substitute().visit(tree)
        if not any(
            isinstance(n, ast.Name) and n.id not in ("min", "max", "abs") for n in ast.walk(tree)
        ):
            value = expr.evaluate(ast.unparse(tree), {})  # constant: fold it
            if isinstance(value, list) and len(value) == 1:
                value = value[0]  # one size for every dimension, as the spec means it
            return lit(value)
        return ast.unparse(tree)

    # -- the class ---------------------------------------------------------------------------

    def lines(self) -> list[str]:
        block = self.block
        sig = ["self", *(f"{c}: int" for c in self.chan_params)]
        for param in block.params.values():
            hint = _PY_TYPES.get(param.type)
            annotation = f": {hint}" if hint else ""
            if param.required:
                sig.append(f"{self.safe[param.name]}{annotation}")
        for param in block.params.values():
            if not param.required:
                hint = _PY_TYPES.get(param.type)
                annotation = f": {hint}" if hint else ""
                sig.append(f"{self.safe[param.name]}{annotation} = {lit(param.default)}")
        init = [
            f"{INDENT}def __init__({', '.join(sig)}) -> None:",
            f"{INDENT * 2}super().__init__()",
        ]
        statements, chan = self.members(init)
        self.check_channels(chan)
        output = self.alias.get(block.output, block.output) or self.last_local
        if output not in chan:
            raise Unsupported("the output is not a layer of the class")
        self.out_chan = chan[output]
        return [*init, "", *forward_lines(list(block.inputs), statements, [output])]

    def members(self, init: list[str]) -> tuple[list[Statement], dict[str, str]]:
        """Append each layer's module to `init`; return the forward statements and channels.

        Channels map each local value to its channel count, as code over the parameters.
        """
        block = self.block
        chan = dict(zip(block.inputs, self.chan_params))
        alias: dict[str, str] = {}  # layers dropped by a literal `when: false` -> their input
        statements = []
        previous = block.inputs[0]
        present, conditional = 0, False
        for raw in block.layers:
            if not isinstance(raw, YMap):
                raise Unsupported("malformed layer")
            when = self.when_code(raw)
            local = raw.get("name") if isinstance(raw.get("name"), str) else None
            if local is None:  # numbered among the layers kept, which must not vary
                if conditional or when is not None:
                    raise Unsupported("an unnamed layer whose number varies")
                local = str(present)
            inputs = self.inputs_of(raw, previous, alias)
            if when is False:
                alias[local] = previous = inputs[0]
                continue
            if local in chan:
                raise Unsupported(f"two layers named `{local}`")
            present += 1
            conditional = conditional or when is not None
            statements.append(self.member(raw, local, inputs, when, chan, init))
            previous = local
        self.last_local = previous
        self.chan = chan
        self.alias = alias
        return statements, chan

    def member(
        self,
        raw: YMap,
        local: str,
        inputs: list[str],
        when: str | None,
        chan: dict[str, str],
        init: list[str],
    ) -> Statement:
        """One layer of the block: its line in `init`, its channels, its forward statement."""
        for key in _STRUCTURAL:
            if expr.source_of(raw.get(key)) is not None:
                raise Unsupported(f"`{key}` is an expression")
        ins = [chan[i] for i in inputs]
        render = None
        if raw.get("type") in self.owner.expansion.blocks:
            ctor, out_chan = self.nested(raw, self.at(local), ins)
        else:
            render = self.template(self.at(local))
            args = _SymbolicArgs(render, raw, ins[0], self.render)
            out_chan = _channels(render.kind, args, ins)
            ctor = module_expr(render, args) if render.kind in MODULES else None
        module = attribute(local)
        comment = f"{out_chan} channels"
        test = None
        if when is not None:  # an absent layer passes its input on
            test = f"{module} is not None" if ctor is not None else self.flag(local, when, init)
            out_chan = _either(when, out_chan, ins[0])
        if ctor is not None:
            init.append(assign(local, ctor + (f" if {when} else None" if when else "")))
        chan[local] = out_chan
        unconditional = render is not None and test is None
        return Statement(
            local, tuple(inputs), _step(render, module, test), comment,
            fresh=unconditional and fresh_output(render),
            sums=unconditional and sums(render),
            overwrite=partial(step_expr, render, module=module, overwrite=True)
            if unconditional and overwrites(render) else None,
        )  # fmt: skip

    def flag(self, local: str, when: str, init: list[str]) -> str:
        """A layer with no module keeps its condition in a flag: ``self.use_relu``."""
        flag = f"use_{local}"
        taken = any(flag == r.get("name") for r in self.block.layers if isinstance(r, YMap))
        if taken or flag in self.block.inputs:
            raise Unsupported("flag name taken")
        init.append(f"{INDENT * 2}self.{ident(flag)} = {when}")
        return f"self.{ident(flag)}"

    def inputs_of(self, raw: YMap, previous: str, alias: dict[str, str]) -> list[str]:
        given = raw.get("inputs")
        if given is None:
            names = [previous]
        elif isinstance(given, str) and expr.source_of(given) is None:
            names = [given]
        elif isinstance(given, list) and all(isinstance(n, str) for n in given):
            names = list(given)
        else:
            raise Unsupported("inputs given by an expression")
        return [alias.get(n, n) for n in names]

    def when_code(self, raw: YMap) -> str | bool | None:
        if "when" not in raw:
            return None
        value = raw["when"]
        if isinstance(value, bool):
            return None if value else False
        text = expr.source_of(value)
        if text is None:
            raise Unsupported("odd when")
        return self.render(text)

    # A locator finds one element of this block inside an instance: its full name there, or
    # None where the instance leaves it out. Unnamed layers are numbered among the layers an
    # instance keeps, so the same layer can have different numbers in different instances.

    def at(self, local: str) -> Callable[[Instance], str | None]:
        return lambda inst: f"{inst.path}.{local}"

    def child(self, parent: Callable, inner: Block, index: int) -> Callable:
        """Locator of layer `index` of `inner`, the block instantiated at `parent`."""

        def locate(inst: Instance) -> str | None:
            path = parent(inst)
            nested = self.owner.by_path.get(path) if path else None
            if nested is None:
                return None
            kept = [self.kept(raw, nested) for raw in inner.layers]
            return f"{path}.{sum(kept[:index])}" if kept[index] else None

        return locate

    def kept(self, raw: object, nested: Instance) -> bool:
        """Whether a layer of a nested block is present in instance `nested`."""
        if not isinstance(raw, YMap) or "when" not in raw:
            return True
        value = raw["when"]
        text = expr.source_of(value)
        if text is None:
            return bool(value)
        scope = {**self.owner.expansion.vars, **dict(nested.args)}
        return expr.evaluate(text, scope) is True

    def template(self, locate: Callable[[Instance], str | None]) -> Node:
        """The layer in some instance, for its rank and structural choices."""
        nodes = []
        for inst in self.instances:
            path = locate(inst)
            if path is not None and path in self.graph.names:
                nodes.append(self.graph.node(path))
        if not nodes:
            raise Unsupported("a layer appears in no instance")
        if len({len(n.input_shapes[0]) for n in nodes}) > 1:
            raise Unsupported("the block is used on inputs of different ranks")
        if len({_structure(n) for n in nodes}) > 1:  # e.g. `kernel: $k` global in one of them
            raise Unsupported("the instances build this layer with different modules")
        return nodes[0]

    def nested(
        self, raw: YMap, locate: Callable, ins: list[str], bound: dict[str, ast.expr] | None = None
    ) -> tuple[str, str]:
        """Constructor and output channels of a block instance inside this block."""
        if "repeat" in raw or "first" in raw:
            raise Unsupported("nested repeat")
        inner = self.owner.expansion.blocks[raw["type"]]
        params: dict[str, ast.expr] = {}
        for name, param in inner.params.items():
            if name in raw:
                text = expr.source_of(raw[name])
                code = self.render(text, bound) if text is not None else lit(raw[name])
            elif not param.required:
                code = lit(param.default)
            else:
                raise Unsupported("missing parameter")
            params[name] = ast.parse(code, mode="eval").body
        sequential = self.as_sequential(inner, locate, ins[0], params)
        if sequential is not None:
            return sequential
        name = self.owner.class_for(inner.name)
        writer = self.owner.writers.get(inner.name)
        if name is None or writer is None or bound is not None:
            raise Unsupported("nested block has no class")
        # The inner class's output channels, restated over this class's names.
        outer = dict(zip(writer.chan_params, (ast.parse(c, mode="eval").body for c in ins)))
        outer.update((writer.safe[p], e) for p, e in params.items())
        out_chan = _substitute(writer.out_chan, outer)
        args = [*ins]  # required parameters first, as the signature lists them
        args += [ast.unparse(params[p]) for p, param in inner.params.items() if param.required]
        args += [
            f"{writer.safe[p]}={ast.unparse(params[p])}"
            for p, param in inner.params.items()
            if not param.required and p in raw
        ]
        return f"{name}({', '.join(args)})", out_chan

    def as_sequential(
        self, inner: Block, locate: Callable, in_chan: str, bound: dict
    ) -> tuple[str, str] | None:
        """`nn.Sequential(...)` for a nested block of unnamed layers in a chain, or None.

        A layer with `when` becomes ``*([module] if cond else [])``, which numbers the
        children as the expand stage does.
        """
        if len(inner.inputs) != 1 or inner.output is not None:
            return None
        modules, chan = [], in_chan
        last = len(inner.layers) - 1
        after_fresh = False  # the child before made a fresh value (see `fresh_output`)
        try:
            for index, raw in enumerate(inner.layers):
                if not isinstance(raw, YMap) or {"name", "inputs"} & set(raw):
                    return None
                if raw.get("when", True) is False:
                    continue
                text = expr.source_of(raw.get("when"))
                cond = self.render(text, bound) if text is not None else None
                child = self.child(locate, inner, index)
                parts, new_chan, fresh = self.children(
                    raw, child, chan, bound, index == last, after_fresh and cond is None
                )
                after_fresh = fresh and cond is None
                if cond is None:
                    modules += parts
                    chan = new_chan
                else:
                    modules.append(f"*([{', '.join(parts)}] if {cond} else [])")
                    chan = _either(cond, new_chan, chan)
        except Unsupported:
            return None
        return sequential(modules), chan

    def children(
        self, raw: YMap, locate: Callable, chan: str, bound: dict, last: bool, after_fresh: bool
    ) -> tuple[list[str], str, bool]:
        """The `nn.Sequential` children for one layer, its output channels, and whether its
        output is fresh (`fresh_output`). `after_fresh`: whether its input is."""
        if raw.get("type") in self.owner.expansion.blocks:
            ctor, new_chan = self.nested(raw, locate, [chan], bound)
            return [ctor], new_chan, False
        node = self.template(locate)
        args = _SymbolicArgs(node, raw, chan, lambda t: self.render(t, bound))
        activation = activation_of(node)
        if activation != "none" and not last:  # it would shift the numbers of later children
            raise Unsupported("an activation module inside a Sequential")
        if node.kind in MODULES:
            parts = [module_expr(node, args)]
            if activation != "none":
                parts.append(activation_module(node))
        else:  # parameter-free modules (activation, flatten, identity) are literal
            parts = sequential_modules(node, after_fresh)
            if parts is None:
                raise Unsupported(f"no Sequential child for `{node.kind}`")
        return parts, _channels(node.kind, args, [chan]), fresh_output(node)

    def check_channels(self, chan: dict[str, str]) -> None:
        """Every instance's static channel counts must equal the class's channel expressions."""
        for inst in self.instances:
            scope = {self.safe[k]: v for k, v in inst.args}
            scope.update(
                (c, self.graph.shape_of(i)[0]) for c, i in zip(self.chan_params, inst.inputs)
            )
            for local, code in chan.items():
                full = f"{inst.path}.{local}"
                if full in self.owner.by_path:  # a nested instance: check its output
                    full = self.owner.by_path[full].output
                try:
                    node = self.graph.node(full)
                except KeyError:
                    continue  # an input, or a layer this instance leaves out
                if expr.evaluate(code, scope) != node.shape[0]:
                    raise Unsupported(f"channels of {full} differ")


def _step(node: Node | None, module: str, test: str | None) -> Callable[[list[str]], str]:
    """A forward step; with `test`, the layer may be absent and then passes its input on."""

    def render(args: list[str]) -> str:
        if node is not None:
            call = step_expr(node, args, module)
        else:
            call = f"{module}({', '.join(args)})"
        return f"{call} if {test} else {args[0]}" if test else call

    return render


def _substitute(code: str, mapping: dict[str, ast.expr]) -> str:
    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return mapping.get(node.id, node)

    return ast.unparse(Substitute().visit(ast.parse(code, mode="eval").body))


def _structure(node: Node) -> tuple[str, str]:
    """What a class writes literally for a layer: its module's class and its forward step."""
    module = module_expr(node).split("(", 1)[0] if node.kind in MODULES else ""
    return module, step_expr(node, ["x"] * len(node.inputs), "m")


def _either(cond: str, present: str, absent: str) -> str:
    """Channels of a layer that may be left out: ``(a if cond else b)``, or `a` if they agree."""
    return present if present == absent else f"({present} if {cond} else {absent})"
