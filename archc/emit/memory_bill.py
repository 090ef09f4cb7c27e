"""`archc memory`: the bytes a network needs for one training step, or one forward pass.

Per layer and in total: parameters, buffers, gradients, optimizer state, the input batch and
the activations autograd saves for the backward pass. Each layer kind states what its backward
keeps (`Layer.footprint`, archc/layers/footprint.py); this module follows the values through
the graph, so that a tensor kept by two layers (a ReLU's result, read again by the next
convolution) or reached through a view (a flatten) is counted once, as PyTorch stores it once.

Which activations run in place follows the generated forward (archc/emit/layers.py): in place,
ReLU and leaky ReLU keep their result (the storage the next layer reads and keeps too) where
leaky ReLU out of place keeps its input.

The total is the sum of the parts. The peak of a real training step is lower by what the
backward frees before it allocates (saved activations go as gradients come) and higher by what
the bill leaves out (LEFT_OUT); tests/test_memory_bill.py holds the two within 10% on the CPU,
as it does the inference total (`live_peak`) against a forward pass without autograd.

Nothing here imports torch; tests/test_memory_bill.py measures the figures in PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archc.analyse import Graph, Node
from archc.emit.layers import (
    INPLACE_ACTIVATION_MODULES,
    activation_module,
    activation_of,
    fresh_output,
    overwrites,
)
from archc.layers.base import prod
from archc.layers.footprint import ACTIVATION_SAVES, Footprint, Tensor

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
# Copies of the parameters each optimizer keeps: momentum's buffer, Adam's two moments.
OPTIMIZER_COPIES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
# Adam and AdamW also keep each parameter tensor's step count, a float32 scalar.
STEP_BYTES = {"sgd": 0, "momentum": 0, "adam": 4, "adamw": 4}
LEFT_OUT = (
    "not counted: the CUDA context, cuDNN workspaces, the allocator's rounding and caching, "
    "temporary buffers inside operations, the loss and the output's gradient"
)


@dataclass
class LayerBill:
    """One layer's bytes: `saved` holds the tensors it is the first to keep for backward."""

    name: str
    kind: str
    parameters: int = 0
    buffers: int = 0
    gradients: int = 0
    optimizer: int = 0
    saved: int = 0

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.kind,
            "parameters": self.parameters,
            "buffers": self.buffers,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "saved_activations": self.saved,
        }


@dataclass
class Bill:
    """The memory of one training step of a network at `batch` in `dtype`, in bytes; or, with
    `inference`, of one forward pass without autograd, whose activations are `live`: the most
    bytes its values hold at once (see `live_peak`)."""

    batch: int
    dtype: str
    optimizer: str
    input: int
    layers: list[LayerBill] = field(default_factory=list)
    inference: bool = False
    live: int = 0

    def _sum(self, attribute: str) -> int:
        return sum(getattr(layer, attribute) for layer in self.layers)

    @property
    def parameters(self) -> int:
        return self._sum("parameters")

    @property
    def buffers(self) -> int:
        return self._sum("buffers")

    @property
    def gradients(self) -> int:
        return self._sum("gradients")

    @property
    def optimizer_state(self) -> int:
        return self._sum("optimizer")

    @property
    def saved_activations(self) -> int:
        return self._sum("saved")

    @property
    def total(self) -> int:
        return (
            self.parameters + self.buffers + self.gradients + self.optimizer_state
            + self.input + self.saved_activations + self.live
        )  # fmt: skip

    def to_json(self) -> dict:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "optimizer_name": None if self.inference else self.optimizer,
            "inference": self.inference,
            "parameters": self.parameters,
            "buffers": self.buffers,
            "gradients": self.gradients,
            "optimizer": self.optimizer_state,
            "input": self.input,
            "saved_activations": self.saved_activations,
            "live_activations": self.live,
            "total": self.total,
            "layers": [layer.to_json() for layer in self.layers],
        }


def bill(
    graph: Graph,
    batch: int,
    dtype: str = "float32",
    optimizer: str = "sgd",
    inference: bool = False,
) -> Bill:
    """The memory bill of one training step of `graph`, or of one forward pass (see `Bill`)."""
    size = DTYPE_BYTES[dtype]
    values = _Values(graph, batch, size)
    result = Bill(batch, dtype, optimizer, values.bytes(graph.input_name), inference=inference)
    saved = [0] * len(graph.nodes) if inference else values.saved()
    for node, kept in zip(graph.nodes, saved, strict=True):
        foot = values.footprints[node.name]
        params = node.params * size
        layer = LayerBill(node.name, node.kind, params, _bytes(foot.buffers, batch, size))
        if not inference:
            steps = STEP_BYTES[optimizer] * foot.param_tensors if node.params else 0
            layer.gradients, layer.saved = params, kept
            layer.optimizer = OPTIMIZER_COPIES[optimizer] * params + steps
        result.layers.append(layer)
    if inference:
        result.live = live_peak(values)
    return result


def _bytes(tensors: tuple[Tensor, ...], batch: int, size: int) -> int:
    return sum(
        t.values * (batch if t.per_sample else 1) * (8 if t.dtype == "int64" else size)
        for t in tensors
    )


class _Values:
    """The graph's values as PyTorch stores them: which share a storage (views, in-place
    activations), which need a gradient, and what each layer's backward keeps."""

    def __init__(self, graph: Graph, batch: int, size: int) -> None:
        self.graph, self.batch, self.size = graph, batch, size
        self.readers: dict[str, list[str]] = {}
        for node in graph.nodes:
            for name in node.inputs:
                self.readers.setdefault(name, []).append(node.name)
        self.storage: dict[str, str] = {graph.input_name: graph.input_name}
        self.in_place: set[str] = set()  # layers whose activation overwrites its operand
        self.footprints: dict[str, Footprint] = {}
        self.grad = {graph.input_name: False}  # whether the value needs a gradient
        for node in graph.nodes:
            self.grad[node.name] = node.params > 0 or any(self.grad[i] for i in node.inputs)
            foot = node.layer.footprint(list(node.input_shapes), node.shape)
            self.footprints[node.name] = foot
            if self.overwrites(node):
                self.in_place.add(node.name)
            first = self.storage[node.inputs[0]]
            if foot.view or (node.kind == "activation" and node.name in self.in_place):
                self.storage[node.name] = first
            else:
                self.storage[node.name] = node.name
        self.nbytes = {graph.input_name: self.value_bytes(graph.input_shape)}
        self.nbytes.update((n.name, self.value_bytes(n.shape)) for n in graph.nodes)

    def value_bytes(self, shape: tuple[int, ...]) -> int:
        return self.batch * prod(shape) * self.size

    def bytes(self, name: str) -> int:
        return self.nbytes[name]

    def overwrites(self, node: Node) -> bool:
        """Whether the generated forward applies this layer's activation in place: a fused
        activation after a layer whose output is fresh, or an activation layer whose one
        input is a fresh value of its own scope that nothing else reads."""
        if node.kind != "activation":
            return activation_module(node) in INPLACE_ACTIVATION_MODULES.values()
        if not overwrites(node) or node.inputs[0] == self.graph.input_name:
            return False
        source = self.graph.node(node.inputs[0])
        return (
            fresh_output(source)
            and self.readers[source.name] == [node.name]
            and source.name not in self.graph.outputs
            and _scope(source.name) == _scope(node.name)
        )

    def kept(self, node: Node) -> list[tuple[str, int]]:
        """The tensors this layer's backward keeps: (storage, bytes) pairs."""
        foot = self.footprints[node.name]
        out_bytes = self.bytes(node.name)
        if not self.grad[node.name]:
            return []  # autograd does not record it
        if foot.products:
            return self.products(node)
        kept = [
            (self.storage[node.inputs[i]], self.bytes(node.inputs[i])) for i in foot.saves_inputs
        ]
        fn, before = self.activation(node)
        if foot.saves_output:
            kept.append((before, out_bytes))
        kept += [
            (f"{node.name}#new{k}", _bytes((t,), self.batch, self.size))
            for k, t in enumerate(foot.saves_new)
        ]
        keeps = ACTIVATION_SAVES[fn][node.name in self.in_place]
        if keeps == "input":
            kept.append((before, out_bytes))
        elif keeps == "output":
            kept.append((self.storage[node.name], out_bytes))
        elif keeps == "copy":
            kept.append((f"{node.name}#copy", out_bytes))
        return kept

    def products(self, node: Node) -> list[tuple[str, int]]:
        """``(a * b) * c``: each step keeps each operand where the other needs a gradient."""
        kept = []
        left, left_grad = self.storage[node.inputs[0]], self.grad[node.inputs[0]]
        for k, name in enumerate(node.inputs[1:], start=1):
            if self.grad[name]:
                kept.append((left, self.bytes(node.name)))
            if left_grad:
                kept.append((self.storage[name], self.bytes(name)))
            left, left_grad = f"{node.name}#product{k}", left_grad or self.grad[name]
        return kept

    def activation(self, node: Node) -> tuple[str, str]:
        """The activation function the layer applies, and the storage of the value it reads:
        an activation layer's input, or the output of the layer before its own activation."""
        if node.kind == "activation":
            return node.layer.fn, self.storage[node.inputs[0]]
        fn = activation_of(node)
        fused = fn != "none" and node.name not in self.in_place
        return fn, f"{node.name}#pre" if fused else self.storage[node.name]

    def saved(self) -> list[int]:
        """Per layer, the bytes of the tensors it is the first to keep (the input excluded)."""
        seen = {self.graph.input_name}
        per_layer = []
        for node in self.graph.nodes:
            total = 0
            for storage, nbytes in self.kept(node):
                if storage not in seen:
                    seen.add(storage)
                    total += nbytes
            per_layer.append(total)
        return per_layer


def live_peak(values: _Values) -> int:
    """The most bytes the values of a forward pass without autograd hold at once, the input
    batch aside, as the generated module's Python frames keep them: a value read only by the
    next member of the innermost block that holds it and its readers (a chain, ``x = f(x)``,
    or the children of an `nn.Sequential`) is freed once that member returns; any other value
    lives in a variable of that block's forward until it returns (the network's, to the end).
    A layer's own activation out of place briefly holds the value before it too."""
    graph = values.graph
    nodes = graph.nodes
    ends: dict[str, int] = {}  # layer or block -> position of its last layer
    for k, node in enumerate(nodes):
        parts = node.name.split(".")
        for j in range(1, len(parts) + 1):
            ends[".".join(parts[:j])] = k
    members: dict[str, list[str]] = {}  # block -> its members in order ("" the network)
    for node in nodes:
        scope = _scope(node.name)
        for block in [
            "",
            *(".".join(scope.split(".")[:j]) for j in range(1, scope.count(".") + 2) if scope),
        ]:
            inside = members.setdefault(block, [])
            member = _member(block, node.name)
            if not inside or inside[-1] != member:
                inside.append(member)
    freed: dict[str, int] = {}  # storage -> position after which nothing holds it
    for node in nodes:
        until = _held_until(graph, node, values.readers.get(node.name, []), ends, members)
        storage = values.storage[node.name]
        freed[storage] = max(freed.get(storage, -1), until)
    live: dict[str, int] = {}
    peak = 0
    for k, node in enumerate(nodes):
        storage = values.storage[node.name]
        if storage != values.storage[graph.input_name]:
            live.setdefault(storage, values.bytes(node.name))
        fused = node.kind != "activation" and activation_of(node) != "none"
        before = values.bytes(node.name) if fused and node.name not in values.in_place else 0
        peak = max(peak, sum(live.values()) + before)
        for name in [s for s in live if freed.get(s, len(nodes)) <= k]:
            del live[name]
    return peak


def _held_until(
    graph: Graph, node: Node, readers: list[str], ends: dict[str, int], members: dict
) -> int:
    """The position of the last layer during which a variable still holds `node`'s value."""
    if node.name in graph.outputs or not readers:
        return len(graph.nodes)
    block = _common([_scope(node.name), *map(_scope, readers)])
    inside = members[block]
    after = inside.index(_member(block, node.name)) + 1
    if after < len(inside) and {_member(block, r) for r in readers} == {inside[after]}:
        return ends[inside[after]]
    return ends[block] if block else len(graph.nodes)


def _common(scopes: list[str]) -> str:
    """The innermost scope that holds all of `scopes`."""
    parts = [scope.split(".") if scope else [] for scope in scopes]
    shared = []
    for names in zip(*parts):
        if len(set(names)) != 1:
            break
        shared.append(names[0])
    return ".".join(shared)


def _member(block: str, name: str) -> str:
    """The member of `block` (a layer or a nested block) that holds layer `name`."""
    rest = name[len(block) + 1 :] if block else name
    return (block + "." if block else "") + rest.split(".")[0]


def _scope(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def human(n: int) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``43.2 MiB``, ``1.07 GiB``."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}" if n >= 100 else f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def table(result: Bill, name: str) -> str:
    """The bill as a table, one row per layer, then the totals and what is left out."""
    head = ("layer", "type", "params", "grads", "optimizer", "buffers", "saved")
    rows = [head]
    for layer in result.layers:
        amounts = (layer.parameters, layer.gradients, layer.optimizer, layer.buffers, layer.saved)
        rows.append((layer.name, layer.kind, *(human(a) if a else "-" for a in amounts)))
    totals = (
        result.parameters, result.gradients, result.optimizer_state, result.buffers,
        result.saved_activations,
    )  # fmt: skip
    rows.append(("total", "", *map(human, totals)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]

    def line(row: tuple[str, ...]) -> str:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:2], widths[:2]))
        right = "  ".join(c.rjust(w) for c, w in zip(row[2:], widths[2:]))
        return f"{left}  {right}".rstrip()

    rule = "-" * len(line(head))
    title = f"{name}: one training step at batch {result.batch}, {result.dtype}, {result.optimizer}"
    if result.inference:
        title = f"{name}: one forward pass without autograd at batch {result.batch}, {result.dtype}"
    body = [line(row) for row in rows[1:-1]]
    footer = [
        f"input batch        {human(result.input)}",
        f"live activations   {human(result.live)}"
        if result.inference
        else f"saved activations  {human(result.saved_activations)}",
        f"total              {human(result.total)} ({result.total:,} bytes)",
        LEFT_OUT,
    ]
    return "\n".join([title, line(head), rule, *body, rule, line(rows[-1]), "", *footer])
