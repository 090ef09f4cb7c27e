"""Error codes: one table in archc.errors, every code used, documented and demonstrated."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

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
    output = doc.run(text, args, tmp_path)
    assert f"error[{code}]" in output
    assert "Traceback" not in output
    # the committed document shows this same output
    assert output.split("\n", 1)[1].splitlines()[0] in (ROOT / "docs" / "errors.md").read_text()
