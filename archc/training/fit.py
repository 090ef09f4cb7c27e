"""Fit data to a spec: its samples to the input shape, its labels to the output's classes.

What can be adapted is, and said in the run's log: gray images become the 3 channels a spec may
ask for, and images are resized to its height and width (bilinear, antialiased when shrinking).
What cannot is a SpecError at the spec line it contradicts: E602 at ``input.shape`` for
samples, E603 at the output layer for labels.
"""

from __future__ import annotations

import numpy as np

from archc.analyse import Graph
from archc.errors import Diagnostic, Pos, SpecError


def fit_samples(x: np.ndarray, scale: float, graph: Graph, name: str, log: list[str]) -> np.ndarray:
    """Samples as float32 N x *input shape, values divided by `scale`."""
    target = tuple(graph.input_shape)
    x = x.astype(np.float32) / np.float32(scale)
    sample = tuple(x.shape[1:])
    if sample == target:
        return x
    if len(target) == 1 and int(np.prod(sample)) == target[0]:
        log.append(f"fit: samples {list(sample)} flattened to {list(target)}")
        return x.reshape(len(x), -1)
    if len(target) != 3 or len(sample) not in (2, 3):
        raise _input_error(
            graph, f"samples of shape {list(sample)} cannot become {list(target)}", name
        )
    x = _channels_first(x, target[0])
    if x.shape[1] != target[0]:
        if x.shape[1] != 1:
            raise _input_error(
                graph, f"the data has {x.shape[1]} channels and the spec's input {target[0]}", name
            )
        x = np.repeat(x, target[0], axis=1)
        log.append(f"fit: gray images repeated to {target[0]} channels")
    if tuple(x.shape[2:]) != target[1:]:
        before = "x".join(map(str, x.shape[2:]))
        x = resize(x, target[1:])
        log.append(f"fit: images resized from {before} to {target[1]}x{target[2]} (bilinear)")
    return x


def _channels_first(x: np.ndarray, channels: int) -> np.ndarray:
    """N x H x W -> N x 1 x H x W; N x H x W x C -> N x C x H x W when the last axis is the
    channels (and the first is not)."""
    if x.ndim == 3:
        return x[:, None]
    if x.shape[1] != channels and x.shape[-1] in (channels, 1, 3, 4) and x.shape[1] > 4:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def resize(x: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Bilinear resize of N x C x H x W images (antialiased when shrinking)."""
    import torch
    import torch.nn.functional as F

    shrink = any(s < d for s, d in zip(size, x.shape[2:]))
    out = F.interpolate(
        torch.from_numpy(x),
        size=tuple(size),
        mode="bilinear",
        align_corners=False,
        antialias=shrink,
    )
    return out.numpy()


def fit_labels(y: np.ndarray, classes: int, graph: Graph, name: str) -> np.ndarray:
    """Labels as int64 in 0..classes-1, or E603 at the output layer."""
    y = y.astype(np.int64)
    outside = (y < 0) | (y >= classes)
    if outside.any():
        bad = np.unique(y[outside])
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        raise _output_error(
            graph,
            f"{_count(int(outside.sum()), 'label')} outside the {classes} classes of the output "
            f"(0 to {classes - 1}). Received: labels {shown} in {name}",
        )
    return y


def _count(n: int, noun: str) -> str:
    return f"1 {noun} is" if n == 1 else f"{n:,} {noun}s are"


def check_class_count(found: int, classes: int, graph: Graph, name: str) -> None:
    if found > classes:
        raise _output_error(
            graph,
            f"the data has {found} classes but the output gives {classes} scores. Received: {name}",
        )


def _input_error(graph: Graph, why: str, name: str) -> SpecError:
    return _error(
        graph,
        "E602",
        f"the data does not fit the spec's input: {why}. Received: {name}",
        ("input", "shape"),
        None,
        "set the input shape to the data's, e.g. --set input.shape=[C,H,W]",
    )


def _output_error(graph: Graph, message: str) -> SpecError:
    node = graph.node(graph.outputs[0])
    field = ("units",) if hasattr(node.layer, "units") else ()
    return _error(
        graph,
        "E603",
        message,
        ("layers", node.index, *field),
        node.name,
        "the output needs one score per class; labels count from 0",
    )


def _error(
    graph: Graph, code: str, message: str, where: tuple, layer: str | None, help: str
) -> SpecError:
    source = graph.spec.source
    pos = source.where(*where) if source else Pos(0, 0)
    path = source.path if source else "<spec>"
    diagnostic = Diagnostic(code, message, path, pos, layer, help=help)
    return SpecError([diagnostic], source.text if source else None)
