"""Hostile inputs made at test time, --set overrides, and output paths that cannot be written.

Some inputs cannot live in the corpus (an empty file cannot carry the expectation comment, a
100 MB file should not be committed, FIFOs and directories are not files): they are made here.
Each run is held to the corpus's promise (tests/measured.py).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from measured import (
    assert_json_error,
    assert_no_crash,
    assert_text_error,
    assert_within_budget,
    run_archc,
    run_in_process,
)

REPO = Path(__file__).resolve().parent.parent
LENET = REPO / "architectures" / "lenet5.yaml"
RESNET18 = REPO / "architectures" / "resnet18.yaml"


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
VALUES = (SPEC + "vars:\n  x: [" + "1," * 1_900_000 + "1]\n").encode()

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
    # Just under the size limit, two million values and no alias: stopped at the node limit.
    ("values_near_size_limit", _bytes("many.yaml", VALUES), 1, "E106", 6),
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


GENERATED_BY_ID = {g[0]: g[1] for g in GENERATED}


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
    # The value limit admits the largest legal inputs, bounded as 50,000 layers are.
    big = make is GENERATED_BY_ID["values_near_size_limit"]
    assert_within_budget(run, *((5, 500) if big else ()))
    json_run = run_in_process("check", path, "--format", "json")  # the same run, as JSON
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
    """One layer more than the 50,000 a spec may expand to: refused by name, within the
    bounds of the largest spec archc accepts (50,000 layers: 5 s and 500 MB, `make bench`)."""
    path = tmp_path / "layers.yaml"
    path.write_text(SPEC.replace("layers: [{type: dense, units: 2}]\n", "layers:\n")
                    + "  - {type: identity}\n" * 50_001)  # fmt: skip
    run = run_archc("check", path)
    assert_no_crash(run)
    assert run.rc == 1 and "more than 50,000 layers" in run.err, run.describe()
    assert_within_budget(run, cpu_seconds=5, rss_mb=500)


# -- --set overrides -------------------------------------------------------------------------

SET_CASES = [
    # id, spec, override, exit, code, the text starts with
    ("vars_zero", RESNET18, "vars.classes=0", 1, "E204", str(RESNET18)),
    ("vars_import", RESNET18, "vars.classes=${__import__('os').system('id')}", 1, "E210", "--set "),
    ("vars_class_escape", RESNET18, "vars.classes=${().__class__}", 1, "E210", "--set "),
    ("vars_float", RESNET18, "vars.classes=1e3", 1, "E204", str(RESNET18)),
    ("vars_unclosed", RESNET18, "vars.classes=[1", 1, "E100", "--set "),
    ("vars_absent", LENET, "vars.x=1", 2, "E004", "archc: "),
    ("vars_misspelt", RESNET18, "vars.clases=10", 2, "E004", "archc: "),
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
    ("superscript_index", LENET, "layers.²=x", 2, "E004", "archc: "),
    ("arabic_indic_index", LENET, "layers.٠.filters=3", 2, "E004", "archc: "),
    ("leading_zero_index", LENET, "layers.00.filters=3", 2, "E004", "archc: "),
    ("ten_kilobyte_key", LENET, "x" * 10_000 + ".y=1", 2, "E004", "archc: "),
]  # fmt: skip


@pytest.mark.parametrize(
    "spec, override, exit, code, start", [pytest.param(*c[1:], id=c[0]) for c in SET_CASES]
)
def test_set_override(spec: Path, override: str, exit: int, code: str, start: str | None):
    run = run_in_process("check", spec, "--set", override)
    assert_no_crash(run)
    assert run.rc == exit, run.describe()
    assert f"error[{code}]" in run.err, run.describe()
    if start is not None:
        assert run.err.startswith(start), run.describe()
    assert_within_budget(run)
    json_run = run_in_process("check", spec, "--set", override, "--format", "json")
    assert_no_crash(json_run)
    assert json_run.rc == exit, json_run.describe()
    assert_json_error(json_run, code, None)


def test_a_long_override_is_not_echoed_whole():
    run = run_archc("check", LENET, "--set", "x" * 10_000 + ".y=1")
    assert run.rc == 2, run.describe()
    assert len(run.err) < 400, run.describe()
    assert "(10,004 characters)" in run.err, run.describe()


# -- many mistakes at once -------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k{i}", "kernel"], ids=["unknown_keys", "duplicate_keys"])
def test_twenty_thousand_mistakes_on_one_line(tmp_path: Path, key: str):
    """Every mistake is found, at most 100 are printed (with a count of the rest), and the
    work does not grow with the length of the line each is printed from."""
    keys = ", ".join(f"{key.format(i=i)}: {i}" for i in range(20_000))
    path = tmp_path / "many.yaml"
    path.write_text(
        SPEC.replace("{type: dense, units: 2}", "{type: dense, units: 2, " + keys + "}")
    )
    run = run_archc("check", path)
    assert_no_crash(run)
    assert run.rc == 1, run.describe()
    assert run.err.count("error[E") == 100, run.describe()
    assert re.search(r"\.\.\. and 19,9\d\d more errors not shown\n", run.err), run.describe()
    assert len(run.err) < 64_000, run.describe()
    assert_within_budget(run)
    json_run = run_archc("check", path, "--format", "json")
    entries = json.loads(json_run.out)
    assert len(entries) == 1_001 and entries[-1]["code"] == "E007", json_run.describe()
    assert_within_budget(json_run)


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


def test_a_model_larger_than_free_memory_is_refused_before_torch(tmp_path: Path):
    """1.6 billion parameters are within the parameter budget but not in the 4 GB address
    space the runner gives archc: `build` says so (E503) instead of dying mid-allocation."""
    spec = tmp_path / "big.yaml"
    spec.write_text(
        "archc: 1\nname: Big\ninput: {shape: [40000]}\nlayers:\n  - {type: dense, units: 40000}\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    run = run_archc("build", spec, "-o", out)
    assert_no_crash(run)
    assert run.rc == 1, run.describe()
    assert_text_error(run, str(spec), "E503", 5)
    assert "needs about 6.4 GB" in run.err, run.describe()
    assert list(out.iterdir()) == []
    assert_within_budget(run)  # refused before torch is imported


# -- Ctrl-C ----------------------------------------------------------------------------------

INTERRUPTED_IMPORT = """
import sys
sys.argv[0] = {argv0!r}

class Interrupt:  # Ctrl-C arrives while archc's modules are being imported
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "archc.validate":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt)
from archc.cli import main
sys.exit(main(["check", {spec!r}]))
"""


@pytest.mark.parametrize("argv0", ["/usr/local/bin/archc", "-m"])
def test_ctrl_c_during_start_up_exits_130_quietly(argv0: str):
    code = INTERRUPTED_IMPORT.format(argv0=argv0, spec=str(LENET))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", "")


def test_ctrl_c_during_import_as_a_library_is_the_callers():
    code = INTERRUPTED_IMPORT.format(argv0="notebook.py", spec=str(LENET))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "KeyboardInterrupt" in proc.stderr
