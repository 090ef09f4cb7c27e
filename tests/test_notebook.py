"""Jupyter reprs (archc/notebook.py): the summary table as HTML, the diagram as SVG."""

from __future__ import annotations

import html
import os
import re
import shutil
from html.parser import HTMLParser

import pytest
from helpers import LENET_PUBLISHED, spec_text

import archc


class Cells(HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def cells(markup: str) -> list[list[str]]:
    parser = Cells()
    parser.feed(markup)
    return parser.rows


def test_spec_and_graph_show_the_summary_table(lenet_spec):
    markup = lenet_spec._repr_html_()
    assert markup == archc.analyse(lenet_spec)._repr_html_()
    rows = cells(markup)
    assert rows[0] == ["layer", "type", "output", "field", "params", "MACs"]
    by_name = {row[0]: row for row in rows[1:]}
    for name, shape, params, macs in LENET_PUBLISHED:
        assert by_name[name][2] == "x".join(map(str, shape))
        assert by_name[name][4:] == [f"{params:,}", f"{macs:,}"]
    assert by_name["s4"][3] == "16" and by_name["flat"][3] == ""
    assert rows[-1] == ["total", "", "", "", "61,706", "416,520"]


def test_every_text_is_escaped():
    text = spec_text([{"type": "flatten"}], [1, 2, 2]).replace(
        'name: "Net"', 'name: "Net"\ndescription: "<script>alert(1)</script> & co"'
    )
    markup = archc.loads(text)._repr_html_()
    assert "<script>" not in markup
    assert html.escape("<script>alert(1)</script> & co") in markup


def test_a_spec_that_does_not_analyse_shows_its_errors():
    spec = archc.loads(spec_text([{"type": "conv", "filters": 2, "kernel": 5}], [1, 4, 4]))
    markup = spec._repr_html_()
    assert markup.startswith("<pre>") and "error[E302]" in markup and "<table>" not in markup
    assert spec._repr_svg_() is None


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_the_diagram_as_svg(lenet_spec):
    svg = lenet_spec._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "6x28x28" in svg and re.search(r">\s*c3\s*<", svg)


def test_no_svg_and_no_error_without_graphviz(lenet_spec, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: no `dot`
    assert os.environ["PATH"] == str(tmp_path)
    assert lenet_spec._repr_svg_() is None
    assert cells(lenet_spec._repr_html_())[0][0] == "layer"
