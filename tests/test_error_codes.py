"""Error codes: one table in archc.errors, every code used, documented and demonstrated."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from measured import run_in_process

from archc.errors import CODES

ROOT = Path(__file__).resolve().parent.parent


def _errors_doc():
    spec = importlib.util.spec_from_file_location("errors_doc", ROOT / "scripts" / "errors_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_code_in_the_source_is_in_the_table():
    used = set()
    for path in (ROOT / "archc").rglob("*.py"):
        used |= set(re.findall(r'"(E\d{3})"', path.read_text()))
    assert used - set(CODES) == set()
    assert set(CODES) - used == set(), "codes in the table that nothing reports"


def test_every_code_has_a_section_in_docs():
    text = (ROOT / "docs" / "errors.md").read_text()
    for code, title in CODES.items():
        assert f"## {code}: {title}" in text


@pytest.mark.parametrize("code", [c for c in CODES if c not in _errors_doc().EXPLAIN_NO_EXAMPLE])
def test_documented_example_gives_its_code(code, tmp_path):
    doc = _errors_doc()
    text, args = doc.EXAMPLES[code]
    if args[:1] == ["build"]:  # a process of its own: it imports torch
        output = doc.run(text, args, tmp_path)
    else:
        output = _in_process(doc.command(text, args, tmp_path), tmp_path)
    assert f"error[{code}]" in output
    assert "Traceback" not in output
    # the committed document shows this same output
    assert output.split("\n", 1)[1].splitlines()[0] in (ROOT / "docs" / "errors.md").read_text()


def _in_process(args: list[str], workdir: Path) -> str:
    """An example run through `archc.cli.main` in this process, shown as `errors_doc.run`
    shows it."""
    run = run_in_process(*args, cwd=workdir)
    return "$ archc " + " ".join(args) + "\n" + (run.out + run.err).strip()
