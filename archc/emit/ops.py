"""`archc summary --flops`: MACs, FLOPs and the operations that MACs leave out.

MACs stay the headline (torchvision's convention): one per use of a weight. FLOPs are
`torch.utils.flop_counter.FlopCounterMode`'s count: two per MAC of a convolution or a matrix
product, nothing for anything else. The other operations are archc's own breakdown, per sample,
each kind's rule in its class (`Layer.op_count`):

- bias: one add per output value of a layer with a bias;
- norm: batchnorm at inference, one multiply and one add per value;
- activation: one per value, for an activation layer or a layer's own `activation`;
- pool: max, k - 1 comparisons per window of k values; average, k - 1 adds and a divide;
- merge: an element-wise merge of n inputs, n - 1 operations per value (concat: none);
- resample: bilinear upsampling, 9 per value (6 multiplies, 3 adds); nearest, none.

docs/counting.md derives, from these, the figures other tools print for LeNet-5.
"""

from __future__ import annotations

from archc.analyse import Graph, Node
from archc.layers.base import prod

CATEGORIES = ("bias", "norm", "activation", "pool", "merge", "resample")


def flops(node: Node) -> int:
    """FlopCounterMode's count for one sample: two per multiply-accumulate."""
    return 2 * node.macs


def ops(node: Node) -> dict[str, int]:
    """The operations of one sample besides the MACs, by category (zero ones left out)."""
    counts = dict(node.layer.op_count(list(node.input_shapes), node.shape))
    if getattr(node.layer, "activation", "none") != "none":
        counts["activation"] = counts.get("activation", 0) + prod(node.shape)
    return {c: counts[c] for c in CATEGORIES if counts.get(c)}


def totals(graph: Graph) -> dict[str, int]:
    """`ops` summed over the network, by category."""
    total: dict[str, int] = {}
    for node in graph.nodes:
        for category, n in ops(node).items():
            total[category] = total.get(category, 0) + n
    return {c: total[c] for c in CATEGORIES if c in total}


def table(graph: Graph) -> str:
    """One row per layer: output, MACs, FLOPs and each category of other operations used."""
    used = list(totals(graph))
    head = ("layer", "type", "output", "MACs", "FLOPs", *used)
    rows = [head]
    for node in graph.nodes:
        counts = ops(node)
        numbers = (node.macs, flops(node), *(counts.get(c, 0) for c in used))
        shape = "x".join(map(str, node.shape))
        rows.append((node.name, node.kind, shape, *(f"{n:,}" for n in numbers)))
    total = totals(graph)
    numbers = (graph.macs, 2 * graph.macs, *(total[c] for c in used))
    rows.append(("total", "", "", *(f"{n:,}" for n in numbers)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]

    def line(row: tuple[str, ...]) -> str:
        left = "  ".join(c.ljust(w) for c, w in zip(row[:3], widths[:3]))
        right = "  ".join(c.rjust(w) for c, w in zip(row[3:], widths[3:]))
        return f"{left}  {right}".rstrip()

    rule = "-" * len(line(head))
    notes = [
        "MACs: one per use of a weight. FLOPs: 2 per MAC, as torch.utils.flop_counter counts.",
        f"other operations: {sum(total.values()):,} (" + ", ".join(
            f"{c} {n:,}" for c, n in total.items()
        ) + "); see docs/counting.md",
    ]  # fmt: skip
    body = [line(row) for row in rows[1:-1]]
    return "\n".join([graph.name, line(head), rule, *body, rule, line(rows[-1]), "", *notes])
