"""How diagnostics are shown: location, caret under the node, notes, colour and JSON."""

from __future__ import annotations

import io
import json

import pytest
from helpers import run_cli

import archc
from archc.errors import Diagnostic, Pos, render_text, use_color

SPEC = """archc: 1
name: Net
input: {shape: [1, 4, 4]}
layers:
  - {name: c1, type: conv, filters: 6, kernel: 5}
"""


def test_caret_sits_under_the_node():
    with pytest.raises(archc.SpecError) as info:
        archc.analyse(archc.loads(SPEC, "net.yaml"))
    lines = render_text(info.value.diagnostics, SPEC, color=False).splitlines()
    assert lines[0].startswith("net.yaml:5:48: error[E302]: layer `c1`: the 5x5 conv window")
    source, caret = lines[1], lines[2]
    assert source == "    5 |   - {name: c1, type: conv, filters: 6, kernel: 5}"
    assert caret.index("^") == source.index("5}")  # under the kernel's value
    assert "note: H: floor((4 + 2*0 - 1*(5-1) - 1) / 1) + 1 = 0" in lines[3]
    assert lines[4].strip().startswith("help: add padding")


def test_colour_only_when_asked():
    d = Diagnostic("E302", "too small", "net.yaml", Pos(5, 48, 49))
    assert "\033[" in render_text([d], SPEC, color=True)
    assert "\033[" not in render_text([d], SPEC, color=False)


def test_no_color_and_pipes_turn_colour_off(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty())
    assert not use_color(io.StringIO())  # a pipe or a file
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())


@pytest.mark.parametrize("verb", ["check", "summary", "build", "diagram"])
def test_errors_as_json_on_every_verb(tmp_path, verb):
    (tmp_path / "net.yaml").write_text(SPEC)
    rc, out, err = run_cli(verb, "net.yaml", "--format", "json", cwd=tmp_path)
    assert rc == 1 and err == ""
    (d,) = json.loads(out)
    assert d == {
        "path": "net.yaml", "line": 5, "col": 48, "code": "E302", "layer": "c1",
        "message": d["message"], "notes": d["notes"], "help": d["help"],
    }  # fmt: skip
    assert "5x5" in d["message"] and d["notes"] and "padding" in d["help"]
    assert list(tmp_path.iterdir()) == [tmp_path / "net.yaml"]  # nothing written
