"""Random sequential specs: archc's static analysis agrees with torch, layer by layer.

A drawn spec is conv/pool/batchnorm/activation/dropout layers over a 1-D or 2-D input with
random kernel, stride, padding, dilation, groups and ceil, then flatten + dense. Each spec is
also built by hand in torch, from the spec's own fields (not through archc's emitters):

* archc accepts it -> `archc.to_torch` runs, `check_shapes` finds no mismatch, forward hooks on
  its modules see the static shapes, and every hand-built torch layer gives the static shape
  and parameter count;
* archc rejects it -> the hand-built torch network fails too, at the layer archc blamed (and
  every layer before it gives archc's shape): archc only rejects what torch rejects.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import spec_text
from hypothesis import event, given, note
from hypothesis import strategies as st
from torch import nn

import archc
from archc.emit.torch import check_shapes

ACTIVATIONS = {
    "none": lambda x: x,
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu": F.leaky_relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "silu": F.silu,
    "hardswish": F.hardswish,
    "softmax": lambda x: F.softmax(x, dim=1),
}
TORCH_ERRORS = (RuntimeError, ValueError, NotImplementedError)


# -- the strategy ----------------------------------------------------------------------------


def per_dim(rank: int, values: st.SearchStrategy[int]) -> st.SearchStrategy:
    """A size as archc takes it: one int, a one-value list, or one value per dimension."""
    return st.one_of(
        values,
        st.lists(values, min_size=1, max_size=1),
        st.lists(values, min_size=rank, max_size=rank),
    )


@st.composite
def conv_layer(draw, rank):
    layer = {
        "type": "conv",
        "filters": draw(st.integers(1, 6)),
        "kernel": draw(per_dim(rank, st.integers(1, 5))),
    }
    if draw(st.booleans()):
        layer["stride"] = draw(per_dim(rank, st.integers(1, 3)))
    if draw(st.booleans()):
        layer["padding"] = draw(
            st.one_of(per_dim(rank, st.integers(0, 3)), st.sampled_from(["same", "valid"]))
        )
    if draw(st.booleans()):
        layer["dilation"] = draw(per_dim(rank, st.integers(1, 3)))
    if draw(st.booleans()):
        layer["groups"] = draw(st.sampled_from([1, 2, 3]))
    if draw(st.booleans()):
        layer["bias"] = draw(st.booleans())
    layer["activation"] = draw(st.sampled_from(sorted(ACTIVATIONS)))
    return layer


@st.composite
def pool_layer(draw, rank):
    layer = {"type": "pool", "mode": draw(st.sampled_from(["max", "avg"]))}
    kind = draw(st.sampled_from(["window", "window", "window", "global", "adaptive"]))
    if kind == "global":
        layer["kernel"] = "global"
    elif kind == "adaptive":
        layer["output"] = draw(per_dim(rank, st.integers(1, 4)))
    else:
        layer["kernel"] = draw(per_dim(rank, st.integers(1, 4)))
        if draw(st.booleans()):
            layer["stride"] = draw(per_dim(rank, st.integers(1, 3)))
        if draw(st.booleans()):
            layer["padding"] = draw(per_dim(rank, st.integers(0, 2)))
        layer["ceil"] = draw(st.booleans())
    return layer


def plain_layer():
    return st.one_of(
        st.builds(
            lambda act: {"type": "batchnorm", "activation": act},
            st.sampled_from(sorted(ACTIVATIONS)),
        ),
        st.builds(
            lambda fn: {"type": "activation", "fn": fn}, st.sampled_from(sorted(ACTIVATIONS))
        ),
        st.builds(lambda rate: {"type": "dropout", "rate": rate}, st.sampled_from([0.0, 0.1, 0.5])),
    )


@st.composite
def sequential_specs(draw):
    rank = draw(st.sampled_from([1, 2]))
    shape = [draw(st.integers(1, 4))] + draw(
        st.lists(st.integers(1, 16), min_size=rank, max_size=rank)
    )
    body = draw(
        st.lists(
            st.one_of(conv_layer(rank), conv_layer(rank), pool_layer(rank), plain_layer()),
            min_size=1,
            max_size=5,
        )
    )
    head = [{"type": "flatten"}, {"type": "dense", "units": draw(st.integers(1, 8))}]
    if draw(st.booleans()):
        head.append({"type": "dense", "units": draw(st.integers(1, 8)), "activation": "softmax"})
    layers = [{"name": f"l{i}", **layer} for i, layer in enumerate(body + head)]
    return shape, layers


# -- torch, by hand --------------------------------------------------------------------------


def size(value):
    """An archc size as torch takes it (torch expands an int to every dimension)."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else tuple(value)
    return value


class Step(nn.Module):
    def __init__(self, module: nn.Module | None, activation: str = "none") -> None:
        super().__init__()
        self.module = module if module is not None else nn.Identity()
        self.activation = activation

    def forward(self, x):
        return ACTIVATIONS[self.activation](self.module(x))


def torch_layer(layer: dict, in_shape: tuple[int, ...]) -> nn.Module:
    """The torch equivalent of one spec layer, from its fields (may raise, as torch does)."""
    rank = len(in_shape) - 1
    kind = layer["type"]
    if kind == "conv":
        module = getattr(nn, f"Conv{rank}d")(
            in_shape[0],
            layer["filters"],
            size(layer["kernel"]),
            stride=size(layer.get("stride", 1)),
            padding=size(layer.get("padding", 0)),
            dilation=size(layer.get("dilation", 1)),
            groups=layer.get("groups", 1),
            bias=layer.get("bias", True),
        )
        return Step(module, layer["activation"])
    if kind == "pool":
        mode = "Max" if layer["mode"] == "max" else "Avg"
        if layer.get("kernel") == "global":
            return Step(getattr(nn, f"Adaptive{mode}Pool{rank}d")(1))
        if "output" in layer:
            out = layer["output"]
            out = out * rank if isinstance(out, list) and len(out) == 1 else out
            return Step(getattr(nn, f"Adaptive{mode}Pool{rank}d")(size(out)))
        return Step(
            getattr(nn, f"{mode}Pool{rank}d")(
                size(layer["kernel"]),
                stride=size(layer["stride"]) if "stride" in layer else None,
                padding=size(layer.get("padding", 0)),
                ceil_mode=layer["ceil"],
            )
        )
    if kind == "batchnorm":
        return Step(getattr(nn, f"BatchNorm{max(rank, 1)}d")(in_shape[0]), layer["activation"])
    if kind == "activation":
        return Step(None, layer["fn"])
    if kind == "dropout":
        return Step(nn.Dropout(layer["rate"]))
    if kind == "flatten":
        return Step(nn.Flatten())
    if kind == "dense":
        if len(in_shape) != 1:
            raise ValueError("dense on a non-flat input")  # nn.Linear would use the last dim
        return Step(nn.Linear(in_shape[0], layer["units"]), layer.get("activation", "none"))
    raise AssertionError(kind)


def run_by_hand(input_shape, layers, upto: int):
    """Yield (layer, torch module, real output shape) for layers[:upto], on a batch of 2."""
    x = torch.zeros(2, *input_shape)
    for layer in layers[:upto]:
        module = torch_layer(layer, tuple(x.shape[1:])).eval()
        with torch.no_grad():
            x = module(x)
        yield layer, module, tuple(x.shape[1:])


# -- the property ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(sequential_specs())
def test_archc_agrees_with_torch(case):
    input_shape, layers = case
    text = spec_text(layers, input_shape)
    note(text)
    spec = archc.loads(text)  # the strategy draws only well-typed fields
    try:
        graph = archc.analyse(spec)
    except archc.SpecError as exc:
        event("rejected")
        check_rejection(input_shape, layers, exc)
        return
    event("accepted")

    # Static shapes and params against the hand-built torch layers.
    hand_params = 0
    for layer, module, real in run_by_hand(input_shape, layers, len(layers)):
        node = graph.node(layer["name"])
        assert node.shape == real, layer
        params = sum(p.numel() for p in module.parameters())
        assert node.params == params, layer
        hand_params += params
    assert graph.params == hand_params

    # The module archc emits: no shape mismatch, hooks see the static shapes, same params.
    model = archc.to_torch(graph).eval()
    assert sum(p.numel() for p in model.parameters()) == graph.params
    assert check_shapes(model, graph) == []
    seen: dict[str, tuple[int, ...]] = {}
    names = {node.name for node in graph.nodes}
    for name, child in model.named_children():
        if name in names:
            child.register_forward_hook(
                lambda mod, args, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
            )
    with torch.no_grad():
        out = model(torch.randn(3, *input_shape))
    assert tuple(out.shape) == (3, *graph.output_shapes()[0])
    assert seen, "no layer module was observed"
    for name, shape in seen.items():
        assert shape == graph.node(name).shape, name


def check_rejection(input_shape, layers, exc: archc.SpecError) -> None:
    """archc rejected the spec: torch must fail at the layer archc blamed, not before."""
    index = {layer["name"]: i for i, layer in enumerate(layers)}
    blamed = [d.layer for d in exc.diagnostics]
    assert all(name in index for name in blamed), [d.message for d in exc.diagnostics]
    first = min(index[name] for name in blamed)
    note(f"archc blames {layers[first]['name']}: {exc.diagnostics[0].message}")
    graph_shapes = list(run_by_hand(input_shape, layers, first))  # must not raise
    assert len(graph_shapes) == first
    with pytest.raises(TORCH_ERRORS):
        list(run_by_hand(input_shape, layers, first + 1))
