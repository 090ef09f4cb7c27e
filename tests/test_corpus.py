"""The hostile-spec corpus: every bad spec gets a located, coded error, fast, and nothing else.

Each file in tests/corpus/ states its expectation on its first line::

    # expect: exit=1 code=E302 line=7

(`code` is absent for accepted specs, `line` where the error has no fixed line). Every file is
run through ``python -m archc check`` in a subprocess whose time and peak memory (max RSS, from
``os.wait4``) are measured. The product promise checked for every case:

* the exit code is the expected one (0, 1 invalid spec, 2 bad command line / unreadable file);
  never 3 (internal error) and never a traceback;
* the text output contains ``error[CODE]`` and starts with ``path:LINE:`` where a line is given;
* ``--format json`` output parses and contains an object with that code (and line);
* each run takes under 2 s (wall clock) and 200 MB (max RSS);
* a failing ``build`` leaves no file behind in its output directory.

Some inputs cannot live in the repository (an empty file cannot carry the comment, a 100 MB
file should not be committed, FIFOs and directories are not files): they are made at test time.

Cases that archc currently gets wrong are kept with their *correct* expectation and marked
``xfail(strict=True)`` in KNOWN_BUGS, so a fix turns them into passes that must be unmarked.
"""

from __future__ import annotations

import ast
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = HERE / "corpus"
LENET = REPO / "architectures" / "lenet5.yaml"
RESNET18 = REPO / "architectures" / "resnet18.yaml"

MAX_SECONDS = 2.0
MAX_RSS_MB = 200
KILL_AFTER = 6.0  # a hung run is killed (and fails) after this long...
KILL_AFTER_TORCH = 60.0  # ...or this long for the verbs that import torch (build, diagram)
ADDRESS_SPACE_LIMIT = 4 << 30  # keeps a runaway child from taking the machine down

EXPECT = re.compile(r"#\s*expect:\s*(?P<fields>.*)")

# -- known archc bugs: the corpus keeps the correct expectation ------------------------------

KNOWN_BUGS: dict[str, str] = {}


# -- running archc ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    cwd: str | None
    rc: int | None  # None: killed after KILL_AFTER seconds
    out: str
    err: str
    seconds: float
    rss_mb: float

    def describe(self) -> str:
        return (
            f"archc {' '.join(self.args)}\n  exit {self.rc}, {self.seconds:.2f} s, "
            f"{self.rss_mb:.0f} MB\n  stdout: {self.out[:1500]!r}\n  stderr: {self.err[:1500]!r}"
        )


# `python -m archc`, and on exit the peak resident size of this process image (VmHWM, kB).
_BOOT = """
import atexit, os, sys

def _record_peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["ARCHC_TEST_HWM"], "w") as out:
        out.write(peak)

atexit.register(_record_peak)
sys.argv[0] = "archc"
from archc.cli import main
sys.exit(main())
"""


def _child_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_archc(*args: str | os.PathLike, cwd: str | os.PathLike | None = None) -> Run:
    """``python -m archc ARGS`` in a subprocess, with its wall time and peak RSS."""
    import tempfile

    import archc

    package_root = str(Path(archc.__file__).resolve().parent.parent)
    env = {**os.environ, "NO_COLOR": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.pop("ARCHC_DEBUG", None)
    fd, hwm_path = tempfile.mkstemp()
    os.close(fd)
    env["ARCHC_TEST_HWM"] = hwm_path
    argv = [sys.executable, "-c", _BOOT, *map(str, args)]
    limit = KILL_AFTER_TORCH if str(args[0]) in ("build", "diagram") else KILL_AFTER
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env,
            preexec_fn=_child_limits,
        )  # fmt: skip
        rc: int | None = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - start > limit:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - start
        proc.returncode = -signal.SIGKILL if rc is None else rc  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        hwm = Path(hwm_path).read_text().strip()
        os.unlink(hwm_path)
        return Run(
            tuple(map(str, args)),
            None if cwd is None else str(cwd),
            rc,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            # VmHWM of the child's own image; ru_maxrss would also count the pages it shared
            # with this (pytest) process between fork and exec. Killed runs fall back to it.
            (int(hwm) if hwm else usage.ru_maxrss) / 1024,
        )


def assert_no_crash(run: Run) -> None:
    assert run.rc is not None, f"archc did not finish: killed\n{run.describe()}"
    assert run.rc != 3, f"internal error (exit 3)\n{run.describe()}"
    assert run.rc >= 0, f"archc died from signal {-run.rc}\n{run.describe()}"
    for stream in (run.out, run.err):
        assert "Traceback" not in stream, run.describe()
        assert "internal error" not in stream, run.describe()


def assert_within_budget(run: Run) -> None:
    """Under 2 s and 200 MB. A run over time is repeated once before it counts: on a busy
    machine the wall clock also measures the other processes."""
    if run.seconds >= MAX_SECONDS and run.rc is not None:
        again = run_archc(*run.args, cwd=run.cwd)
        if again.rc == run.rc and again.seconds < run.seconds:
            run = again
    assert run.seconds < MAX_SECONDS, f"took {run.seconds:.2f} s\n{run.describe()}"
    assert run.rss_mb < MAX_RSS_MB, f"peak RSS {run.rss_mb:.0f} MB\n{run.describe()}"


def assert_text_error(run: Run, path: str, code: str | None, line: int | None) -> None:
    """Text diagnostics: ``error[CODE]`` somewhere, ``path:LINE:`` at the very start."""
    if code is None:
        return
    assert f"error[{code}]" in run.err, f"expected error[{code}]\n{run.describe()}"
    if run.rc == 1:
        assert re.match(rf"{re.escape(path)}(:\d+:\d+)?: error\[E\d+\]", run.err), run.describe()
    if line is not None:
        assert run.err.startswith(f"{path}:{line}:"), f"expected {path}:{line}:\n{run.describe()}"


def assert_json_error(run: Run, code: str, line: int | None) -> None:
    try:
        diagnostics = json.loads(run.out)
    except json.JSONDecodeError:
        pytest.fail(f"--format json printed no JSON\n{run.describe()}")
    assert isinstance(diagnostics, list) and diagnostics, run.describe()
    assert all(isinstance(d, dict) and {"code", "message", "line"} <= d.keys() for d in diagnostics)
    matching = [d for d in diagnostics if d["code"] == code]
    assert matching, f"no diagnostic with code {code}\n{run.describe()}"
    if line is not None:
        assert diagnostics[0]["line"] == line, run.describe()


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


def corpus_params(stems: list[str] | None = None, bugs: bool = True) -> list:
    params = []
    for path in FILES:
        if stems is not None and path.stem not in stems:
            continue
        marks = []
        if path.stem in KNOWN_BUGS:
            if not bugs:
                continue
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[path.stem]))
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def _first_per_code() -> list[str]:
    """One case for each expected code (and one accepted spec): the JSON and build subsets."""
    chosen: dict[str | None, str] = {}
    for stem, exp in EXPECTATIONS.items():
        if stem not in KNOWN_BUGS:
            chosen.setdefault(exp.code, stem)
    return sorted(chosen.values())


JSON_SUBSET = _first_per_code()
BUILD_SUBSET = [s for s in JSON_SUBSET if EXPECTATIONS[s].exit == 1][::3] + [
    "shape_shrinks_to_zero",
    "name_code_injection",
    "expr_dunder_import",
    "budget_filters_1e12",
]


def test_corpus_is_big_and_well_formed():
    assert len(FILES) >= 80
    assert set(KNOWN_BUGS) <= set(EXPECTATIONS), set(KNOWN_BUGS) - set(EXPECTATIONS)
    from archc.errors import CODES

    for stem, exp in EXPECTATIONS.items():
        assert exp.exit in (0, 1, 2), stem
        assert (exp.code is None) == (exp.exit == 0), stem
        assert exp.code is None or exp.code in CODES, f"{stem}: unknown code {exp.code}"


@pytest.mark.parametrize("path", corpus_params())
def test_check(path: Path):
    exp = EXPECTATIONS[path.stem]
    run = run_archc("check", path)
    assert_no_crash(run)
    assert run.rc == exp.exit, run.describe()
    if exp.exit == 0:
        assert run.out.startswith("OK "), run.describe()
    assert_text_error(run, str(path), exp.code, exp.line)
    assert_within_budget(run)


@pytest.mark.parametrize("path", corpus_params(JSON_SUBSET, bugs=False))
def test_summary_json(path: Path):
    exp = EXPECTATIONS[path.stem]
    run = run_archc("summary", path, "--format", "json", "--json")
    assert_no_crash(run)
    assert run.rc == exp.exit, run.describe()
    if exp.code is None:
        assert json.loads(run.out)["name"], run.describe()
    else:
        assert_json_error(run, exp.code, exp.line)
    assert_within_budget(run)


@pytest.mark.parametrize("path", corpus_params(BUILD_SUBSET, bugs=False))
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


# -- inputs made at test time ----------------------------------------------------------------

SPEC = "archc: 1\nname: Net\ninput: {shape: [4]}\nlayers: [{type: dense, units: 2}]\n"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _huge(path: Path, size: int) -> Path:
    """A file of `size` bytes of YAML comments, written in chunks."""
    line = b"#" + b"x" * 62 + b"\n"
    chunk = line * (1 << 14)
    with path.open("wb") as f:
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
    return path


def _max_file_bytes() -> int:
    from archc.load import MAX_FILE_BYTES

    return MAX_FILE_BYTES


def _bytes(name: str, data: bytes):
    return lambda d: _write(d / name, data)


LATIN1 = SPEC.replace("Net", "Caf\xe9").encode("latin-1")

GENERATED = [
    # id, maker(tmp_path) -> path, exit, code, line
    ("empty_file", _bytes("empty.yaml", b""), 1, "E105", None),
    ("whitespace_only", _bytes("ws.yaml", b"  \n\n   \n"), 1, "E105", None),
    ("file_of_100_mb", lambda d: _huge(d / "huge.yaml", 100 << 20), 2, "E002", None),
    (
        "one_byte_over_limit",
        lambda d: _huge(d / "over.yaml", _max_file_bytes() + 1),
        2,
        "E002",
        None,
    ),
    ("directory", lambda d: d, 2, "E001", None),
    ("missing_file", lambda d: d / "nope.yaml", 2, "E001", None),
    ("missing_directory", lambda d: d / "no" / "such" / "dir.yaml", 2, "E001", None),
    ("parent_is_a_file", lambda d: _write(d / "f", b"") / "spec.yaml", 2, "E001", None),
    ("symlink_loop", lambda d: _symlink_loop(d), 2, "E001", None),
    ("binary_bytes", _bytes("bin.yaml", bytes(range(256)) * 16), 1, "E101", 2),
    ("latin1_text", _bytes("l1.yaml", LATIN1), 1, "E101", 2),
    ("utf16_text", _bytes("u16.yaml", SPEC.encode("utf-16")), 1, "E101", 1),
    ("truncated_utf8", _bytes("tr.yaml", SPEC.encode() + b"\xc3"), 1, "E101", 5),
    ("overlong_utf8", _bytes("ol.yaml", b"archc: 1\nname: \xc0\xae\n"), 1, "E101", 2),
    ("nul_bytes_only", _bytes("nul.yaml", b"\0" * 64), 1, "E100", 1),
    ("utf8_bom_only", _bytes("bom.yaml", b"\xef\xbb\xbf"), 1, "E105", None),
]


def _symlink_loop(d: Path) -> Path:
    (d / "a.yaml").symlink_to(d / "b.yaml")
    (d / "b.yaml").symlink_to(d / "a.yaml")
    return d / "a.yaml"


@pytest.mark.parametrize(
    "make, exit, code, line", [pytest.param(*g[1:], id=g[0]) for g in GENERATED]
)
def test_generated_input(tmp_path: Path, make, exit: int, code: str, line: int | None):
    path = make(tmp_path)
    run = run_archc("check", path)
    assert_no_crash(run)
    assert run.rc == exit, run.describe()
    if exit == 2:
        assert run.err.startswith(f"archc: error[{code}]: "), run.describe()
    else:
        assert_text_error(run, str(path), code, line)
    assert_within_budget(run)
    json_run = run_archc("check", path, "--format", "json")
    assert_no_crash(json_run)
    assert json_run.rc == exit, json_run.describe()
    assert_json_error(json_run, code, line)


def test_fifo(tmp_path: Path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    run = run_archc("check", fifo)
    assert_no_crash(run)
    assert (run.rc, "error[E001]" in run.err) == (2, True), run.describe()
    assert_within_budget(run)


def test_endless_device():
    run = run_archc("check", "/dev/zero")
    assert_no_crash(run)
    assert run.rc == 2 and re.search(r"error\[E00[12]\]", run.err), run.describe()
    assert_within_budget(run)


def test_one_megabyte_of_layers(tmp_path: Path):
    path = tmp_path / "layers.yaml"
    path.write_text(SPEC.replace("layers: [{type: dense, units: 2}]\n", "layers:\n")
                    + "  - {type: identity}\n" * 50_000)  # fmt: skip
    run = run_archc("check", path)
    assert_no_crash(run)
    assert run.rc == 1 and "error[E106]" in run.err, run.describe()
    assert_within_budget(run)


# -- --set overrides -------------------------------------------------------------------------

SET_CASES = [
    # id, spec, override, exit, code, the text starts with
    ("vars_zero", RESNET18, "vars.classes=0", 1, "E204", str(RESNET18)),
    ("vars_import", RESNET18, "vars.classes=${__import__('os').system('id')}", 1, "E210", "--set "),
    ("vars_class_escape", RESNET18, "vars.classes=${().__class__}", 1, "E210", "--set "),
    ("vars_float", RESNET18, "vars.classes=1e3", 1, "E204", str(RESNET18)),
    ("vars_unclosed", RESNET18, "vars.classes=[1", 1, "E100", "--set "),
    ("vars_absent", LENET, "vars.x=1", 2, "E004", "archc: "),
    ("input_shape_zero", LENET, "input.shape=[0,1,1]", 1, "E204", "--set "),
    ("input_shape_negative", LENET, "input.shape=[-1,32,32]", 1, "E204", "--set "),
    ("input_shape_empty_value", LENET, "input.shape=", 1, "E204", "--set "),
    ("input_shape_python_tag", LENET, "input.shape=!!python/object:os.system", 1, "E103", "--set "),
    ("input_apply_tag", LENET, "input=!!python/object/apply:os.system [id]", 1, "E103", "--set "),
    ("input_recursive_alias", LENET, "layers.0.filters=&a [*a]", 1, "E106", "--set "),
    ("input_huge_int", LENET, "layers.0.filters=" + "9" * 50, 1, "E106", "--set "),
    ("filters_negative", LENET, "layers.0.filters=-1", 1, "E204", "--set "),
    ("kernel_too_big", LENET, "layers.0.kernel=100", 1, "E302", None),
    ("units_budget", LENET, "layers.5.units=1000000000", 1, "E502", None),
    ("layer_scalar", LENET, "layers.0=5", 1, "E204", "--set "),
    ("name_keyword", LENET, "name=class", 1, "E204", "--set "),
    ("new_top_level_key", LENET, "newkey=1", 1, "E201", "--set "),
    ("nonexistent_key", LENET, "nonexistent.key=1", 2, "E004", "archc: "),
    ("empty_key", LENET, "=3", 2, "E004", "archc: "),
    ("blank_key", LENET, "  =3", 2, "E004", "archc: "),
    ("no_equals", LENET, "noequals", 2, "E004", "archc: "),
    ("index_out_of_range", LENET, "layers.99.filters=1", 2, "E004", "archc: "),
    ("negative_index", LENET, "layers.-1.filters=1", 2, "E004", "archc: "),
    ("inside_a_scalar", LENET, "input.shape.0.x=1", 2, "E004", "archc: "),
]  # fmt: skip


@pytest.mark.parametrize(
    "spec, override, exit, code, start", [pytest.param(*c[1:], id=c[0]) for c in SET_CASES]
)
def test_set_override(spec: Path, override: str, exit: int, code: str, start: str | None):
    run = run_archc("check", spec, "--set", override)
    assert_no_crash(run)
    assert run.rc == exit, run.describe()
    assert f"error[{code}]" in run.err, run.describe()
    if start is not None:
        assert run.err.startswith(start), run.describe()
    assert_within_budget(run)
    json_run = run_archc("check", spec, "--set", override, "--format", "json")
    assert_no_crash(json_run)
    assert json_run.rc == exit, json_run.describe()
    assert_json_error(json_run, code, None)


# -- output paths that cannot be written -------------------------------------------------------


def _file_parent(tmp_path: Path) -> Path:
    (tmp_path / "a_file").write_text("keep me\n")
    return tmp_path / "a_file" / "out"


def _existing_file(tmp_path: Path) -> Path:
    (tmp_path / "a_file").write_text("keep me\n")
    return tmp_path / "a_file"


OUTPUTS = [
    ("build", lambda d: Path("/proc/archc-forbidden")),
    ("build", lambda d: Path("/sys/archc-forbidden/deeper")),
    ("build", _file_parent),
    ("build", _existing_file),
    ("diagram", lambda d: Path("/proc/archc-forbidden.svg")),
    ("diagram", lambda d: _file_parent(d) / "net.dot"),
]


@pytest.mark.parametrize(
    "verb, target", [pytest.param(v, t, id=f"{v}-{i}") for i, (v, t) in enumerate(OUTPUTS)]
)
def test_unwritable_output(tmp_path: Path, verb: str, target):
    out = target(tmp_path)
    run = run_archc(verb, LENET, "-o", out)
    assert_no_crash(run)
    assert run.rc == 2, run.describe()
    assert run.err.startswith("archc: error[E003]: "), run.describe()
    if (tmp_path / "a_file").exists():
        assert (tmp_path / "a_file").read_text() == "keep me\n"
    assert not [p for p in tmp_path.rglob("*") if p.name != "a_file"], "files left behind"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_directory(tmp_path: Path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        run = run_archc("build", LENET, "-o", out)
    finally:
        out.chmod(0o700)
    assert_no_crash(run)
    assert run.rc == 2 and run.err.startswith("archc: error[E003]: "), run.describe()
    assert list(out.iterdir()) == []


# -- an accepted spec with hostile text builds to harmless code --------------------------------

ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional"}
CALL_ROOTS = {"nn", "F", "torch", "self"}


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def check_generated_source(source: str) -> None:
    """Only torch imports and class definitions; every call goes to nn/F/torch/self/super or
    to one of the generated classes."""
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
                assert ast.unparse(base) == "nn.Module", ast.unparse(base)
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
            assert func.id in classes | {"super"}, f"call to {ast.unparse(func)}"
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
