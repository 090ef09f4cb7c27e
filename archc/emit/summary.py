"""Emit the per-layer summary: a text table for people and a JSON document for programs."""

from __future__ import annotations

from archc import receptive
from archc.analyse import Graph, Node
from archc.emit import ops
from archc.errors import printable


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


Row = tuple[str, str, tuple[int, ...], int, int, str]


def _fold(graph: Graph, depth: int | None) -> list[Row]:
    """Rows (name, type, output, params, macs, the layer whose field shows); with `depth`,
    block internals below it fold (a folded block shows its last layer's output and field)."""
    rows: list[Row] = []
    for node in graph.nodes:
        parts = node.name.split(".")
        if depth is None or len(parts) <= depth:
            rows.append((node.name, node.kind, node.shape, node.params, node.macs, node.name))
            continue
        group = ".".join(parts[:depth])
        if rows and rows[-1][0] == group:
            _, _, _, params, macs, _ = rows[-1]
            rows[-1] = (
                group, "block", node.shape, params + node.params, macs + node.macs, node.name
            )  # fmt: skip
        else:
            rows.append((group, "block", node.shape, node.params, node.macs, node.name))
    return rows


def field_text(field: receptive.Field | None) -> str:
    """The receptive field's size per axis (``16``, or ``16x20`` where axes differ); blank for
    a layer without one."""
    return receptive.text(field.size) if field else ""


def table(graph: Graph, depth: int | None = None) -> str:
    """The summary table: one row per layer (or folded block), then the totals. The `field`
    column is each layer's receptive field size in input pixels (archc/receptive.py)."""
    fields = receptive.receptive_fields(graph)
    input_row = (graph.input_name, "input", graph.input_shape, 0, 0, graph.input_name)
    rows = [input_row, *_fold(graph, depth)]
    cells = [("layer", "type", "output", "field", "params", "MACs")]
    cells += [
        (name, kind, shape_text(shape), field_text(fields[at]), f"{p:,}", f"{m:,}")
        for name, kind, shape, p, m, at in rows
    ]
    cells.append(("total", "", "", "", f"{graph.params:,}", f"{graph.macs:,}"))
    widths = [max(len(row[i]) for row in cells) for i in range(6)]

    def line(row: tuple[str, ...]) -> str:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:4], widths[:4]))
        right = "  ".join(c.rjust(w) for c, w in zip(row[4:], widths[4:]))
        return f"{left}  {right}".rstrip()

    rule = "-" * len(line(cells[0]))
    # One line, whatever the spec holds: no newline or terminal control sequence gets through.
    description = printable(" ".join(graph.spec.description.split()))
    title = graph.name + (f": {description}" if description else "")
    body = [line(row) for row in cells[1:-1]]
    return "\n".join([title, line(cells[0]), rule, *body, rule, line(cells[-1])])


def layer_json(node: Node, field: receptive.Field | None = None) -> dict:
    return {
        "name": node.name,
        "type": node.kind,
        "input": [list(s) for s in node.input_shapes]
        if len(node.input_shapes) > 1
        else list(node.input_shapes[0]),
        "output": list(node.shape),
        "params": node.params,
        "macs": node.macs,
        "flops": ops.flops(node),
        "ops": ops.ops(node),
        "receptive_field": receptive.to_json(field),
    }


def to_json(graph: Graph) -> dict:
    """``{"name", "input", "output", "params", "macs", "flops", "ops", "layers": [...]}``; shapes
    exclude the batch. "flops" and "ops" are archc/emit/ops.py's (per sample).

    With several outputs, "output" is a list of shapes; a merge layer's "input" likewise. Each
    layer's "receptive_field" is ``{"size", "jump", "start"}`` per spatial axis, or null.
    """
    fields = receptive.receptive_fields(graph)
    outputs = [list(s) for s in graph.output_shapes()]
    return {
        "name": graph.name,
        "input": list(graph.input_shape),
        "output": outputs[0] if len(outputs) == 1 else outputs,
        "params": graph.params,
        "macs": graph.macs,
        "flops": 2 * graph.macs,
        "ops": ops.totals(graph),
        "layers": [layer_json(node, fields[node.name]) for node in graph.nodes],
    }
