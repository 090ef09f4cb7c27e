"""Layer and network names: they become attributes and a class of the generated nn.Module."""

from __future__ import annotations

import keyword
import re
import warnings

import pytest
import torch
from helpers import check_in_process, spec_text

import archc
from archc.layers.base import RESERVED_NAMES


def public_names(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


@pytest.mark.parametrize("source", [torch.nn.Module, torch.nn.Module()], ids=["class", "instance"])
def test_reserved_names_cover_every_public_module_attribute(source):
    missing = public_names(source) - RESERVED_NAMES
    assert not missing, f"add to RESERVED_NAMES: {sorted(missing)}"


DENSE = {"type": "dense", "units": 3}

BAD_NAMES = [
    # keywords and soft keywords
    "class", "def", "lambda", "None", "True", "import", "match", "case",
    # dunders
    "__init__", "__class__", "__dict__", "__call__",
    # non-ASCII look-alikes: Cyrillic с, Greek ο, fullwidth ｃ (NFKC would turn it into c)
    "\u04411", "c\u03bfnv", "\uff431", "\u210c",
    # not identifiers at all; code injection
    "x; import os", "x = 1", "a b", "a-b", "1st", "", "c1\n", "os.system('x')",
    # public nn.Module attributes
    "forward", "training", "parameters", "to", "cuda", "state_dict", "type", "eval", "float",
    # names the generated code itself uses
    "self", "torch", "nn", "F",
]  # fmt: skip


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_layer_names_are_rejected(tmp_path, name):
    text = spec_text([{"name": name, **DENSE}], [4])
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    rc, out, err = check_in_process("spec.yaml", cwd=tmp_path)
    assert rc == 1, out
    assert "Traceback" not in err
    assert re.match(r"spec\.yaml:5:\d+: error\[E204\]: ", err), err
    assert "`name`" in err


@pytest.mark.parametrize("name", ["a\x1b[2Jb", "c1\nc2", "c1\rc2", "c1\x08"], ids=repr)
def test_rejected_names_are_shown_escaped(tmp_path, name):
    (tmp_path / "spec.yaml").write_text(spec_text([{"name": name, **DENSE}], [4]))
    rc, out, err = check_in_process("spec.yaml", cwd=tmp_path)
    assert rc == 1
    assert re.match(r"spec\.yaml:5:\d+: error\[E204\]: ", err), err
    lines = err.splitlines()
    assert not any(c in err for c in "\x1b\r\x08")
    assert "Received" in lines[0]  # the header is not split by a newline from the name
    assert lines[1].lstrip().startswith("5 |")


@pytest.mark.parametrize("name", ["class", "\u04411", "x; import os", "forward", "torch"], ids=repr)
def test_bad_network_names_are_rejected(name):
    with pytest.raises(archc.SpecError) as info:
        archc.loads(spec_text([DENSE], [4], name=name))
    assert [d.code for d in info.value.diagnostics] == ["E204"]
    assert info.value.diagnostics[0].pos.line == 2


@pytest.mark.parametrize(
    "where",
    [
        "outputs",
        "input.name",
        "inputs",
    ],
)
def test_bad_names_elsewhere_are_rejected(where):
    """`input.name` is a name like a layer's; `outputs` and `inputs` refer to names, so a
    keyword there names no layer (a badly named layer is reported once, at its name)."""
    layers = [{"name": "fc1", **DENSE}]
    if where == "inputs":
        layers[0]["inputs"] = "class"
    text = spec_text(layers, [4], outputs=["class"] if where == "outputs" else None)
    if where == "input.name":
        text = text.replace("{shape: [4]}", "{shape: [4], name: class}")
    with pytest.raises(archc.SpecError) as info:
        archc.analyse(archc.loads(text))
    expected = "E204" if where == "input.name" else "E402"
    assert [d.code for d in info.value.diagnostics] == [expected]


def test_a_badly_named_layer_is_reported_once_not_at_each_reference():
    layers = [
        {"name": "F", **DENSE},
        {"name": "a", "type": "dense", "units": 3, "inputs": "F"},
        {"name": "b", "type": "add", "inputs": ["F", "a"]},
    ]
    with pytest.raises(archc.SpecError) as info:
        archc.loads(spec_text(layers, [4]))
    assert [(d.code, d.pos.line) for d in info.value.diagnostics] == [("E204", 5)]


GOOD_NAMES = ["c1", "conv_1", "Conv", "x", "input_", "layer0", "T", "print"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_layer_names_build_working_modules(name):
    spec = archc.loads(
        spec_text([{"name": name, **DENSE}, {"type": "activation", "fn": "relu"}], [4])
    )
    model = archc.to_torch(spec)
    assert sum(p.numel() for p in model.parameters()) == archc.analyse(spec).params == 15
    assert isinstance(getattr(model, name), torch.nn.Linear)
    assert model(torch.randn(2, 4)).shape == (2, 3)


def accepted_but_broken(layer_name: str | None = None, net_name: str = "Net") -> str | None:
    """Why a name archc accepts gives a broken module (None if rejected or working)."""
    name = layer_name or "fc"
    try:
        spec = archc.loads(spec_text([{"name": name, **DENSE}], [4], name=net_name))
    except archc.SpecError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = archc.to_torch(spec)
            params = sum(p.numel() for p in model.parameters())
            out = model(torch.randn(2, 4))
            keys = sorted(model.state_dict())
    except (Exception, RecursionError) as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"[:120]
    if params != 15 or tuple(out.shape) != (2, 3) or keys != [f"{name}.bias", f"{name}.weight"]:
        return f"params={params} out={tuple(out.shape)} state_dict={keys}"
    return None


def test_private_module_attributes_are_rejected_or_harmless():
    private = sorted(n for n in dir(torch.nn.Module()) if re.match(r"_[^_]", n))
    broken = {n: why for n in private if (why := accepted_but_broken(n))}
    assert not broken, broken


def test_network_named_after_a_builtin_used_by_generated_code():
    assert accepted_but_broken(net_name="super") is None


@pytest.mark.parametrize("net_name", ["Module", "Tensor", "tuple", "x", "LeNet5"])
def test_other_network_names_work(net_name):
    assert accepted_but_broken(net_name=net_name) is None


def test_every_keyword_is_rejected():
    for word in keyword.kwlist + keyword.softkwlist:
        with pytest.raises(archc.SpecError):
            archc.loads(spec_text([{"name": word, **DENSE}], [4]))
