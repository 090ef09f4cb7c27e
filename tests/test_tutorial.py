"""docs/tutorial.md: every command it shows prints exactly the text under it."""

from __future__ import annotations

import re
import shlex

import pytest
from helpers import REPO

from archc.cli import main

TUTORIAL = REPO / "docs" / "tutorial.md"
BLOCK = re.compile(r"```console\n\$ (archc [^\n]+)\n(.*?)```", re.S)
BLOCKS = BLOCK.findall(TUTORIAL.read_text())


def test_the_tutorial_has_its_steps():
    commands = [command for command, _ in BLOCKS]
    assert len(commands) == 9
    for spec in sorted((REPO / "docs" / "tutorial").glob("*.yaml")):
        assert any(f"docs/tutorial/{spec.name}" in c for c in commands), spec.name


@pytest.mark.parametrize("command,printed", BLOCKS, ids=[c for c, _ in BLOCKS])
def test_each_command_prints_the_text_shown(command, printed, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code = main(shlex.split(command)[1:])  # in process: the same `main` the `archc` script runs
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == printed
