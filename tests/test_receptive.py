"""Receptive fields (archc/receptive.py) against PyTorch, by a gradient probe.

The probe builds the compiled module (`archc.to_torch`), gives every weight a positive constant
(so no two paths cancel), runs a batch of ones and backpropagates from chosen output elements,
one batch entry per element: the input pixels whose gradient is nonzero are the element's real
receptive field, and their extent along each axis must equal archc's
``[start + i*jump, start + i*jump + size - 1]``, clipped to the input. Max pooling is swapped
for average pooling with the same window (a max passes its gradient to one pixel of the window;
the window, which is what the field is made of, is the same). Batchnorm runs in eval mode and
dropout is the identity, as at inference.
"""

from __future__ import annotations

import re

import pytest
from helpers import REPO, spec_text

import archc
from archc.receptive import Field, Irregular, receptive_fields, text, to_json

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

ZOO = REPO / "architectures"


# -- the probe -------------------------------------------------------------------------------


def prepare(module: nn.Module) -> nn.Module:
    """Positive weights, average pooling for max pooling, eval mode."""
    avg = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}
    adaptive = {
        nn.AdaptiveMaxPool1d: nn.AdaptiveAvgPool1d,
        nn.AdaptiveMaxPool2d: nn.AdaptiveAvgPool2d,
        nn.AdaptiveMaxPool3d: nn.AdaptiveAvgPool3d,
    }
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in adaptive:
                setattr(parent, name, adaptive[type(child)](child.output_size))
            elif type(child) in avg:
                swap = avg[type(child)](
                    child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode
                )
                setattr(parent, name, swap)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1:  # positive, and unequal (a softmax of equal values is constant)
                p.copy_(torch.linspace(0.5, 1, p.numel()).reshape(p.shape) / p[0].numel())
            else:
                p.fill_(1.0 if name.endswith("weight") else 0.01)
    return module.eval()


def layer_values(module: nn.Module, graph: archc.Graph, x: torch.Tensor) -> dict:
    """Every layer's output, evaluated step by step as the generated forward does."""
    from archc.emit.layers import has_module, step_expr

    values = {graph.input_name: x}
    for node in graph.nodes:
        env = {"torch": torch, "F": F, "nn": nn}
        env.update((f"a{k}", values[name].clone()) for k, name in enumerate(node.inputs))
        if has_module(node):
            env["m"] = module.get_submodule(node.name)
        expr = step_expr(node, [f"a{k}" for k in range(len(node.inputs))], "m")
        values[node.name] = eval(compile(expr, "<step>", "eval"), env)
    return values


Probe = tuple[str, tuple[int, ...]]  # (layer, spatial index of one output element)


def probe(graph: archc.Graph, probes: list[Probe]) -> list[tuple[tuple[int, int], ...]]:
    """For each (layer, element): the first and last input pixel with a nonzero gradient."""
    module = prepare(archc.to_torch(graph))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread beats a contended pool
    try:
        x = torch.ones(len(probes), *graph.input_shape, requires_grad=True)
        values = layer_values(module, graph, x)
        loss = x.new_zeros(())
        for p, (name, index) in enumerate(probes):
            out = values[name][p]
            weights = torch.linspace(1, 2, out.shape[0])  # unequal: softmax-proof
            loss = loss + (out[(slice(None), *index)] * weights).sum()
        loss.backward()
    finally:
        torch.set_num_threads(threads)
    regions = []
    for p in range(len(probes)):
        nonzero = x.grad[p].abs().sum(0).nonzero()
        assert len(nonzero), f"no input pixel reaches {probes[p]}"
        regions.append(tuple((int(c.min()), int(c.max())) for c in nonzero.T))
    return regions


def expected(field: Field, index: tuple[int, ...], size: tuple[int, ...]) -> tuple:
    return tuple((max(lo, 0), min(hi, n - 1)) for (lo, hi), n in zip(field.bounds(index), size))


# -- small networks: every layer kind, at the edges and inside ---------------------------------

C = {"type": "conv", "filters": 3}
SMALL = {
    "windows": ([2, 23, 26], [
        {**C, "kernel": 3},
        {**C, "kernel": 5, "stride": 2, "padding": 2, "activation": "relu"},
        {"type": "pool", "kernel": 3, "stride": 2, "padding": 1, "ceil": True},
        {**C, "kernel": 3, "dilation": 2, "padding": "same"},
        {"type": "pool", "mode": "avg", "kernel": 2, "ceil": True},
    ]),
    "rectangular": ([1, 19, 21], [
        {**C, "kernel": [3, 5], "stride": [2, 1], "padding": [1, 2]},
        {**C, "kernel": [2, 3], "dilation": [2, 3], "activation": "softmax"},
        {**C, "kernel": 2, "padding": "same"},
        {"type": "pool", "kernel": [2, 3], "stride": [3, 2]},
    ]),
    "transposed": ([2, 9, 10], [
        {"type": "conv_transpose", "filters": 2, "kernel": 3, "padding": 1},
        {"type": "conv_transpose", "filters": 2, "kernel": [2, 4], "dilation": 2},
        {**C, "kernel": 3, "stride": 2},
        {"type": "upsample", "scale": 1, "mode": "bilinear"},
    ]),
    "adaptive": ([3, 24, 18], [
        {**C, "kernel": 3, "stride": 2, "padding": 1},
        {"type": "pool", "mode": "avg", "output": [4, 3]},
        {"type": "pool", "kernel": "global"},
    ]),
    "one_d": ([2, 40], [
        {**C, "kernel": 7, "stride": 3, "padding": 2},
        {**C, "kernel": 3, "dilation": 4},
        {"type": "pool", "mode": "avg", "kernel": 2},
    ]),
    "three_d": ([1, 7, 8, 9], [
        {**C, "kernel": 3, "stride": 2, "padding": 1},
        {**C, "kernel": [1, 3, 2]},
    ]),
}  # fmt: skip

GRAPHS = {
    # A residual add whose branch is shifted by half a pixel (even kernel, `same`), then
    # a concat of two fields of different sizes, then a product.
    "merges": ([2, 17, 15], [
        {"name": "a", **C, "kernel": 3, "padding": 1},
        {"name": "b", **C, "kernel": 2, "padding": "same", "inputs": "a", "activation": "tanh"},
        {"name": "sum", "type": "add", "inputs": ["a", "b"]},
        {"name": "c", **C, "kernel": 5, "stride": 2, "padding": 2, "inputs": "sum"},
        {"name": "d", **C, "kernel": 1, "stride": 2, "inputs": "sum"},
        {"name": "cat", "type": "concat", "inputs": ["c", "d"]},
        {"name": "e", "type": "conv", "filters": 6, "kernel": 3, "padding": 1, "inputs": "cat"},
        {"name": "gate", "type": "multiply", "inputs": ["cat", "e"], "activation": "gelu"},
    ]),
}  # fmt: skip


def edges_and_middle(graph: archc.Graph) -> list[Probe]:
    """Per layer, the elements at the first two, middle and last positions of each axis
    (every combination): the edges, where fields are clipped, and the inside."""
    import itertools

    def picks(n: int) -> list[int]:
        return sorted({0, 1, n // 2, n - 1} & set(range(n)))

    return [
        (node.name, index)
        for node in graph.nodes
        if len(node.shape) > 1
        for index in itertools.product(*map(picks, node.shape[1:]))
    ]


@pytest.mark.parametrize("case", [*SMALL, *GRAPHS])
def test_small_networks_match_torch(case):
    shape, layers = {**SMALL, **GRAPHS}[case]
    graph = archc.analyse(archc.loads(spec_text(layers, shape)))
    fields = receptive_fields(graph)
    probes = edges_and_middle(graph)
    for (name, index), region in zip(probes, probe(graph, probes)):
        field = fields[name]
        assert field is not None, name
        assert region == expected(field, index, graph.input_shape[1:]), (name, index)


def test_the_misaligned_add_is_noted():
    shape, layers = GRAPHS["merges"]
    fields = receptive_fields(archc.analyse(archc.loads(spec_text(layers, shape))))
    assert "not centred alike" in fields["sum"].note
    assert text(fields["sum"].size) == "4" and text(fields["sum"].start) == "-1"


# -- the published figures and the zoo ---------------------------------------------------------


def zoo_fields(spec: str) -> tuple[archc.Graph, dict]:
    graph = archc.analyse(archc.load(ZOO / f"{spec}.yaml"))
    return graph, receptive_fields(graph).by_name


@pytest.mark.parametrize(
    "spec,layer,size,jump",
    [
        ("lenet5", "c1", 5, 1),
        ("lenet5", "s2", 6, 2),
        ("lenet5", "c3", 14, 2),
        ("lenet5", "s4", 16, 4),
        ("resnet18", "layer4.1.add", 435, 32),
        ("vgg16", "features.30", 212, 32),
        ("alexnet", "features.12", 195, 32),
    ],
)
def test_published_figures(spec, layer, size, jump):
    """Araujo, Norris and Sim (Distill 2019): LeNet-5 16 at s4 (jump 4), ResNet-18 435 at
    layer4, VGG-16 212 at pool5, AlexNet 195 at pool5 (shared/reference/numbers.md)."""
    _, fields = zoo_fields(spec)
    f = fields[layer]
    assert to_json(f)["size"] == [size, size] and to_json(f)["jump"] == [jump, jump]


def test_flat_layers_have_no_field():
    _, fields = zoo_fields("lenet5")
    assert fields["flat"] is None and fields["f5"] is None and to_json(None) is None
    assert to_json(fields["s4"]) == {"size": [16, 16], "jump": [4, 4], "start": [0, 0]}


def test_irregular_windows_have_no_field_and_say_why():
    layers = [
        {"name": "c", **C, "kernel": 3},
        {"name": "a", "type": "pool", "output": 3},
        {"name": "u", "type": "upsample", "scale": 1.5, "inputs": "c"},
        {"name": "k", "type": "concat", "axis": 1, "inputs": ["c", "c"]},
        {"name": "b", "type": "upsample", "scale": 2, "mode": "bilinear", "inputs": "c"},
        {
            "name": "t",
            "type": "conv_transpose",
            "filters": 1,
            "kernel": 2,
            "stride": 2,
            "inputs": "c",
        },
        {"name": "after", **C, "kernel": 1, "inputs": "t"},
    ]
    text_ = spec_text(layers, [1, 10, 10], outputs=["a", "u", "k", "b", "after"])
    fields = receptive_fields(archc.analyse(archc.loads(text_)))
    assert fields["c"] is not None
    assert fields["a"] is None and fields["u"] is None and fields["k"] is None
    assert "adaptive pooling from 8 to 3" in fields.reasons["a"]
    assert "after upsampling" in fields.reasons["u"] and "after upsampling" in fields.reasons["b"]
    assert "spatial axis" in fields.reasons["k"]
    assert fields["t"] is None and "stride 2" in fields.reasons["t"]
    assert fields["after"] is None and "after" not in fields.reasons  # follows from `t`


SHRINK = re.compile(r"\b(filters|inp|out|squeeze|expand|units|width): (\d+)\b")


def shrunk(spec: str) -> str:
    """The spec with 8 to 16 times fewer channels, cheap to run (fields do not depend on them;
    the test checks that the shrunk spec's fields are the full spec's)."""

    def fewer(m: re.Match) -> str:
        n = int(m[2])
        return f"{m[1]}: {n // 16 if n % 16 == 0 else max(n // 8, 1)}"

    return SHRINK.sub(fewer, (ZOO / f"{spec}.yaml").read_text())


def probed_layers(graph: archc.Graph, fields: dict) -> list[str]:
    """Where the jump changes, and the last spatial layer of each top-level name."""
    names, last = [], {}
    for node in graph.nodes:
        f = fields[node.name]
        if f is None:
            continue
        before = fields[node.inputs[0]]
        if before is not None and before.jump != f.jump:
            names.append(node.name)
        last[node.name.split(".")[0]] = node.name
    return list(dict.fromkeys([*names, *last.values()]))


def centred(field: Field, n: int, out: int) -> int | None:
    """An element whose field and its next neighbour's lie inside the input, along axis 0."""
    for i in range(out - 1):
        (lo, _), *_ = field.bounds((i,) * len(field.size))
        (_, hi), *_ = field.bounds((i + 1,) * len(field.size))
        if lo >= 0 and hi <= n - 1:
            return i
    return None


def drops_pixels(graph: archc.Graph) -> bool:
    """Whether a strided layer's last window stops short of its input's end (the pixels after
    it are read by nothing, so a field reaching them is clipped shorter)."""
    for node in graph.nodes:
        try:
            windows = node.layer.windows(list(node.input_shapes), node.shape)
        except Irregular:
            continue
        if windows is None:
            continue
        w, n_in, n_out = windows[0], node.input_shapes[0][1], node.shape[1]
        if (n_out - 1) * w.stride - w.padding + w.kernel - 1 < n_in - 1:
            return True
    return False


def fits(spec: str, shape: list[int]) -> bool:
    try:
        archc.analyse(archc.load(ZOO / f"{spec}.yaml", overrides=[f"input.shape={shape}"]))
    except archc.SpecError:
        return False
    return True


def tall_input(spec: str) -> tuple[archc.Graph, list[str], dict[str, int | None]]:
    """The shrunk spec on the narrowest, shortest input (at least its deepest field plus two
    jumps high) where no pixel is dropped and each probed layer has two neighbouring elements
    whose fields fit."""
    graph = archc.analyse(archc.load(ZOO / f"{spec}.yaml"))
    fields = receptive_fields(graph).by_name
    need = max(f.size[0] + 2 * f.jump[0] for f in fields.values() if f and f.jump[0] < 200)
    channels = 1 if spec == "lenet5" else 3
    width = next(w for w in (16, 32, 64) if fits(spec, [channels, graph.input_shape[1], w]))
    for height in range(max(64, int(need)), 1200):
        shape = f"input.shape=[{channels},{height},{width}]"
        try:
            graph = archc.analyse(archc.loads(shrunk(spec), overrides=[shape]))
        except archc.SpecError:  # too narrow, or sizes that do not meet again in a U-Net
            continue
        if drops_pixels(graph):
            continue
        fields = receptive_fields(graph).by_name
        layers = probed_layers(graph, fields)
        picks = {n: centred(fields[n], height, graph.node(n).shape[1]) for n in layers}
        if all(p is not None or graph.node(n).shape[1] == 1 for n, p in picks.items()):
            return graph, layers, picks
    raise AssertionError(f"no input height suits {spec}")


@pytest.mark.parametrize("spec", sorted(p.stem for p in ZOO.glob("*.yaml")))
def test_zoo_fields_match_torch_along_the_height(spec):
    """Each zoo spec on a tall, narrow input, with fewer channels (the fields of the full spec
    at that input size are the same): two neighbouring elements of each probed layer, or the
    one element of a global pooling."""
    graph, layers, picks = tall_input(spec)
    full = archc.analyse(
        archc.load(ZOO / f"{spec}.yaml", overrides=[f"input.shape={list(graph.input_shape)}"])
    )
    fields = receptive_fields(graph).by_name
    assert receptive_fields(full).by_name == fields
    probes = []
    for name in layers:
        rest = tuple(s // 2 for s in graph.node(name).shape[2:])
        i = picks[name]
        probes += (
            [(name, (0, *rest))] if i is None else [(name, (i, *rest)), (name, (i + 1, *rest))]
        )
    for (name, index), region in zip(probes, probe(graph, probes)):
        want = expected(fields[name], index, graph.input_shape[1:])
        assert region[0] == want[0], (name, index, graph.input_shape)
