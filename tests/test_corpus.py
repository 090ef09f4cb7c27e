"""The hostile-spec corpus: every bad spec gets a located, coded error, fast, and nothing else.

Each file in tests/corpus/ states its expectation on its first line::

    # expect: exit=1 code=E302 line=7

(`code` is absent for accepted specs, `line` where the error has no fixed line). Every file is
run through ``archc check`` in a subprocess whose time and peak memory are measured
(tests/measured.py). The product promise checked for every case:

* the exit code is the expected one (0, 1 invalid spec, 2 bad command line / unreadable file);
  never 3 (internal error) and never a traceback;
* the text output contains ``error[CODE]`` and starts with ``path:LINE:`` where a line is given;
* ``--format json`` output parses and contains an object with that code (and line);
* each run takes under 2 s (wall clock) and 200 MB (max RSS);
* a failing ``build`` leaves no file behind in its output directory;
* every spec and every name in the corpus that archc accepts compiles to a module that only
  builds torch layers (checked on its syntax tree).

Inputs that cannot live in the repository are in tests/test_hostile_inputs.py.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from measured import (
    assert_json_error,
    assert_no_crash,
    assert_text_error,
    assert_within_budget,
    run_archc,
    run_in_process,
)

import archc

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
EXPECT = re.compile(r"#\s*expect:\s*(?P<fields>.*)")


# -- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    exit: int
    code: str | None
    line: int | None


def expectation(path: Path) -> Expect:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8-sig").strip()
    m = EXPECT.match(first)
    assert m, f"{path.name}: the first line must be `# expect: exit=N [code=EXXX] [line=N]`"
    fields = dict(f.split("=", 1) for f in m.group("fields").split())
    assert set(fields) <= {"exit", "code", "line"}, f"{path.name}: unknown fields {fields}"
    return Expect(
        int(fields["exit"]),
        fields.get("code"),
        int(fields["line"]) if "line" in fields else None,
    )


FILES = sorted(CORPUS.glob("*.yaml"))
EXPECTATIONS = {p.stem: expectation(p) for p in FILES}


def corpus_params(stems: list[str] | None = None) -> list:
    return [
        pytest.param(path, id=path.stem) for path in FILES if stems is None or path.stem in stems
    ]


def _first_per_code() -> list[str]:
    """One case for each expected code (and one accepted spec): the JSON and build subsets."""
    chosen: dict[str | None, str] = {}
    for stem, exp in EXPECTATIONS.items():
        chosen.setdefault(exp.code, stem)
    return sorted(chosen.values())


JSON_SUBSET = _first_per_code()
BUILD_SUBSET = [s for s in JSON_SUBSET if EXPECTATIONS[s].exit == 1][::3] + [
    "shape_shrinks_to_zero",
    "name_code_injection",
    "expr_dunder_import",
    "budget_filters_1e8",
]


def test_corpus_is_big_and_well_formed():
    assert len(FILES) >= 80
    from archc.errors import CODES

    for stem, exp in EXPECTATIONS.items():
        assert exp.exit in (0, 1, 2), stem
        assert (exp.code is None) == (exp.exit == 0), stem
        assert exp.code is None or exp.code in CODES, f"{stem}: unknown code {exp.code}"


# Every corpus file runs through the CLI in this process; every fourteenth, and each that
# tests a size or alias limit, as its own process instead, where peak memory and the
# interpreter's own exit are measured.
PROCESS_SUBSET = {
    p.stem for k, p in enumerate(FILES) if k % 14 == 0 or p.stem.startswith(("budget", "alias"))
}


@pytest.mark.parametrize("path", corpus_params())
def test_check(path: Path, monkeypatch):
    monkeypatch.delenv("ARCHC_DEBUG", raising=False)
    exp = EXPECTATIONS[path.stem]
    run = run_archc("check", path) if path.stem in PROCESS_SUBSET else run_in_process("check", path)
    assert_no_crash(run)
    assert run.rc == exp.exit, run.describe()
    if exp.exit == 0:
        assert run.out.startswith("OK "), run.describe()
    assert_text_error(run, str(path), exp.code, exp.line)
    assert_within_budget(run)


@pytest.mark.parametrize("path", corpus_params(JSON_SUBSET))
def test_summary_json(path: Path, monkeypatch):
    monkeypatch.delenv("ARCHC_DEBUG", raising=False)
    exp = EXPECTATIONS[path.stem]
    run = run_in_process("summary", path, "--format", "json", "--json")
    assert_no_crash(run)
    assert run.rc == exp.exit, run.describe()
    if exp.code is None:
        assert json.loads(run.out)["name"], run.describe()
    else:
        assert_json_error(run, exp.code, exp.line)
    assert_within_budget(run)


@pytest.mark.parametrize("path", corpus_params(BUILD_SUBSET))
def test_failing_build_writes_nothing(path: Path, tmp_path: Path):
    exp = EXPECTATIONS[path.stem]
    out = tmp_path / "out"
    out.mkdir()
    run = run_archc("build", path, "-o", out)
    assert_no_crash(run)
    assert run.rc == exp.exit, run.describe()
    assert_text_error(run, str(path), exp.code, exp.line)
    assert list(out.iterdir()) == [], "a failing build left files behind"


def test_failing_build_stays_within_budget(tmp_path: Path):
    run = run_archc("build", CORPUS / "num_filters_negative.yaml", "-o", tmp_path)
    assert run.rc == 1, run.describe()
    assert_within_budget(run)


# -- an accepted spec with hostile text builds to harmless code --------------------------------

ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional"}
CALL_ROOTS = {"nn", "F", "torch", "self"}


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def check_generated_source(source: str) -> None:
    """Only torch imports and class definitions; every call goes to nn/F/torch/self/super,
    `range` (copies of a repeated block) or one of the generated classes."""
    tree = ast.parse(source)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    assert classes, "no class in the generated module"
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS, ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            names = {f"{node.module}.{a.name}" for a in node.names}
            assert node.level == 0 and names <= ALLOWED_IMPORTS, ast.dump(node)
        else:
            assert isinstance(node, ast.ClassDef), f"unexpected statement {ast.dump(node)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                assert ast.unparse(base) in ("nn.Module", "nn.Sequential"), ast.unparse(base)
            assert not node.decorator_list and not node.keywords
        if isinstance(node, (ast.Global, ast.Nonlocal, ast.Lambda, ast.Delete)):
            pytest.fail(f"unexpected {type(node).__name__} in generated code")
        if isinstance(node, ast.Name):
            assert node.id not in {"eval", "exec", "open", "__import__", "os", "compile"}
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("__") or node.attr == "__init__", ast.unparse(node)
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            assert func.id in classes | {"super", "range"}, f"call to {ast.unparse(func)}"
            continue
        assert isinstance(func, ast.Attribute), f"call of {ast.unparse(func)}"
        root = _root(func)
        if isinstance(root, ast.Call):  # super().__init__()
            assert ast.unparse(root) == "super()", ast.unparse(func)
        else:
            assert isinstance(root, ast.Name) and root.id in CALL_ROOTS, ast.unparse(func)


@pytest.mark.parametrize("stem", ["ok_hostile_description", "ok_multiline_description_block"])
def test_hostile_description_builds_harmless_code(tmp_path: Path, stem: str):
    path = CORPUS / f"{stem}.yaml"
    run = run_archc("build", path, "-o", tmp_path)
    assert run.rc == 0, run.describe()
    assert_no_crash(run)
    (generated,) = tmp_path.glob("*.py")
    source = generated.read_text()
    check_generated_source(source)
    # The description survives only inside comments.
    for line in source.splitlines():
        if "os.system" in line or "import os" in line or "Evil" in line or "eval(" in line:
            assert line.lstrip().startswith("#"), line
    assert all(c.isprintable() or c in "\n" for c in source), "control characters in the code"


def test_the_checker_rejects_injected_code():
    """The AST check above is not vacuous."""
    good = "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    pass\n"
    check_generated_source(good)
    for bad in (
        good + "import os\n",
        good + "os.system('id')\n",
        good.replace("pass", "def f(self):\n        return eval('1')"),
        good.replace("pass", "def f(self):\n        return __import__('os')"),
        good.replace("pass", "def f(self, x):\n        return x.__class__"),
        good.replace("nn.Module", "object"),
    ):
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check_generated_source(bad)


# -- every spec and name of the corpus that archc accepts compiles to harmless code ---------

ACCEPTED = [stem for stem, exp in EXPECTATIONS.items() if exp.exit == 0]
# A `name:` value in flow or block style: double-quoted, single-quoted or plain.
NAME_VALUE = re.compile(r"""\bname\s*:[ \t]*("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^,}\]\n#]+)""")


def corpus_names() -> list[str]:
    """Every value the corpus gives to a `name:` key (networks, inputs, layers)."""
    names: set[str] = set()
    for path in FILES:
        text = path.read_bytes().decode("utf-8", "replace")
        for match in NAME_VALUE.finditer(text):
            try:
                value = yaml.safe_load(match.group(1))
            except yaml.YAMLError:
                continue
            if isinstance(value, str):
                names.add(value)
    return sorted(names)


NAMES = corpus_names()


def _name_specs(name: str) -> dict[str, str]:
    """Specs that use `name` for the network, its input, a layer and a block instance."""
    quoted = json.dumps(name)
    return {
        "network": f"archc: 1\nname: {quoted}\ninput: {{shape: [4]}}\n"
        "layers: [{type: dense, units: 2}]\n",
        "input": f"archc: 1\nname: Net\ninput: {{shape: [4], name: {quoted}}}\n"
        f"layers: [{{type: dense, units: 2, inputs: {quoted}}}]\n",
        "layer": f"archc: 1\nname: Net\ninput: {{shape: [4]}}\n"
        f"layers: [{{type: dense, units: 2, name: {quoted}}}, {{type: activation, fn: relu}}]\n",
        "instance": f"archc: 1\nname: Net\ninput: {{shape: [4]}}\n"
        "blocks: {fc: {layers: [{type: dense, units: 2}, {type: activation, fn: relu}]}}\n"
        f"layers: [{{type: fc, name: {quoted}}}, {{type: dense, units: 3}}]\n",
    }


@pytest.mark.parametrize("stem", ACCEPTED)
def test_accepted_corpus_specs_compile_to_harmless_code(stem: str):
    source = archc.to_source(archc.load(CORPUS / f"{stem}.yaml"))
    check_generated_source(source)


def test_every_corpus_name_is_rejected_or_compiles_to_harmless_code():
    accepted, rejected = [], []
    for name in NAMES:
        for where, text in _name_specs(name).items():
            try:
                spec = archc.loads(text)
                archc.analyse(spec)
            except archc.SpecError:
                rejected.append((name, where))
                continue
            accepted.append((name, where))
            source = archc.to_source(spec)
            check_generated_source(source)
            model = archc.to_torch(spec)  # runs the generated code
            assert model(torch.zeros(2, 4)).shape[0] == 2
    # Both branches are exercised: the corpus holds good names and hostile ones.
    assert len(accepted) >= 20 and len(rejected) >= 40, (len(accepted), len(rejected))
    assert not any(name.startswith("__") for name, _ in accepted), accepted
