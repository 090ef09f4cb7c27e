"""Emit the per-layer summary: a text table for people and a JSON document for programs."""

from __future__ import annotations

from archc.analyse import Graph, Node
from archc.errors import printable


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _fold(graph: Graph, depth: int | None) -> list[tuple[str, str, tuple[int, ...], int, int]]:
    """Rows (name, type, output, params, macs); with `depth`, block internals below it fold."""
    rows: list[tuple[str, str, tuple[int, ...], int, int]] = []
    for node in graph.nodes:
        parts = node.name.split(".")
        if depth is None or len(parts) <= depth:
            rows.append((node.name, node.kind, node.shape, node.params, node.macs))
            continue
        group = ".".join(parts[:depth])
        if rows and rows[-1][0] == group:
            _, _, _, params, macs = rows[-1]
            rows[-1] = (group, "block", node.shape, params + node.params, macs + node.macs)
        else:
            rows.append((group, "block", node.shape, node.params, node.macs))
    return rows


def table(graph: Graph, depth: int | None = None) -> str:
    """The summary table: one row per layer (or folded block), then the totals."""
    rows = [(graph.input_name, "input", graph.input_shape, 0, 0), *_fold(graph, depth)]
    cells = [("layer", "type", "output", "params", "MACs")]
    cells += [
        (name, kind, shape_text(shape), f"{p:,}", f"{m:,}") for name, kind, shape, p, m in rows
    ]
    cells.append(("total", "", "", f"{graph.params:,}", f"{graph.macs:,}"))
    widths = [max(len(row[i]) for row in cells) for i in range(5)]

    def line(row: tuple[str, ...]) -> str:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:3], widths[:3]))
        right = "  ".join(c.rjust(w) for c, w in zip(row[3:], widths[3:]))
        return f"{left}  {right}".rstrip()

    rule = "-" * len(line(cells[0]))
    # One line, whatever the spec holds: no newline or terminal control sequence gets through.
    description = printable(" ".join(graph.spec.description.split()))
    title = graph.name + (f": {description}" if description else "")
    body = [line(row) for row in cells[1:-1]]
    return "\n".join([title, line(cells[0]), rule, *body, rule, line(cells[-1])])


def layer_json(node: Node) -> dict:
    return {
        "name": node.name,
        "type": node.kind,
        "input": [list(s) for s in node.input_shapes]
        if len(node.input_shapes) > 1
        else list(node.input_shapes[0]),
        "output": list(node.shape),
        "params": node.params,
        "macs": node.macs,
    }


def to_json(graph: Graph) -> dict:
    """``{"name", "input", "output", "params", "macs", "layers": [...]}``; shapes exclude the batch.

    With several outputs, "output" is a list of shapes; a merge layer's "input" likewise.
    """
    outputs = [list(s) for s in graph.output_shapes()]
    return {
        "name": graph.name,
        "input": list(graph.input_shape),
        "output": outputs[0] if len(outputs) == 1 else outputs,
        "params": graph.params,
        "macs": graph.macs,
        "layers": [layer_json(node) for node in graph.nodes],
    }
