"""Emit a standalone, readable PyTorch module (Python source) from an analysed graph.

The graph's dotted layer names and the expand stage's block instances give a tree of scopes:
the network, each block instance, each repeated stack. Every scope becomes what a person would
write for it: a block instance an `nn.Module` class of its own (instances with the same
structure share one class), a repeated stack an `nn.Sequential` of instances, a block of unnamed
layers in a chain an `nn.Sequential` of modules. State dict keys therefore follow the layer
names (``layer2.0.conv1.weight``), as in torchvision.

Source is built as lists of lines and joined once; the same graph always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from archc.analyse import Graph, Node
from archc.emit.blocks import BlockClasses
from archc.emit.codegen import (
    CodegenError,
    Namespace,
    camel_case,
    comment_text,
    ident,
    shape_text,
    wrap_lines,
)
from archc.emit.forward import INDENT, Statement, assign, attribute, forward_lines, sequential
from archc.emit.layers import (
    fresh_output,
    has_module,
    module_expr,
    overwrites,
    sequential_modules,
    step_expr,
    sums,
)
from archc.expand import Instance
from archc.layers.base import Shape


@dataclass
class Item:
    """A member of a scope: one layer, or a nested scope (a block instance or a stack)."""

    name: str  # attribute name within the scope: "conv1", "layer1", "0"
    output: str  # full name of the value it produces
    inputs: tuple[str, ...]  # full names of the values it reads
    shape: Shape
    node: Node | None = None
    scope: Scope | None = None


@dataclass
class Scope:
    path: str
    block: str | None  # block name; None for the network itself
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    repeated: bool = False
    items: list[Item] = field(default_factory=list)


def scope_tree(graph: Graph) -> Scope:
    """The network as nested scopes, following the dotted names of its layers.

    Scopes come from the expand stage's block instances; dotted names written directly in a
    spec (as `archc expand` prints them) give scopes whose inputs and output are inferred.
    """
    expansion = graph.spec.source.expansion if graph.spec.source else None
    instances = {i.path: i for i in expansion.instances} if expansion else {}
    root = Scope("", None, (graph.input_name,), graph.outputs)
    scopes = {"": root}
    readers: dict[str, set[str]] = {}  # value -> layers that read it
    for node in graph.nodes:
        for name in node.inputs:
            readers.setdefault(name, set()).add(node.name)
    for name in graph.outputs:
        readers.setdefault(name, set()).add("")  # read by the network's caller
    for node in graph.nodes:
        parts = node.name.split(".")
        parent = root
        for depth in range(1, len(parts)):
            path = ".".join(parts[:depth])
            if path not in scopes:
                inst = instances.get(path) or _infer_instance(graph, path, readers)
                inputs = inst.inputs
                scopes[path] = Scope(path, inst.block, inputs, (inst.output,), inst.repeated)
                parent.items.append(
                    Item(
                        parts[depth - 1],
                        inst.output,
                        inputs,
                        graph.shape_of(inst.output),
                        scope=scopes[path],
                    )
                )
            parent = scopes[path]
        parent.items.append(Item(parts[-1], node.name, node.inputs, node.shape, node=node))
    return root


def _infer_instance(graph: Graph, path: str, readers: dict[str, set[str]]) -> Instance:
    """Inputs and output of the layers under `path`, for names written with dots by hand."""
    inside = [n for n in graph.nodes if n.name.startswith(path + ".")]
    names = {n.name for n in inside}
    inputs = tuple(dict.fromkeys(i for n in inside for i in n.inputs if i not in names))
    escaping = [n.name for n in inside if readers.get(n.name, set()) - names]
    if len(escaping) != 1 or len(inputs) < 1:
        raise CodegenError(
            f"the layers under `{path}` cannot form one module: other layers read "
            f"{len(escaping)} of their values (a module returns exactly one)"
        )
    block = next((p for p in reversed(path.split(".")) if not p.isdigit()), "block")
    repeated = len(inputs) == 1 and _is_chain_of_copies(path, inside, inputs[0], readers)
    return Instance(path, block, (), inputs, escaping[0], repeated=repeated)


def _is_chain_of_copies(
    path: str, inside: list[Node], source: str, readers: dict[str, set[str]]
) -> bool:
    """Numbered copies as `repeat` makes them: every child a scope, each reading only the
    value of the one before (the first, the scope's input)."""
    children: dict[str, list[Node]] = {}
    for node in inside:
        child, _, rest = node.name[len(path) + 1 :].partition(".")
        if not child.isdigit() or not rest:
            return False
        children.setdefault(child, []).append(node)
    previous = source
    for child in sorted(children, key=int):
        members = {n.name for n in children[child]}
        read = {i for n in children[child] for i in n.inputs if i not in members}
        leaving = [n.name for n in children[child] if readers.get(n.name, set()) - members]
        if read != {previous} or len(leaving) != 1:
            return False
        previous = leaving[0]
    return True


def to_source(graph: Graph) -> str:
    """The complete, standalone Python module for `graph`: imports only torch."""
    return _Writer(graph).module()


class _Writer:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.classes: list[list[str]] = []  # block classes, each before its first use
        self.class_of_body: dict[str, str] = {}  # rendered body -> class name
        self.class_names = Namespace()
        self.class_names.used.add(ident(graph.name))
        expansion = graph.spec.source.expansion if graph.spec.source else None
        self.blocks = (
            BlockClasses(graph, expansion, self.class_names, self.classes) if expansion else None
        )

    def module(self) -> str:
        graph = self.graph
        root = self.class_lines(ident(graph.name), scope_tree(graph))
        header = [f"# {graph.name}: generated by archc; needs only PyTorch."]
        if graph.spec.description:
            header.append(f"# {comment_text(graph.spec.description)}")
        header += [
            f"# Input: N x {shape_text(graph.input_shape)}. Parameters: {graph.params:,}. "
            f"MACs per sample: {graph.macs:,}.",
            "",
            "import torch",
            "import torch.nn.functional as F",
            "from torch import nn",
        ]
        parts = [header, *self.classes, root]
        return "\n\n\n".join("\n".join(lines) for lines in parts) + "\n"

    # -- classes -----------------------------------------------------------------------------

    def class_lines(self, name: str, scope: Scope) -> list[str]:
        base = "nn.Sequential" if _numbered(scope) else "nn.Module"
        return [f"class {name}({base}):", *wrap_lines(self.body(scope))]

    def body(self, scope: Scope) -> list[str]:
        """``__init__`` and ``forward``. A scope whose members are numbered modules, as a block
        of unnamed layers makes them, is an `nn.Sequential` with its own forward: its children
        are passed to the constructor and read as ``self[0]``."""
        init = [f"{INDENT}def __init__(self) -> None:"]
        if _numbered(scope):
            children = [self.member(item) for item in scope.items]
            call = "super().__init__" + sequential(children).removeprefix("nn.Sequential")
            init.append(INDENT * 2 + call.replace("\n", "\n" + INDENT * 2))
        else:
            init.append(f"{INDENT * 2}super().__init__()")
            for item in scope.items:
                if item.scope is not None or has_module(item.node):
                    init.append(assign(item.name, self.member(item)))
        return [*init, "", *self.forward(scope)]

    def member(self, item: Item) -> str:
        return self.constructor(item.scope) if item.scope is not None else module_expr(item.node)

    def constructor(self, scope: Scope) -> str:
        """The expression that builds a nested scope's module."""
        if scope.repeated and _numbered(scope):  # copies 0, 1, 2, ...: none left out
            copies = [self.constructor(item.scope) for item in scope.items]
            return sequential(_runs(copies))
        modules = self.as_sequential(scope)
        if modules is not None:
            return sequential(modules)
        if self.blocks and scope.path in self.blocks.by_path and not scope.repeated:
            call = self.blocks.call(self.blocks.by_path[scope.path])
            if call is not None:
                return call
        body = "\n".join(self.body(scope))
        if body not in self.class_of_body:
            name = self.class_names.name(camel_case(scope.block))
            self.class_of_body[body] = name
            self.classes.append(self.class_lines(name, scope))
        return f"{self.class_of_body[body]}()"

    # -- forward -----------------------------------------------------------------------------

    def as_sequential(self, scope: Scope) -> list[str] | None:
        """Modules of a block of unnamed layers in a chain, if `nn.Sequential` numbers them right.

        Child k must be module k, so only the last layer may add an activation module.
        """
        if len(scope.inputs) != 1 or not scope.items:
            return None
        modules: list[str] = []
        previous = scope.inputs[0]
        after_fresh = False  # the child before made a fresh value (see `fresh_output`)
        for item in scope.items:
            if item.name != str(len(modules)) or item.inputs != (previous,):
                return None
            if item.scope is not None:
                parts = [self.constructor(item.scope)]
                after_fresh = False
            else:
                parts = sequential_modules(item.node, after_fresh)
                after_fresh = fresh_output(item.node)
            if parts is None:
                return None
            modules += parts
            previous = item.output
        if scope.outputs != (previous,):
            return None
        return modules

    def forward(self, scope: Scope) -> list[str]:
        statements = []
        numbered = _numbered(scope)
        for item in scope.items:
            module = f"self[{item.name}]" if numbered else attribute(item.name)
            statements.append(_statement(item, module))
        return forward_lines(scope.inputs, statements, scope.outputs, self.input_names(scope))

    def input_names(self, scope: Scope) -> dict[str, str]:
        """Local names of a block's inputs beyond the first, as its definition declares them."""
        expansion = self.graph.spec.source.expansion if self.graph.spec.source else None
        block = expansion.blocks.get(scope.block) if expansion and scope.block else None
        if block is None:
            return {}
        declared = block.inputs
        return dict(zip(scope.inputs[1:], declared[1:]))


def _numbered(scope: Scope) -> bool:
    """Members named 0, 1, 2, ... in order, each a module: the children of an nn.Sequential."""
    return bool(scope.items) and all(
        item.name == str(k) and (item.scope is not None or has_module(item.node))
        for k, item in enumerate(scope.items)
    )


def _statement(item: Item, module: str) -> Statement:
    """The forward statement of one member of a scope, with its in-place forms."""
    comment = shape_text(item.shape)
    node = item.node
    if node is None:
        return Statement(item.output, item.inputs, partial(_call, module), comment, item.name)
    return Statement(
        item.output, item.inputs, partial(step_expr, node, module=module), comment, item.name,
        fresh=fresh_output(node), sums=sums(node),
        overwrite=partial(step_expr, node, module=module, overwrite=True)
        if overwrites(node) else None,
    )  # fmt: skip


def _call(module: str, args: list[str]) -> str:
    return f"{module}({', '.join(args)})"


def _runs(modules: list[str], shortest: int = 4) -> list[str]:
    """Identical neighbours written once, as a person would: ``*(Basic(64, 64) for _ in
    range(5))``. The children keep their numbers, so the state dict is the same."""
    out: list[str] = []
    k = 0
    while k < len(modules):
        n = 1
        while k + n < len(modules) and modules[k + n] == modules[k]:
            n += 1
        if n >= shortest:
            out.append(f"*({modules[k]} for _ in range({n}))")
        else:
            out += modules[k : k + n]
        k += n
    return out
