"""Jupyter display: a `Spec` or an analysed `Graph` shows its summary table and its diagram.

IPython calls `_repr_html_` and `_repr_svg_` on the last value of a cell. They are installed on
`Spec` and `Graph` here, beside the emitters they use, so that validate.py and analyse.py stay
free of display code (and of the import cycle through the emitters). Neither imports torch.
A spec that does not analyse shows its errors instead of a table; with no Graphviz `dot`
program, `_repr_svg_` returns None, so the notebook shows the table alone.
"""

from __future__ import annotations

import html

from archc.analyse import Graph
from archc.errors import SpecError
from archc.validate import Spec


def _graph(value: Spec | Graph) -> Graph:
    from archc.api import analyse

    return analyse(value)


def summary_html(value: Spec | Graph) -> str:
    """The summary table (`archc summary`) as an HTML table, every text escaped."""
    from archc.emit import summary
    from archc.receptive import receptive_fields

    try:
        graph = _graph(value)
    except SpecError as exc:
        return f"<pre>{html.escape(str(exc))}</pre>"
    fields = receptive_fields(graph)
    head = ("layer", "type", "output", "field", "params", "MACs")
    rows = [(graph.input_name, "input", graph.input_shape, 0, 0, graph.input_name)]
    rows += summary._fold(graph, None)
    body = [
        (name, kind, summary.shape_text(shape), summary.field_text(fields[at]), f"{p:,}", f"{m:,}")
        for name, kind, shape, p, m, at in rows
    ]
    body.append(("total", "", "", "", f"{graph.params:,}", f"{graph.macs:,}"))
    right = ' style="text-align: right"'

    def row(cells: tuple[str, ...], tag: str) -> str:
        return "<tr>" + "".join(
            f"<{tag}{right if k >= 4 else ''}>{html.escape(c)}</{tag}>" for k, c in enumerate(cells)
        ) + "</tr>"  # fmt: skip

    description = " ".join(graph.spec.description.split())
    caption = html.escape(graph.name + (f": {description}" if description else ""))
    return (
        f"<table><caption>{caption}</caption><thead>{row(head, 'th')}</thead><tbody>"
        + "".join(row(cells, "td") for cells in body)
        + "</tbody></table>"
    )


def diagram_svg(value: Spec | Graph) -> str | None:
    """The diagram (`archc diagram`) as SVG text; None without Graphviz or a valid spec."""
    import graphviz

    from archc.api import to_graphviz

    try:
        return to_graphviz(_graph(value)).pipe(format="svg").decode()
    except (graphviz.ExecutableNotFound, SpecError):
        return None


for _cls in (Spec, Graph):
    _cls._repr_html_ = summary_html  # type: ignore[attr-defined]
    _cls._repr_svg_ = diagram_svg  # type: ignore[attr-defined]
