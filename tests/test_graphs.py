"""Graphs, blocks and values: their errors (exact messages and lines), and their outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import REPO, run_cli

import archc

HEAD = "archc: 1\nname: Net\ninput: {shape: [8, 16, 16]}\nlayers:\n"  # layers from line 5


def diagnostics(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(archc.SpecError) as info:
        archc.analyse(archc.loads(text, "net.yaml"))
    return [(d.code, d.pos.line, d.message) for d in info.value.diagnostics]


GRAPH_ERRORS = [
    (
        "cycle",
        "  - {name: a, type: conv, filters: 8, kernel: 1, inputs: c}\n"
        "  - {name: b, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: c, type: add, inputs: [a, b]}\n",
        [("E404", 5, "the layers form a cycle: a -> b -> c -> a")],
    ),
    (
        "unknown input",
        "  - {name: conv1, type: conv, filters: 8, kernel: 3, padding: 1}\n"
        "  - {name: sum, type: add, inputs: [conv1, conv2]}\n",
        [("E402", 6, "unknown input `conv2`")],
    ),
    (
        "add of different channels",
        "  - {name: a, type: conv, filters: 16, kernel: 3, padding: 1}\n"
        "  - {name: sum, type: add, inputs: [a, input]}\n",
        [
            (
                "E310",
                6,
                "add needs inputs of the same shape; channels differ: 16 vs 8. "
                "Received: inputs [16, 16, 16] and [8, 16, 16]",
            )
        ],
    ),
    (
        "concat of different spatial sizes",
        "  - {name: a, type: pool, kernel: 2}\n  - {name: cat, type: concat, inputs: [a, input]}\n",
        [
            (
                "E311",
                6,
                "concat along channels needs all other dimensions to match. "
                "Received: inputs [8, 8, 8] and [8, 16, 16]",
            )
        ],
    ),
    (
        "unused layer",
        "  - {name: side, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: main, type: conv, filters: 8, kernel: 1, inputs: input}\n",
        [("E405", 5, "the output of `side` is never used")],
    ),
    (
        "dotted name inside a layer",
        "  - {name: g, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: g.b, type: conv, filters: 8, kernel: 1}\n",
        [("E401", 6, "the name puts the layer inside `g`, which is a layer itself")],
    ),
    (
        "dotted scope with two values read outside",
        "  - {name: g.a, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: g.b, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: s, type: add, inputs: [g.a, g.b]}\n",
        [
            (
                "E406",
                6,
                "the layers named `g.*` cannot form one module: 2 of their values are read "
                "outside it (`g.a`, `g.b`); a module returns one",
            )
        ],
    ),
    (
        "dotted scope interrupted",
        "  - {name: g.a, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: x, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: g.b, type: add, inputs: [x, g.a]}\n",
        [
            (
                "E406",
                6,
                "the layers named `g.*` are not consecutive: `x` runs between them, so they "
                "cannot form one module",
            )
        ],
    ),
    (
        "merge with one input",
        "  - {name: a, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: sum, type: add, inputs: [a]}\n",
        [("E403", 6, "`add` takes at least 2 inputs. Received: 1")],
    ),
]


@pytest.mark.parametrize(
    "layers, expected", [c[1:] for c in GRAPH_ERRORS], ids=[c[0] for c in GRAPH_ERRORS]
)
def test_graph_errors(layers, expected):
    assert diagnostics(HEAD + layers) == expected


def test_independent_shape_errors_in_branches_are_all_reported_once():
    text = HEAD + (
        "  - {name: a, type: conv, filters: 8, kernel: 17}\n"  # too big: 16x16 input
        "  - {name: b, type: conv, filters: 8, kernel: 20, inputs: input}\n"  # too big too
        "  - {name: c, type: add, inputs: [a, b]}\n"  # depends on both: not reported
    )
    assert [(code, line) for code, line, _ in diagnostics(text)] == [("E302", 5), ("E302", 6)]


BLOCK = """archc: 1
name: Net
vars: {width: 8}
input: {shape: [8, 16, 16]}
blocks:
  unit:
    params: {filters: int, project: false}
    layers:
      - {name: conv, type: conv, filters: $filters, kernel: 3, padding: 1}
      - {name: proj, type: conv, filters: $filters, kernel: 1, inputs: input, when: $project}
      - {name: sum, type: add, inputs: [conv, proj]}
layers:
"""


def test_block_instances_expand_to_hierarchical_names():
    text = BLOCK + (
        "  - {name: stage, type: unit, filters: 16, repeat: 3, first: {project: true}}\n"
        '  - {name: head, type: conv, filters: "${width // 2}", kernel: 1}\n'
    )
    graph = archc.analyse(archc.loads(text))
    assert [n.name for n in graph.nodes] == [
        "stage.0.conv", "stage.0.proj", "stage.0.sum",
        "stage.1.conv", "stage.1.sum",
        "stage.2.conv", "stage.2.sum",
        "head",
    ]  # fmt: skip
    assert graph.node("stage.1.sum").inputs == ("stage.1.conv", "stage.0.sum")
    assert graph.node("head").shape == (4, 16, 16)


def test_block_state_dict_follows_the_names():
    text = BLOCK + "  - {name: stage, type: unit, filters: 16, repeat: 2, first: {project: true}}\n"
    keys = set(archc.to_torch(archc.loads(text)).state_dict())
    assert {"stage.0.conv.weight", "stage.0.proj.weight", "stage.1.conv.weight"} <= keys
    assert not any(k.startswith("stage.1.proj") for k in keys)


def test_block_without_projection_reports_the_mismatch_at_the_block_line():
    text = BLOCK + "  - {name: stage, type: unit, filters: 16}\n"  # 8 -> 16 channels, no proj
    assert diagnostics(text) == [
        (
            "E310",
            11,
            "add needs inputs of the same shape; channels differ: 16 vs 8. "
            "Received: inputs [16, 16, 16] and [8, 16, 16]",
        ),
    ]


def test_several_outputs_become_a_tuple():
    text = HEAD + (
        "  - {name: a, type: conv, filters: 4, kernel: 1}\n"
        "  - {name: b, type: pool, kernel: 2, inputs: input}\n"
        "outputs: [a, b]\n"
    )
    spec = archc.loads(text)
    import torch

    out = archc.to_torch(spec)(torch.randn(2, 8, 16, 16))
    assert [tuple(t.shape) for t in out] == [(2, 4, 16, 16), (2, 8, 8, 8)]
    assert archc.analyse(spec).output_shapes() == [(4, 16, 16), (8, 8, 8)]


def test_set_overrides_vars_and_is_validated_like_the_file():
    path = REPO / "architectures" / "resnet18.yaml"
    spec = archc.load(path, ["vars.classes=10", "input.shape=[3,64,64]"])
    graph = archc.analyse(spec)
    assert graph.output_shapes() == [(10,)]
    with pytest.raises(archc.SpecError) as info:
        archc.load(path, ["vars.classes=ten"])
    (d,) = info.value.diagnostics
    assert d.code == "E204" and d.layer == "fc"


def test_summary_depth_folds_blocks():
    rc, out, _ = run_cli("summary", "architectures/resnet18.yaml", "--depth", "1", cwd=REPO)
    assert rc == 0
    names = [line.split()[0] for line in out.splitlines()[3:-2]]
    assert names == ["input", "conv1", "bn1", "maxpool", "layer1", "layer2", "layer3",
                     "layer4", "avgpool", "flatten", "fc"]  # fmt: skip
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert "11,689,512" in total


def test_diagram_collapse_draws_each_block_once(tmp_path):
    target = tmp_path / "r.dot"
    rc, _, err = run_cli(
        "diagram", "architectures/resnet18.yaml", "--collapse", "-o", str(target), cwd=REPO
    )
    assert rc == 0, err
    dot = target.read_text()
    assert dot.count("maxpool -> layer1") == 1
    assert "basic x2" in dot
    assert "conv1 ->" in dot and "layer1.0.conv1" not in dot


def test_diagram_without_graphviz_writes_dot_and_says_how_to_install(tmp_path):
    """With no `dot` program on PATH, archc writes the .dot source and explains in one line."""
    env = {**os.environ, "PATH": str(tmp_path)}  # nothing on PATH, so no `dot`
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "archc",
            "diagram",
            str(REPO / "architectures" / "lenet5.yaml"),
            "-o",
            str(tmp_path / "l.png"),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "l.dot").exists() and not (tmp_path / "l.png").exists()
    (line,) = result.stdout.strip().splitlines()
    assert "install Graphviz" in line


def test_reaching_inside_a_later_block_instance_is_refused():
    text = BLOCK + (
        "  - {name: early, type: identity, inputs: u.conv}\n"  # line 13
        "  - {name: u, type: unit, filters: 8, inputs: input}\n"
        "  - {name: s, type: add, inputs: [early, u]}\n"
    )
    ((code, line, message),) = diagnostics(text)
    assert (code, line) == ("E402", 13)
    assert message.startswith("`u.conv` reaches inside a block instance")


def test_a_layer_written_outside_an_instance_cannot_be_named_inside_it():
    text = BLOCK + (
        "  - {name: u, type: unit, filters: 8}\n"
        "  - {name: u.extra, type: conv, filters: 8, kernel: 1}\n"  # line 14
    )
    ((code, line, message),) = diagnostics(text)
    assert (code, line) == ("E401", 14)
    assert "written outside block instance `u`" in message


def test_dotted_names_build_nested_modules_with_the_static_counts():
    text = HEAD + (
        "  - {name: z.a, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: a.0.b, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: a.1, type: conv, filters: 4, kernel: 1}\n"
    )
    spec = archc.loads(text)
    model = archc.to_torch(spec)
    assert sorted(model.state_dict()) == [
        "a.0.b.bias", "a.0.b.weight", "a.1.bias", "a.1.weight", "z.a.bias", "z.a.weight",
    ]  # fmt: skip
    assert sum(p.numel() for p in model.parameters()) == archc.analyse(spec).params
    assert model(torch.zeros(1, 8, 16, 16)).shape == (1, 4, 16, 16)


def test_expand_output_is_a_valid_spec_with_the_same_numbers(tmp_path):
    rc, out, _ = run_cli("expand", "architectures/mobilenet_v2.yaml", cwd=REPO)
    assert rc == 0
    (tmp_path / "flat.yaml").write_text(out)
    rc, flat, _ = run_cli("summary", str(tmp_path / "flat.yaml"), "--json", cwd=REPO)
    rc2, orig, _ = run_cli("summary", "architectures/mobilenet_v2.yaml", "--json", cwd=REPO)
    assert rc == rc2 == 0
    assert json.loads(flat) == json.loads(orig)


def test_nested_block_call_puts_required_parameters_before_keywords():
    """A block inside a block, called with a changed default and a required parameter."""
    text = (
        "archc: 1\nname: Net\ninput: {shape: [4, 10, 10]}\nblocks:\n"
        "  inner:\n    params: {flag: false, p: int}\n    layers:\n"
        '      - {name: c, type: conv, filters: "${max(p, 2)}", kernel: 1}\n'
        "  outer:\n    layers:\n"
        "      - {name: cat, type: concat, inputs: [input, input]}\n"
        "      - {name: i, type: inner, flag: true, p: 2}\n"
        "layers:\n  - {name: o, type: outer}\n"
    )
    spec = archc.loads(text)
    source = archc.to_source(spec)
    compile(source, "<generated>", "exec")  # no "positional argument follows keyword"
    assert "Inner((in_channels + in_channels), 2, flag=True)" in source
    from archc.emit.torch import check_shapes

    assert check_shapes(archc.to_torch(spec), archc.analyse(spec)) == []


def test_identical_copies_of_a_repeat_are_written_once_with_the_same_state_dict():
    spec = archc.load(REPO / "architectures" / "resnet50.yaml")
    source = archc.to_source(spec)
    assert "            *(Bottleneck(1024, 256) for _ in range(5)),\n" in source
    model = archc.to_torch(spec)
    keys = model.state_dict()
    assert "layer3.5.conv3.weight" in keys and "layer3.6.conv1.weight" not in keys
    assert sum(p.numel() for p in model.parameters()) == archc.analyse(spec).params


# -- specs that once passed `check` but broke `build` ------------------------------------------

T_HEAD = "archc: 1\nname: T\ninput: {shape: [4, 8, 8]}\n"
ONCE_BROKEN = {
    "pool kind chosen by a parameter": """blocks:
  pl:
    params: {k: any}
    layers:
      - {name: p, type: pool, kernel: $k}
      - {name: c, type: conv, filters: 4, kernel: 1}
layers:
  - {name: a, type: pl, k: global}
  - {name: b, type: pl, k: 2, inputs: input}
  - {name: u, type: upsample, size: [1, 1], inputs: b}
  - {name: s, type: add, inputs: [a, u]}
""",
    "one-element list parameter": """blocks:
  b:
    params: {k: [3]}
    layers:
      - {name: c, type: conv, filters: 4, kernel: $k, padding: 1}
layers:
  - {name: a, type: b}
  - {name: z, type: b, k: [1]}
""",
    "first copy emptied by when": """blocks:
  opt:
    params: {on: true}
    layers:
      - {name: c, type: conv, filters: 4, kernel: 3, padding: 1, when: $on}
layers:
  - {name: s, type: opt, repeat: 3, first: {on: false}}
""",
    "output dropped by when": """blocks:
  two:
    output: second
    layers:
      - {name: first, type: conv, filters: 4, kernel: 1}
      - {name: second, type: conv, filters: 4, kernel: 1, when: false}
layers:
  - {name: a, type: two}
""",
    "numbered scopes that are not a chain": """layers:
  - {name: a.0.c, type: conv, filters: 4, kernel: 1}
  - {name: a.1.c, type: conv, filters: 4, kernel: 1, inputs: input}
  - {name: a.1.d, type: add, inputs: [a.1.c, a.0.c]}
""",
    "a block parameter code cannot hold": """blocks:
  b:
    params: {tag: str}
    layers:
      - {name: conv, type: conv, filters: 8, kernel: 1}
layers:
  - {name: x1, type: b, tag: hello}
""",
}


@pytest.mark.parametrize("body", ONCE_BROKEN.values(), ids=ONCE_BROKEN.keys())
def test_accepted_specs_build_with_their_static_shapes_and_counts(body):
    from archc.emit.torch import check_params, check_shapes

    graph = archc.analyse(archc.loads(T_HEAD + body))
    source = archc.to_source(graph)
    model = archc.to_torch(graph)
    assert check_shapes(model, graph) == []
    assert check_params(model, graph) == []
    classes = [line.split("(")[0][6:] for line in source.splitlines() if line.startswith("class ")]
    for name in classes[:-1]:  # every class but the network's is used
        assert f"{name}(" in source.split(f"class {name}(", 1)[1]


@pytest.mark.parametrize(
    "body, code, line",
    [
        (
            "blocks:\n  b:\n    layers:\n      - {name: c, type: conv, filters: 4, kernel: 1}\n"
            "      - {name: d, type: add, inputs: [c, stem]}\n"
            "layers:\n  - {name: stem, type: conv, filters: 4, kernel: 1}\n"
            "  - {name: a, type: b}\n",
            "E402",
            8,
        ),
        (
            "layers:\n  - {name: a.0, type: conv, filters: 4, kernel: 1}\n"
            "  - {name: a.00, type: conv, filters: 4, kernel: 1}\n",
            "E204",
            6,
        ),
    ],
    ids=["block reads a network layer", "numbered part with a leading zero"],
)
def test_specs_that_cannot_build_are_refused(body, code, line):
    with pytest.raises(archc.SpecError) as info:
        archc.analyse(archc.loads(T_HEAD + body))
    assert [(d.code, d.pos.line) for d in info.value.diagnostics] == [(code, line)]


def test_a_mistake_in_a_block_names_each_instance_it_differs_in():
    text = """archc: 1
name: T
vars: {w: -3}
input: {shape: [4, 8, 8]}
blocks:
  b:
    params: {f: int}
    layers:
      - {name: c, type: conv, filters: $f, kernel: 1}
layers:
  - {name: a, type: b, f: 4}
  - {name: z, type: b, f: 0}
  - {name: y, type: b, f: $w}
"""
    with pytest.raises(archc.SpecError) as info:
        archc.loads(text)
    found = sorted((d.layer, d.pos.line, d.notes) for d in info.value.diagnostics)
    assert found == [
        ("y.c", 9, ("in `y` (block `b`), made at line 13",)),
        ("z.c", 9, ("in `z` (block `b`), made at line 12",)),
    ]


def test_a_repeated_block_with_two_inputs_is_refused_at_repeat():
    text = HEAD.replace("layers:\n", "") + (
        "blocks:\n"
        "  mix:\n"
        "    inputs: [x, skip]\n"
        "    layers: [{name: s, type: add, inputs: [x, skip]}]\n"
        "layers:\n"
        "  - {name: m, type: mix, inputs: [input, input], repeat: 3}\n"  # line 9
    )
    ((code, line, message),) = diagnostics(text)
    assert (code, line) == ("E403", 9)
    assert "so it cannot be repeated" in message


def test_graph_mistakes_do_not_hide_the_others():
    """An unknown input, a cycle and shape mistakes elsewhere: all reported in one run."""
    text = HEAD + (
        "  - {name: a, type: conv, filters: 8, kernel: 1}\n"
        "  - {name: b, type: conv, filters: 8, kernel: 1, inputs: nope}\n"
        "  - {name: c, type: conv, filters: 8, kernel: 17, inputs: input}\n"
        "  - {name: d, type: add, inputs: [c, a]}\n"
        "  - {name: e, type: conv, filters: 8, kernel: 1, inputs: e}\n"
        "  - {name: f, type: concat, inputs: [d, b]}\n"
        "  - {name: g, type: dense, units: 3, inputs: input}\n"
        "outputs: [f, g]\n"
    )
    found = [(code, line) for code, line, _ in diagnostics(text)]
    assert found == [("E402", 6), ("E302", 7), ("E404", 9), ("E305", 11)]
