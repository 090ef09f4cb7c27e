"""Stage 4, analyse: a validated `Spec` -> a `Graph` of shapes, parameter and MAC counts.

The graph is the one intermediate form every emitter reads. Nothing here allocates a tensor or
imports torch: each layer's `output_shape`, `param_count` and `mac_count` are pure arithmetic.
Independent mistakes are all reported; a layer whose input already failed is skipped, so one
mistake is never reported again as its consequences.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from archc import ordering
from archc.errors import Diagnostic, LayerError, Pos, SpecError
from archc.layers import Layer, Shape, fmt_shape
from archc.layers.base import Unanalysable, prod
from archc.validate import Spec

# Budgets that stop absurd specs before anything is allocated (overridable from the CLI).
MAX_PARAMS = 2_000_000_000
MAX_ACTIVATION = 1_000_000_000


@dataclass(frozen=True)
class Node:
    """One analysed layer: its inputs, their shapes, its output shape and its costs."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    shape: Shape
    params: int
    macs: int
    index: int  # position in the spec's layer list

    @property
    def kind(self) -> str:
        return self.layer.type


@dataclass(frozen=True)
class Graph:
    """An analysed network: nodes in execution (topological) order and its outputs."""

    spec: Spec
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    _by_name: dict[str, Node] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name.update((n.name, n) for n in self.nodes)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def input_name(self) -> str:
        return self.spec.input.name

    @property
    def input_shape(self) -> Shape:
        return tuple(self.spec.input.shape)

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def node(self, name: str) -> Node:
        return self._by_name[name]

    @property
    def names(self) -> set[str]:
        return set(self._by_name)

    def shape_of(self, name: str) -> Shape:
        return self.input_shape if name == self.input_name else self._by_name[name].shape

    def output_shapes(self) -> list[Shape]:
        return [self.shape_of(name) for name in self.outputs]


@dataclass(frozen=True)
class Budget:
    """Limits on total parameters and on the elements of any one activation (batch 1)."""

    max_params: int = MAX_PARAMS
    max_activation: int = MAX_ACTIVATION


def analyse(spec: Spec, budget: Budget = Budget()) -> Graph:
    """Propagate shapes, parameters and MACs through `spec`. Raises SpecError."""
    return _Analysis(spec, budget).run()


class _Analysis:
    def __init__(self, spec: Spec, budget: Budget) -> None:
        self.spec = spec
        self.budget = budget
        self.source = spec.source
        self.path = self.source.path if self.source else "<spec>"
        self.diagnostics: list[Diagnostic] = []
        self.unreadable: set[int] = set()  # layers whose inputs are wrong: not analysed

    def error(
        self,
        code: str,
        message: str,
        index: int | None,
        *field_loc: str | int,
        notes: tuple[str, ...] = (),
        help: str | None = None,
    ) -> None:
        pos, layer = Pos(0, 0), None
        if index is not None:
            layer = self.spec.layers[index].name
            if self.source:
                pos = self.source.where("layers", index, *field_loc)
            notes = (*notes, *self.instance_note(layer))
        elif self.source:
            pos = self.source.where(*field_loc)
        self.diagnostics.append(Diagnostic(code, message, self.path, pos, layer, notes, help))

    def instance_note(self, layer: str) -> tuple[str, ...]:
        expansion = self.source.expansion if self.source else None
        note = expansion.where_made(layer) if expansion and "." in layer else None
        return (note,) if note else ()

    def run(self) -> Graph:
        inputs = self.resolve_inputs()
        if any(d.code == "E401" for d in self.diagnostics):  # ambiguous names: no graph
            raise SpecError(self.diagnostics, self.source.text if self.source else None)
        order = [i for i in self.order(inputs) if i not in self.unreadable]
        outputs = self.resolve_outputs(inputs)
        nodes = self.propagate(order, inputs)
        if not self.diagnostics:
            self.check_scopes(nodes, outputs)
        if self.diagnostics:
            raise SpecError(self.diagnostics, self.source.text if self.source else None)
        return Graph(self.spec, tuple(nodes), tuple(outputs))

    # -- graph structure ---------------------------------------------------------------------

    def resolve_inputs(self) -> list[tuple[str, ...]]:
        """Each layer's input names: as written, or the previous layer (the input for the first)."""
        layers, input_name = self.spec.layers, self.spec.input.name
        known: dict[str, int] = {}
        for i, layer in enumerate(layers):
            if layer.name == input_name:
                self.error(
                    "E401",
                    f"layer name `{layer.name}` is already the network input's",
                    i,
                    "name",
                    help="rename the layer or set `input: {name: ...}`",
                )
            elif layer.name in known:
                first = known[layer.name]
                self.error(
                    "E401",
                    f"duplicate layer name `{layer.name}`",
                    i,
                    "name",
                    notes=(f"first used by layer #{first + 1}",),
                )
            else:
                known[layer.name] = i
        resolved = []
        for i, layer in enumerate(layers):
            if layer.inputs is None:
                names = (layers[i - 1].name if i else input_name,)
            else:
                names = (layer.inputs,) if isinstance(layer.inputs, str) else tuple(layer.inputs)
            for k, name in enumerate(names):
                if name != input_name and name not in known:
                    options = [input_name, *known]
                    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
                    help = f"did you mean `{close[0]}`?" if close else None
                    at = ("inputs", k) if isinstance(layer.inputs, list) else ("inputs",)
                    self.error("E402", f"unknown input `{name}`", i, *at, help=help)
                    self.unreadable.add(i)
            self.check_arity(i, layer, names)
            resolved.append(names)
        return resolved

    def check_arity(self, i: int, layer: Layer, names: tuple[str, ...]) -> None:
        lo, hi = layer.min_inputs, layer.max_inputs
        if len(names) < lo or (hi is not None and len(names) > hi):
            self.unreadable.add(i)
            wanted = f"exactly {lo}" if lo == hi else f"at least {lo}"
            self.error(
                "E403",
                f"`{layer.type}` takes {wanted} input{'s' if lo != 1 else ''}. "
                f"Received: {len(names)}",
                i,
                "inputs" if layer.inputs else "type",
            )

    def order(self, inputs: list[tuple[str, ...]]) -> list[int]:
        """Layer indices in execution order, file order among independent layers.

        A cycle is reported; the layers outside every cycle are still ordered, so that their
        own mistakes are found in the same run (those that read a cycle are then skipped).
        """
        index = {layer.name: i for i, layer in enumerate(self.spec.layers)}
        n = len(inputs)
        edges = [
            (index[name], i) for i, names in enumerate(inputs) for name in names if name in index
        ]
        order = ordering.topological_order(n, edges)
        if order is not None:
            return order
        self.report_cycle(ordering.find_cycle(n, edges))
        cyclic = ordering.cyclic_nodes(n, edges)
        rest = [(a, b) for a, b in edges if a not in cyclic and b not in cyclic]
        kept = [i for i in range(n) if i not in cyclic]
        position = {i: k for k, i in enumerate(kept)}
        order = ordering.topological_order(len(kept), [(position[a], position[b]) for a, b in rest])
        return [kept[k] for k in order or []]

    def report_cycle(self, cycle: list[int]) -> None:
        members = [self.spec.layers[a].name for a in cycle]
        first = min(cycle)
        path = " -> ".join([*members, members[0]])
        self.error(
            "E404",
            f"the layers form a cycle: {path}",
            first,
            "inputs",
            help="a layer cannot depend on its own output",
        )

    def resolve_outputs(self, inputs: list[tuple[str, ...]]) -> list[str]:
        layers = self.spec.layers
        outputs = self.spec.outputs or [layers[-1].name]
        names = {layer.name for layer in layers}
        unknown = [k for k, name in enumerate(outputs) if name not in names]
        for k in unknown:
            if outputs[k] == self.spec.input.name:
                message = f"the network input `{outputs[k]}` cannot be an output"
            else:
                message = f"unknown output `{outputs[k]}`"
            self.error("E402", message, None, "outputs", k)
        if any(d.code == "E402" for d in self.diagnostics):
            return outputs  # a misspelt name leaves its layer unused: that is no second mistake
        used = {n for names in inputs for n in names} | set(outputs)
        for i, layer in enumerate(layers):
            if layer.name not in used:
                self.error(
                    "E405",
                    f"the output of `{layer.name}` is never used",
                    i,
                    "name",
                    help="feed it to another layer, list it in `outputs`, or remove it",
                )
        return outputs

    # -- scopes ------------------------------------------------------------------------------

    def check_scopes(self, nodes: list[Node], outputs: list[str]) -> None:
        """Dotted names (``g.conv1``) put layers in a scope that becomes one nested module.

        Block instances make such scopes; names written with dots (as `archc expand` prints
        them) must describe one too: no layer named like a scope, the layers of a scope
        consecutive in execution order, and exactly one of their values read outside it.
        """
        names = {node.name for node in nodes}
        members: dict[str, list[int]] = {}  # scope -> positions of its layers
        for k, node in enumerate(nodes):
            for scope in _scopes(node.name):
                if scope in names:
                    self.error(
                        "E401",
                        f"the name puts the layer inside `{scope}`, which is a layer itself",
                        node.index,
                        "name",
                        help="a dotted name is a layer inside a block; rename one of them",
                    )
                    return
                members.setdefault(scope, []).append(k)
        for scope, positions in members.items():
            if positions[-1] - positions[0] + 1 != len(positions):
                outsider = next(
                    nodes[k] for k in range(positions[0], positions[-1]) if k not in positions
                )
                self.error(
                    "E406",
                    f"the layers named `{scope}.*` are not consecutive: `{outsider.name}` "
                    "runs between them, so they cannot form one module",
                    outsider.index,
                    "name",
                )
                return
        self.check_scope_outputs(nodes, outputs, members)

    def check_scope_outputs(
        self, nodes: list[Node], outputs: list[str], members: dict[str, list[int]]
    ) -> None:
        """Exactly one value of each scope is read outside it (a module returns one value)."""
        readers: dict[str, list[str]] = {}
        for node in nodes:
            for name in node.inputs:
                readers.setdefault(name, []).append(node.name)
        for name in outputs:
            readers.setdefault(name, []).append("")
        for scope, positions in members.items():
            prefix = scope + "."
            escaping = [
                nodes[k]
                for k in positions
                if any(not r.startswith(prefix) for r in readers.get(nodes[k].name, []))
            ]
            if len(escaping) > 1:
                self.error(
                    "E406",
                    f"the layers named `{scope}.*` cannot form one module: "
                    f"{len(escaping)} of their values are read outside it "
                    f"({', '.join(f'`{n.name}`' for n in escaping)}); a module returns one",
                    escaping[1].index,
                    "name",
                )

    # -- shapes ------------------------------------------------------------------------------

    def propagate(self, order: list[int], inputs: list[tuple[str, ...]]) -> list[Node]:
        shapes: dict[str, Shape] = {self.spec.input.name: tuple(self.spec.input.shape)}
        if not self.input_within_budget():
            return []
        nodes: list[Node] = []
        total_params = 0
        for i in order:
            layer, names = self.spec.layers[i], inputs[i]
            if not all(n in shapes for n in names):
                continue  # an input failed: its error is already reported
            in_shapes = [shapes[n] for n in names]
            try:
                shape = layer.output_shape(in_shapes)
            except Unanalysable:  # a layer already reported invalid: its readers are skipped
                continue
            except LayerError as exc:
                notes = exc.notes + self.shrink_note(exc, names, shapes, inputs)
                loc = (exc.field,) if exc.field and exc.field in layer.model_fields_set else ()
                self.error(exc.code, exc.message, i, *loc, notes=notes, help=exc.help)
                continue
            params = layer.param_count(in_shapes, shape)
            total_params += params
            if not self.within_budget(i, shape, params, total_params):
                continue
            shapes[layer.name] = shape
            nodes.append(
                Node(
                    layer.name,
                    layer,
                    names,
                    tuple(in_shapes),
                    shape,
                    params,
                    layer.mac_count(in_shapes, shape),
                    i,
                )
            )
        return nodes

    def input_within_budget(self) -> bool:
        """The input batch is allocated too: it is held to the activation budget as well."""
        shape = tuple(self.spec.input.shape)
        if prod(shape) <= self.budget.max_activation:
            return True
        self.error(
            "E501",
            f"the input {fmt_shape(shape)} has {prod(shape):,} values, over the activation "
            f"budget of {self.budget.max_activation:,}",
            None,
            "input",
            "shape",
            help="reduce the sizes, or raise the limit with --max-activation",
        )
        return False

    def within_budget(self, i: int, shape: Shape, params: int, total: int) -> bool:
        if prod(shape) > self.budget.max_activation:
            self.error(
                "E501",
                f"output {fmt_shape(shape)} has {prod(shape):,} values, over the "
                f"activation budget of {self.budget.max_activation:,}",
                i,
                help="reduce the sizes, or raise the limit with --max-activation",
            )
            return False
        if total > self.budget.max_params:
            self.error(
                "E502",
                f"the network reaches {total:,} parameters here ({params:,} in "
                f"this layer), over the budget of {self.budget.max_params:,}",
                i,
                help="reduce the sizes, or raise the limit with --max-params",
            )
            return False
        return True

    def shrink_note(
        self,
        exc: LayerError,
        names: tuple[str, ...],
        shapes: dict[str, Shape],
        inputs: list[tuple[str, ...]],
    ) -> tuple[str, ...]:
        """For a size that shrank to nothing: the earliest layer on the path that shrank it."""
        if exc.code != "E302":
            return ()
        index = {layer.name: i for i, layer in enumerate(self.spec.layers)}
        first, name = None, names[0]
        while name in index:
            i = index[name]
            before = shapes.get(inputs[i][0])
            after = shapes.get(name)
            if (
                before
                and after
                and len(before) == len(after)
                and any(a < b for a, b in zip(after[1:], before[1:]))
            ):
                first = (name, before, after)
            name = inputs[i][0]
        if first is None:
            return ()
        name, before, after = first
        return (
            f"the size started shrinking at layer `{name}`: "
            f"{fmt_shape(before)} -> {fmt_shape(after)}",
        )


def _scopes(name: str) -> list[str]:
    """The scopes a dotted name lies in, outermost first: ``a.b.c`` -> ``a``, ``a.b``."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]
