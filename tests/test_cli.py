"""Every `archc` verb through a real subprocess, and a table of bad inputs.

Exit codes (archc/cli.py): 0 success, 1 invalid spec, 2 bad usage or unreadable file,
3 internal error. No run may print a traceback; a spec error starts with ``path:line:col:``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LENET, LENET_MACS, LENET_PARAMS, LENET_PUBLISHED, run_cli, spec_text

# -- the verbs on LeNet-5 ----------------------------------------------------------------------


def test_check():
    code, out, err = run_cli("check", LENET)
    assert code == 0, err
    assert out.startswith("OK ")
    assert "1x32x32 -> 10" in out
    assert f"{LENET_PARAMS:,} params" in out
    assert f"{LENET_MACS:,} MACs" in out
    assert err == ""


def test_check_json():
    code, out, err = run_cli("check", LENET, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert {k: doc[k] for k in ("ok", "name", "params", "macs")} == {
        "ok": True,
        "name": "LeNet5",
        "params": LENET_PARAMS,
        "macs": LENET_MACS,
    }


def table_rows(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}


def test_summary_table():
    code, out, err = run_cli("summary", LENET)
    assert code == 0, err
    rows = table_rows(out)
    assert rows["total"][-2:] == [f"{LENET_PARAMS:,}", f"{LENET_MACS:,}"]
    for name, shape, params, macs in LENET_PUBLISHED:
        row = rows[name]
        assert row[2] == "x".join(map(str, shape))
        assert row[-2:] == [f"{params:,}", f"{macs:,}"]


def test_summary_json():
    code, out, err = run_cli("summary", LENET, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"name", "input", "output", "params", "macs", "flops", "ops", "layers"}
    assert doc["flops"] == 2 * LENET_MACS
    assert doc["name"] == "LeNet5"
    assert doc["input"] == [1, 32, 32]
    assert doc["output"] == [10]
    assert doc["params"] == LENET_PARAMS
    assert doc["macs"] == LENET_MACS
    assert len(doc["layers"]) == len(LENET_PUBLISHED)
    previous = doc["input"]
    for layer, (name, shape, params, macs) in zip(doc["layers"], LENET_PUBLISHED):
        assert set(layer) == {
            "name", "type", "input", "output", "params", "macs", "flops", "ops", "receptive_field"
        }  # fmt: skip
        assert layer["name"] == name
        assert layer["input"] == previous
        assert layer["output"] == list(shape)
        assert layer["params"] == params
        assert layer["macs"] == macs
        previous = layer["output"]
    assert [layer["type"] for layer in doc["layers"]] == [
        "conv", "pool", "conv", "pool", "flatten", "dense", "dense", "dense",
    ]  # fmt: skip


def test_build(tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = run_cli("build", LENET, "-o", out_dir)
    assert code == 0, err
    target = out_dir / "LeNet5.py"
    assert target.is_file()
    assert re.search(r"^class LeNet5\(nn\.Module\):", target.read_text(), re.M)
    assert table_rows(out)["total"][-2:] == [f"{LENET_PARAMS:,}", f"{LENET_MACS:,}"]
    assert str(target) in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["LeNet5.py"]  # no temporary leftovers


def test_build_output_respects_umask(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    code, _, err = run_cli("build", LENET, "-o", tmp_path)
    assert code == 0, err
    assert (tmp_path / "LeNet5.py").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    "suffix,check",
    [
        (".svg", lambda data: b"<svg" in data and b"6x28x28" in data and b"16x5x5" in data),
        (".png", lambda data: data.startswith(b"\x89PNG\r\n\x1a\n")),
        (".pdf", lambda data: data.startswith(b"%PDF")),
        (".dot", lambda data: data.lstrip().startswith(b"digraph") and b"6x28x28" in data),
        (".gv", lambda data: data.lstrip().startswith(b"digraph")),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_diagram(tmp_path, suffix, check):
    if suffix not in (".dot", ".gv") and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    target = tmp_path / f"x{suffix}"
    code, out, err = run_cli("diagram", LENET, "-o", target)
    assert code == 0, err
    assert target.is_file() and target.stat().st_size > 0
    assert check(target.read_bytes())
    assert f"wrote {target}" in out


@pytest.mark.parametrize("name", ["x.jpg", "x.txt", "x.svgz"])
def test_diagram_unknown_extension(tmp_path, name):
    code, out, err = run_cli("diagram", LENET, "-o", tmp_path / name)
    assert code == 2
    assert err.startswith("archc: error[E005]: unknown diagram format")
    assert ".svg" in err  # says which formats exist
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_schema():
    code, out, err = run_cli("schema")
    assert code == 0, err
    schema = json.loads(out)
    assert "layers" in schema["properties"]
    assert {"archc", "name", "input", "layers"} <= set(schema["properties"])
    assert set(schema.get("required", [])) >= {"archc", "name", "input", "layers"}


def test_expand_round_trips():
    import archc

    code, out, err = run_cli("expand", LENET)
    assert code == 0, err
    again = archc.analyse(archc.loads(out))
    assert (again.params, again.macs) == (LENET_PARAMS, LENET_MACS)


def test_set_overrides_the_input_shape():
    import archc

    lenet28 = LENET.read_text().replace("shape: [1, 32, 32]", "shape: [1, 28, 28]")
    assert lenet28 != LENET.read_text()
    expected = archc.analyse(archc.loads(lenet28))
    code, out, err = run_cli("check", LENET, "--set", "input.shape=[1,28,28]")
    assert code == 0, err
    assert f"{expected.params:,} params" in out
    assert f"{LENET_PARAMS:,} params" not in out


@pytest.mark.parametrize("override", ["garbage", "=1", "nothere.x=1"])
def test_bad_set_overrides_exit_2(override):
    code, out, err = run_cli("check", LENET, "--set", override)
    assert code == 2, out
    assert "--set" in err
    assert "Traceback" not in err


def test_a_misspelt_var_override_is_refused_with_a_suggestion():
    resnet18 = LENET.parent / "resnet18.yaml"
    code, out, err = run_cli("check", resnet18, "--set", "vars.clases=10")
    assert code == 2, out
    assert err.startswith("archc: error[E004]: --set vars.clases=10: the spec has no var `clases`")
    assert "Did you mean `classes`?" in err
    code, out, err = run_cli("check", resnet18, "--set", "vars.classes=10")
    assert code == 0 and "-> 10," in out, err


@pytest.mark.parametrize("args", [["summary"], ["summary", "--json"], ["expand"]])
def test_a_reader_that_stops_early_is_not_an_error(tmp_path, args):
    import subprocess
    import sys

    # Far more output than a pipe holds, so archc is still writing when the reader leaves.
    spec = tmp_path / "long.yaml"
    spec.write_text(spec_text([{"type": "dense", "units": 4}] * 3000, [4]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "archc", args[0], spec, *args[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def test_an_internal_error_is_json_with_format_json(monkeypatch, capsys):
    from archc import cli

    def broken(args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli, "cmd_check", broken)
    assert cli.main(["check", str(LENET), "--format", "json"]) == 3
    (diagnostic,) = json.loads(capsys.readouterr().out)
    assert diagnostic["code"] == "internal"
    assert diagnostic["message"] == "internal error: ZeroDivisionError: boom"


def test_version_and_help():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("archc ")
    code, out, _ = run_cli("--help")
    assert code == 0
    for verb in ("check", "summary", "build", "diagram", "expand", "schema"):
        assert verb in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["check"],
        ["check", "--max-params", "0"],
        ["summary", str(LENET), "--depth", "0"],
        ["summary", str(LENET), "--depth", "-1"],
    ],
)
def test_bad_command_lines_exit_2(argv):
    code, _, err = run_cli(*argv)
    assert code == 2
    assert "usage:" in err
    assert "Traceback" not in err


# -- bad inputs ------------------------------------------------------------------------------


def with_first(layer: dict, shape=(1, 8, 8)) -> str:
    return spec_text([layer, {"type": "flatten"}], shape)


DUPLICATE_KEYS = """archc: 1
name: N
name: M
input: {shape: [1, 8, 8]}
layers:
  - {type: conv, filters: 6, kernel: 3}
"""


def bad(
    id: str,
    content,
    code: int,
    error: str | None = None,
    contains: tuple[str, ...] = (),
    located: bool = True,
    marks=(),
):
    """A bad-input case: file content (None: no file, "<dir>": a directory), exit code (or
    codes), diagnostic code, texts the output must contain, and whether it has a position."""
    return pytest.param(content, code, error, contains, located, id=id, marks=marks)


BAD_INPUTS = [
    bad("missing-file", None, 2, "E001", ("cannot read",), located=False),
    bad("directory", "<dir>", 2, "E001", ("directory",), located=False),
    bad("empty", "", 1, "E105", ("empty",), located=False),
    bad("only-comments", "# nothing\n# here\n", 1, "E105", located=False),
    bad("malformed-yaml", "archc: 1\nname: [N\ninput: {shape: [1]}\n", 1, "E100"),
    bad("tabs", "archc: 1\nname: N\ninput:\n\tshape: [1, 8, 8]\n", 1, "E100", ("tab",)),
    bad("binary", bytes(range(256)), (1, 2)),  # invalid spec or unreadable file: either will do
    bad("not-a-mapping", "- 1\n- 2\n", 1, "E105"),
    bad("wrong-type", with_first({"type": "conv", "filters": "six", "kernel": 3}), 1, "E204",
        ("filters",)),
    bad("float-for-int", with_first({"type": "conv", "filters": 6.0, "kernel": 3}), 1, "E204",
        ("filters", "6.0")),
    bad("misspelt-key", with_first({"type": "conv", "filters": 6, "kernal": 3}), 1, "E201",
        ("unknown key `kernal`", "did you mean `kernel`")),
    bad("unknown-layer-type", with_first({"type": "convv", "filters": 6, "kernel": 3}), 1,
        "E203", ("did you mean `conv`",)),
    bad("missing-key", with_first({"type": "conv", "filters": 6}), 1, "E202", ("kernel",)),
    bad("duplicate-key", DUPLICATE_KEYS, 1, "E102", ("duplicate key `name`",)),
    bad("kernel-too-big", with_first({"type": "conv", "filters": 6, "kernel": 5}, (1, 4, 4)), 1,
        "E302", ("5x5", "4x4")),
    bad("yaml-tag", "archc: 1\nname: !!python/name:os.system N\n", 1, "E103"),
    bad("dense-on-image", with_first({"type": "dense", "units": 3}), 1, "E305", ("flatten",)),
    bad("unknown-input", spec_text([{"type": "flatten", "inputs": "inptu"}], [4]), 1, "E402",
        ("did you mean `input`",)),
    bad("inf-scale", with_first({"type": "upsample", "scale": math.inf}), 1),
    bad("huge-scale", with_first({"type": "upsample", "scale": 1e308}, (1, 4, 4)), 1),
    bad("inf-eps", with_first({"type": "batchnorm", "eps": math.inf}), 1),
    bad("global-pool-with-stride", with_first({"type": "pool", "kernel": "global", "stride": 2}),
        1),
]  # fmt: skip


def write_case(tmp_path, content) -> str:
    """Create the case's spec file in tmp_path; returns the path as passed to archc."""
    name = "spec.yaml"
    if content == "<dir>":
        (tmp_path / name).mkdir()
    elif isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_text(content)
    return name


@pytest.mark.parametrize("content,code,error,contains,located", BAD_INPUTS)
def test_bad_input(tmp_path, content, code, error, contains, located):
    path = write_case(tmp_path, content)
    rc, out, err = run_cli("check", path, cwd=tmp_path)
    assert rc in (code if isinstance(code, tuple) else (code,)), err
    assert "Traceback" not in err + out
    assert "internal error" not in err
    if error:
        assert f"[{error}]" in err
    for text in contains:
        assert text in err
    if rc == 1:
        head = re.escape(path) + (r":\d+:\d+: " if located else ": ")
        assert re.match(head + r"error\[E\d{3}\]: ", err), err
        assert re.search(r"^\d+ errors?$", err, re.M)


# `build` imports torch, so only a few cases run through it: a failed build writes nothing.
BUILD_CASES = {"malformed-yaml", "misspelt-key", "kernel-too-big", "inf-eps"}


@pytest.mark.parametrize(
    "content,code,error,contains,located", [p for p in BAD_INPUTS if p.id in BUILD_CASES]
)
def test_bad_input_build_writes_nothing(tmp_path, content, code, error, contains, located):
    path = write_case(tmp_path, content)
    rc, out, err = run_cli("build", path, "-o", "out", cwd=tmp_path)
    assert rc in (code if isinstance(code, tuple) else (code,)), err
    assert "Traceback" not in err + out
    if error:
        assert f"[{error}]" in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_kernel_too_big_explains_the_arithmetic(tmp_path):
    (tmp_path / "spec.yaml").write_text(
        with_first({"type": "conv", "filters": 6, "kernel": 5}, (1, 4, 4))
    )
    rc, _, err = run_cli("check", "spec.yaml", cwd=tmp_path)
    assert rc == 1
    first = err.splitlines()[0]
    # Points at the kernel value on the layer's line (line 5: the first layer).
    assert first.startswith("spec.yaml:5:")
    col = int(first.split(":")[2])
    assert err.splitlines()[1].rstrip().endswith('"kernel": 5}')
    assert err.splitlines()[1].split("| ", 1)[1][col - 1] == "5"
    assert "5x5" in first and "4x4" in first
    notes = [line for line in err.splitlines() if line.strip().startswith("note:")]
    assert notes, err
    # The arithmetic: input 4, kernel 5, giving 0.
    assert re.search(r"\b4\b.*\b5\b.*= 0$", notes[0]), notes
    helps = [line for line in err.splitlines() if line.strip().startswith("help:")]
    assert helps and "padding" in helps[0]


@pytest.mark.parametrize(
    "layers,codes",
    [
        # two validation mistakes in different layers
        (
            [
                {"type": "conv", "filters": "six", "kernel": 3},
                {"type": "pool", "kernal": 2},
                {"type": "flatten"},
            ],
            ["E204", "E201"],
        ),
        # two shape mistakes in independent branches
        (
            [
                {"name": "a", "type": "conv", "filters": 2, "kernel": 9},
                {"name": "b", "type": "pool", "kernel": 3, "padding": 2, "inputs": "input"},
                {"type": "concat", "inputs": ["a", "b"]},
            ],
            ["E302", "E303"],
        ),
        # a loading mistake and a validation mistake
        (
            [{"type": "conv", "filters": 2, "filters ": 3, "kernel": 3, "stride": -1}],
            ["E201", "E204"],
        ),
        # a shape mistake before a layer with an invalid value: both, in file order
        (
            [
                {"type": "conv", "filters": 2, "kernel": 9},
                {"type": "flatten"},
                {"type": "dense", "units": 0},
            ],
            ["E302", "E204"],
        ),
        # an invalid layer and an unknown input elsewhere; the invalid layer's readers are
        # not analysed, so nothing is reported twice
        (
            [
                {"name": "a", "type": "conv", "filters": -2, "kernel": 1},
                {"name": "b", "type": "conv", "filters": 2, "kernel": 1, "inputs": "nope"},
                {"type": "add", "inputs": ["a", "b"]},
            ],
            ["E204", "E402"],
        ),
    ],
    ids=["validation", "shapes", "load+validation", "shape+validation", "validation+graph"],
)
def test_independent_mistakes_are_all_reported(tmp_path, layers, codes):
    (tmp_path / "spec.yaml").write_text(spec_text(layers, [1, 8, 8]))
    rc, _, err = run_cli("check", "spec.yaml", cwd=tmp_path)
    assert rc == 1
    heads = [line for line in err.splitlines() if re.match(r"spec\.yaml:\d+:\d+: error\[", line)]
    assert [re.search(r"error\[(E\d+)\]", h).group(1) for h in heads] == codes
    lines = [int(h.split(":")[1]) for h in heads]
    assert lines == sorted(lines) and all(line >= 5 for line in lines)
    assert err.rstrip().endswith(f"{len(codes)} errors")


def test_duplicate_key_and_wrong_type_are_both_reported(tmp_path):
    text = DUPLICATE_KEYS.replace("filters: 6", "filters: six")
    (tmp_path / "spec.yaml").write_text(text)
    rc, _, err = run_cli("check", "spec.yaml", cwd=tmp_path)
    assert rc == 1
    assert "spec.yaml:3:1: error[E102]" in err
    assert "spec.yaml:6:" in err and "[E204]" in err
    assert err.rstrip().endswith("2 errors")


def test_errors_as_json(tmp_path):
    (tmp_path / "spec.yaml").write_text(with_first({"type": "conv", "filters": 6, "kernal": 3}))
    rc, out, err = run_cli("check", "spec.yaml", "--format", "json", cwd=tmp_path)
    assert rc == 1
    (diag,) = json.loads(out)
    assert diag["code"] == "E201"
    assert diag["path"] == "spec.yaml"
    assert diag["line"] == 5 and diag["col"] > 1
    assert diag["help"] == "did you mean `kernel`?"


def test_build_on_a_bad_spec_keeps_the_previous_file(tmp_path):
    """A failed build neither writes nor removes anything in the output directory."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    previous = out_dir / "N.py"
    previous.write_text("# the previous build\n")
    (tmp_path / "spec.yaml").write_text(
        spec_text(
            [{"type": "conv", "filters": 6, "kernel": 5}, {"type": "flatten"}], [1, 4, 4], name="N"
        )
    )
    rc, _, err = run_cli("build", "spec.yaml", "-o", out_dir, cwd=tmp_path)
    assert rc == 1, err
    assert [p.name for p in out_dir.iterdir()] == ["N.py"]
    assert previous.read_text() == "# the previous build\n"


def test_summary_prints_a_hostile_description_on_one_harmless_line(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text(
        'archc: 1\nname: Net\ndescription: "red \\e[31m text\\nsecond\\rline"\n'
        "input: {shape: [4]}\nlayers: [{type: dense, units: 2}]\n"
    )
    code, out, err = run_cli("summary", spec)
    assert code == 0, err
    title = out.splitlines()[0]
    assert title == "Net: red \\x1b[31m text second line"
    assert "\x1b" not in out and "\r" not in out


def test_build_passes_on_what_pytorch_warns_as_one_note(tmp_path):
    spec = tmp_path / "even.yaml"
    spec.write_text(
        spec_text([{"type": "conv", "filters": 3, "kernel": 2, "padding": "same"}], [3, 8, 8])
    )
    code, out, err = run_cli("build", spec, "-o", tmp_path / "out")
    assert code == 0, err
    assert err.startswith("archc: note: PyTorch warns: Using padding='same' with even kernel")
    assert "UserWarning" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("spec", ["lenet5", "resnet18", "squeezenet1_0"])
def test_expand_piped_into_check_gives_the_same_verdict(spec):
    path = Path(__file__).resolve().parent.parent / "architectures" / f"{spec}.yaml"
    code, expanded, err = run_cli("expand", path)
    assert code == 0, err
    direct = run_cli("check", path, "--format", "json")
    piped = subprocess.run(
        [sys.executable, "-m", "archc", "check", "-", "--format", "json"],
        input=expanded, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (piped.returncode, json.loads(piped.stdout)) == (direct[0], json.loads(direct[1]))


def test_expand_quotes_what_would_read_back_as_another_value(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text([{"type": "dense", "units": 2}], [4]).replace(
        'name: "Net"', 'name: "Net"\ndescription: "1e3"'
    ))  # fmt: skip
    code, expanded, err = run_cli("expand", path)
    assert code == 0, err
    assert 'description: "1e3"' in expanded
    import archc

    assert archc.loads(expanded).description == "1e3"
